"""Gateway overhead in the lab: Ray Client task round trip and Dashboard load (index + assets)
through nginx versus direct to the head, as median ratios (target <= 1.15x), and the wall time
of a full ``raygate probe`` of a healthy lab without --submit (target < 3 s).

    .venv/bin/python bench/lab_overhead.py [--state-dir DIR] [--runs N]

Starts a lab in a temporary state dir (or reuses a running one given with --state-dir), prints
a Markdown table for docs/benchmarks.md, and stops what it started.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from raygate import lab
from raygate.lab.ray_head import ray_env
from raygate.probe.http import asset_urls

TASKS = r'''
import json, os, sys, time, statistics
import ray
ray.init(os.environ["ADDR"], logging_level="ERROR", log_to_driver=False)
@ray.remote(num_cpus=0)
def f(x): return x
ray.get(f.remote(0))  # warm the worker
rtts = []
for i in range(int(os.environ["N"])):
    t = time.perf_counter(); ray.get(f.remote(i)); rtts.append(time.perf_counter() - t)
print(json.dumps(rtts))
'''


def dashboard_load(url: str) -> float:
    """One cold load: a new connection, the index, then every asset it references."""
    start = time.perf_counter()
    with httpx.Client(timeout=10) as c:
        index = c.get(url)
        for asset in asset_urls(index.text, str(index.url)):
            assert c.get(asset).status_code == 200, asset
    return time.perf_counter() - start


def task_rtts(address: str, head: lab.LabState, n: int) -> list[float]:
    env = ray_env(head.ray.home, head.ray.token)  # type: ignore[union-attr]
    env.update({"ADDR": f"ray://{address}", "N": str(n)})
    # Ray 2.60's head sometimes fails to start the per-client server of a new connection
    # (a gRPC abort on the head); a new connection gets a fresh one, so try twice.
    for attempt in (1, 2):
        out = subprocess.run([sys.executable, "-c", TASKS], env=env, capture_output=True,
                             text=True, timeout=300)
        lines = out.stdout.strip().splitlines()
        if out.returncode == 0 and lines:
            return json.loads(lines[-1])
    raise SystemExit(f"Ray Client through {address} failed twice:\n{out.stderr[-2000:]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--state-dir")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    own = args.state_dir is None
    state_dir = Path(args.state_dir or tempfile.mkdtemp(prefix="rgbench-"))
    info = lab.up(state_dir) if own else lab.status(state_dir)
    st = info.state
    try:
        direct_url = st.ray.dashboard_url + "/"  # type: ignore[union-attr]
        rows = []
        for name, gw_fn, direct_fn in [
            ("Dashboard load (index + assets, cold connection)",
             lambda: dashboard_load(info.dashboard_url), lambda: dashboard_load(direct_url)),
        ]:
            gw_fn(), direct_fn()  # warm up
            g = statistics.median(gw_fn() for _ in range(args.runs))
            d = statistics.median(direct_fn() for _ in range(args.runs))
            rows.append((name, d, g))
        g_rtts = task_rtts(info.client_address(), st, args.runs)
        d_rtts = task_rtts(f"127.0.0.1:{st.ray.client_port}", st, args.runs)  # type: ignore[union-attr]
        rows.append(("Ray Client task round trip", statistics.median(d_rtts), statistics.median(g_rtts)))
        probe_cmd = [sys.executable, "-m", "raygate"] + info.probe_command().split()[1:]
        i = probe_cmd.index("--client")
        no_client = probe_cmd[:i] + probe_cmd[i + 2:]

        def wall(cmd: list[str]) -> float:
            t = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True,
                                  env={**os.environ, "COLUMNS": "200"})
            assert done.returncode == 0, done.stdout + done.stderr
            return time.perf_counter() - t

        walls = [wall(probe_cmd) for _ in range(5)]
        walls_http = [wall(no_client) for _ in range(5)]
        print(f"runs per figure: {args.runs} (median); machine: {os.cpu_count()} CPUs")
        print("| measurement | direct to head | through the gateway | ratio |")
        print("|---|---|---|---|")
        for name, d, g in rows:
            print(f"| {name} | {d * 1000:.2f} ms | {g * 1000:.2f} ms | {g / d:.2f}x |")
        print(f"| full `raygate probe` of a healthy lab (no --submit, with Ray Client), "
              f"median of 5 | | {statistics.median(walls):.2f} s | |")
        print(f"| `raygate probe` without --client (HTTP + TCP checks only), median of 5 | | "
              f"{statistics.median(walls_http):.2f} s | |")
    finally:
        if own:
            lab.down(state_dir)


if __name__ == "__main__":
    main()
