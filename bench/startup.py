"""Start-up of `raygate lint` on one small file: wall time, and what is imported and why.

    .venv/bin/python bench/startup.py [--runs 20] [--top 25]

- wall: median of N fresh processes `raygate lint examples/seed-broken/ingress.yaml -o
  concise -q`, after one warm-up run, bytecode caches written (as an installed package has
  them: PYTHONDONTWRITEBYTECODE is unset for the measurement), beside `python -c pass`;
- cpu: user+sys of those processes (robust when the machine is busy, wall is not);
- imports: `python -X importtime`, the modules with the largest self time and the
  cumulative time of each top-level package, so a regression names its import.
Target (issue 12): under 150 ms wall on the project machine (2 vCPUs); Python itself ~25 ms.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "examples" / "seed-broken" / "ingress.yaml"
LINT = [sys.executable, "-m", "raygate", "lint", str(SMALL), "-o", "concise", "-q"]


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    e["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + e.get("PYTHONPATH", "")
    return e


def measure(cmd: list[str], runs: int) -> tuple[float, float]:
    """(median wall seconds, median user+sys CPU seconds) over ``runs`` fresh processes."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(walls), statistics.median(cpus)


def importtime(top: int) -> tuple[list[tuple[int, str]], dict[str, int]]:
    proc = subprocess.run([sys.executable, "-X", "importtime", *LINT[1:]], env=env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    selfs: list[tuple[int, str]] = []
    by_package: dict[str, int] = defaultdict(int)
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = (p.strip() for p in line[len("import time:"):].split("|"))
        selfs.append((int(self_us), name))
        by_package[name.split(".")[0]] += int(self_us)
    return sorted(selfs, reverse=True)[:top], dict(by_package)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    measure(LINT, 1)  # warm-up: writes the bytecode caches
    python_wall, python_cpu = measure([sys.executable, "-c", "pass"], args.runs)
    lint_wall, lint_cpu = measure(LINT, args.runs)
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (wall figures need a quiet machine)")
    print("| process | wall (median) | cpu user+sys (median) |")
    print("|---|---|---|")
    print(f"| `python -c pass` | {python_wall * 1000:.0f} ms | {python_cpu * 1000:.0f} ms |")
    print(f"| `raygate lint` one small file | {lint_wall * 1000:.0f} ms | {lint_cpu * 1000:.0f} ms |")
    selfs, packages = importtime(args.top)
    total = sum(packages.values())
    print(f"\nimports: {total / 1000:.0f} ms self time in total (under -X importtime)")
    print("| package | self time |")
    print("|---|---|")
    for name, us in sorted(packages.items(), key=lambda kv: -kv[1])[:12]:
        print(f"| {name} | {us / 1000:.1f} ms |")
    print(f"\nlargest modules (self time):")
    for us, name in selfs:
        print(f"  {us / 1000:6.1f} ms  {name}")


if __name__ == "__main__":
    main()
