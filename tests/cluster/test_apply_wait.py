"""``raygate apply``'s wait: the controller rollout and the backends' endpoints, read from the
fake API server through the real lightkube client, as ``raygate apply`` waits after writing.

The rollout checks follow ``kubectl rollout status`` (kubectl/pkg/polymorphichelpers/
rollout_status.go): the spec must be observed (``status.observedGeneration`` >=
``metadata.generation``), then every replica updated, then every one available. Status counts
of zero are omitted by the API server (``omitempty``), so a missing count is zero.
"""

from __future__ import annotations

from typing import Any

import pytest

from raygate import apply as apply_mod
from raygate.errors import ClusterError
from raygate.sources.cluster import ClusterSource
from tests.cluster import world
from tests.fakeapi.server import FakeApiServer


def _controller(kind: str, status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    obj = world.controller_deployment()
    obj["kind"] = kind
    obj["spec"].update(spec)
    if kind == "DaemonSet":
        obj["spec"].pop("replicas")
    obj["status"] = status
    return obj


def _rollout(server: FakeApiServer, kind: str = "Deployment") -> str | None:
    """The state of the one rollout target ``wait_targets`` makes for the controller."""
    target_obj = {"apiVersion": "apps/v1", "kind": kind,
                  "metadata": {"name": world.CTRL, "namespace": world.CTRL_NS}}
    [target] = apply_mod.wait_targets([target_obj])
    assert target.description == f"rollout of {kind} {world.CTRL_NS}/{world.CTRL}"
    with ClusterSource(server.kubeconfig_path) as source:
        return target.check(source)


@pytest.mark.parametrize("status, replicas, state", [
    # Generation 1, no observedGeneration yet: the controller has not seen the spec.
    ({}, 1, "the controller has not seen the new spec yet"),
    # Observed, but no pod updated: the zero count is omitted.
    ({"observedGeneration": 1}, 1, "0/1 pods updated"),
    ({"observedGeneration": 1, "updatedReplicas": 1}, 2, "1/2 pods updated"),
    ({"observedGeneration": 1, "updatedReplicas": 2}, 2, "0/2 pods available"),
    ({"observedGeneration": 1, "updatedReplicas": 1}, 1, "0/1 pods available"),
    ({"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 1}, 2, "1/2 pods available"),
    ({"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 2}, 2, None),
    # More available than wanted (old pods still terminating) is still rolled out.
    ({"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 3}, 2, None),
])
def test_deployment_rollout_states(fake_api: FakeApiServer, status: dict[str, Any],
                                   replicas: int, state: str | None) -> None:
    fake_api.add(_controller("Deployment", status, replicas=replicas))
    assert _rollout(fake_api) == state


def test_a_changed_spec_is_waited_for_until_observed(fake_api: FakeApiServer) -> None:
    fake_api.add(_controller("Deployment", {"observedGeneration": 1, "updatedReplicas": 1,
                                            "availableReplicas": 1}))
    assert _rollout(fake_api) is None
    fake_api.patch("Deployment", world.CTRL_NS, world.CTRL, {"spec": {"minReadySeconds": 5}})
    assert fake_api.get("Deployment", world.CTRL_NS, world.CTRL)["metadata"]["generation"] == 2
    assert _rollout(fake_api) == "the controller has not seen the new spec yet"
    fake_api.patch("Deployment", world.CTRL_NS, world.CTRL, {"status": {"observedGeneration": 2}})
    assert _rollout(fake_api) is None


@pytest.mark.parametrize("status, state", [
    ({}, "the controller has not seen the new spec yet"),
    # No node selected yet: nothing to wait for (kubectl says rolled out too).
    ({"observedGeneration": 1}, None),
    ({"observedGeneration": 1, "desiredNumberScheduled": 2}, "0/2 pods updated"),
    ({"observedGeneration": 1, "desiredNumberScheduled": 1}, "0/1 pods updated"),
    ({"observedGeneration": 1, "desiredNumberScheduled": 1, "updatedNumberScheduled": 1},
     "0/1 pods available"),
    ({"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 1,
      "numberAvailable": 2}, "1/2 pods updated"),
    ({"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2},
     "0/2 pods available"),
    ({"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2,
      "numberAvailable": 1}, "1/2 pods available"),
    ({"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2,
      "numberAvailable": 2}, None),
])
def test_daemonset_rollout_states(fake_api: FakeApiServer, status: dict[str, Any],
                                  state: str | None) -> None:
    fake_api.add(_controller("DaemonSet", status))
    assert _rollout(fake_api, "DaemonSet") == state


def test_a_missing_controller_is_not_found(fake_api: FakeApiServer) -> None:
    assert _rollout(fake_api) == "not found"
    assert _rollout(fake_api, "DaemonSet") == "not found"


# --------------------------------------------------------------------------- what is waited for

def _route(kind: str, refs: list[Any], api_version: str = "gateway.networking.k8s.io/v1") -> dict:
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": kind.lower(), "namespace": "routes"},
            "spec": {"rules": [{"backendRefs": refs}, None, {"backendRefs": None}]}}


def test_wait_targets_cover_the_controller_and_every_backend() -> None:
    objects = [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "ctrl", "namespace": "ingress-nginx"}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"}},
        # tcp-services: every key a port; an entry the controller would refuse is skipped.
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tcp", "namespace": "x"},
         "data": {"10001": "ray/head:10001", "9000": "ray/head:client", "7000": "not-an-entry",
                  "7001": "head:10001", "7002": "ray/head:", "5432": "db/postgres:5432"}},
        # Not tcp-services: a key that is no port, or no data at all.
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf", "namespace": "x"},
         "data": {"10002": "ray/head:10002", "proxy-stream-timeout": "3600s"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "empty"}, "data": {}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": "dash", "namespace": "ray"},
         "spec": {"rules": [{"http": {"paths": [
             {"path": "/", "pathType": "Prefix",
              "backend": {"service": {"name": "head", "port": {"number": 8265}}}},
             {"path": "/r", "pathType": "Prefix", "backend": {"resource": {"kind": "Bucket"}}},
             {"path": "/n", "pathType": "Prefix", "backend": {"service": {"name": "noport"}}}]}}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "nons"},
         "spec": {"rules": [{"http": {"paths": [
             {"path": "/", "pathType": "Prefix",
              "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}},
        # Gateway API routes: Service refs only (a skipped ref does not end the rule), in
        # the ref's namespace, else the route's.
        _route("HTTPRoute", ["junk", {"kind": "Bucket", "name": "b", "port": 1},
                             {"group": "example.io", "kind": "Service", "name": "s", "port": 2},
                             {"name": "noport"}, {"port": 3},
                             {"name": "svc-a", "port": 8000},
                             {"group": "", "kind": "Service", "name": "svc-b", "namespace": "other",
                              "port": 9000}]),
        _route("TCPRoute", [{"name": "svc-a", "port": 10001}], "gateway.networking.k8s.io/v1alpha2"),
        # Every route kind: a GRPCRoute to Serve's gRPC proxy, a passthrough TLSRoute.
        _route("GRPCRoute", [{"name": "svc-grpc", "port": 9000}]),
        _route("TLSRoute", [{"name": "svc-tls", "port": 10001}]),
        # Not a Gateway API route: same kind name, another group.
        _route("HTTPRoute", [{"name": "svc-c", "port": 80}], "example.io/v1"),
    ]
    targets = apply_mod.wait_targets(objects)
    assert [t.description for t in targets] == [
        "rollout of Deployment ingress-nginx/ctrl",
        "rollout of DaemonSet default/ds",
        "endpoints of Service db/postgres (ports 5432)",
        "endpoints of Service default/web (ports http)",
        "endpoints of Service other/svc-b (ports 9000)",
        "endpoints of Service ray/head (ports 10001, 8265, client)",
        "endpoints of Service routes/svc-a (ports 10001, 8000)",
        "endpoints of Service routes/svc-grpc (ports 9000)",
        "endpoints of Service routes/svc-tls (ports 10001)",
    ]


# --------------------------------------------------------------------------- endpoints

def _service(name: str, ns: str, ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": ports}}


def _slice(name: str, ns: str, service: str, endpoints: list[dict[str, Any]],
           ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "endpoints": endpoints, "ports": ports}


def _endpoint(ready: bool | None) -> dict[str, Any]:
    conditions = {} if ready is None else {"ready": ready}
    return {"addresses": ["10.0.0.1"], "conditions": conditions}


@pytest.fixture
def backends(fake_api: FakeApiServer) -> FakeApiServer:
    fake_api.add(_service("head", "ray", [{"name": "dashboard", "port": 8265},
                                          {"name": "client", "port": 10001},
                                          {"name": "udp", "port": 5000, "protocol": "UDP"}]))
    fake_api.add(_service("plain", "ray", [{"port": 80, "targetPort": 8080}]))
    # Not ready: carries the dashboard port, but no endpoint may receive traffic.
    fake_api.add(_slice("head-1", "ray", "head", [_endpoint(False)],
                        [{"name": "dashboard", "port": 8265}, {"name": "client", "port": 10001}]))
    # Ready is unset: "consumers should interpret this unknown state as ready"
    # (discovery.k8s.io/v1 EndpointConditions); it serves the client port only.
    fake_api.add(_slice("head-2", "ray", "head", [_endpoint(None)], [{"name": "client", "port": 10001}]))
    # Ready slices of the same name elsewhere, or of another Service, do not count.
    fake_api.add(_slice("head-3", "elsewhere", "head", [_endpoint(True)],
                        [{"name": "dashboard", "port": 8265}]))
    fake_api.add(_slice("other-1", "ray", "other", [_endpoint(True)],
                        [{"name": "dashboard", "port": 8265}]))
    # kube-proxy matches a Service port to slice ports by name: an unnamed slice port serves
    # no named Service port.
    fake_api.add(_slice("head-4", "ray", "head", [_endpoint(True)], [{"name": "", "port": 8265}]))
    # The EndpointSlice controller names a slice port after its Service port, "" when the
    # Service port has no name (staging/src/k8s.io/endpointslice/utils.go, getEndpointPorts:
    # ``Name: &portName``); other producers may leave the name out.
    fake_api.add(_slice("plain-1", "ray", "plain", [_endpoint(True)], [{"name": "", "port": 8080}]))
    fake_api.add(_service("bare", "ray", [{"port": 80, "targetPort": 8080}]))
    fake_api.add(_slice("bare-1", "ray", "bare", [_endpoint(True)], [{"port": 8080}]))
    # The Service's port lost its name; the slice still has the old one (not updated yet).
    fake_api.add(_service("renamed", "ray", [{"port": 80, "targetPort": 8080}]))
    fake_api.add(_slice("renamed-1", "ray", "renamed", [_endpoint(True)], [{"name": "http", "port": 8080}]))
    return fake_api


def _endpoints(server: FakeApiServer, ns: str, svc: str, ports: list[str]) -> str | None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tcp", "namespace": "x"},
          "data": {str(20000 + i): f"{ns}/{svc}:{p}" for i, p in enumerate(ports)}}
    [target] = apply_mod.wait_targets([cm])
    with ClusterSource(server.kubeconfig_path) as source:
        return target.check(source)


def test_endpoints_ready_per_port(backends: FakeApiServer) -> None:
    assert _endpoints(backends, "ray", "head", ["10001"]) is None
    assert _endpoints(backends, "ray", "head", ["client"]) is None  # a port by name
    # Ports in order; one that is no TCP port of the Service is said so and the rest still
    # checked.
    assert _endpoints(backends, "ray", "head", ["8265", "1234", "10001", "5000"]) == (
        "no ready endpoint for port 1234 (not a port of the Service), "
        "5000 (not a port of the Service), 8265")
    # A Service with one unnamed port: its slice's port has no name either.
    assert _endpoints(backends, "ray", "plain", ["80"]) is None
    assert _endpoints(backends, "ray", "bare", ["80"]) is None
    assert _endpoints(backends, "ray", "renamed", ["80"]) == "no ready endpoint for port 80"
    assert _endpoints(backends, "ray", "nothing", ["80"]) == "the Service does not exist"


def test_endpoints_appear_when_a_slice_becomes_ready(backends: FakeApiServer) -> None:
    assert _endpoints(backends, "ray", "head", ["dashboard"]) == "no ready endpoint for port dashboard"
    backends.patch("EndpointSlice", "ray", "head-1", {"endpoints": [_endpoint(True)]})
    assert _endpoints(backends, "ray", "head", ["dashboard", "10001"]) is None


def test_endpoints_list_refused_is_one_clear_error(backends: FakeApiServer) -> None:
    backends.forbid("EndpointSlice", verbs=["list"])
    with pytest.raises(ClusterError) as e:
        _endpoints(backends, "ray", "head", ["10001"])
    assert str(e.value).startswith(f"{backends.url}: LIST EndpointSlices of ray/head: 403 Forbidden")
    assert 'cannot list resource "endpointslices"' in str(e.value)


# --------------------------------------------------------------------------- the poll loop

class _Flips:
    """A check that is unsatisfied ``n`` times, then satisfied; counts its calls."""

    def __init__(self, n: int) -> None:
        self.n, self.calls, self.sources = n, 0, []

    def __call__(self, source: Any) -> str | None:
        self.calls += 1
        self.sources.append(source)
        return f"not yet ({self.calls})" if self.calls <= self.n else None


def test_wait_polls_until_every_target_is_satisfied() -> None:
    fast, slow = _Flips(0), _Flips(2)
    source = object()
    seen: list[tuple[str, str | None]] = []
    missing = apply_mod.wait(source, [apply_mod.WaitTarget("fast", fast),  # type: ignore[arg-type]
                                      apply_mod.WaitTarget("slow", slow)], 60, interval=0,
                             on_update=lambda t, state: seen.append((t.description, state)))
    assert missing == []
    # A satisfied target is not asked again; every answer is reported as it comes.
    assert fast.calls == 1 and slow.calls == 3
    assert fast.sources == [source] and slow.sources == [source] * 3
    assert seen == [("fast", None), ("slow", "not yet (1)"), ("slow", "not yet (2)"), ("slow", None)]


def test_wait_that_runs_out_names_what_is_missing() -> None:
    never = _Flips(10**6)
    ready = _Flips(0)
    missing = apply_mod.wait(object(), [apply_mod.WaitTarget("ready", ready),  # type: ignore[arg-type]
                                        apply_mod.WaitTarget("never", never)], 0.2, interval=0.05)
    assert missing == [f"never: not yet ({never.calls})"]
    assert never.calls >= 2 and ready.calls == 1  # polled again until the deadline
