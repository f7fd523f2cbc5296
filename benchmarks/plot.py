"""``throughput.png``: events/s per core and per wall second by contender, and partition scaling.

matplotlib with the Agg backend (no display). Bars are medians; whiskers are min–max over the
repeats. The x axis is logarithmic: the contenders differ by two orders of magnitude.
"""

from __future__ import annotations

from pathlib import Path

COLOURS = {"deidentify": "#1f77b4", "deidentify-alo": "#6baed6", "faust": "#d62728",
           "faust-pipeline": "#ff9896", "quixstreams": "#2ca02c", "quixstreams-eos": "#98df8a",
           "ceiling": "#7f7f7f", "preview": "#9467bd", "parse-only": "#c5b0d5",
           "decode-only": "#dbdb8d"}


def plot(doc: dict, path: Path) -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summaries = doc["summaries"]
    if not summaries:
        return None
    names = list(summaries)
    part = doc.get("partitions") or {}
    ncols = 3 if part else 2
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 0.55 * len(names) + 2.4),
                             gridspec_kw={"width_ratios": [1.25, 1.25, 1][:ncols]})
    for ax, (key, title) in zip(axes, (("per_core", "events/s per core (CPU time)"),
                                       ("per_wall", "events/s per wall second")), strict=False):
        vals = [summaries[n][key] for n in names]
        lo = [summaries[n][key] - summaries[n][f"{key}_min"] for n in names]
        hi = [summaries[n][f"{key}_max"] - summaries[n][key] for n in names]
        y = range(len(names))
        ax.barh(list(y), vals, xerr=[lo, hi], color=[COLOURS.get(n, "#bcbd22") for n in names],
                capsize=3)
        ax.set_yticks(list(y))
        ax.set_yticklabels(names)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", which="both", alpha=0.3)
        for i, (v, top) in enumerate(zip(vals, hi, strict=True)):
            ax.text((v + top) * 1.12, i, f"{v / 1000:,.1f}k", va="center", fontsize=8)
        ax.set_xlim(left=min(1000.0, min(vals) / 2), right=max(vals) * 4)
        if key == "per_core" and "deidentify" in names:
            ax.axvline(250_000, color="#1f77b4", linestyle=":", linewidth=1)
            ax.text(250_000, len(names) - 0.4, " target 250k", color="#1f77b4", fontsize=7,
                    va="bottom")
    if part:
        ax = axes[2]
        for name, by_p in part.items():
            ps = sorted(by_p, key=int)
            ax.plot([int(p) for p in ps], [by_p[p]["per_core"] for p in ps], marker="o",
                    color=COLOURS.get(name, "#bcbd22"), label=f"{name} per core")
            ax.plot([int(p) for p in ps], [by_p[p]["per_wall"] for p in ps], marker="s",
                    linestyle="--", color=COLOURS.get(name, "#bcbd22"), label=f"{name} wall")
        ax.set_xticks([1, 2, 4])
        ax.set_xlabel("raw topic partitions")
        ax.set_ylabel("events/s")
        ax.set_ylim(bottom=0)
        ax.set_title("scaling with partitions (one process)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    m = doc["machine"]
    fig.suptitle(f"deidentify benchmarks — {doc['dataset']['events']:,} events, "
                 f"{m['nproc']} cores, load {doc['load']['before']} → {doc['load']['after']}, "
                 f"{doc['date']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
