"""How long `raygate render` takes: spec validation + rendering + YAML formatting, in-process,
and the whole CLI as a user runs it (interpreter start included).

    .venv/bin/python bench/render_speed.py

Results go in docs/benchmarks.md, section "Render".
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from raygate import spec as spec_mod  # noqa: E402
from raygate.render import build, outputs  # noqa: E402
from tests.render.support import MATRIX  # noqa: E402


def _median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    def all_specs() -> None:
        for data in MATRIX.values():
            s = spec_mod.from_dict(data)
            outputs.yaml_stream(build(s))

    print(f"in-process, all {len(MATRIX)} matrix specs: {_median_ms(all_specs, 50):.1f} ms median")
    cli = [str(Path(sys.executable).parent / "raygate"), "render", "-f",
           str(ROOT / "examples/raygate.yaml")]
    runs = 10
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = _median_ms(lambda: subprocess.run(cli, capture_output=True, check=True), runs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) / runs * 1000
    # CPU time is what the command costs; wall time also shows how busy the machine was.
    print(f"CLI, examples/raygate.yaml: {wall:.0f} ms wall (median), {cpu:.0f} ms CPU (mean)")


if __name__ == "__main__":
    main()
