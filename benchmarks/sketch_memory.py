"""Memory of subject sketches with a million subjects (``python -m benchmarks.sketch_memory``).

Three ways to hold the subjects of a cell, side by side in one run, for one cell and for the
same subjects spread over many cells:

    bottom-k   ``deidentify.privacy.sketch.SubjectSketch``: the k smallest keyed hashes;
               mergeable across partitions and processes (the scale-out design)
    first-k    what ``deidentify/window.py`` keeps today: a set of keyed hashes until k
               distinct subjects were seen, then only the int k; its content depends on the
               arrival order, and it stops hashing once k is reached
    exact set  every distinct hash (unbounded: the peer the bounded forms are measured against)

Memory is what ``tracemalloc`` still traces once the cells are built (the hashes are computed
inside the traced part, so kept Python ints are counted; the subject strings are not kept).
Also printed: the cost per event into one cell, bottom-k against first-k, with the subject
hashed per event (by the region key, and by the window's per-process hasher) and with
precomputed hashes (``timeit``; ratios, nothing asserted). Printed figures only: counts and bytes.
"""

from __future__ import annotations

import argparse
import gc
import os
import timeit
import tracemalloc

from deidentify.privacy.sketch import SubjectKey, SubjectSketch
from deidentify.window import make_subject_hasher

U64 = (1 << 64) - 1


def build(kind: str, k: int, subjects: int, cells: int, subject_hash) -> tuple[int, int]:
    """Traced bytes retained by ``cells`` cells holding ``subjects`` distinct subjects
    (subject ``i`` goes to cell ``i % cells``), and how many cells reached k."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    table: list = [None] * cells
    if kind == "bottom-k":
        for c in range(cells):
            table[c] = SubjectSketch(k)
        for i in range(subjects):
            table[i % cells].add(subject_hash(f"user-{i}"))
        reached = sum(1 for s in table if s.reached())
    elif kind == "first-k":
        for c in range(cells):
            table[c] = set()
        for i in range(subjects):
            c = i % cells
            s = table[c]
            if type(s) is set:
                s.add(subject_hash(f"user-{i}"))
                if len(s) >= k:
                    table[c] = k
        reached = sum(1 for s in table if type(s) is int)
    else:
        for c in range(cells):
            table[c] = set()
        for i in range(subjects):
            table[i % cells].add(subject_hash(f"user-{i}"))
        reached = sum(1 for s in table if len(s) >= k)
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del table
    return used, reached


def add_cost(k: int, n: int, subject_hash) -> dict[str, float]:
    """Seconds per event into one cell of ``n`` distinct subjects, bottom-k and first-k,
    with the subject hashed per event by the region key (BLAKE2b) or by the window's own
    per-process hasher (SipHash), and with precomputed hashes."""
    subjects = [f"user-{i}" for i in range(n)]
    hashes = [subject_hash(x) for x in subjects]
    process_hash = make_subject_hasher()

    def bottom_k_process() -> None:
        add = SubjectSketch(k).add
        for x in subjects:
            add(process_hash(x) & U64)      # hash() is signed; the sketch holds unsigned

    def first_k_process() -> None:
        s: set | int = set()
        for x in subjects:
            if type(s) is set:
                s.add(process_hash(x))
                if len(s) >= k:
                    s = k

    def bottom_k_hashed() -> None:
        add = SubjectSketch(k).add
        for x in subjects:
            add(subject_hash(x))

    def first_k_hashed() -> None:       # window.py: no hashing once k is reached
        s: set | int = set()
        for x in subjects:
            if type(s) is set:
                s.add(subject_hash(x))
                if len(s) >= k:
                    s = k

    def bottom_k() -> None:
        add = SubjectSketch(k).add
        for h in hashes:
            add(h)

    def first_k() -> None:
        s: set | int = set()
        for h in hashes:
            if type(s) is set:
                s.add(h)
                if len(s) >= k:
                    s = k
    runs = {"bottom-k hashed": bottom_k_hashed, "first-k hashed": first_k_hashed,
            "bottom-k process": bottom_k_process, "first-k process": first_k_process,
            "bottom-k": bottom_k, "first-k": first_k}
    return {name: min(timeit.repeat(fn, number=1, repeat=3)) / n for name, fn in runs.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, nargs="+", default=[5, 50])
    ap.add_argument("--cells", type=int, nargs="+", default=[1, 1_000, 100_000],
                    help="how many cells the subjects are spread over")
    ap.add_argument("--kinds", nargs="+", default=["bottom-k", "first-k", "exact set"])
    args = ap.parse_args(argv)
    subject_hash = SubjectKey(os.urandom(32)).hasher()
    n = args.subjects
    print(f"{n:,} distinct subjects; bytes retained (tracemalloc), per cell in brackets")
    print(f"{'k':>4} {'cells':>9} " + " ".join(f"{kind:>26}" for kind in args.kinds)
          + "   reached k")
    for k in args.k:
        for cells in args.cells:
            row, reached = [], None
            for kind in args.kinds:
                used, reached_here = build(kind, k, n, cells, subject_hash)
                if reached is not None and reached_here != reached:
                    print(f"  !! {kind} decides differently: {reached_here} != {reached}")
                reached = reached_here
                row.append(f"{used / 2**20:10.2f} MiB ({used / cells:9.0f} B)")
            print(f"{k:>4} {cells:>9,} " + " ".join(f"{r:>26}" for r in row)
                  + f"   {reached:,}")
    for k in args.k:
        t = add_cost(k, min(n, 1_000_000), subject_hash)
        print(f"ns per event into one cell of {min(n, 1_000_000):,} subjects, k={k}:")
        for label, name in (("region key (BLAKE2b)", "hashed"),
                            ("window hasher (per-process SipHash)", "process")):
            b, f = t[f"bottom-k {name}"], t[f"first-k {name}"]
            print(f"  {label:<38} bottom-k {b * 1e9:6.0f}  first-k {f * 1e9:6.0f}  "
                  f"({b / f:.1f}x)")
        b, f = t["bottom-k"], t["first-k"]
        print(f"  {'hash precomputed':<38} bottom-k {b * 1e9:6.0f}  first-k {f * 1e9:6.0f}  "
              f"({b / f:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
