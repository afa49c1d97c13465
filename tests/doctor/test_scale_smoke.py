"""The scale benchmark (bench/doctor_scale.py) keeps running in CI, at a size CI can afford.

The figures in docs/benchmarks.md come from the full size (5,000 nodes, 50,000 pods); here
the same script runs on a small cluster so a change that breaks it, or that makes the read
cost more than its request budget, fails the suite instead of the next benchmark run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from raygate.sources.cluster import MAX_REQUESTS

BENCH = Path(__file__).resolve().parents[2] / "bench" / "doctor_scale.py"


def test_doctor_scale_bench_runs_within_the_request_budget() -> None:
    r = subprocess.run([sys.executable, str(BENCH), "--nodes", "300", "--pods", "3000",
                        "--services", "600", "--rayclusters", "30", "--ingresses", "4",
                        "--repeat", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    figures = json.loads(r.stdout[r.stdout.index("\n{") + 1:r.stdout.index("\n}\n") + 2])
    doctor = figures["doctor"]
    assert doctor["load_requests"] <= MAX_REQUESTS
    assert doctor["dry_runs"] == 4
    assert doctor["objects"] > 0 and doctor["findings"] >= 0
    row = re.search(r"\| API requests of ClusterSource.load\(\) \| (\d+) \(budget 20\) \|", r.stdout)
    assert row and int(row.group(1)) == doctor["load_requests"]
