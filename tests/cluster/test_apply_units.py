"""The pure parts of ``raygate.apply`` (identity, marks, managed-fields arithmetic, messages),
without an API server: fast enough for mutation testing (docs/testing.md)."""

from __future__ import annotations

import hashlib

import pytest

from raygate import apply as apply_mod
from raygate import ownership
from raygate.apply import Gateway
from raygate.errors import ClusterError
from raygate.render.ingress_nginx_manifests import merge_flags


class _Spec:
    """The two fields of a GatewaySpec that name a gateway."""

    def __init__(self, namespace: str, prefix: str) -> None:
        self.ray_cluster = type("R", (), {"namespace": namespace})()
        self.prefix = prefix


def test_gateway_id_and_manager_fit_the_api_limits() -> None:
    assert apply_mod.gateway_id(_Spec("team-a", "ray")) == "team-a.ray"
    gw = Gateway.named("team-a.ray")
    assert gw.manager == "raygate/team-a.ray"
    assert gw.presence_label == "gateway.raygate.io/team-a.ray"
    assert gw.flags_annotation == "flags.raygate.io/team-a.ray"
    # Long names are bounded, and two that share a long prefix stay distinct.
    ns = "n" * 63
    a, b = apply_mod.gateway_id(_Spec(ns, "alpha")), apply_mod.gateway_id(_Spec(ns, "beta"))
    assert len(a) <= 63 and len(b) <= 63 and a != b
    assert a.startswith("n" * 50) and a[-9] == "-" and all(c in "0123456789abcdef" for c in a[-8:])
    long = Gateway.named("x" * 200)
    assert len(long.manager) == 128 and long.manager.startswith("raygate/xxx")
    assert Gateway.named("x" * 120).manager == "raygate/" + "x" * 120  # exactly 128 fits
    assert ownership.bounded("abc", 3) == "abc"
    assert ownership.bounded("abcd", 3) != "abc"
    # Characters a label value cannot hold are replaced; edges trimmed.
    assert apply_mod.gateway_id(_Spec("a_b", "c:d")) == "a_b.c-d"
    assert ownership.gateway_id("-", "-") == "raygate"
    assert ownership.gateway_id("", "x") == "x"
    assert ownership.gateway_id("-a", "b-") == "a.b" and ownership.gateway_id("_a", "b.") == "a.b"
    assert apply_mod.gateway_id(_Spec("Team", "Ray")) == "Team.Ray"  # label values keep case
    # The cut never leaves a separator before the hash.
    raw = "a" * 10 + "-._" + "b" * 20
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    assert ownership.bounded(raw, 22) == "a" * 10 + "-" + digest
    assert ownership.gateway_id("Xa", "bX") == "Xa.bX"
    assert ownership.bounded("-" * 5 + "a" * 30, 20).startswith("-----")


def _obj(kind: str, name: str, ns: str | None = "ns", labels: dict | None = None, **extra) -> dict:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, **extra}


def test_shared_objects_by_spec_and_by_shape() -> None:
    gw = Gateway.named("g", shared={("ConfigMap", "ingress-nginx", "tcp-services")})
    assert gw.is_shared(_obj("ConfigMap", "tcp-services", "ingress-nginx"))
    assert not gw.is_shared(_obj("ConfigMap", "tcp-services", "other"))
    assert gw.is_shared(_obj("Deployment", "anything"))  # patched kinds are always shared
    assert gw.is_shared(_obj("Node", "n", None))
    cluster_scoped = Gateway.named("g", shared={("ClusterRole", "", "x")})
    assert cluster_scoped.is_shared({"kind": "ClusterRole", "metadata": {"name": "x"}})
    plain = Gateway.named("g")
    managed = {apply_mod.MANAGED_BY: "raygate"}
    assert not plain.is_shared(_obj("Ingress", "i", labels=managed))
    assert plain.is_shared(_obj("Deployment", "d", labels=managed))
    assert plain.is_shared(_obj("Ingress", "i", labels={}))  # rendered as another tool's
    assert plain.is_shared(_obj("ConfigMap", "t", labels=managed, data={"10001": "a/b:1"}))
    assert not plain.is_shared(_obj("ConfigMap", "t", labels=managed, data={"a": "1"}))
    assert not plain.is_shared(_obj("ConfigMap", "t", labels=managed, data={}))
    assert not plain.is_shared(_obj("ConfigMap", "t", labels=managed, data={"1": "x", "b": "y"}))


def test_gateway_for_names_the_controller_objects() -> None:
    from raygate.spec import GatewaySpec
    spec = GatewaySpec.model_validate({"ray_cluster": {"name": "rc", "namespace": "team"}})
    gw = apply_mod.gateway_for(spec)
    ctl = spec.controller
    assert gw.id == "team.rc" and gw.manager == "raygate/team.rc"
    assert gw.shared == {("ConfigMap", ctl.namespace, ctl.config_map),
                         ("ConfigMap", ctl.namespace, ctl.tcp_services_config_map),
                         ("Service", ctl.namespace, ctl.service)}
    assert gw.is_shared({"kind": "Deployment", "metadata": {"name": ctl.deployment,
                                                            "namespace": ctl.namespace}})
    assert gw.flags and all(f.startswith("--") for f in gw.flags)


def test_label_marks_own_and_shared_objects() -> None:
    gw = Gateway.named("g", shared={("ConfigMap", "ingress-nginx", "tcp-services")})
    own = _obj("Ingress", "i", labels={apply_mod.MANAGED_BY: "raygate"})
    shared = _obj("ConfigMap", "tcp-services", "ingress-nginx", labels={apply_mod.MANAGED_BY: "raygate"})
    node = _obj("Node", "n", None)
    bare = _obj("Service", "s")
    out = apply_mod.label([own, shared, node, bare], gw)
    assert out[0]["metadata"]["labels"] == {apply_mod.MANAGED_BY: "raygate", apply_mod.GATEWAY_LABEL: "g",
                                            "gateway.raygate.io/g": ""}
    assert out[1]["metadata"]["labels"] == {apply_mod.MANAGED_BY: "raygate", "gateway.raygate.io/g": ""}
    assert "labels" not in out[2]["metadata"]
    assert out[3]["metadata"]["labels"][apply_mod.GATEWAY_LABEL] == "g"
    assert "labels" not in own["metadata"] or own["metadata"]["labels"] == {apply_mod.MANAGED_BY: "raygate"}
    assert apply_mod.label([own], "g")[0]["metadata"]["labels"][apply_mod.GATEWAY_LABEL] == "g"
    bare_obj = apply_mod.label([{"kind": "Service"}], "g")[0]  # no metadata at all
    assert bare_obj["metadata"]["labels"] == {"gateway.raygate.io/g": ""}


def test_claim_leaves_other_tools_managed_by_alone() -> None:
    ours = _obj("ConfigMap", "c", labels={apply_mod.MANAGED_BY: "raygate", "x": "y"})
    assert apply_mod._claim(ours, None) is ours
    assert apply_mod._claim(ours, _obj("ConfigMap", "c", labels={apply_mod.MANAGED_BY: "raygate"})) is ours
    helm = apply_mod._claim(ours, _obj("ConfigMap", "c", labels={apply_mod.MANAGED_BY: "Helm"}))
    assert helm["metadata"]["labels"] == {"x": "y"} and ours["metadata"]["labels"][apply_mod.MANAGED_BY] == "raygate"
    dep = apply_mod._claim(_obj("Deployment", "d", labels={apply_mod.MANAGED_BY: "raygate"}), None)
    assert apply_mod.MANAGED_BY not in dep["metadata"]["labels"]
    assert apply_mod._claim(_obj("Deployment", "d"), None) == _obj("Deployment", "d")
    assert apply_mod._claim(_obj("Deployment", "d", labels={"x": "y"}), None)["metadata"]["labels"] == {"x": "y"}


def test_fields_paths_and_tree_round_trip() -> None:
    tree = {"f:data": {"f:1": {}, "f:2": {}}, "f:spec": {"f:containers": {
        'k:{"name":"c"}': {".": {}, "f:args": {}}}}}
    paths = apply_mod.fields_paths(tree)
    assert paths == {("f:data", "f:1"), ("f:data", "f:2"), ("f:spec", "f:containers", 'k:{"name":"c"}', "."),
                     ("f:spec", "f:containers", 'k:{"name":"c"}', "f:args")}
    assert apply_mod.fields_tree(paths) == tree
    assert apply_mod.fields_paths(None) == set() and apply_mod.fields_paths({}) == set()
    assert apply_mod.fields_tree([]) == {}


def test_writers_ignore_status_and_empty_entries() -> None:
    obj = {"metadata": {"managedFields": [
        {"manager": "a", "fieldsV1": {"f:data": {"f:1": {}}}},
        {"manager": "b", "subresource": "status", "fieldsV1": {"f:status": {"f:x": {}}}},
        {"manager": "c", "fieldsV1": {}}, "junk"]}}
    assert apply_mod._writers(obj) == {"a"}
    assert apply_mod._managers({}) == []


def test_owner_and_conflict_messages() -> None:
    labelled = {"metadata": {"labels": {apply_mod.GATEWAY_LABEL: "team.a"}}}
    assert apply_mod.owner_of({}, "raygate/team.b") == "gateway team.b (raygate/team.b)"
    assert apply_mod.owner_of(labelled, "raygate") == "gateway team.a (applied by raygate 0.1)"
    assert apply_mod.owner_of({}, "raygate") == "raygate 0.1"
    assert apply_mod.owner_of({}, "helm") == "helm"
    message = ('Apply failed with 2 conflicts:\n- conflict with "raygate/t.a" using v1: .data.10001\n'
               '- conflict with "helm" using v1: .data.proxy-stream-timeout')
    assert apply_mod._conflicts(message) == [("raygate/t.a", ".data.10001"),
                                             ("helm", ".data.proxy-stream-timeout")]
    assert apply_mod._conflicts('Apply failed with 1 conflict: conflict with "x" using apps/v1: '
                                ".spec.replicas") == [("x", ".spec.replicas")]
    assert apply_mod._is_gateway("raygate") and apply_mod._is_gateway("raygate/x")
    assert not apply_mod._is_gateway("raygate-old") and not apply_mod._is_gateway("helm")
    live = {"data": {"10001": "a/b:1", "n": {"x": 1}}, "spec": {"replicas": 2}}
    assert apply_mod._value_at(live, ".data.10001") == "a/b:1"
    assert apply_mod._value_at(live, ".spec.replicas") == 2
    assert apply_mod._value_at(live, ".data.n") is None  # not a scalar
    assert apply_mod._value_at(live, ".data.missing") is None
    assert apply_mod._value_at(live, ".data.10001.deeper") is None


def test_legacy_ownership_and_claimed_flags() -> None:
    gw = Gateway.named("team.a")
    legacy = {"metadata": {"labels": {apply_mod.GATEWAY_LABEL: "team.a"},
                           "managedFields": [{"manager": "raygate", "fieldsV1": {"f:a": {}}}]}}
    assert apply_mod._legacy_is_mine(legacy, gw)
    assert not apply_mod._legacy_is_mine(legacy, Gateway.named("team.b"))
    assert not apply_mod._legacy_is_mine({"metadata": {"labels": {apply_mod.GATEWAY_LABEL: "team.a"}}}, gw)
    assert not apply_mod._legacy_is_mine(None, gw)
    live = {"metadata": {"annotations": {"flags.raygate.io/team.a": "--x=1",
                                         "flags.raygate.io/team.b": "--x=2 --y",
                                         "other": "--z"}}}
    assert apply_mod._claimed_flags(live, gw) == {"team.b": {"--x": "--x=2", "--y": "--y"}}
    assert apply_mod._claimed_flags({}, gw) == {}


def test_interrupted_names_what_was_written_and_how_to_go_on() -> None:
    err = ClusterError("https://k: apply Ingress/ns/i: 500 InternalError: boom")
    assert apply_mod._interrupted(err, [], "raygate apply -f g.yaml") is err
    out = apply_mod._interrupted(err, ["ConfigMap/a/b", "Ingress/ns/x"], "raygate apply -f g.yaml")
    assert isinstance(out, apply_mod.ApplyInterrupted) and out.written == ["ConfigMap/a/b", "Ingress/ns/x"]
    assert str(out) == ("https://k: apply Ingress/ns/i: 500 InternalError: boom -- apply stopped after "
                        "writing 2 object(s): ConfigMap/a/b, Ingress/ns/x; to finish, re-run "
                        "`raygate apply -f g.yaml`; to undo, re-apply the previous spec with --prune "
                        "(objects this gateway created are then deleted, shared ones released)")
    assert "re-run `raygate apply -f <spec>`" in str(apply_mod._interrupted(err, ["x"], None))


def test_refs_keys_and_normalized_diff() -> None:
    assert apply_mod.ref_of(_obj("Ingress", "i")) == "Ingress/ns/i"
    assert apply_mod.ref_of(_obj("Node", "n", None)) == "Node/n"
    assert apply_mod._key(_obj("Node", "n", None)) == ("Node", "", "n")
    assert apply_mod._key(_obj("Ingress", "i", "ns")) == ("Ingress", "ns", "i")
    live = {"kind": "ConfigMap", "status": {"x": 1}, "metadata": {
        "name": "c", "resourceVersion": "5", "uid": "u", "managedFields": [], "generation": 1,
        "creationTimestamp": "t", "selfLink": "s", "labels": {"a": "b"}}, "data": {"k": "v"}}
    assert apply_mod.normalized(live) == {"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "b"}},
                                          "data": {"k": "v"}}
    assert live["metadata"]["uid"] == "u"  # the input is not changed
    assert apply_mod.normalized(None) == {}
    diff = apply_mod.unified_diff("ConfigMap/c", live, {**live, "data": {"k": "w"}})
    assert diff.startswith("--- live/ConfigMap/c\n+++ raygate/ConfigMap/c\n")
    assert "-  k: v\n+  k: w\n" in diff
    created = apply_mod.unified_diff("X", None, {"a": 1})
    assert created.count("\n+a: 1") == 1 and "-{}" not in created


def test_report_counts_and_failures() -> None:
    report = apply_mod.ApplyReport(dry_run=False, changes=[
        apply_mod.Change("a", "created"), apply_mod.Change("b", "unchanged"),
        apply_mod.Change("c", "conflict"), apply_mod.Change("d", "released"),
        apply_mod.Change("e", "denied"), apply_mod.Change("f", "missing"), apply_mod.Change("g", "pruned"),
        apply_mod.Change("h", "configured"), apply_mod.Change("i", "created")])
    assert [c.ref for c in report.changed] == ["a", "d", "g", "h", "i"]
    assert [c.ref for c in report.failed] == ["c", "e", "f"]
    assert report.counts() == {"created": 2, "unchanged": 1, "conflict": 1, "released": 1, "denied": 1,
                               "missing": 1, "pruned": 1, "configured": 1}


@pytest.mark.parametrize("args, wanted, out, changes", [
    (["/c", "--a=1"], ["--b=2"], ["/c", "--a=1", "--b=2"], ["adds --b=2"]),
    (["/c", "--b=1", "--a"], ["--b=2"], ["/c", "--b=2", "--a"], ["changes --b=1 to --b=2"]),
    (["--b=1", "--b=3"], ["--b=2"], ["--b=1", "--b=2"], ["changes --b=3 to --b=2"]),
    (["--b=2"], ["--b=2"], ["--b=2"], []),
    ([], ["--x", "--y=1"], ["--x", "--y=1"], ["adds --x", "adds --y=1"]),
])
def test_merge_flags_changes_only_the_wanted_flags(args, wanted, out, changes) -> None:
    assert merge_flags(args, wanted) == (out, changes)
