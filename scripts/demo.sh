#!/usr/bin/env bash
# `make demo`: the guide's broken setup, its three root causes with fixes, then the fix, clean.
set -uo pipefail
BIN=${1:-.venv/bin}

echo "== 1. The guide's broken setup: raygate lint examples/seed-broken/"
"$BIN/raygate" lint examples/seed-broken/
rc=$?
if [ $rc -ne 1 ]; then
  echo "demo: expected findings (exit 1) for the broken setup, got exit $rc" >&2
  exit 1
fi

echo
echo "== 2. The Pinned Gateway: raygate lint examples/pinned-gateway/"
"$BIN/raygate" lint examples/pinned-gateway/ || { echo "demo: the fixed setup is not clean" >&2; exit 1; }

if [ -f examples/raygate.yaml ] && "$BIN/raygate" render --help >/dev/null 2>&1; then
  echo
  echo "== 3. Rendered from a spec of a few lines: raygate render -f examples/raygate.yaml | raygate lint -"
  "$BIN/raygate" render -f examples/raygate.yaml --cluster-manifest examples/pinned-gateway/raycluster.yaml \
    | "$BIN/raygate" lint - || { echo "demo: the rendered gateway is not clean" >&2; exit 1; }
fi

echo
echo "== 4. The next day, from a cluster snapshot: raygate doctor --snapshot examples/doctor-snapshot/"
"$BIN/raygate" doctor --snapshot examples/doctor-snapshot/
rc=$?
if [ $rc -ne 1 ]; then
  echo "demo: expected doctor to name today's root causes (exit 1), got exit $rc" >&2
  exit 1
fi
exit 0
