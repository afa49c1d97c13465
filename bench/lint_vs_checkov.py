"""Time `raygate lint` against checkov and against the bare parse floor, on the same files.

    .venv/bin/python bench/lint_vs_checkov.py [--runs 3] [--skip-checkov]

- raygate: `raygate lint DIR -o json -q --fail-on never` in a fresh process (what a user runs).
- checkov: `checkov -d DIR --framework kubernetes --quiet --compact --skip-download -o json`,
  from its own venv (.bench/venv-checkov, created on first use: `pip install checkov`), run
  inside an empty network namespace (`unshare -n`) when root, so it cannot phone home.
- floor: a bare Python process that only parses the same YAML with libyaml (CSafeLoader).
Corpora: ../shared/corpus (the real-world manifests) and a generated one of 10,000 objects.
Targets (issue 2): raygate <= 1/10 of checkov's wall time on both corpora, <= 2x the floor,
and `raygate lint` of one small file under 0.3 s. Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = (ROOT / ".." / "shared" / "corpus").resolve()
BIN = Path(sys.executable).parent
CHECKOV_VENV = ROOT / ".bench" / "venv-checkov"

FLOOR = """
import sys, pathlib, yaml
L = yaml.CSafeLoader
n = 0
for root in sys.argv[1:]:
    for p in sorted(pathlib.Path(root).rglob("*")):
        if p.suffix in (".yaml", ".yml", ".json") and p.is_file():
            try:
                n += sum(1 for d in yaml.load_all(p.read_text(), Loader=L) if d)
            except yaml.YAMLError:
                pass
print(n)
"""


#: CPU seconds (user+sys) of the last `timed` call's processes, median: on a shared machine
#: the wall clock measures the neighbours, CPU time much less so.
LAST_CPU: list[float] = [0.0]
#: The least CPU time of those processes (the least disturbed run).
LAST_MIN_CPU: list[float] = [0.0]


def bench_env() -> dict[str, str]:
    """The environment of timed processes: bytecode caches written and used, as for an
    installed package (PYTHONDONTWRITEBYTECODE, set in some shells, recompiles every module of
    every run and inflates raygate's side of the ratio, not the floor's)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    import resource
    samples, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=env if env is not None else bench_env())
        samples.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    LAST_CPU[0] = statistics.median(cpu)
    LAST_MIN_CPU[0] = min(cpu)
    return statistics.median(samples)


def checkov_bin() -> Path:
    exe = CHECKOV_VENV / "bin" / "checkov"
    if not exe.exists():
        print("creating the checkov venv (one-off, ~20 s)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)
        subprocess.run([str(CHECKOV_VENV / "bin" / "pip"), "install", "-q", "checkov"], check=True)
    return exe


def checkov_cmd(target: Path) -> list[str]:
    cmd = [str(checkov_bin()), "-d", str(target), "--framework", "kubernetes", "--quiet",
           "--compact", "--skip-download", "-o", "json"]
    if os.geteuid() == 0 and shutil.which("unshare"):
        cmd = ["unshare", "-n", "--"] + cmd
    return cmd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-checkov", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from gen_corpus import generate

    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / "generated"
        generate(generated, 10_000)
        corpora = [("generated 10,000 objects", generated)]
        if CORPUS.is_dir():
            corpora.insert(0, ("shared/corpus (real-world)", CORPUS))
        rows = []
        for label, path in corpora:
            rg_cmd = [str(BIN / "raygate"), "lint", str(path), "-o", "json", "-q", "--fail-on", "never"]
            floor_cmd = [sys.executable, "-c", FLOOR, str(path)]
            timed(rg_cmd, 1), timed(floor_cmd, 1)  # unmeasured: bytecode and page caches
            # Interleaved runs, so load from other work hits both alike; the least disturbed
            # run of each (min) is the estimate, wall and CPU time alike.
            rg_runs, floor_runs = [], []
            for _ in range(args.runs):
                rg_runs.append((timed(rg_cmd, 1), LAST_CPU[0]))
                floor_runs.append((timed(floor_cmd, 1), LAST_CPU[0]))
            rg, rg_cpu = min(w for w, _ in rg_runs), min(c for _, c in rg_runs)
            floor, floor_cpu = min(w for w, _ in floor_runs), min(c for _, c in floor_runs)
            ck = None if args.skip_checkov else timed(checkov_cmd(path), max(1, args.runs - 1))
            rows.append((label, rg, ck, floor, rg_cpu / floor_cpu if floor_cpu else 0.0))
        small = Path(tmp) / "small.yaml"
        small.write_text((ROOT / "examples/seed-broken/ingress.yaml").read_text())
        one = timed([str(BIN / "raygate"), "lint", str(small), "-q", "--fail-on", "never"], max(5, args.runs))

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; raygate and floor: "
          f"best of {args.runs} interleaved runs")
    print("| corpus | raygate lint | checkov | raygate / checkov | parse floor | raygate / floor | same, CPU time |")
    print("|---|---|---|---|---|---|---|")
    for label, rg, ck, floor, cpu_ratio in rows:
        ck_s = f"{ck:.2f} s" if ck else "skipped"
        ratio = f"1/{ck / rg:.0f}" if ck else "n/a"
        print(f"| {label} | {rg:.2f} s | {ck_s} | {ratio} | {floor:.2f} s | {rg / floor:.2f}x | {cpu_ratio:.2f}x |")
    print(f"\n`raygate lint` of one small file: {one * 1000:.0f} ms wall (median of {max(5, args.runs)}).")


if __name__ == "__main__":
    main()
