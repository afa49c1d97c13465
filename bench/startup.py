"""Start-up of `raygate lint` on one small file: wall time, and what is imported and why.

    .venv/bin/python bench/startup.py [--runs 20] [--top 25]

- wall: min and median of N fresh processes `raygate lint examples/seed-broken/ingress.yaml
  -o concise -q`, run as `python -m raygate` and as the installed console script (the
  interpreter's ``bin/raygate``, with this tree's ``src`` first on PYTHONPATH), after one
  warm-up run, bytecode caches written (as an installed package has them:
  PYTHONDONTWRITEBYTECODE is unset for the measurement), interleaved with `python -c pass`;
  on a shared machine the min is the least disturbed run;
- cpu: user+sys of those processes (more robust than wall when the machine is busy);
- imports: `python -X importtime`, the modules with the largest self time and the
  cumulative time of each top-level package, so a regression names its import. Python 3.11
  does not time modules loaded by ``importlib.import_module`` (the lint command, the rule
  modules): their own time is missing and their imports show at the top level.
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
#: The console script pip installs next to the interpreter (the README's ``raygate lint``): it
#: imports ``raygate.cli`` directly (no runpy, no importlib.metadata lookup).
SCRIPT = Path(sys.executable).parent / "raygate"


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    e["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + e.get("PYTHONPATH", "")
    return e


def run_once(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, user+sys CPU seconds) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(cmds: list[list[str]], runs: int) -> list[dict[str, float]]:
    """Per command: median and min of wall and CPU time over ``runs`` fresh processes, the
    commands interleaved (a burst of load from other work hits them alike). On a shared
    machine the min is the least disturbed run."""
    samples: list[list[tuple[float, float]]] = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            samples[i].append(run_once(cmd))
    return [{"wall": statistics.median(w for w, _ in s), "cpu": statistics.median(c for _, c in s),
             "wall_min": min(w for w, _ in s), "cpu_min": min(c for _, c in s)} for s in samples]


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
    run_once(LINT)  # warm-up: writes the bytecode caches
    load_before = os.getloadavg()[0]
    cmds = {"`python -c pass`": [sys.executable, "-c", "pass"],
            "`python -m raygate lint` one small file": LINT}
    if SCRIPT.exists():
        cmds["`raygate lint` (console script) one small file"] = [str(SCRIPT), *LINT[3:]]
    results = measure(list(cmds.values()), args.runs)
    load = max(load_before, os.getloadavg()[0])
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (wall figures need a quiet machine; "
          f"{args.runs} interleaved runs)")
    print("| process | wall min / median | cpu user+sys min / median |")
    print("|---|---|---|")
    for name, m in zip(cmds, results):
        print(f"| {name} | {m['wall_min'] * 1000:.0f} / {m['wall'] * 1000:.0f} ms | "
              f"{m['cpu_min'] * 1000:.0f} / {m['cpu'] * 1000:.0f} ms |")
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
