"""Runtime rules and doctor's lanes never crash on malformed cluster state (fuzzed)."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raygate.doctor import core
from raygate.objects import KubeObject, Origin
from tests.doctor import cluster

JUNK = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
PATHS = [("status",), ("status", "addresses"), ("status", "conditions"), ("spec",),
         ("spec", "selector"), ("spec", "ports"), ("spec", "nodeSelector"), ("spec", "externalIPs"),
         ("spec", "containers"), ("endpoints",), ("ports",), ("data",), ("metadata", "labels"),
         ("spec", "template"), ("status", "head"), ("status", "loadBalancer"), ("spec", "rules"),
         ("spec", "authOptions"), ("status", "containerStatuses")]


def _set(obj: dict, path: tuple, value) -> None:
    cur = obj
    for part in path[:-1]:
        if not isinstance(cur.get(part), dict):
            cur[part] = {}
        cur = cur[part]
    cur[path[-1]] = value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 100), st.sampled_from(PATHS), JUNK), min_size=1, max_size=4))
def test_runtime_rules_never_crash(edits) -> None:
    objs = copy.deepcopy(cluster.today())
    for index, path, value in edits:
        _set(objs[index % len(objs)], path, value)
    g = core.Gathered([KubeObject(o, Origin("fuzz.yaml", i)) for i, o in enumerate(objs)],
                      "snapshot", "fuzz.yaml", logs_requested=True,
                      logs={("ingress-nginx", "ingress-nginx-controller-5f7d8-abcde"): "x\n"})
    d = core.diagnose(g, expect_ips=[cluster.GATEWAY_IP])
    mine = {k: v for k, v in d.result.not_checked.items()
            if k[:4] in ("RG15", "RG25", "RG35") and "internal error" in v}
    assert not mine, mine
