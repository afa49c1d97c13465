"""The fake API server, exercised through the real lightkube client (and raw HTTP where a
client hides the detail under test: bookmarks, 401, discovery documents)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from lightkube import ApiError, Client, KubeConfig
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Pod
from lightkube.types import PatchType

from tests.fakeapi.admission import PREFIX, ingress_nginx_admission
from tests.fakeapi.server import FakeApiServer


@pytest.fixture
def kube(fake_api: FakeApiServer) -> Client:
    client = Client(KubeConfig.from_file(fake_api.kubeconfig_path), trust_env=False)
    yield client
    client.close()


def _pod(name: str, ns: str = "ray", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns,
                                                            "labels": labels}}


def _http(fake_api: FakeApiServer, token: bool = True) -> httpx.Client:
    headers = {"Authorization": f"Bearer {fake_api.token}"} if token else {}
    return httpx.Client(base_url=fake_api.url, headers=headers, timeout=5)


# --------------------------------------------------------------------------- discovery

def test_discovery_and_version(fake_api: FakeApiServer) -> None:
    with _http(fake_api) as http:
        assert http.get("/api").json()["versions"] == ["v1"]
        core = {r["name"]: r for r in http.get("/api/v1").json()["resources"]}
        assert core["pods"]["namespaced"] and not core["nodes"]["namespaced"]
        assert "pods/log" in core and "pods/status" in core
        groups = {g["name"]: g for g in http.get("/apis").json()["groups"]}
        assert {"apps", "networking.k8s.io", "discovery.k8s.io", "ray.io",
                "admissionregistration.k8s.io", "gateway.networking.k8s.io",
                "metallb.io"} <= set(groups)
        gw_versions = [v["version"] for v in groups["gateway.networking.k8s.io"]["versions"]]
        assert {"v1", "v1alpha2"} <= set(gw_versions)
        ray = http.get("/apis/ray.io/v1").json()
        assert {r["kind"] for r in ray["resources"]} >= {"RayCluster", "RayService"}
        assert http.get("/apis/ray.io").json()["preferredVersion"]["version"] == "v1"
        for path in ("/version", "/version/"):
            info = http.get(path).json()
            assert info["major"] == "1" and info["gitVersion"].startswith("v1.")
        assert http.get("/apis/nope.example.com/v1").status_code == 404


def test_disabled_group_disappears_from_discovery(fake_api: FakeApiServer) -> None:
    fake_api.disable_group("ray.io")
    with _http(fake_api) as http:
        assert "ray.io" not in {g["name"] for g in http.get("/apis").json()["groups"]}
        assert http.get("/apis/ray.io/v1/rayclusters").status_code == 404


def test_unauthenticated_requests_get_401(fake_api: FakeApiServer) -> None:
    with _http(fake_api, token=False) as http:
        resp = http.get("/api/v1/pods")
    assert resp.status_code == 401
    assert resp.json()["reason"] == "Unauthorized"


# --------------------------------------------------------------------------- create / get

def test_create_fills_server_metadata(fake_api: FakeApiServer, kube: Client) -> None:
    first = kube.create(ConfigMap(metadata=ObjectMeta(name="a"), data={"k": "v"}), namespace="x")
    second = kube.create(ConfigMap(metadata=ObjectMeta(name="b"), data={"k": "v"}), namespace="x")
    assert first.metadata.namespace == "x"  # from the URL, not the body
    assert first.metadata.uid and first.metadata.uid != second.metadata.uid
    assert int(second.metadata.resourceVersion) > int(first.metadata.resourceVersion)
    assert first.metadata.creationTimestamp is not None
    assert fake_api.requests[-1].status == 201
    got = kube.get(ConfigMap, "a", namespace="x")
    assert got.data == {"k": "v"} and got.metadata.uid == first.metadata.uid


def test_create_existing_conflicts_and_missing_is_404(kube: Client) -> None:
    kube.create(ConfigMap(metadata=ObjectMeta(name="a", namespace="x")))
    with pytest.raises(ApiError) as e:
        kube.create(ConfigMap(metadata=ObjectMeta(name="a", namespace="x")))
    assert e.value.status.code == 409 and e.value.status.reason == "AlreadyExists"
    assert e.value.status.message == 'configmaps "a" already exists'
    with pytest.raises(ApiError) as e:
        kube.get(ConfigMap, "nope", namespace="x")
    assert e.value.status.code == 404 and e.value.status.message == 'configmaps "nope" not found'


def test_invalid_objects_are_refused(kube: Client) -> None:
    with pytest.raises(ApiError) as e:
        kube.create(ConfigMap(metadata=ObjectMeta(name="Bad_Name", namespace="x")))
    assert e.value.status.code == 422 and "metadata.name" in e.value.status.message


# --------------------------------------------------------------------------- list

def test_label_selectors_equality_and_set_based(fake_api: FakeApiServer, kube: Client) -> None:
    fake_api.add(_pod("head", **{"ray.io/node-type": "head", "app": "ray"}))
    fake_api.add(_pod("worker", **{"ray.io/node-type": "worker", "app": "ray"}))
    fake_api.add(_pod("ctrl", "ingress-nginx", **{"app.kubernetes.io/name": "ingress-nginx"}))

    def names(selector: str, ns: str = "*") -> list[str]:
        with _http(fake_api) as http:
            path = "/api/v1/pods" if ns == "*" else f"/api/v1/namespaces/{ns}/pods"
            resp = http.get(path, params={"labelSelector": selector})
            assert resp.status_code == 200, resp.text
            return [i["metadata"]["name"] for i in resp.json()["items"]]

    assert [p.metadata.name for p in kube.list(Pod, namespace="*",
                                               labels={"ray.io/node-type": "head"})] == ["head"]
    assert names("ray.io/node-type==head") == ["head"]
    assert names("app=ray,ray.io/node-type!=head") == ["worker"]
    assert names("ray.io/node-type in (head, worker)") == ["head", "worker"]
    assert names("ray.io/node-type notin (head)") == ["ctrl", "worker"]
    assert names("app.kubernetes.io/name") == ["ctrl"]
    assert names("!ray.io/node-type") == ["ctrl"]
    assert names("app=ray", ns="ingress-nginx") == []
    with _http(fake_api) as http:
        assert http.get("/api/v1/pods", params={"labelSelector": "a in (b"}).status_code == 400


def test_field_selectors(fake_api: FakeApiServer, kube: Client) -> None:
    for ns, name in (("a", "x"), ("a", "y"), ("b", "x")):
        fake_api.add({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": name, "namespace": ns}})
    got = kube.list(ConfigMap, namespace="*", fields={"metadata.name": "x"})
    assert sorted(c.metadata.namespace for c in got) == ["a", "b"]
    got = kube.list(ConfigMap, namespace="*", fields={"metadata.namespace": "a"})
    assert sorted(c.metadata.name for c in got) == ["x", "y"]
    with _http(fake_api) as http:
        resp = http.get("/api/v1/configmaps", params={"fieldSelector": "data.k=v"})
    assert resp.status_code == 400 and "field label not supported" in resp.json()["message"]


def test_pagination_with_limit_and_continue(fake_api: FakeApiServer, kube: Client) -> None:
    fake_api.add_many(_pod(f"p{i:02d}") for i in range(7))
    fake_api.reset_requests()
    names = [p.metadata.name for p in kube.list(Pod, namespace="ray", chunk_size=3)]
    assert names == [f"p{i:02d}" for i in range(7)]
    lists = [r for r in fake_api.requests if r.verb == "list"]
    assert len(lists) == 3
    assert "continue" not in lists[0].query and "continue" in lists[1].query
    with _http(fake_api) as http:
        page = http.get("/api/v1/namespaces/ray/pods", params={"limit": 3}).json()
    assert page["metadata"]["remainingItemCount"] == 4
    assert "kind" not in page["items"][0]  # built-in kinds: items carry no kind, as for real


# --------------------------------------------------------------------------- update / patch

def test_put_replaces_and_stale_resource_version_conflicts(kube: Client) -> None:
    cm = kube.create(ConfigMap(metadata=ObjectMeta(name="a", namespace="x"), data={"k": "1"}))
    cm.data = {"k": "2"}
    updated = kube.replace(cm)
    assert updated.data == {"k": "2"}
    assert int(updated.metadata.resourceVersion) > int(cm.metadata.resourceVersion)
    cm.data = {"k": "3"}  # still carries the old resourceVersion
    with pytest.raises(ApiError) as e:
        kube.replace(cm)
    assert e.value.status.code == 409
    assert "the object has been modified" in e.value.status.message


def test_merge_and_json_patch(kube: Client) -> None:
    kube.create(ConfigMap(metadata=ObjectMeta(name="a", namespace="x"), data={"a": "1", "b": "2"}))
    got = kube.patch(ConfigMap, "a", {"data": {"a": None, "c": "3"}}, namespace="x",
                     patch_type=PatchType.MERGE)
    assert got.data == {"b": "2", "c": "3"}
    got = kube.patch(ConfigMap, "a", [{"op": "replace", "path": "/data/b", "value": "20"},
                                      {"op": "add", "path": "/data/d", "value": "4"}],
                     namespace="x", patch_type=PatchType.JSON)
    assert got.data == {"b": "20", "c": "3", "d": "4"}
    with pytest.raises(ApiError) as e:
        kube.patch(ConfigMap, "a", [{"op": "test", "path": "/data/b", "value": "nope"}],
                   namespace="x", patch_type=PatchType.JSON)
    assert e.value.status.code == 422


def _deployment(*containers: str) -> Deployment:
    return Deployment(
        metadata=ObjectMeta(name="ctrl", namespace="ingress-nginx"),
        spec=DeploymentSpec(
            selector=LabelSelector(matchLabels={"app": "c"}),
            template=PodTemplateSpec(metadata=ObjectMeta(labels={"app": "c"}), spec=PodSpec(
                containers=[Container(name=c, image=f"{c}:1") for c in containers]))))


def test_strategic_merge_merges_containers_by_name(kube: Client) -> None:
    kube.create(_deployment("controller", "sidecar"))
    patch = {"spec": {"template": {"spec": {"hostNetwork": True, "containers": [
        {"name": "controller", "args": ["/nginx-ingress-controller", "--tcp-services-configmap=x/y"]}]}}}}
    got = kube.patch(Deployment, "ctrl", patch, namespace="ingress-nginx",
                     patch_type=PatchType.STRATEGIC)
    containers = {c.name: c for c in got.spec.template.spec.containers}
    assert set(containers) == {"controller", "sidecar"}  # kmock dropped "sidecar" here
    assert containers["controller"].image == "controller:1"
    assert containers["controller"].args[1] == "--tcp-services-configmap=x/y"
    assert got.spec.template.spec.hostNetwork is True
    assert got.metadata.generation == 2
    deleted = kube.patch(Deployment, "ctrl", {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "$patch": "delete"}]}}}}, namespace="ingress-nginx",
        patch_type=PatchType.STRATEGIC)
    assert [c.name for c in deleted.spec.template.spec.containers] == ["controller"]


def test_status_is_kept_by_main_resource_writes(fake_api: FakeApiServer, kube: Client) -> None:
    fake_api.add({**_pod("head"), "status": {"phase": "Running"}})
    got = kube.patch(Pod, "head", {"metadata": {"labels": {"x": "y"}}, "status": {"phase": "Failed"}},
                     namespace="ray", patch_type=PatchType.MERGE)
    assert got.status.phase == "Running" and got.metadata.labels == {"x": "y"}
    got = kube.patch(Pod.Status, "head", {"status": {"phase": "Failed"}}, namespace="ray",
                     patch_type=PatchType.MERGE)
    assert got.status.phase == "Failed"


# --------------------------------------------------------------------------- server-side apply

def _cm(data: dict[str, str]) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name="tcp-services", namespace="ingress-nginx"), data=data)


def test_apply_upserts_and_records_managed_fields(fake_api: FakeApiServer, kube: Client) -> None:
    created = kube.apply(_cm({"10001": "ray/head:10001"}), field_manager="raygate")
    assert fake_api.requests[-1].status == 201
    entry = created.metadata.managedFields[0]
    assert (entry.manager, entry.operation) == ("raygate", "Apply")
    assert entry.fieldsV1 == {"f:data": {"f:10001": {}}}
    again = kube.apply(_cm({"10001": "ray/head:10001"}), field_manager="raygate")
    assert again.metadata.resourceVersion == created.metadata.resourceVersion  # a no-op


def test_apply_keeps_other_managers_fields_and_drops_own_removed_ones(
        fake_api: FakeApiServer, kube: Client) -> None:
    kube.apply(_cm({"9000": "other/svc:9000"}), field_manager="helm")
    kube.apply(_cm({"10001": "ray/head:10001", "8265": "ray/head:8265"}), field_manager="raygate")
    assert kube.get(ConfigMap, "tcp-services", namespace="ingress-nginx").data == {
        "9000": "other/svc:9000", "10001": "ray/head:10001", "8265": "ray/head:8265"}
    got = kube.apply(_cm({"10001": "ray/head:10001"}), field_manager="raygate")
    assert got.data == {"9000": "other/svc:9000", "10001": "ray/head:10001"}
    managers = {m.manager: m.fieldsV1 for m in got.metadata.managedFields}
    assert managers == {"helm": {"f:data": {"f:9000": {}}}, "raygate": {"f:data": {"f:10001": {}}}}


def test_apply_conflict_needs_force(kube: Client) -> None:
    kube.apply(_cm({"10001": "old/svc:10001"}), field_manager="helm")
    with pytest.raises(ApiError) as e:
        kube.apply(_cm({"10001": "ray/head:10001"}), field_manager="raygate")
    assert e.value.status.code == 409
    assert e.value.status.message == \
        'Apply failed with 1 conflict: conflict with "helm" using v1: .data.10001'
    assert e.value.status.details.causes[0].field == ".data.10001"
    # Applying the same value is not a conflict: ownership is shared.
    kube.apply(_cm({"10001": "old/svc:10001"}), field_manager="raygate")
    got = kube.apply(_cm({"10001": "ray/head:10001"}), field_manager="raygate", force=True)
    assert got.data == {"10001": "ray/head:10001"}
    assert {m.manager for m in got.metadata.managedFields} == {"raygate"}


def test_non_apply_writes_take_ownership(fake_api: FakeApiServer, kube: Client) -> None:
    kube.apply(_cm({"10001": "ray/head:10001"}), field_manager="raygate")
    kube.patch(ConfigMap, "tcp-services", {"data": {"10001": "hand/edit:1"}},
               namespace="ingress-nginx", patch_type=PatchType.MERGE, field_manager="kubectl-edit")
    with pytest.raises(ApiError) as e:
        kube.apply(_cm({"10001": "ray/head:10001"}), field_manager="raygate")
    assert 'conflict with "kubectl-edit"' in e.value.status.message


# --------------------------------------------------------------------------- dry run, admission

def test_dry_run_validates_and_admits_without_persisting(fake_api: FakeApiServer,
                                                         kube: Client) -> None:
    seen: list[str] = []
    fake_api.admission = lambda obj, op: seen.append(op) or None
    rv = fake_api.resource_version
    out = kube.create(ConfigMap(metadata=ObjectMeta(name="a", namespace="x")), dry_run=True)
    assert out.metadata.name == "a" and seen == ["CREATE"]
    assert fake_api.get("ConfigMap", "x", "a") is None and fake_api.resource_version == rv
    kube.apply(_cm({"1": "a/b:1"}), field_manager="raygate", dry_run=True)
    assert fake_api.get("ConfigMap", "ingress-nginx", "tcp-services") is None
    fake_api.admission = lambda obj, op: "denied by test" if obj["kind"] == "ConfigMap" else None
    with pytest.raises(ApiError) as e:
        kube.create(ConfigMap(metadata=ObjectMeta(name="a", namespace="x")), dry_run=True)
    assert e.value.status.code == 400 and e.value.status.message == "denied by test"


def test_admission_runs_on_a_no_op_update(fake_api: FakeApiServer, kube: Client) -> None:
    """A real API server calls validating webhooks before it notices nothing changed, so a
    stored object the webhook now refuses is denied even when re-applied unchanged."""
    kube.apply(_cm({"10001": "ray/head:10001"}), field_manager="raygate")
    rv = fake_api.resource_version
    seen: list[str] = []
    fake_api.admission = lambda obj, op: seen.append(op) or None
    again = kube.apply(_cm({"10001": "ray/head:10001"}), field_manager="raygate")
    assert seen == ["UPDATE"] and fake_api.resource_version == rv  # admitted, still a no-op
    kube.replace(kube.get(ConfigMap, "tcp-services", namespace="ingress-nginx"))
    assert seen == ["UPDATE", "UPDATE"] and fake_api.resource_version == rv
    fake_api.admission = lambda obj, op: "tightened webhook" if op == "UPDATE" else None
    for dry_run in (True, False):
        with pytest.raises(ApiError) as e:
            kube.apply(_cm({"10001": "ray/head:10001"}), field_manager="raygate", dry_run=dry_run)
        assert e.value.status.code == 400 and e.value.status.message == "tightened webhook"
    assert again.metadata.resourceVersion == str(rv)


CONTROLLER = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
    "spec": {"template": {"spec": {"containers": [{
        "name": "controller", "image": "registry.k8s.io/ingress-nginx/controller:v1.12.1",
        "args": ["/nginx-ingress-controller", "--validating-webhook=:8443",
                 "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller"]}]}}}}

NGINX_CLASS = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
               "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}


def _ingress(path: str = "/ray(/|$)(.*)", path_type: str = "ImplementationSpecific",
             **annotations: str) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "ray", "namespace": "ray", "annotations": annotations},
            "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [{
                "path": path, "pathType": path_type, "backend": {"service": {
                    "name": "raycluster-head-svc", "port": {"number": 8265}}}}]}}]}}


def test_ingress_nginx_admission_denies_like_the_webhook(fake_api: FakeApiServer) -> None:
    fake_api.add(CONTROLLER)
    fake_api.add(NGINX_CLASS)
    fake_api.admission = ingress_nginx_admission(fake_api)

    def create(obj: dict) -> httpx.Response:
        with _http(fake_api) as http:
            return http.post("/apis/networking.k8s.io/v1/namespaces/ray/ingresses",
                             params={"dryRun": "All"}, json=obj)

    snippet = create(_ingress(**{"nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers x;"}))
    assert snippet.status_code == 400
    assert snippet.json()["message"] == (
        PREFIX + "nginx.ingress.kubernetes.io/configuration-snippet annotation cannot be used. "
        "Snippet directives are disabled by the Ingress administrator")
    strict = create(_ingress(path_type="Prefix"))
    assert strict.json()["message"] == (
        PREFIX + "ingress contains invalid paths: path /ray(/|$)(.*) cannot be used with pathType Prefix")
    assert create(_ingress()).status_code == 201
    assert fake_api.get("Ingress", "ray", "ray") is None  # dry run

    # The controller's ConfigMap is context: snippets allowed but risk level High -> risky.
    fake_api.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
        "data": {"allow-snippet-annotations": "true"}})
    risky = create(_ingress(**{"nginx.ingress.kubernetes.io/configuration-snippet": "x;"}))
    assert risky.json()["message"] == (
        PREFIX + "annotation group ConfigurationSnippet contains risky annotation based on "
        "ingress configuration")
    # Another class is not this controller's business.
    other = _ingress(**{"nginx.ingress.kubernetes.io/configuration-snippet": "x;"})
    other["spec"]["ingressClassName"] = "traefik"
    assert create(other).status_code == 201
    # A second Ingress claiming a stored Ingress's host and path (controller.go checkOverlap).
    fake_api.add(_ingress(path="/", path_type="Prefix"))
    twin = _ingress(path="/", path_type="Prefix")
    twin["metadata"]["name"] = "ray-twin"
    assert create(twin).json()["message"] == (
        PREFIX + 'host "_" and path "/" is already defined in ingress ray/ray')
    # Updating the stored Ingress itself is no overlap.
    with _http(fake_api) as http:
        same = http.put("/apis/networking.k8s.io/v1/namespaces/ray/ingresses/ray",
                        params={"dryRun": "All"}, json=_ingress(path="/", path_type="Prefix"))
    assert same.status_code == 200, same.text
    # A controller without --validating-webhook runs no admission webhook at all.
    fake_api.add({**CONTROLLER, "spec": {"template": {"spec": {"containers": [{
        **CONTROLLER["spec"]["template"]["spec"]["containers"][0],
        "args": ["/nginx-ingress-controller"]}]}}}})
    assert create(twin).status_code == 201


# --------------------------------------------------------------------------- delete, rbac, logs

def test_delete(fake_api: FakeApiServer, kube: Client) -> None:
    fake_api.add(_pod("p"))
    kube.delete(Pod, "p", namespace="ray")
    assert fake_api.get("Pod", "ray", "p") is None
    with pytest.raises(ApiError) as e:
        kube.delete(Pod, "p", namespace="ray")
    assert e.value.status.code == 404


def test_forbidden_kinds_get_403(fake_api: FakeApiServer, kube: Client) -> None:
    fake_api.add(_pod("p"))
    fake_api.forbid("Pod", verbs=["list"])
    with pytest.raises(ApiError) as e:
        list(kube.list(Pod, namespace="*"))
    assert e.value.status.code == 403
    assert e.value.status.message.startswith('pods is forbidden: User "system:serviceaccount')
    assert kube.get(Pod, "p", namespace="ray").metadata.name == "p"  # get still allowed
    fake_api.forbid("Pod")
    with pytest.raises(ApiError):
        kube.get(Pod, "p", namespace="ray")
    fake_api.allow("Pod")
    assert len(list(kube.list(Pod, namespace="*"))) == 1


def test_pod_logs_tail(fake_api: FakeApiServer, kube: Client) -> None:
    fake_api.add(_pod("ctrl", "ingress-nginx"))
    fake_api.set_logs("ingress-nginx", "ctrl", "".join(f"line {i}\n" for i in range(10)))
    assert list(kube.log("ctrl", namespace="ingress-nginx", tail_lines=2)) == ["line 8\n", "line 9\n"]
    assert fake_api.requests[-1].query["tailLines"] == "2"


def test_request_log_counts_verbs_and_kinds(fake_api: FakeApiServer, kube: Client) -> None:
    list(kube.list(Pod, namespace="*"))
    list(kube.list(ConfigMap, namespace="x"))
    assert fake_api.count("list") == 2 and fake_api.count("list", "Pod") == 1
    assert fake_api.requests[0].path == "/api/v1/pods"


# --------------------------------------------------------------------------- watch

def test_watch_replays_from_resource_version_and_streams_live(fake_api: FakeApiServer,
                                                             kube: Client) -> None:
    fake_api.add(_pod("before"))
    start = fake_api.resource_version
    fake_api.add(_pod("a"))
    fake_api.delete("Pod", "ray", "before")
    events: list[tuple[str, str]] = []
    for ev, obj in kube.watch(Pod, namespace="ray", resource_version=str(start)):
        events.append((ev, obj.metadata.name))
        if len(events) == 2:
            # Replay is done; "b" is created only now, so it can only arrive live.
            fake_api.add(_pod("b"))
        if len(events) == 3:
            break
    assert events == [("ADDED", "a"), ("DELETED", "before"), ("ADDED", "b")]


def test_watch_without_version_lists_then_times_out(fake_api: FakeApiServer) -> None:
    fake_api.add(_pod("a", app="x"))
    fake_api.add(_pod("b", app="y"))
    t0 = time.monotonic()
    with _http(fake_api) as http:
        resp = http.get("/api/v1/namespaces/ray/pods", params={
            "watch": "true", "labelSelector": "app=x", "timeoutSeconds": "1"})
    elapsed = time.monotonic() - t0
    lines = [json.loads(line) for line in resp.text.splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [("ADDED", "a")]
    # The server held the stream open for timeoutSeconds, then ended it (no upper bound: a
    # loaded machine may take longer, and a server that never ends it fails on the client's
    # own timeout).
    assert elapsed >= 0.9


def test_watch_bookmarks(fake_api: FakeApiServer) -> None:
    fake_api.bookmark_interval = 0.2
    fake_api.add(_pod("a"))
    rv = fake_api.resource_version
    with _http(fake_api) as http:
        resp = http.get("/api/v1/namespaces/ray/pods", params={
            "watch": "1", "resourceVersion": str(rv), "allowWatchBookmarks": "true",
            "timeoutSeconds": "1"})
    events = [json.loads(line) for line in resp.text.splitlines()]
    assert events and all(e["type"] == "BOOKMARK" for e in events)
    assert len(events) >= 3
    assert events[-1]["object"]["metadata"]["resourceVersion"] == str(rv)
    assert events[0]["object"]["kind"] == "Pod"


def test_watch_too_old_resource_version_is_gone() -> None:
    with FakeApiServer(history=3) as server:
        for i in range(6):
            server.add(_pod(f"p{i}"))
        with httpx.Client(base_url=server.url, timeout=5,
                          headers={"Authorization": f"Bearer {server.token}"}) as http:
            resp = http.get("/api/v1/pods", params={"watch": "true", "resourceVersion": "1"})
        event = json.loads(resp.text.splitlines()[0])
        assert event["type"] == "ERROR" and event["object"]["code"] == 410


def test_a_selector_watch_sees_objects_start_and_stop_matching(fake_api: FakeApiServer) -> None:
    """An object relabelled into a label selector is ADDED for that watch; relabelled out of
    it, DELETED with its previous content at the change's resourceVersion, replayed from
    history the same way (k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go @ v1.31.0,
    convertToWatchEvent)."""
    fake_api.add(_pod("a", app="y"))
    start = fake_api.resource_version
    fake_api.patch("Pod", "ray", "a", {"metadata": {"labels": {"app": "x"}}})
    fake_api.patch("Pod", "ray", "a", {"metadata": {"annotations": {"n": "1"}}})
    fake_api.patch("Pod", "ray", "a", {"metadata": {"labels": {"app": "z"}}})
    moved_out = fake_api.resource_version
    fake_api.patch("Pod", "ray", "a", {"metadata": {"annotations": {"n": "2"}}})
    with _http(fake_api) as http:
        resp = http.get("/api/v1/namespaces/ray/pods", params={
            "watch": "true", "labelSelector": "app=x", "resourceVersion": str(start),
            "timeoutSeconds": "1"})
    events = [json.loads(line) for line in resp.text.splitlines()]
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    gone = events[-1]["object"]["metadata"]
    assert gone["labels"]["app"] == "x" and gone["resourceVersion"] == str(moved_out)


def test_a_media_type_the_api_server_does_not_serve_is_406(fake_api: FakeApiServer) -> None:
    with _http(fake_api) as http:
        refused = http.get("/api/v1/namespaces/ray/pods", headers={"Accept": "text/html"})
        kubectl = http.get("/api/v1/namespaces/ray/pods", headers={
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    assert refused.status_code == 406 and refused.json()["reason"] == "NotAcceptable"
    assert kubectl.status_code == 200
