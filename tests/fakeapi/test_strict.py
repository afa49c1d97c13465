"""The fake refuses what a real kube-apiserver refuses (each test names the upstream source).

Through the real lightkube client where it can send the request, raw HTTP where lightkube
would refuse to (an apply body with managedFields, ``force`` on a merge patch)."""

from __future__ import annotations

import httpx
import pytest
from lightkube import ApiError, Client, KubeConfig
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from raygate.sources.cluster import ClusterSource
from tests.fakeapi.admission import PREFIX, check_ingress, Controller, ingress_nginx_admission
from tests.fakeapi.server import CONTINUE_EXPIRED, FakeApiServer

CM_PATH = "/api/v1/namespaces/ingress-nginx/configmaps"


@pytest.fixture
def kube(fake_api: FakeApiServer) -> Client:
    client = Client(KubeConfig.from_file(fake_api.kubeconfig_path), trust_env=False)
    yield client
    client.close()


def _http(fake_api: FakeApiServer) -> httpx.Client:
    return httpx.Client(base_url=fake_api.url, timeout=5,
                        headers={"Authorization": f"Bearer {fake_api.token}"})


def _cm(name: str = "tcp-services", **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ingress-nginx"}, "data": data}


def _apply(http: httpx.Client, body: dict, **params: str) -> httpx.Response:
    return http.patch(f"{CM_PATH}/{body['metadata']['name']}", json=body, params=params,
                      headers={"Content-Type": "application/apply-patch+yaml"})


# ------------------------------------------------------------------ request options

def test_apply_body_with_managed_fields_is_a_bad_request(fake_api: FakeApiServer,
                                                         kube: Client) -> None:
    live = kube.apply(ConfigMap.from_dict(_cm(**{"10001": "ray/h:10001"})), field_manager="a")
    body = live.to_dict()  # a GET/apply result re-applied as is
    assert body["metadata"]["managedFields"]
    with _http(fake_api) as http:
        resp = _apply(http, body, fieldManager="a")
    assert resp.status_code == 400
    assert resp.json()["message"] == "metadata.managedFields must be nil"
    assert resp.json()["reason"] == "BadRequest"


@pytest.mark.parametrize("verb", ["create", "apply", "merge", "delete"])
def test_dry_run_accepts_only_all(fake_api: FakeApiServer, verb: str) -> None:
    fake_api.add(_cm("x"))
    with _http(fake_api) as http:
        if verb == "create":
            resp = http.post(CM_PATH, json=_cm("y"), params={"dryRun": "true"})
        elif verb == "apply":
            resp = _apply(http, _cm("x"), fieldManager="m", dryRun="Server")
        elif verb == "merge":
            resp = http.patch(f"{CM_PATH}/x", json={"data": {"a": "b"}}, params={"dryRun": "1"},
                              headers={"Content-Type": "application/merge-patch+json"})
        else:
            resp = http.delete(f"{CM_PATH}/x", params={"dryRun": "yes"})
    assert resp.status_code == 422, resp.text
    kind = {"create": "CreateOptions", "delete": "DeleteOptions"}.get(verb, "PatchOptions")
    assert resp.json()["message"].startswith(f'{kind}.meta.k8s.io "" is invalid: dryRun: '
                                             "Unsupported value: []string{")
    assert resp.json()["message"].endswith('supported values: "All"')
    assert fake_api.get("ConfigMap", "ingress-nginx", "x") is not None
    assert fake_api.get("ConfigMap", "ingress-nginx", "x")["data"] == {}


def test_force_only_on_apply_patches(fake_api: FakeApiServer) -> None:
    fake_api.add(_cm("x"))
    with _http(fake_api) as http:
        resp = http.patch(f"{CM_PATH}/x", json={"data": {"a": "b"}}, params={"force": "true"},
                          headers={"Content-Type": "application/merge-patch+json"})
        assert resp.status_code == 422
        assert resp.json()["message"] == ('PatchOptions.meta.k8s.io "" is invalid: force: '
                                          "Forbidden: may not be specified for non-apply patch")
        ok = _apply(http, _cm("x", a="b"), fieldManager="m", force="true")
        assert ok.status_code == 200


def test_field_manager_is_required_for_apply_and_at_most_128_bytes(fake_api: FakeApiServer) -> None:
    with _http(fake_api) as http:
        missing = _apply(http, _cm("x"))
        long = _apply(http, _cm("x"), fieldManager="m" * 129)
        fits = _apply(http, _cm("x"), fieldManager="m" * 128)
    assert missing.status_code == 422 and missing.json()["message"].endswith(
        "fieldManager: Required value: is required for apply patch")
    assert long.status_code == 422 and "Too long: may not be more than 128 bytes" in long.json()["message"]
    assert fits.status_code == 201


# ------------------------------------------------------------------ managed fields

def test_status_writes_are_owned_through_the_status_subresource(fake_api: FakeApiServer) -> None:
    fake_api.add({"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": "gw", "namespace": "ingress-nginx"},
                  "spec": {"ports": [{"port": 80}]}}, manager="helm")
    with _http(fake_api) as http:
        resp = http.patch("/api/v1/namespaces/ingress-nginx/services/gw/status",
                          json={"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}}},
                          params={"fieldManager": "metallb-controller"},
                          headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status_code == 200
    entries = {(m["manager"], m.get("subresource")): m
               for m in resp.json()["metadata"]["managedFields"]}
    assert entries[("metallb-controller", "status")]["fieldsV1"] == {
        "f:status": {"f:loadBalancer": {"f:ingress": {}}}}
    assert entries[("metallb-controller", "status")]["operation"] == "Update"
    assert "f:status" not in entries[("helm", None)]["fieldsV1"]


def test_defaults_fill_the_fields_raygate_reads(fake_api: FakeApiServer, kube: Client) -> None:
    with _http(fake_api) as http:
        svc = http.post("/api/v1/namespaces/ray/services", json={
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "h"},
            "spec": {"ports": [{"port": 10001}]}}).json()
        dep = _apply_deployment(http)
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"port": 10001, "protocol": "TCP", "targetPort": 10001}]
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": "25%", "maxUnavailable": "25%"}}
    assert dep["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    # An applier owns what it sent, not what the server defaulted.
    owned = dep["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owned and "f:strategy" not in owned


def _apply_deployment(http: httpx.Client) -> dict:
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "ray"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    return http.patch("/apis/apps/v1/namespaces/ray/deployments/d", json=body,
                      params={"fieldManager": "me"},
                      headers={"Content-Type": "application/apply-patch+yaml"}).json()


def test_add_with_a_manager_owns_only_what_it_set(fake_api: FakeApiServer) -> None:
    fake_api.add(_cm(**{"5432": "db/pg:5432"}), manager="helm")
    live = fake_api.get("ConfigMap", "ingress-nginx", "tcp-services")
    live["data"]["10001"] = "ray/h:10001"
    fake_api.add(live, manager="kubectl-edit")
    owners = {m["manager"]: m["fieldsV1"] for m in
              fake_api.get("ConfigMap", "ingress-nginx", "tcp-services")["metadata"]["managedFields"]}
    assert owners["kubectl-edit"] == {"f:data": {"f:10001": {}}}
    assert owners["helm"] == {"f:data": {"f:5432": {}}}


def test_managed_fields_sent_in_an_update_replace_the_stored_ones(fake_api: FakeApiServer,
                                                                   kube: Client) -> None:
    """How a client moves ownership from one manager to another (client-go csaupgrade)."""
    kube.apply(ConfigMap.from_dict(_cm(**{"1": "a/b:1"})), field_manager="old")
    live = fake_api.get("ConfigMap", "ingress-nginx", "tcp-services")
    entries = live["metadata"]["managedFields"]
    entries[0]["manager"] = "new"
    kube.patch(ConfigMap, "tcp-services", [
        {"op": "test", "path": "/metadata/resourceVersion", "value": live["metadata"]["resourceVersion"]},
        {"op": "replace", "path": "/metadata/managedFields", "value": entries}],
        namespace="ingress-nginx", patch_type=PatchType.JSON, field_manager="migrator")
    got = fake_api.get("ConfigMap", "ingress-nginx", "tcp-services")["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"]) for m in got] == [("new", "Apply")]
    # Now "new" applying without the key removes it: it was the only owner.
    out = kube.apply(ConfigMap.from_dict(_cm()), field_manager="new")
    assert not out.data


@pytest.mark.parametrize("broken", [{"apiVersion": ""}, {"fieldsType": "fieldsv1"},
                                    {"operation": "apply"}],
                         ids=["no-apiVersion", "bad-fieldsType", "bad-operation"])
def test_managed_fields_that_do_not_decode_are_ignored(fake_api: FakeApiServer, kube: Client,
                                                       broken: dict) -> None:
    """An entry the server cannot decode makes it keep the live entries, silently: the write
    succeeds and ownership does not move (apimachinery managedfields.go DecodeManagedFields,
    fieldmanager.go decodeManagedFields)."""
    kube.apply(ConfigMap.from_dict(_cm(**{"1": "a/b:1"})), field_manager="old")
    live = fake_api.get("ConfigMap", "ingress-nginx", "tcp-services")
    entries = [{**live["metadata"]["managedFields"][0], "manager": "new", **broken}]
    kube.patch(ConfigMap, "tcp-services", [
        {"op": "replace", "path": "/metadata/managedFields", "value": entries}],
        namespace="ingress-nginx", patch_type=PatchType.JSON, field_manager="migrator")
    got = fake_api.get("ConfigMap", "ingress-nginx", "tcp-services")["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"]) for m in got] == [("old", "Apply")]


def test_managed_fields_entries_of_one_manager_are_one_the_later_wins(fake_api: FakeApiServer,
                                                                      kube: Client) -> None:
    kube.apply(ConfigMap.from_dict(_cm(**{"1": "a/b:1", "2": "a/b:2"})), field_manager="old")
    live = fake_api.get("ConfigMap", "ingress-nginx", "tcp-services")
    [entry] = live["metadata"]["managedFields"]
    only_2 = {**entry, "fieldsV1": {"f:data": {"f:2": {}}}}
    kube.patch(ConfigMap, "tcp-services", [
        {"op": "replace", "path": "/metadata/managedFields", "value": [entry, only_2]}],
        namespace="ingress-nginx", patch_type=PatchType.JSON, field_manager="migrator")
    # "old" owns key 2 only now: applying nothing removes 2 and leaves 1 (owned by nobody).
    out = kube.apply(ConfigMap.from_dict(_cm()), field_manager="old")
    assert out.data == {"1": "a/b:1"}


# ------------------------------------------------------------------ immutability, finalizers

def test_immutable_config_map_refuses_changes(fake_api: FakeApiServer, kube: Client) -> None:
    body = _cm("frozen", a="1")
    body["immutable"] = True
    fake_api.add(body)
    with pytest.raises(ApiError) as e:
        kube.patch(ConfigMap, "frozen", {"data": {"a": "2"}}, namespace="ingress-nginx",
                   patch_type=PatchType.MERGE)
    assert e.value.status.code == 422
    assert e.value.status.message == ('ConfigMap "frozen" is invalid: data: Forbidden: field is '
                                      "immutable when `immutable` is set")
    with pytest.raises(ApiError):
        kube.apply(ConfigMap.from_dict({**_cm("frozen", a="3"), "immutable": True}),
                   field_manager="raygate/x", force=True)
    # Labels may still change.
    kube.patch(ConfigMap, "frozen", {"metadata": {"labels": {"x": "y"}}}, namespace="ingress-nginx",
               patch_type=PatchType.MERGE)
    assert fake_api.get("ConfigMap", "ingress-nginx", "frozen")["data"] == {"a": "1"}


def test_a_workload_selector_is_immutable(fake_api: FakeApiServer, kube: Client) -> None:
    """apps/v1 refuses a new selector (the reason raygate repeats the live one); the pod
    template's labels may still change."""
    from lightkube.resources.apps_v1 import DaemonSet
    labels = {"app": "ingress-nginx"}
    fake_api.add({"apiVersion": "apps/v1", "kind": "DaemonSet",
                  "metadata": {"name": "ctl", "namespace": "ingress-nginx"},
                  "spec": {"selector": {"matchLabels": labels}, "template": {
                      "metadata": {"labels": labels},
                      "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    with pytest.raises(ApiError) as e:
        kube.patch(DaemonSet, "ctl", {"spec": {"selector": {"matchLabels": {"app": "other"}}}},
                   namespace="ingress-nginx", patch_type=PatchType.MERGE)
    assert e.value.status.code == 422
    assert e.value.status.message == ('DaemonSet "ctl" is invalid: spec.selector: Invalid value: '
                                      '{"matchLabels": {"app": "other"}}: field is immutable')
    kube.patch(DaemonSet, "ctl", {"spec": {"template": {"metadata": {"labels": {"tier": "edge"}}}}},
               namespace="ingress-nginx", patch_type=PatchType.MERGE)
    live = fake_api.get("DaemonSet", "ingress-nginx", "ctl")
    assert live["spec"]["selector"] == {"matchLabels": labels}
    assert live["spec"]["template"]["metadata"]["labels"] == {**labels, "tier": "edge"}


def test_finalizers_hold_deletion(fake_api: FakeApiServer, kube: Client) -> None:
    body = _cm("held")
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    fake_api.add(body)
    kube.delete(ConfigMap, "held", namespace="ingress-nginx")
    live = fake_api.get("ConfigMap", "ingress-nginx", "held")
    assert live is not None and live["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiError) as e:
        kube.patch(ConfigMap, "held", {"metadata": {"finalizers": ["example.com/cleanup", "x/y"]}},
                   namespace="ingress-nginx", patch_type=PatchType.MERGE)
    assert "no new finalizers can be added" in e.value.status.message
    kube.patch(ConfigMap, "held", {"metadata": {"finalizers": None}}, namespace="ingress-nginx",
               patch_type=PatchType.MERGE)
    assert fake_api.get("ConfigMap", "ingress-nginx", "held") is None


# ------------------------------------------------------------------ continue tokens

def test_expired_continue_token_is_410_and_doctor_relists(fake_api: FakeApiServer) -> None:
    for i in range(5):
        fake_api.add(_cm(f"cm-{i}"))
    with _http(fake_api) as http:
        first = http.get("/api/v1/configmaps", params={"limit": "2"}).json()
        fake_api.compact()
        gone = http.get("/api/v1/configmaps", params={"limit": "2",
                                                      "continue": first["metadata"]["continue"]})
    assert gone.status_code == 410
    assert gone.json()["reason"] == "Expired" and gone.json()["message"] == CONTINUE_EXPIRED
    assert gone.json()["metadata"]["continue"]  # the inconsistent-continuation token

    # The cluster source starts the LIST over instead of failing (or returning half a list).
    source = ClusterSource(kubeconfig=fake_api.kubeconfig_path, page_size=2)
    original = fake_api._list
    calls = {"n": 0}

    def compact_after_first_page(t, ns, q):  # compaction between two pages of one LIST
        calls["n"] += 1
        if t.kind == "ConfigMap" and calls["n"] and q.get("continue") and not calls.get("done"):
            calls["done"] = True
            fake_api._rv += 1
            fake_api._compacted = fake_api._rv
        return original(t, ns, q)

    fake_api._list = compact_after_first_page
    try:
        with source:
            result = source.load()
    finally:
        fake_api._list = original
    names = sorted(o.name for o in result.objects if o.kind == "ConfigMap")
    assert names == [f"cm-{i}" for i in range(5)]
    assert calls.get("done")


# ------------------------------------------------------------------ the webhook table

def test_webhook_table_comes_from_the_controller_not_from_raygate() -> None:
    """The hook's risk table is the controller's, so it keeps its own opinion: the same
    annotation, judged at each risk level the controller knows."""
    ing = {"metadata": {"name": "r", "namespace": "ray", "annotations": {
        "nginx.ingress.kubernetes.io/rewrite-target": "/$1"}},
        "spec": {"ingressClassName": "nginx", "rules": []}}
    classes = {"nginx": {"spec": {"controller": "k8s.io/ingress-nginx"}}}
    ctl = Controller("ingress-nginx", ["/nginx-ingress-controller"])
    config = {"allow-snippet-annotations": "false", "annotations-risk-level": "Low",
              "strict-validate-path-type": "true", "annotation-value-word-blocklist": ""}
    assert check_ingress(ing, ctl, config, classes) == (
        "annotation group Rewrite contains risky annotation based on ingress configuration")
    assert check_ingress(ing, ctl, {**config, "annotations-risk-level": "Medium"}, classes) is None
    blocked = {**config, "annotations-risk-level": "Critical",
               "annotation-value-word-blocklist": "$1, root"}
    assert check_ingress(ing, ctl, blocked, classes) == (
        "nginx.ingress.kubernetes.io/rewrite-target annotation contains invalid word $1")
    catch_all = {**ing, "spec": {**ing["spec"], "defaultBackend": {"service": {"name": "x"}}}}
    strict = Controller("ingress-nginx", ["/nginx-ingress-controller", "--disable-catch-all=true"])
    assert check_ingress(catch_all, strict, {**config, "annotations-risk-level": "Critical"},
                         classes).startswith("this deployment is trying to create a catch-all")
    # A class the controller does not watch is not its business.
    assert check_ingress({**ing, "spec": {"ingressClassName": "traefik"}}, ctl, config, classes) is None


def test_webhook_denial_reaches_the_client(fake_api: FakeApiServer, kube: Client) -> None:
    fake_api.add({"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
                  "spec": {"template": {"spec": {"containers": [{
                      "name": "controller", "image": "registry.k8s.io/ingress-nginx/controller:v1.15.1",
                      "args": ["/nginx-ingress-controller", "--validating-webhook=:8443"]}]}}}})
    fake_api.add({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                  "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}})
    fake_api.admission = ingress_nginx_admission(fake_api)
    with _http(fake_api) as http:
        resp = http.post("/apis/networking.k8s.io/v1/namespaces/ray/ingresses", json={
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "r", "annotations": {
                "nginx.ingress.kubernetes.io/auth-snippet": "x"}},
            "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [{
                "path": "/a", "pathType": "Prefix",
                "backend": {"service": {"name": "s", "port": {"number": 1}}}}]}}]}})
    assert resp.status_code == 400
    assert resp.json()["message"] == (PREFIX + "nginx.ingress.kubernetes.io/auth-snippet annotation "
                                      "cannot be used. Snippet directives are disabled by the "
                                      "Ingress administrator")


# ------------------------------------------------------------------ Gateway API ListenerSet

LS_PATH = "/apis/gateway.networking.k8s.io/v1/namespaces/ray/listenersets"


def _listener_set(name: str, *listeners: dict) -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "ListenerSet",
            "metadata": {"name": name, "namespace": "ray"},
            "spec": {"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                   "name": "shared", "namespace": "infra"},
                     "listeners": list(listeners)}}


@pytest.mark.parametrize(("listeners", "message"), [
    ([], "spec.listeners: Invalid value: 0: spec.listeners in body should have at least 1 items"),
    ([{"name": "a", "protocol": "TCP", "port": 30001},
      {"name": "a", "protocol": "TCP", "port": 30002}],
     'spec.listeners: Invalid value: "array": Listener name must be unique within the Gateway'),
    ([{"name": "a", "protocol": "TCP", "port": 30001, "hostname": "x.example.com"}],
     "spec.listeners: Invalid value: \"array\": hostname must not be specified for protocols "
     "['TCP', 'UDP']"),
    ([{"name": "a", "protocol": "TCP", "port": 30001},
      {"name": "b", "protocol": "TCP", "port": 30001}],
     'spec.listeners: Invalid value: "array": Combination of port, protocol and hostname must '
     "be unique for each listener"),
])
def test_listener_set_refuses_what_its_crd_refuses(fake_api: FakeApiServer, listeners: list,
                                                    message: str) -> None:
    """The v1.6.1 ListenerSet CRD: listeners 1..64 and its CEL rules
    (config/crd/standard/gateway.networking.k8s.io_listenersets.yaml)."""
    body = _listener_set("ls", *listeners)
    with _http(fake_api) as http:
        resp = http.patch(f"{LS_PATH}/ls", json=body, params={"fieldManager": "a"},
                          headers={"Content-Type": "application/apply-patch+yaml"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["message"] == f'ListenerSet.gateway.networking.k8s.io "ls" is invalid: {message}'
    assert fake_api.get("ListenerSet", "ray", "ls") is None


def test_listener_set_listeners_merge_by_name(fake_api: FakeApiServer) -> None:
    """spec.listeners is a map list keyed by name: two managers' listeners live side by side,
    and a manager's apply drops only the listeners it stopped sending."""
    a = {"name": "ray-client", "protocol": "TCP", "port": 30001}
    b = {"name": "other", "protocol": "TCP", "port": 30002}
    with _http(fake_api) as http:
        for manager, listener in (("one", a), ("two", b)):
            resp = http.patch(f"{LS_PATH}/ls", json=_listener_set("ls", listener),
                              params={"fieldManager": manager},
                              headers={"Content-Type": "application/apply-patch+yaml"})
            assert resp.status_code in (200, 201), resp.text
    names = [l["name"] for l in fake_api.get("ListenerSet", "ray", "ls")["spec"]["listeners"]]
    assert sorted(names) == ["other", "ray-client"]
    # "one" switches between two listeners: the one it stops applying goes whole (key fields
    # included), "other" stays.
    with _http(fake_api) as http:
        c = {"name": "gcs", "protocol": "TCP", "port": 30003}
        for _ in range(5):  # field paths come out of sets: the order must not matter
            for listener in (a, c):
                resp = http.patch(f"{LS_PATH}/ls", json=_listener_set("ls", listener),
                                  params={"fieldManager": "one"},
                                  headers={"Content-Type": "application/apply-patch+yaml"})
                assert resp.status_code == 200, resp.text
                listeners = fake_api.get("ListenerSet", "ray", "ls")["spec"]["listeners"]
                assert sorted(l.get("name") for l in listeners) == sorted(
                    ["other", listener["name"]])
