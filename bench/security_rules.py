"""Time the security rules RG102-RG107 on the generated corpus (loading excluded).

Usage: .venv/bin/python bench/security_rules.py [objects=10000] [runs=5]
Each run builds a fresh ObjectSet, so per-set memos (controllers, exposures) are recomputed.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_corpus import generate  # noqa: E402

from raygate import engine  # noqa: E402
from raygate.objects import ObjectSet  # noqa: E402
from raygate.rules import CATALOG  # noqa: E402
from raygate.sources.files import load_paths  # noqa: E402

CODES = ("RG102", "RG103", "RG104", "RG105", "RG106", "RG107")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    rules = [CATALOG.find(c) for c in CODES]
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), count)
        loaded = load_paths([tmp])
    times, per_rule = [], {}
    for _ in range(runs):
        objects = ObjectSet(loaded.objects)
        start = time.perf_counter()
        result = engine.run(objects, rules=rules)
        times.append(time.perf_counter() - start)
        assert not result.not_checked, result.not_checked
        per_rule = Counter(f.rule.code for f in result.findings)
    print(f"{len(loaded.objects)} objects, {runs} runs: min {min(times) * 1000:.0f} ms, "
          f"median {statistics.median(times) * 1000:.0f} ms")
    for code in CODES:
        single = []
        for _ in range(3):
            objects = ObjectSet(loaded.objects)
            start = time.perf_counter()
            engine.run(objects, rules=[CATALOG.find(code)])
            single.append(time.perf_counter() - start)
        print(f"  {code}: {per_rule.get(code, 0)} findings, alone min {min(single) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
