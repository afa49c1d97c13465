#!/usr/bin/env bash
# `make demo`: the guide's broken setup and its root causes in three layers, the fix linted
# clean, the next day's root cause from a cluster snapshot, then what to run on your own.
# Fits an 80x60 terminal: findings one line each; one finding shown in full.
set -uo pipefail
BIN=${1:-.venv/bin}
export COLUMNS=${COLUMNS:-80}

# One line per rule, from the JSON report: severity, rule, first file:line (and how many).
one_line() {
  "$BIN/python" -c '
import json, sys
doc = json.load(sys.stdin)
seen = {}
for f in doc["findings"]:
    where = "%s:%s" % (f["location"]["file"].rsplit("/", 1)[-1], f["location"]["line"])
    key = (f["severity"], f["rule"], f["name"][:34])
    seen.setdefault(key, [where, 0])[1] += 1
for (sev, rule, name), (where, n) in seen.items():
    print("  %-7s %s %-34s %s%s" % (sev, rule, name, where, " (+%d more)" % (n - 1) if n > 1 else ""))
s = doc["summary"]
print("  (%d errors, %d warnings, %d info in %d objects)" % (s["error"], s["warning"], s["info"], s["objects"]))
'
}

echo "== 1. The guide's broken setup: raygate lint examples/seed-broken/"
echo "   (findings in three layers: security, protocol, infrastructure)"
"$BIN/raygate" lint examples/seed-broken/ -o json -q | one_line
echo
echo "== One finding in full: raygate lint examples/seed-broken/ --select RG101"
"$BIN/raygate" lint examples/seed-broken/ --select RG101 -q | sed -e '/^$/d' -e '/layer:/d' -e '/assuming/,/inputs)/d'

echo
echo "== 2. The fix, the Pinned Gateway: raygate lint examples/pinned-gateway/"
"$BIN/raygate" lint examples/pinned-gateway/ -q || { echo "demo: the fixed setup is not clean" >&2; exit 1; }
echo "== 3. From a short spec: raygate render -f raygate.yaml | raygate lint -"
"$BIN/raygate" render -f examples/raygate.yaml --cluster-manifest examples/pinned-gateway/raycluster.yaml 2>/dev/null \
  | "$BIN/raygate" lint - -q || { echo "demo: the rendered gateway is not clean" >&2; exit 1; }

echo
echo "== 4. Next day, a cluster snapshot: raygate doctor -f examples/doctor-snapshot/"
"$BIN/raygate" doctor -f examples/doctor-snapshot/ -o json -q | one_line

cat <<'NEXT'

== Next: your own setup
  pipx install .           # raygate on PATH (CI, pre-commit: README, Install)
  raygate lint manifests/  # or kubectl get ing,svc,cm -A -oyaml | raygate lint -
  raygate doctor           # the cluster of your current kube context
  raygate explain RG202    # any rule in full: why, the real error, the fix
  raygate init             # a raygate.yaml for your RayCluster, then render it
NEXT
exit 0
