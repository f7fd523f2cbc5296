"""The demo's live terminal view: what the central collector accepted, and counts.

Reads the collector's ``/api/summary`` (with this run's credentials) every
``VIEW_EVERY_TTY_S`` on a terminal (redrawn in place) or ``VIEW_EVERY_PLAIN_S`` otherwise.
Only aggregates that passed central re-validation and counts are ever printed; no raw
event value reaches the terminal. The view names no schema: each schema's line comes from
the view the collector publishes for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

import orjson

from deidentify.demo.children import check_alive, http_get
from deidentify.demo.settings import VIEW_EVERY_PLAIN_S, VIEW_EVERY_TTY_S, DemoRun


def _fmt(n: float | None, decimals: int = 0) -> str:
    return "-" if n is None else f"{n:,.{decimals}f}"


def render_view(run: DemoRun, summary: dict | None, left_s: float | None, broker_note: str) -> str:
    """The terminal view: aggregates the central collector accepted, and counts."""
    lines = [f"deidentify demo · dashboard {run.dashboard} (user {run.user}, password "
             f"{run.password}) · "
             + ("Ctrl-C to stop" if left_s is None else f"stops in {left_s:.0f}s (Ctrl-C stops now)"),
             f"broker {run.bootstrap} ({broker_note}) · run {run.run_id} · logs {run.logs}",
             "generated (fake PII, never leaves the region): "
             + "  ".join(f"{r} {_fmt(n)} events" for r, n in sorted(run.produced.items()))]
    if summary is None:
        lines.append("central: not answering yet")
        return "\n".join(lines)
    c = summary.get("collector", {})
    lines.append(f"central: {_fmt(c.get('accepted'))} aggregates accepted, "
                 f"{_fmt(c.get('rejected_total'))} rejected, lag {_fmt(c.get('lag'))}")
    regions = summary.get("regions", {})
    if not regions:
        lines.append("")
        lines.append("waiting for the first closed window (the backfilled minutes close first)...")
    for region in sorted(regions):
        entry = regions[region]
        lines.append("")
        lines.append(f"── region {region} " + "─" * 60)
        for name, info in sorted(entry.get("schemas", {}).items()):
            line = _schema_line(name, info.get("view"))
            if line:
                lines.extend(line)
        schemas = entry.get("schemas", {})
        lines.append("  windows merged: " + ", ".join(
            f"{name} {s['windows']}" for name, s in sorted(schemas.items())))
    return "\n".join(lines)


def _schema_line(name: str, view: dict | None) -> list[str]:
    """One schema's newest window and top cells, whatever the schema (from its view)."""
    if not view or not view.get("windows"):
        return []
    last = view["windows"][-1]
    parts = [f"  {name:<19} window {last['start'][11:16]}Z  {_fmt(last['per_minute'])} events/min"]
    for rate in view.get("rates", []):
        value = last["rates"].get(rate)
        parts.append(f"{rate} {'-' if value is None else f'{value * 100:.2f}%'}")
    units = {m["name"]: m.get("unit") for m in view.get("measures", [])}
    for hist in view.get("histograms", []):
        q = last["quantiles"].get(hist, {})
        unit = f" {units.get(hist)}" if units.get(hist) in ("ms", "s") else ""
        parts.append(f"{hist} p50 {_fmt(q.get('p50'), 1)}{unit} p99 {_fmt(q.get('p99'), 0)}{unit}")
    top = ", ".join(" ".join(str(v) for v in r["dims"].values()) + f" {_fmt(r['per_minute'])}/min"
                    for r in view.get("top", [])[:3])
    return ["  ".join(parts), f"    top: {top}"]


async def fetch_summary(run: DemoRun) -> dict | None:
    loop = asyncio.get_running_loop()
    try:
        status, body = await loop.run_in_executor(None, http_get, run.dashboard + "api/summary", 3.0,
                                                  run.authorization)
    except OSError:
        return None
    return orjson.loads(body) if status == 200 else None


async def show(run: DemoRun, stop: asyncio.Event, deadline: float | None,
                broker_note: str) -> dict | None:
    tty = sys.stdout.isatty()
    every = VIEW_EVERY_TTY_S if tty else VIEW_EVERY_PLAIN_S
    last: dict | None = None
    while not stop.is_set():
        for child in run.children:
            check_alive(child)
        summary = await fetch_summary(run)
        last = summary or last
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        text = render_view(run, summary, left, broker_note)
        if tty:
            sys.stdout.write("\x1b[H\x1b[2J" + text + "\n")
        else:
            sys.stdout.write(text + "\n\n")
        sys.stdout.flush()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
    return last
