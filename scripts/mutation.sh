#!/usr/bin/env bash
# Mutation testing with mutmut 3 over the modules the tests must guard (docs/testing.md):
# apply, config (suppression scopes), report/sarif, the tcp-services parser and the exposure
# model. Runs in a scratch copy (.mutation/) so the work tree and its config stay untouched.
#   scripts/mutation.sh                          # every mutant of those modules
#   scripts/mutation.sh 'raygate.config.*'       # one module (mutmut 3 mutant-name globs)
# Then: scripts/mutation.sh --score  (killed/total per module, from mutmut's results)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${MUTATION_DIR:-$ROOT/.mutation}
PY=${PYTHON:-$ROOT/.venv/bin/python}
CHILDREN=${MUTATION_CHILDREN:-2}
score() {
  cd "$WORK"
  env -u PYTHONPATH "$PY" -m mutmut results --all true 2>/dev/null | "$PY" -c '
import collections, re, sys
count = collections.defaultdict(collections.Counter)
for line in sys.stdin:
    m = re.match(r"\s*(raygate\.[\w.]+?)\.x\w*__mutmut_\d+: (\w[\w ]*)", line)
    if m:
        count[m.group(1)][m.group(2).strip()] += 1
for module, c in sorted(count.items()):
    scored = c["killed"] + c["survived"] + c["timeout"]
    killed = c["killed"] + c["timeout"]
    print(f"{module}: {killed}/{scored} killed ({100 * killed / max(scored, 1):.1f}%)"
          + "".join(f", {n} {k}" for k, n in sorted(c.items()) if k not in ("killed", "survived", "timeout")))
'
}
if [ "${1:-}" = "--score" ]; then score; exit 0; fi
mkdir -p "$WORK"
rm -rf "$WORK/src" "$WORK/tests"
cp -r "$ROOT/src" "$ROOT/tests" "$WORK/"
cp "$ROOT/pyproject.toml" "$WORK/pyproject.toml"
cp "$ROOT/scripts/mutmut.cfg" "$WORK/setup.cfg"
cd "$WORK"
# The tests must import the mutated copy, never the installed package.
env -u PYTHONPATH "$PY" -m mutmut run --max-children "$CHILDREN" "$@" || true
score
