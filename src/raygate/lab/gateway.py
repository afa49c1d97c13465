"""The lab's gateway objects: what ``raygate render`` produces for the lab spec, plus faults.

The lab must run the same objects a user would apply, so it asks the real renderer
(``raygate.spec.from_dict`` + ``raygate.render.render``) for them; there is no second,
hand-written copy that could drift from it.

A fault mutates those objects the way a user mistake would, so ``raygate lint`` on
``<state-dir>/objects.yaml`` and ``raygate probe`` on the running lab see the same mistake.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from raygate.backends import ingress_nginx as ingx

NAMESPACE = "raylab"
CLUSTER = "lab"
CONTROLLER_NS = "ingress-nginx"
PREFIX = "/ray"
SERVE_PREFIX = "/serve"
SERVE_ROUTE = "/hello"

#: fault name -> (rule name the catalog should report, one line saying what the user got wrong)
FAULTS: dict[str, tuple[str, str]] = {
    "snippet": ("snippet-annotation",
                "a configuration-snippet annotation on the Dashboard Ingress"),
    "no-tcp-map": ("ray-client-not-exposed",
                   "no tcp-services ConfigMap (and no --tcp-services-configmap flag): "
                   "nothing listens for the Ray Client"),
    "missing-slash-redirect": ("dashboard-subpath-without-slash-redirect",
                               "the /ray -> /ray/ redirect Ingress is missing"),
    "body-size-1m": ("dashboard-default-body-size",
                     "no proxy-body-size: the 1m default refuses working_dir uploads (413)"),
    "no-websocket": ("websocket-upgrade-disabled",
                     'connection-proxy-header: "close" breaks the job log WebSocket'),
    "short-read-timeout": ("dashboard-short-read-timeout",
                           'proxy-read-timeout/proxy-send-timeout "2" cut idle log tails'),
    "gcs-exposed": ("gcs-port-exposed", "GCS 6379 mapped in tcp-services"),
    "no-auth": ("unauthenticated-ray-exposure",
                "Ray head without token auth, rendered with allow_unauthenticated"),
}

#: fault -> (the probe check that fails on it, whether that check needs `probe --submit`).
#: The snippet fault never reaches nginx (refused as the webhook would), so it has no check;
#: no-auth is caught by the auth-required check every probe runs.
FAULT_PROBE: dict[str, tuple[str, bool]] = {
    "no-tcp-map": ("ray-client", False),
    "missing-slash-redirect": ("slash-redirect", False),
    "body-size-1m": ("job-upload", True),
    "no-websocket": ("job-logs", True),
    "short-read-timeout": ("job-logs", True),
    "gcs-exposed": ("gcs-closed", False),
    "no-auth": ("auth-required", False),
}

SNIPPET_VALUE = 'more_set_headers "X-Frame-Options: SAMEORIGIN";'
SHORT_TIMEOUT = "2"


@dataclass(frozen=True)
class LabSpec:
    """The handful of choices the lab makes; everything else is the renderer's default."""

    namespace: str = NAMESPACE
    cluster: str = CLUSTER
    prefix: str = PREFIX
    serve_prefix: str = SERVE_PREFIX

    @property
    def head_service(self) -> str:
        return f"{self.cluster}-head-svc"

    def as_dict(self) -> dict[str, Any]:
        """The spec in ``raygate.yaml`` shape, for ``raygate.spec.from_dict``."""
        return {
            "apiVersion": "raygate.io/v1alpha1", "kind": "RayGateway",
            "rayCluster": {"name": self.cluster, "namespace": self.namespace},
            "placement": {"mode": "pinned-node", "pinnedNode": {"nodeName": "lab-node"}},
            "exposures": {"dashboard": {"path": self.prefix},
                          "serve": {"path": self.serve_prefix},
                          "rayClient": {"enabled": True, "port": 10001}},
        }


def cluster_objects(spec: LabSpec, *, auth: bool) -> list[dict[str, Any]]:
    """The RayCluster and head Service KubeRay would create for the lab's Ray head, so lint
    can resolve backends and see the auth mode, as it would against a real cluster."""
    cluster: dict[str, Any] = {
        "apiVersion": "ray.io/v1", "kind": "RayCluster",
        "metadata": {"name": spec.cluster, "namespace": spec.namespace},
        "spec": {
            "rayVersion": "2.60.0",
            "headGroupSpec": {"rayStartParams": {"dashboard-host": "0.0.0.0"}, "template": {
                "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.60.0",
                                         "ports": [{"name": "gcs-server", "containerPort": 6379},
                                                   {"name": "dashboard", "containerPort": 8265},
                                                   {"name": "client", "containerPort": 10001},
                                                   {"name": "serve", "containerPort": 8000}]}]}}},
        },
    }
    cluster["spec"]["authOptions"] = {"mode": "token" if auth else "disabled"}
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": spec.head_service, "namespace": spec.namespace,
                     "labels": {"ray.io/cluster": spec.cluster, "ray.io/node-type": "head"}},
        "spec": {"selector": {"ray.io/cluster": spec.cluster, "ray.io/node-type": "head"},
                 "ports": [{"name": "gcs-server", "port": 6379, "protocol": "TCP"},
                           {"name": "dashboard", "port": 8265, "protocol": "TCP"},
                           {"name": "client", "port": 10001, "protocol": "TCP"},
                           {"name": "serve", "port": 8000, "protocol": "TCP"}]},
    }
    return [cluster, service]


def rendered_objects(spec: LabSpec, *, allow_unauthenticated: bool = False,
                     cluster: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The gateway objects ``raygate render`` produces for the lab spec."""
    from raygate import render
    from raygate import spec as spec_mod
    from raygate.objects import KubeObject, ObjectSet, Origin

    known = ObjectSet([KubeObject(c, Origin("<lab cluster>")) for c in cluster or []])
    objs = render.render(spec_mod.from_dict(spec.as_dict(), "<lab spec>"), cluster=known,
                         allow_unauthenticated=allow_unauthenticated)
    return [copy.deepcopy(dict(o)) for o in objs]


def _ingresses(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objs if o.get("kind") == "Ingress"]


def _is_redirect(ing: Mapping[str, Any]) -> bool:
    ann = (ing.get("metadata") or {}).get("annotations") or {}
    return any(k.endswith(("/permanent-redirect", "/temporal-redirect")) for k in ann)


def _dashboard_ingresses(objs: list[dict[str, Any]], spec: LabSpec) -> list[dict[str, Any]]:
    """Ingresses that route the Dashboard prefix (not the redirect, not Serve)."""
    found = []
    for ing in _ingresses(objs):
        if _is_redirect(ing):
            continue
        for rule in (ing.get("spec") or {}).get("rules") or []:
            for p in ((rule.get("http") or {}).get("paths") or []):
                if str(p.get("path", "")).startswith(spec.prefix):
                    found.append(ing)
                    break
            else:
                continue
            break
    return found


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta.get("annotations"), dict):
        meta["annotations"] = {}
    return meta["annotations"]


def _tcp_maps(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objs if o.get("kind") == "ConfigMap" and (
        (o.get("metadata") or {}).get("name") in ("tcp-services", "ingress-nginx-tcp")
        or str((o.get("metadata") or {}).get("name", "")).endswith("-tcp-services")
        or any(":" in str(v) and "/" in str(v) and str(k).isdigit()
               for k, v in (o.get("data") or {}).items()))]


def _snippet(objs: list[dict[str, Any]], spec: LabSpec) -> None:
    for ing in _dashboard_ingresses(objs, spec)[:1]:
        _annotations(ing)[ingx.PREFIX + "configuration-snippet"] = SNIPPET_VALUE


def _no_tcp_map(objs: list[dict[str, Any]], spec: LabSpec) -> None:
    for cm in _tcp_maps(objs):
        objs.remove(cm)
    for o in objs:
        if o.get("kind") in ("Deployment", "DaemonSet"):
            for c in (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
                if isinstance(c.get("args"), list):
                    c["args"] = [a for a in c["args"]
                                 if not str(a).startswith("--tcp-services-configmap")]


def _missing_slash_redirect(objs: list[dict[str, Any]], spec: LabSpec) -> None:
    for ing in [i for i in _ingresses(objs) if _is_redirect(i)]:
        objs.remove(ing)


def _body_size_1m(objs: list[dict[str, Any]], spec: LabSpec) -> None:
    # The user simply never set it: the controller's 1m default applies (facts §5).
    for ing in _dashboard_ingresses(objs, spec):
        _annotations(ing).pop(ingx.PREFIX + "proxy-body-size", None)
    for o in objs:
        if o.get("kind") == "ConfigMap" and isinstance(o.get("data"), dict):
            o["data"].pop("proxy-body-size", None)


def _no_websocket(objs: list[dict[str, Any]], spec: LabSpec) -> None:
    for ing in _dashboard_ingresses(objs, spec):
        _annotations(ing)[ingx.PREFIX + "connection-proxy-header"] = "close"


def _short_read_timeout(objs: list[dict[str, Any]], spec: LabSpec) -> None:
    for ing in _dashboard_ingresses(objs, spec):
        ann = _annotations(ing)
        ann[ingx.PREFIX + "proxy-read-timeout"] = SHORT_TIMEOUT
        ann[ingx.PREFIX + "proxy-send-timeout"] = SHORT_TIMEOUT


def _gcs_exposed(objs: list[dict[str, Any]], spec: LabSpec) -> None:
    maps = _tcp_maps(objs)
    if not maps:
        maps = [{"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "tcp-services", "namespace": CONTROLLER_NS}, "data": {}}]
        objs.append(maps[0])
    maps[0].setdefault("data", {})["6379"] = f"{spec.namespace}/{spec.head_service}:6379"


def _no_auth(objs: list[dict[str, Any]], spec: LabSpec) -> None:
    """The object side of no-auth is the renderer's allow_unauthenticated plus a RayCluster
    without token auth (see ``lab_objects``); nothing else changes."""


_MUTATORS: dict[str, Callable[[list[dict[str, Any]], LabSpec], None]] = {
    "snippet": _snippet, "no-tcp-map": _no_tcp_map,
    "missing-slash-redirect": _missing_slash_redirect, "body-size-1m": _body_size_1m,
    "no-websocket": _no_websocket, "short-read-timeout": _short_read_timeout,
    "gcs-exposed": _gcs_exposed, "no-auth": _no_auth,
}


def apply_fault(objs: Iterable[Mapping[str, Any]], fault: str | None,
                spec: LabSpec = LabSpec()) -> list[dict[str, Any]]:
    result = [copy.deepcopy(dict(o)) for o in objs]
    if fault:
        _MUTATORS[fault](result, spec)
    return result


def lab_objects(spec: LabSpec = LabSpec(), fault: str | None = None) -> list[dict[str, Any]]:
    """Everything the lab runs: gateway objects (rendered, then faulted) plus the cluster's
    RayCluster and head Service."""
    auth = fault != "no-auth"
    cluster = cluster_objects(spec, auth=auth)
    gateway = rendered_objects(spec, allow_unauthenticated=not auth, cluster=cluster)
    names = {(o.get("kind"), (o.get("metadata") or {}).get("name")) for o in gateway}
    extra = [c for c in cluster if (c["kind"], c["metadata"]["name"]) not in names]
    return apply_fault(gateway, fault, spec) + extra


#: What the lab's data plane is rendered from: the ingress-nginx objects (the guide), the
#: Gateway API objects ``raygate render --backend gateway-api --implementation
#: nginx-gateway-fabric`` produces, or the ingress-nginx objects after ``raygate migrate``.
BACKENDS = ("ingress-nginx", "gateway-api", "migrated")
#: The lab's data plane is nginx, so its Gateway API objects are NGINX Gateway Fabric's.
GATEWAY_API_IMPLEMENTATION = "nginx-gateway-fabric"


def gateway_api_objects(spec: LabSpec = LabSpec(), backend: str = "gateway-api") -> list[dict[str, Any]]:
    """The lab's Gateway API objects (token auth on): rendered directly, or migrated from the
    ingress-nginx objects; plus the cluster's RayCluster and head Service."""
    from raygate import render
    from raygate import spec as spec_mod
    from raygate.migrate import Options, migrate
    from raygate.objects import KubeObject, ObjectSet, Origin

    cluster = cluster_objects(spec, auth=True)
    known = ObjectSet([KubeObject(c, Origin("<lab cluster>")) for c in cluster])
    if backend == "migrated":
        source = lab_objects(spec)
        result = migrate(ObjectSet([KubeObject(o, Origin("<lab objects>")) for o in source]),
                         Options(implementation=GATEWAY_API_IMPLEMENTATION,
                                 gateway_class="nginx", gateway_namespace=spec.namespace))
        gateway = result.objects
    else:
        data = spec.as_dict()
        data["backend"] = "gateway-api"
        data["gatewayApi"] = {"gatewayClassName": "nginx",
                              "implementation": GATEWAY_API_IMPLEMENTATION}
        gateway = render.render(spec_mod.from_dict(data, "<lab spec>"), cluster=known)
    return [copy.deepcopy(dict(o)) for o in gateway] + cluster


def upstream_map(objs: Iterable[Mapping[str, Any]], spec: LabSpec,
                 local: Mapping[str, int]) -> dict[str, str]:
    """``"ns/svc:port"`` -> ``"127.0.0.1:<port>"`` for every Service port the objects name
    that the lab's Ray head provides. ``local`` maps a role (gcs, dashboard, client, serve,
    agent) to the head's local port."""
    by_port = {"6379": "gcs", "gcs-server": "gcs", "gcs": "gcs", "8265": "dashboard",
               "dashboard": "dashboard", "10001": "client", "client": "client",
               "8000": "serve", "serve": "serve", "http": "serve", "52365": "agent",
               "dashboard-agent": "agent"}
    services = {spec.head_service, f"{spec.cluster}-serve-svc"}
    refs: set[tuple[str, str, str]] = set()
    for o in objs:
        meta = o.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        if o.get("kind") == "Ingress":
            for rule in (o.get("spec") or {}).get("rules") or []:
                for p in ((rule.get("http") or {}).get("paths") or []):
                    svc, port = ingx.backend_service(p)
                    if svc and port:
                        refs.add((ns, svc, port))
        elif o.get("kind") == "ConfigMap":
            for k, v in (o.get("data") or {}).items():
                e = ingx.parse_tcp_entry(k, v)
                if not e.error and e.service and e.port:
                    refs.add((str(e.namespace), e.service, e.port))
        elif o.get("kind") in ("HTTPRoute", "TCPRoute"):  # the gateway-api backend
            for rule in (o.get("spec") or {}).get("rules") or []:
                for ref in rule.get("backendRefs") or []:
                    if ref.get("name") and ref.get("port") is not None:
                        refs.add((ref.get("namespace") or ns, ref["name"], str(ref["port"])))
    result = {}
    for ns, svc, port in refs:
        role = by_port.get(port)
        if ns == spec.namespace and svc in services and role and role in local:
            result[f"{ns}/{svc}:{port}"] = f"127.0.0.1:{local[role]}"
    return result
