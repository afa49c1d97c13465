#!/usr/bin/env bash
# Mutation testing with mutmut 3 over the modules the tests must guard (docs/testing.md):
#   scripts/mutation.sh config     # src/raygate/config.py (suppression scopes)
#   scripts/mutation.sh sarif      # src/raygate/report/sarif.py
#   scripts/mutation.sh tcp        # the tcp-services parser in backends/ingress_nginx.py
#   scripts/mutation.sh exposure   # src/raygate/model/exposure.py
#   scripts/mutation.sh apply      # src/raygate/apply.py, its pure part (see below)
#   MUTATION_APPLY_ALL=1 scripts/mutation.sh apply   # the whole of apply.py, I/O included
#   scripts/mutation.sh transport  # src/raygate/operator/transport.py (the operator's connections)
#   scripts/mutation.sh all        # all of the above, one after the other
# Each runs in its own scratch copy (.mutation/<target>/) with only the tests that cover it,
# so the work tree, its config files and the installed package stay untouched; the score
# (killed / killed + survived, timeouts count as killed) is printed at the end.
# MUTATION_ONLY='raygate.apply.x__prune*' (mutant-name globs, space-separated) measures part
# of a target, e.g. a few functions at a time; MUTATION_CHILDREN=1 on a shared machine.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
CHILDREN=${MUTATION_CHILDREN:-2}

target_of() {  # target -> "file|mutant glob|tests"
  case "$1" in
    config)   echo "src/raygate/config.py|raygate.config.*|tests/test_mutation_guards.py tests/rules/test_catalog.py tests/sources/test_files.py" ;;
    sarif)    echo "src/raygate/report/sarif.py|raygate.report.sarif.*|tests/report/test_reports.py tests/test_mutation_guards.py" ;;
    tcp)      echo "src/raygate/backends/ingress_nginx.py|raygate.backends.ingress_nginx.x_parse_tcp_entry*|tests/test_mutation_guards.py tests/rules/test_protocol_tcp.py" ;;
    exposure) echo "src/raygate/model/exposure.py|raygate.model.exposure.*|tests/test_mutation_guards.py tests/rules/test_gateway_api_exposure.py tests/rules/test_security_rules.py tests/rules/test_protocol_tcp.py" ;;
    # apply: the pure part (identity, marks, managed-fields arithmetic, messages) against its
    # unit tests; with MUTATION_APPLY_ALL=1 the whole module (planning, dry runs, migration,
    # the guarded args patch, prune, wait) against the fake-API tests too (real HTTP, real
    # lightkube client; the 20-gateway case is left out by -k, the 2-gateway one stays).
    apply)
      if [ -n "${MUTATION_APPLY_ALL:-}" ]; then
        echo "src/raygate/apply.py|raygate.apply.*|tests/cluster/test_apply_units.py tests/cluster/test_apply.py tests/cluster/test_ownership.py tests/cluster/test_apply_bad_input.py tests/cluster/test_apply_gateway_api.py tests/cluster/test_apply_wait.py"
      else
        echo "src/raygate/apply.py|$(printf 'raygate.apply.%s ' 'x__bounded*' 'x__id_of*' 'x_gateway_id*' 'x_gateway_for*' 'x_label*' 'x__claim*' 'x_fields_paths*' 'x_fields_tree*' 'x__managers*' 'x__writers*' 'x_owner_of*' 'x__conflicts*' 'x__is_gateway*' 'x__value_at*' 'x__legacy_is_mine*' 'x__claimed_flags*' 'x__interrupted*' 'x_ref_of*' 'x__key*' 'x_normalized*' 'x_unified_diff*' 'xǁGatewayǁ*' 'xǁApplyReportǁ*')|tests/cluster/test_apply_units.py"
      fi ;;
    transport) echo "src/raygate/operator/transport.py|raygate.operator.transport.*|tests/operator/test_transport.py tests/operator/test_cache.py" ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
}

score() {  # work dir, mutant glob
  (cd "$1" && env -u PYTHONPATH "$PY" -m mutmut results --all true 2>/dev/null) | "$PY" -c '
import collections, fnmatch, re, sys
globs = sys.argv[1].split()
c = collections.Counter()
survivors = []
for line in sys.stdin:
    m = re.match(r"\s*(raygate\.\S+__mutmut_\d+): (\w[\w ]*)", line)
    if m and any(fnmatch.fnmatch(m.group(1), g) for g in globs):
        c[m.group(2).strip()] += 1
        if m.group(2).strip() == "survived":
            survivors.append(m.group(1))
killed = c["killed"] + c["timeout"]
scored = killed + c["survived"]
print(f"{sys.argv[2]}: {killed}/{scored} killed ({100 * killed / max(scored, 1):.1f}%)"
      + "".join(f", {n} {k}" for k, n in sorted(c.items()) if k not in ("killed", "survived", "timeout")))
for s in survivors:
    print("  survived:", s)
' "$2" "$3"
}

run() {
  IFS='|' read -r file glob tests <<<"$(target_of "$1")"
  glob=${MUTATION_ONLY:-$glob}
  work=${MUTATION_DIR:-$ROOT/.mutation}/$1
  mkdir -p "$work"
  rm -rf "$work"; mkdir -p "$work"  # no cached results: new tests must get their chance
  cp -r "$ROOT/src" "$ROOT/tests" "$ROOT/examples" "$work/"
  cp "$ROOT/pyproject.toml" "$work/"
  {
    echo "[mutmut]"
    echo "source_paths = src/raygate"
    echo "only_mutate = $file"
    echo "also_copy = examples"
    echo "pytest_add_cli_args = -p no:cacheprovider -m \"not e2e\" -x -q -k \"not 20\""
    echo "pytest_add_cli_args_test_selection ="
    for t in $tests; do echo "    $t"; done
    echo "timeout_multiplier = 5.0"
  } > "$work/setup.cfg"
  # The tests must import the mutated copy, never the work tree or the installed package.
  set -f  # the globs are mutant names, not file names
  (cd "$work" && env -u PYTHONPATH "$PY" -m mutmut run --max-children "$CHILDREN" $glob >"$work/run.log" 2>&1) || true
  set +f
  score "$work" "$glob" "$1 ($file)"
}

if [ "${1:-all}" = all ]; then
  for t in config sarif tcp exposure apply transport; do run "$t"; done
else
  run "$1"
fi
