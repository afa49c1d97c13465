"""The guide's "it worked yesterday, but not today", against the fake Kubernetes API.

Yesterday a healthy Pinned Gateway passes doctor. Overnight the gateway node gets a new IP,
the Ray head is rescheduled (not ready yet) and a snippet lands on the Dashboard Ingress
(written past the webhook, e.g. before it was tightened). Doctor must name each root cause
from the live API: the webhook's own denial (server-side dry run), the controller's log line,
the unready head, and the address drift. The snippet is another manager's field, which
server-side apply never removes; once the user removes it as doctor says, ``raygate apply``
restores what is raygate's (the rendered Ingresses).
The rest is the cluster's to heal (KubeRay makes the head ready, the controller republishes
its address, users are told the new one), and doctor passes again.
"""

from __future__ import annotations

import copy
import json

import pytest

from raygate.doctor import core
from raygate.findings import Severity
from tests.doctor import cluster

CONTROLLER_POD = "ingress-nginx-controller-5f7d8-abcde"
LOG_LINE = ('W0502 07:00:01.100000       7 controller.go:1208] Service "ray/raycluster-kuberay-head-svc" '
            "does not have any active Endpoint for TCP port 10001\n")


def _rendered_ingresses(objs) -> list[dict]:
    out = []
    for obj in objs:
        if obj["kind"] == "Ingress":
            obj = copy.deepcopy(obj)
            obj.pop("status", None)
            out.append(obj)
    return out


def _publish_status(fake_api, ip: str) -> None:
    """What the controller does with --report-node-internal-ip-address."""
    for name in ("ray-dashboard", "ray-dashboard-slash"):
        fake_api.patch("Ingress", "ray", name, {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})


def _doctor(fake_api, ip: str, logs: bool = False):
    g = core.gather_live(kubeconfig=fake_api.kubeconfig_path, logs=logs, tail=200)
    return g, core.diagnose(g, expect_ips=[ip])


def _codes(d) -> set[str]:
    return {f.code for f in d.result.findings}


def _runtime_or_errors(d) -> list[str]:
    return [f"{f.code} {f.object} {f.message}" for f in d.result.findings
            if f.rule.needs == "runtime" or f.severity is Severity.ERROR]


def test_worked_yesterday_not_today(fake_api):
    admission = pytest.importorskip("tests.fakeapi.admission")
    apply_mod = pytest.importorskip("raygate.apply")
    from raygate.sources.cluster import ClusterSource

    fake_api.admission = admission.ingress_nginx_admission(fake_api)
    source = ClusterSource(kubeconfig=fake_api.kubeconfig_path)
    for obj in cluster.healthy():
        if obj["kind"] != "Ingress":
            fake_api.add(obj, manager="kubectl")
    # The Ray Ingresses are raygate's: rendered and applied by it (through the webhook).
    report = apply_mod.apply_objects(source, _rendered_ingresses(cluster.healthy()), gateway="ray")
    assert not report.failed, [(c.ref, c.action, c.message) for c in report.changes]
    _publish_status(fake_api, cluster.GATEWAY_IP)

    # Yesterday: clean, within the request budget (discovery + LISTs, then one dry run per
    # Ray Ingress).
    fake_api.reset_requests()
    g, d = _doctor(fake_api, cluster.GATEWAY_IP)
    assert _runtime_or_errors(d) == []
    assert set(g.admission) == {("Ingress", "ray", "ray-dashboard"), ("Ingress", "ray", "ray-dashboard-slash")}
    assert all(v is None for v in g.admission.values())
    assert g.read_requests is not None and g.read_requests <= 20
    assert g.request_count == g.read_requests + len(g.admission)  # one dry run per Ray Ingress
    assert fake_api.count("get") == 0  # never one GET per object

    # Overnight.
    today = cluster.today()
    fake_api.delete("Pod", "ray", "raycluster-kuberay-head-x1y2z")
    for kind, name in (("Node", "gw-1"), ("Pod", "raycluster-kuberay-head-q9r8s"),
                       ("EndpointSlice", f"{cluster.HEAD_SVC}-abc12"),
                       ("RayCluster", "raycluster-kuberay")):
        fake_api.add(cluster.find(today, kind, name), manager="kubectl")
    # Someone added the snippet with kubectl while the webhook was off (stored as-is).
    snippet_key = "nginx.ingress.kubernetes.io/configuration-snippet"
    live = fake_api.get("Ingress", "ray", "ray-dashboard")
    live["metadata"]["annotations"][snippet_key] = \
        cluster.find(today, "Ingress", "ray-dashboard")["metadata"]["annotations"][snippet_key]
    fake_api.add(live, manager="kubectl")
    fake_api.set_logs("ingress-nginx", CONTROLLER_POD, LOG_LINE)

    g, d = _doctor(fake_api, cluster.GATEWAY_IP, logs=True)
    found = {f.code: f for f in d.result.findings}
    # Security: the webhook's real answer, tied to the rule that predicts it.
    denial = g.admission[("Ingress", "ray", "ray-dashboard")]
    assert denial and 'admission webhook "validate.nginx.ingress.kubernetes.io" denied the request' in denial
    assert found["RG151"].symptom == denial.strip()
    assert "Cause: RG101" in found["RG151"].message
    # Protocol: the controller's log line, and why there is no endpoint.
    assert "RG251 tcp-service-without-endpoints" in found["RG152"].message
    assert "head not ready" in found["RG251"].message
    assert "raycluster-kuberay-head-q9r8s" in found["RG354"].message
    # Infrastructure: the address users have is no longer the gateway's.
    drift = " ".join(f.message for f in d.result.findings if f.code == "RG353")
    assert cluster.GATEWAY_IP in drift and cluster.NEW_GATEWAY_IP in drift

    # The snippet is kubectl's field, not raygate's (server-side apply never removes another
    # manager's field), so the user applies the fix doctor gave: remove the snippet ...
    fake_api.patch("Ingress", "ray", "ray-dashboard", {"metadata": {"annotations": {snippet_key: None}}})
    # ... then raygate apply restores what is raygate's (the rendered Ingresses) ...
    report = apply_mod.apply_objects(source, _rendered_ingresses(cluster.healthy()), gateway="ray")
    assert not report.failed, [(c.ref, c.action, c.message) for c in report.changes]
    live = fake_api.get("Ingress", "ray", "ray-dashboard")
    assert not any(k.endswith("-snippet") for k in live["metadata"].get("annotations", {}))
    # ... and the cluster heals the rest: the head becomes ready, the controller republishes
    # the node's address on the Ingresses, and users are given the new address.
    fake_api.add(cluster.head_pod("raycluster-kuberay-head-q9r8s", "worker-2", "10.244.2.4"))
    fake_api.add(cluster.endpoint_slice("10.244.2.4", "raycluster-kuberay-head-q9r8s", ready=True))
    _publish_status(fake_api, cluster.NEW_GATEWAY_IP)
    fake_api.set_logs("ingress-nginx", CONTROLLER_POD, "I0502 07:05:00 controller.go:213] "
                      '"Backend successfully reloaded"\n')

    g, d = _doctor(fake_api, cluster.NEW_GATEWAY_IP, logs=True)
    assert _runtime_or_errors(d) == []
    assert all(v is None for v in g.admission.values())
    assert all(lane.status == "ok" for lane in d.lanes)


def test_forbidden_nodes_degrade_live(fake_api):
    for obj in cluster.healthy():
        fake_api.add(obj)
    fake_api.forbid("Node")
    g, d = _doctor(fake_api, cluster.GATEWAY_IP)
    assert "Node" in g.forbidden
    for code in ("RG351", "RG352", "RG353"):
        assert d.result.not_checked[code].startswith("not checked (forbidden)"), code
    assert not [f for f in d.result.findings if f.code in ("RG351", "RG352", "RG353")]


def test_cli_live_forbidden_dry_runs_and_nodes_degrade(fake_api, capsys):
    """A service account that may not list Nodes nor patch Ingresses: doctor still runs,
    says which rules it could not check and why, and counts the bounded read apart."""
    from raygate.cli import main

    for obj in cluster.today():
        fake_api.add(obj)
    fake_api.forbid("Node")
    fake_api.forbid("Ingress", verbs=["patch"])
    with pytest.raises(SystemExit) as e:
        main(["doctor", "--kubeconfig", fake_api.kubeconfig_path, "-f", "json"])
    out, err = capsys.readouterr()
    assert e.value.code == 1  # the rest of the catalog still found the head not ready
    doc = json.loads(out)
    not_checked = {n["rule"]: n["reason"] for n in doc["notChecked"]}
    assert not_checked["RG151"].startswith(
        "not checked (forbidden): dry run of Ingress ray/ray-dashboard refused: "
        "ingresses.networking.k8s.io is forbidden")
    assert not_checked["RG353"].startswith("not checked (forbidden): cannot list Node")
    assert "RG251" in {f["rule"] for f in doc["findings"]}
    assert "raygate: doctor (cluster:fake): " in err
    assert "18 API requests to read (+2 for dry runs and logs)" in err
    assert "Traceback" not in err
    # Live objects have no file line: the text report names the context alone.
    with pytest.raises(SystemExit):
        main(["doctor", "--kubeconfig", fake_api.kubeconfig_path, "--no-color"])
    text = capsys.readouterr().out
    assert "RG251 tcp-service-without-endpoints  cluster:fake\n" in text
    assert "cluster:fake:1" not in text
