"""The benchmark harness works: its offline part, end to end, on a tiny data set.

Runs ``python -m benchmarks --only preview parse-only subjects profile`` (no broker) on 2,000
events and checks the structure of the results and that the counts agree. No timing is
asserted: the figures are whatever this machine gives.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 2000


def test_offline_harness_writes_consistent_results(tmp_path):
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--events", str(EVENTS),
           "--repeat", "1", "--only", "preview", "parse-only", "subjects", "profile",
           "--subjects", "3000", "--profile-events", str(EVENTS),
           "--results-dir", str(results), "--cache-dir", str(tmp_path / "cache")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]

    doc = json.loads((results / "latest.json").read_text())
    for key in ("date", "machine", "versions", "load", "settings", "dataset", "summaries",
                "runs", "ratios", "targets", "subjects", "profile"):
        assert key in doc, key
    assert doc["machine"]["nproc"] >= 1
    assert doc["versions"]["python"]
    assert doc["dataset"]["events"] == EVENTS
    assert sum(doc["dataset"]["by_kind"].values()) == EVENTS

    preview, parse = doc["summaries"]["preview"], doc["summaries"]["parse-only"]
    assert preview["events"] == parse["events"] == EVENTS
    for s in (preview, parse):
        assert s["runs"] == 1 and s["per_core"] > 0 and s["per_wall"] > 0
        assert s["per_core_min"] <= s["per_core"] <= s["per_core_max"]
        assert s["peak_rss_bytes"] > 0
    assert doc["runs"]["preview"][0]["extra"]["aggregates"] > 0
    assert doc["ratios"]["preview/parse-only"]["per_core"] > 0
    assert [t["target"] for t in doc["targets"]] == ["preview / parse-only (per core)"]

    subjects = doc["subjects"]["3000"]
    assert subjects["events"] == 3000
    assert subjects["extra"]["open_windows"] == 1          # one window, never closed
    assert subjects["extra"]["valid"] == 3000
    assert doc["profile"]["events"] == EVENTS and doc["profile"]["top"]

    md = (results / "latest.md").read_text()
    assert "| preview |" in md and "| parse-only |" in md and "preview/parse-only" in md
    assert "| preview |" in proc.stdout                      # the table is printed too
