"""The operator's pure decisions: settings, allocation records, repair, plans."""

from __future__ import annotations

from typing import Any

import pytest

from raygate import engine
from raygate.errors import SpecError
from raygate.objects import KubeObject, ObjectSet, Origin
from raygate.operator import allocations as alloc
from raygate.operator import desired, settings


def ray_cluster(name: str = "a", ns: str = "team1", uid: str = "u-a", *, expose: str | None =
                "dashboard,jobs,client", auth: str | None = "token", **annotations: str) -> dict:
    notes = dict(annotations)
    if expose is not None:
        notes[desired.EXPOSE] = expose
    spec: dict[str, Any] = {"headGroupSpec": {"template": {"spec": {"containers": [
        {"name": "ray-head", "image": "rayproject/ray:2.52.0", "ports": [
            {"containerPort": 6379, "name": "gcs-server"},
            {"containerPort": 8265, "name": "dashboard"},
            {"containerPort": 10001, "name": "client"},
            {"containerPort": 8000, "name": "serve"}]}]}}}}
    if auth is not None:
        spec["authOptions"] = {"mode": auth}
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster",
            "metadata": {"name": name, "namespace": ns, "uid": uid, "annotations": notes},
            "spec": spec}


def test_settings_refuse_bad_values_with_the_field_named() -> None:
    with pytest.raises(SpecError, match="portRange"):
        settings.load(None, {"portRange": {"first": 31000, "last": 30000}})
    with pytest.raises(SpecError, match="routing.*domain"):
        settings.load(None, {"routing": {"mode": "host"}})
    with pytest.raises(SpecError, match="gatewayApi.gatewayName"):
        settings.load(None, {"backend": "gateway-api"})
    with pytest.raises(SpecError, match="gatewayApi.gatewayNamespace"):
        settings.load(None, {"backend": "gateway-api",
                             "gatewayApi": {"gatewayName": "gw", "gatewayNamespace": "Bad_NS"}})
    with pytest.raises(SpecError, match="leaseDurationSeconds"):
        settings.load(None, {"leaseDurationSeconds": 5, "renewDeadlineSeconds": 10})


def test_settings_file_errors_name_the_file(tmp_path: Any) -> None:
    bad = tmp_path / "op.yaml"
    bad.write_text("portRange: [1, 2\n")
    with pytest.raises(SpecError, match=r"op.yaml:\d+: not valid YAML"):
        settings.load(bad)
    bad.write_text("- a list\n")
    with pytest.raises(SpecError, match="expected a mapping"):
        settings.load(bad)


def test_allocation_record_round_trips_and_untrusted_records_are_ignored() -> None:
    a = alloc.Allocation(30007, "team1/a", "u-a", "RayCluster", "client")
    obj = alloc.to_object(a, "raygate-system")
    assert obj["metadata"]["name"] == "raygate-port-30007"
    assert obj["immutable"] is True
    assert alloc.from_object(obj) == a
    forged = dict(obj, metadata=dict(obj["metadata"], name="raygate-port-30008"))
    assert alloc.from_object(forged) is None  # name and content disagree
    assert alloc.from_object({"metadata": {"name": "raygate-port-1"}, "data": {"port": "x"}}) is None


def test_repair_frees_leaks_and_duplicates_but_keeps_the_first_port() -> None:
    held = [alloc.Allocation(30001, "t/a", "u1", "RayCluster", "client"),
            alloc.Allocation(30005, "t/a", "u1", "RayCluster", "client"),   # duplicate
            alloc.Allocation(30002, "t/b", "old", "RayCluster", "client"),  # re-created
            alloc.Allocation(30003, "t/gone", "u3", "RayCluster", "client"),
            alloc.Allocation(30004, "t/a", "u1", "RayCluster", "tcp-9000")]  # no longer asked
    r = alloc.repair(held, {"t/a": "u1", "t/b": "new"}, {"t/a": {"client"}, "t/b": {"client"}})
    freed = {a.port: why for a, why in r.release}
    assert set(freed) == {30005, 30002, 30003, 30004}
    assert freed[30005].startswith("duplicate") and "30001" in freed[30005]
    assert "re-created" in freed[30002]
    assert [a.port for a in r.duplicates] == [30005]
    assert sorted(a.port for a in r.leaks) == [30002, 30003, 30004]


def test_free_ports_skips_taken_lowest_first() -> None:
    ports = alloc.free_ports({30001, 30003}, settings.PortRange(first=30001, last=30005))
    assert list(ports) == [30002, 30004, 30005]


def test_parse_request() -> None:
    r = desired.parse_request({desired.EXPOSE: " Dashboard, client ",
                               desired.EXTRA_TCP: "9000,9000"})
    assert r is not None and r.parts == {"dashboard", "client"} and r.extra_tcp_ports == (9000,)
    assert r.purposes() == {"client", "tcp-9000"}
    assert desired.parse_request({}) is None
    with pytest.raises(desired.ExposeError, match="unknown part.*dashbord"):
        desired.parse_request({desired.EXPOSE: "dashbord"})
    with pytest.raises(desired.ExposeError, match="not a TCP port"):
        desired.parse_request({desired.EXPOSE: "client", desired.EXTRA_TCP: "http"})


def test_plan_refuses_clusters_without_token_auth_unless_allowed() -> None:
    s = settings.OperatorSettings()
    p = desired.plan(ray_cluster(auth=None), s)
    assert not p.exposed and "no token auth" in (p.refused or "")
    assert p.routes == [] and p.tcp_targets == {}
    open_ok = desired.plan(ray_cluster(auth=None), s.model_copy(update={"allow_unauthenticated": True}))
    assert open_ok.exposed and open_ok.routes


def test_plan_refuses_gcs_unless_allowed() -> None:
    s = settings.OperatorSettings()
    p = desired.plan(ray_cluster(expose="client,gcs"), s)
    assert not p.exposed and "GCS" in (p.refused or "")
    p = desired.plan(ray_cluster(expose="client,gcs"), s.model_copy(update={"allow_gcs": True}))
    assert p.tcp_targets == {"client": 10001, "gcs": 6379}


def test_path_routes_are_per_cluster_and_lint_clean() -> None:
    s = settings.OperatorSettings()
    c = ray_cluster(expose="dashboard,client,serve")
    p = desired.plan(c, s)
    paths = [r["spec"]["rules"][0]["http"]["paths"][0]["path"] for r in p.routes]
    assert paths == ["/ray/team1/a/(.*)", "/ray/team1/a$", "/serve/team1/a(/|$)(.*)"]
    assert all(r["metadata"]["labels"][desired.CLUSTER_LABEL] == "team1.a" for r in p.routes)
    # What the operator writes passes the same catalog as `raygate render`'s output.
    objs = ObjectSet([KubeObject(o, Origin("<operator>")) for o in [c, *p.routes]])
    result = engine.run(objs)
    errors = [f for f in result.findings if f.severity.value == "error"]
    assert errors == [], [f"{f.rule.code} {f.message}" for f in errors]


def test_host_routing_and_annotations() -> None:
    s = settings.load(None, {"routing": {"mode": "host", "domain": "ray.example.com"},
                             "gatewayAddress": "gw.example.com"})
    p = desired.plan(ray_cluster(), s)
    assert {r["spec"]["rules"][0]["host"] for r in p.routes} == {"a.team1.ray.example.com"}
    notes = desired.annotations_for(p, s, {"client": 30001})
    assert notes[desired.DASHBOARD_URL] == "http://a.team1.ray.example.com/ray/"
    assert notes[desired.CLIENT_ADDRESS] == "ray://gw.example.com:30001"
    assert notes[desired.STATUS] == "exposed"


def test_shared_cookie_warning_only_for_path_routing_of_several_clusters() -> None:
    s = settings.OperatorSettings()
    plans = {f"t/{n}": desired.plan(ray_cluster(n, "t", f"u{n}"), s) for n in "ab"}
    assert "auth cookie" in (desired.shared_cookie_warning(plans, s) or "")
    assert desired.shared_cookie_warning({"t/a": plans["t/a"]}, s) is None
    host = s.model_copy(update={"routing": settings.Routing(mode="host", domain="x.io")})
    assert desired.shared_cookie_warning(plans, host) is None


def test_tcp_services_data_maps_each_held_port_to_the_head_service() -> None:
    s = settings.OperatorSettings()
    plans = {"t/a": desired.plan(ray_cluster("a", "t"), s),
             "t/b": desired.plan(ray_cluster("b", "t", auth=None), s)}  # refused
    data = desired.tcp_services_data({"t/a": {"client": 30002}, "t/b": {"client": 30001}}, plans)
    assert data == {"30002": "t/a-head-svc:10001"}


def node(name: str, ip: str, ready: bool = True, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_metallb_decisions_follow_the_address_it_assigned() -> None:
    from raygate.operator import placement
    svc = {"kind": "Service", "status": {"loadBalancer": {"ingress": [{"ip": "192.168.10.50"}]}}}
    assert placement.decide_load_balancer(svc, "Service x/y", None) == placement.Decision(
        "ok", None, address="192.168.10.50")
    same = placement.decide_load_balancer(svc, "Service x/y", "192.168.10.50")
    assert (same.state, same.address) == ("ok", "192.168.10.50")
    moved = placement.decide_load_balancer(svc, "Service x/y", "192.168.10.49")
    assert (moved.state, moved.address) == ("move", "192.168.10.50")
    assert "was 192.168.10.49" in moved.reason
    pending = placement.decide_load_balancer({"kind": "Service", "status": {"loadBalancer": {}}},
                                             "Service x/y", "192.168.10.50")
    assert (pending.state, pending.address) == ("lost", None)
    assert "MetalLB has not assigned one" in pending.reason
    assert placement.decide_load_balancer(None, "Service x/y", None).state == "lost"
    # A cloud or MetalLB-backed Gateway: its status.addresses; a hostname where there is no IP.
    gateway = {"kind": "Gateway", "status": {"addresses": [{"type": "IPAddress",
                                                            "value": "192.168.10.60"}]}}
    assert placement.load_balancer_address(gateway) == "192.168.10.60"
    named = {"status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}}
    assert placement.load_balancer_address(named) == "lb.example.com"


def test_placement_decisions() -> None:
    from raygate.operator import placement
    gw = {"ingress-ready": "true"}
    cand = {"raygate.io/gateway-candidate": "true"}
    ok = placement.decide([node("a", "10.0.0.1", **gw), node("b", "10.0.0.2", **cand)],
                          "ingress-ready=true", "raygate.io/gateway-candidate=true")
    assert (ok.state, ok.current, ok.address) == ("ok", "a", "10.0.0.1")
    down = [node("a", "10.0.0.1", ready=False, **gw), node("c", "10.0.0.3", ready=False, **cand),
            node("b", "10.0.0.2", **cand)]
    move = placement.decide(down, "ingress-ready=true", "raygate.io/gateway-candidate=true")
    assert (move.state, move.current, move.target, move.address) == ("move", "a", "b", "10.0.0.2")
    assert "NotReady" in move.reason
    assert placement.relabel_patches(move, "ingress-ready=true") == [
        ("a", {"metadata": {"labels": {"ingress-ready": None}}}),
        ("b", {"metadata": {"labels": {"ingress-ready": "true"}}})]
    lost = placement.decide(down, "ingress-ready=true", None)
    assert lost.state == "lost" and "no failover label" in lost.reason
    gone = placement.decide([node("b", "10.0.0.2", **cand)], "ingress-ready=true", "raygate.io/gateway-candidate")
    assert gone.state == "move" and gone.current is None and "no node carries" in gone.reason
    two = placement.decide([node("a", "1.1.1.1", **gw), node("b", "1.1.1.2", **gw)],
                           "ingress-ready=true", None)
    assert two.state == "lost" and "2 nodes carry" in two.reason


@pytest.mark.parametrize("overrides", [
    {}, {"routing": {"mode": "host", "domain": "ray.example.com"}},
    {"backend": "gateway-api", "gatewayApi": {"gatewayName": "gw", "gatewayNamespace": "gw"}}])
@pytest.mark.parametrize("expose", ["dashboard,jobs,client", "serve", "dashboard,client,gcs"])
def test_a_plan_does_not_depend_on_what_the_operator_writes_on_the_cluster(
        overrides: dict, expose: str) -> None:
    """What ``Reconciler._keep_plans`` relies on: the annotations and finalizer ``_tell``
    writes are not inputs of the plan, so a plan made before them holds after them."""
    s = settings.load(None, {"allowGcs": True, **overrides})
    before = ray_cluster(expose=expose)
    after = ray_cluster(expose=expose, **{desired.STATUS: "exposed",
                                          desired.DASHBOARD_URL: "http://x/ray/team1/a/",
                                          desired.CLIENT_ADDRESS: "ray://GATEWAY:30001"})
    after["metadata"]["finalizers"] = ["other.io/keep", desired.FINALIZER]
    for ports in (None, {"client": 30001, "gcs": 30002}):
        planned = desired.plan(before, s, ports)
        assert planned.routes and desired.plan(after, s, ports) == planned


def test_labelled_metrics_are_escaped_as_the_text_format_requires() -> None:
    from raygate.operator.metrics import Metrics
    m = Metrics()
    m.replace_family("raygate_operator_probe_success",
                     {(("namespace", "t"), ("name", 'a"b\\c\nd')): 1.0})
    text = m.render()
    assert "# TYPE raygate_operator_probe_success gauge\n" in text
    assert 'raygate_operator_probe_success{namespace="t",name="a\\"b\\\\c\\nd"} 1\n' in text
