"""Ingress controllers other than ingress-nginx, as profiles: what each one does with an Ingress.

A rule that depends on a controller's behaviour (body size, timeouts, rewrites, TCP) must fire
only where that controller serves the route, and its fix must use that controller's own knob.
This module is the data for the controllers Ray users run besides ingress-nginx; the
ingress-nginx controller's knowledge is ``raygate.backends.ingress_nginx``.

How each controller picks its Ingresses differs, and the profile says so:

* AWS Load Balancer Controller, Traefik, Kong, Istio and HAProxy Technologies' controller claim
  an IngressClass by its ``spec.controller`` (HAProxy's is ``haproxy.org/ingress-controller``,
  or ``haproxy.org/ingress-controller/<--ingress.class>`` when that flag is set);
* Contour matches the class *name* (``ingressClassName`` or the annotation) against its
  ``--ingress-class-name`` (default ``contour``), never ``spec.controller``
  (projectcontour/contour ``internal/ingressclass/ingressclass.go``);
* GKE Ingress (ingress-gce) reads only the ``kubernetes.io/ingress.class`` annotation
  (``gce``, ``gce-internal``, ``gce-regional-external``); an Ingress that sets
  ``spec.ingressClassName`` is not a GKE Ingress (kubernetes/ingress-gce
  ``pkg/utils/utils.go`` ``IsGCEIngress``).

Every value below was read in the controller's own documentation or source; the references
name where. Where nothing could be cited (Traefik's and Istio's timeouts, for instance) the
profile says nothing rather than guess.
"""

from __future__ import annotations

import json
import re
from typing import Callable

from raygate.objects import KubeObject, ObjectSet
from raygate.records import field, record

#: ``IngressClass.spec.controller`` of ingress-nginx (its ``--controller-class`` default).
INGRESS_NGINX_CONTROLLER = "k8s.io/ingress-nginx"


@record(frozen=True)
class Timeout:
    """The timeout a long Dashboard request (a log tail, a job's package upload) meets."""

    default_s: int
    #: "idle": closed after that long without a byte either way; "response": the whole
    #: response (for GKE, a WebSocket's whole life) must finish within it.
    kind: str
    knob: str
    #: Reads the configured value for one route: (seconds or None for unlimited, where set),
    #: or None when the inputs do not set it.
    read: Callable[[ObjectSet, KubeObject, KubeObject | None, str | None],
                   tuple[float | None, str] | None] | None = None
    #: What it does to an upgraded WebSocket (the Jobs log tail): "idle" (closed after that
    #: long without a frame), "lifetime" (closed after that long whatever flows: GKE),
    #: "spared" (another timeout applies: HAProxy's ``timeout tunnel``), None (not cited).
    websocket: str | None = None


@record(frozen=True)
class Profile:
    """What one Ingress controller does with an Ingress, as far as Ray's paths care."""

    key: str                      # short, stable name used in findings: "aws-alb"
    title: str                    # "AWS Load Balancer Controller"
    controllers: tuple[str, ...]  # IngressClass.spec.controller values it claims
    class_names: tuple[str, ...]  # class names its installers create by default
    #: Can it strip or replace a path prefix before the backend sees the request?
    can_rewrite: bool
    #: How (annotation or CRD), when it can; shown in fixes.
    rewrite_knob: str | None = None
    #: How to carry raw TCP (Ray Client 10001, never through an HTTP Ingress path).
    tcp_knob: str | None = None
    timeout: Timeout | None = None
    #: How to let a route upgrade to WebSocket, when the controller does not by default.
    websocket_knob: str | None = None
    auth_knob: str | None = None
    #: Does it honour ``spec.ingressClassName`` (False: only the class annotation)?
    reads_ingress_class_name: bool = True
    #: Does it match IngressClass objects by ``spec.controller`` (False: by class name)?
    matches_controller: bool = True
    references: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------------------------------------
# Readers of each controller's timeout knob

_ALB_ATTRS = "alb.ingress.kubernetes.io/load-balancer-attributes"


def _alb_idle(objects: ObjectSet, ingress: KubeObject, service: KubeObject | None,
              port: str | None) -> tuple[float | None, str] | None:
    raw = ingress.annotations.get(_ALB_ATTRS)
    if isinstance(raw, str):
        for item in raw.split(","):
            key, _, value = item.partition("=")
            if key.strip() == "idle_timeout.timeout_seconds" and value.strip().isdigit():
                return float(value.strip()), f"{_ALB_ATTRS} on Ingress {ingress.ref}"
    # IngressClassParams.spec.loadBalancerAttributes of the Ingress's IngressClass.
    name = ingress.spec.get("ingressClassName")
    ic = objects.get("IngressClass", "", name) if isinstance(name, str) else None
    params = ic.spec.get("parameters") if ic is not None else None
    if isinstance(params, dict) and params.get("kind") == "IngressClassParams":
        icp = objects.get("IngressClassParams", "", str(params.get("name")))
        attrs = icp.spec.get("loadBalancerAttributes") if icp is not None else None
        for attr in attrs if isinstance(attrs, list) else []:
            if isinstance(attr, dict) and attr.get("key") == "idle_timeout.timeout_seconds" \
                    and str(attr.get("value", "")).strip().isdigit():
                return float(str(attr["value"]).strip()), f"IngressClassParams {icp.name}"
    return None


def _gke_backend_timeout(objects: ObjectSet, ingress: KubeObject, service: KubeObject | None,
                         port: str | None) -> tuple[float | None, str] | None:
    if service is None:
        return None
    for key in ("cloud.google.com/backend-config", "beta.cloud.google.com/backend-config"):
        raw = service.annotations.get(key)
        if not isinstance(raw, str):
            continue
        try:
            ref = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(ref, dict):
            continue
        ports = ref.get("ports") if isinstance(ref.get("ports"), dict) else {}
        name = ports.get(str(port)) if port is not None else None
        name = name or ref.get("default")
        bc = objects.get("BackendConfig", service.namespace, str(name)) if name else None
        value = bc.spec.get("timeoutSec") if bc is not None else None
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value), f"BackendConfig {bc.namespace}/{bc.name} timeoutSec"
    return None


_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(value: str) -> float | None:
    """Go's ``time.ParseDuration`` for the plain forms (``90s``, ``1h30m``), in seconds."""
    text = value.strip()
    if not text or _GO_DURATION.sub("", text) != "":
        return None
    return sum(float(n) * _GO_UNITS[u] for n, u in _GO_DURATION.findall(text))


def _contour_response(objects: ObjectSet, ingress: KubeObject, service: KubeObject | None,
                      port: str | None) -> tuple[float | None, str] | None:
    raw = ingress.annotations.get("projectcontour.io/response-timeout")
    if not isinstance(raw, str):
        return None
    where = f"projectcontour.io/response-timeout on Ingress {ingress.ref}"
    if raw.strip() == "infinity":
        return None, where
    seconds = go_duration(raw)
    # Contour treats an unparsable duration as the default; 0s disables Envoy's route timeout.
    if seconds is None:
        return None
    return (None if seconds == 0 else seconds), where


_HAPROXY_TIME = re.compile(r"^\s*(\d+)\s*(us|ms|s|m|h|d)?\s*$")
_HAPROXY_UNITS = {"us": 1e-6, "ms": 1e-3, None: 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
                  "d": 86400.0}


def _haproxy_server(objects: ObjectSet, ingress: KubeObject, service: KubeObject | None,
                    port: str | None) -> tuple[float | None, str] | None:
    # Service annotations win over Ingress ones (HAProxy's annotation precedence).
    for obj in (service, ingress):
        raw = obj.annotations.get("haproxy.org/timeout-server") if obj is not None else None
        m = _HAPROXY_TIME.match(raw) if isinstance(raw, str) else None
        if m and obj is not None:
            return (float(m.group(1)) * _HAPROXY_UNITS[m.group(2)],
                    f"haproxy.org/timeout-server on {obj.kind} {obj.ref}")
    return None


def _kong_read(objects: ObjectSet, ingress: KubeObject, service: KubeObject | None,
               port: str | None) -> tuple[float | None, str] | None:
    raw = service.annotations.get("konghq.com/read-timeout") if service is not None else None
    if isinstance(raw, str) and raw.strip().isdigit():
        assert service is not None
        return float(raw.strip()) / 1000, f"konghq.com/read-timeout on Service {service.ref}"
    return None


PROFILES: tuple[Profile, ...] = (
    Profile(
        key="aws-alb", title="AWS Load Balancer Controller",
        controllers=("ingress.k8s.aws/alb",), class_names=("alb",),
        # URL rewrite through "transforms" since v2.14.1 (kubernetes-sigs/aws-load-balancer-
        # controller commit 08cbc9de2, docs/guide/ingress/annotations.md#transforms).
        can_rewrite=True,
        rewrite_knob="alb.ingress.kubernetes.io/transforms.<service-name> with a url-rewrite "
                     "transform (AWS Load Balancer Controller v2.14.1 or later)",
        tcp_knob="a Service of type LoadBalancer provisioned as an NLB by the controller "
                 "(service.beta.kubernetes.io/aws-load-balancer-type: external)",
        timeout=Timeout(
            60, "idle",
            "alb.ingress.kubernetes.io/load-balancer-attributes: "
            "idle_timeout.timeout_seconds=3600 (or IngressClassParams "
            "spec.loadBalancerAttributes)",
            _alb_idle, websocket="idle"),
        auth_knob="alb.ingress.kubernetes.io/auth-type: cognito or oidc; the default "
                  "alb.ingress.kubernetes.io/scheme is internal",
        references=(
            "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/",
            "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/ingress_class/",
            "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout",
        ),
    ),
    Profile(
        key="gce", title="GKE Ingress (ingress-gce)",
        controllers=(), class_names=("gce", "gce-internal", "gce-regional-external"),
        can_rewrite=False,
        tcp_knob="a Service of type LoadBalancer",
        timeout=Timeout(
            30, "response",
            "a BackendConfig with spec.timeoutSec: 3600, referenced by the Service's "
            "cloud.google.com/backend-config annotation",
            _gke_backend_timeout, websocket="lifetime"),
        auth_knob="a BackendConfig with spec.iap (Identity-Aware Proxy)",
        reads_ingress_class_name=False, matches_controller=False,
        references=(
            "https://cloud.google.com/kubernetes-engine/docs/how-to/ingress-configuration#timeout",
            "https://github.com/kubernetes/ingress-gce/blob/master/pkg/utils/utils.go",
            "https://github.com/kubernetes/ingress-gce/tree/master/examples/websocket",
        ),
    ),
    Profile(
        key="traefik", title="Traefik",
        controllers=("traefik.io/ingress-controller",), class_names=("traefik",),
        can_rewrite=True,
        rewrite_knob="a StripPrefix Middleware referenced by "
                     "traefik.ingress.kubernetes.io/router.middlewares",
        tcp_knob="an IngressRouteTCP on a TCP entryPoint",
        references=("https://doc.traefik.io/traefik/reference/install-configuration/providers/kubernetes/kubernetes-ingress/",),
    ),
    Profile(
        key="haproxy", title="HAProxy Kubernetes Ingress Controller",
        controllers=("haproxy.org/ingress-controller",), class_names=("haproxy",),
        can_rewrite=True, rewrite_knob="haproxy.org/path-rewrite",
        tcp_knob="the controller's --configmap-tcp-services ConfigMap",
        # `timeout server 50000` in the shipped haproxy.cfg; upgraded WebSockets use
        # `timeout tunnel 3600000` instead.
        timeout=Timeout(50, "idle", "haproxy.org/timeout-server: 3600s", _haproxy_server,
                        websocket="spared"),
        references=(
            "https://github.com/haproxytech/kubernetes-ingress/blob/master/documentation/annotations.md",
            "https://github.com/haproxytech/kubernetes-ingress/blob/master/documentation/ingressclass.md",
        ),
    ),
    Profile(
        key="contour", title="Contour",
        controllers=(), class_names=("contour",),
        can_rewrite=False,
        rewrite_knob="an HTTPProxy route with pathRewritePolicy (not possible on an Ingress)",
        tcp_knob="an HTTPProxy with spec.tcpproxy",
        timeout=Timeout(15, "response", "projectcontour.io/response-timeout: infinity",
                        _contour_response),
        # Envoy's use_websocket is off unless the route is listed.
        websocket_knob="projectcontour.io/websocket-routes",
        matches_controller=False,
        references=("https://projectcontour.io/docs/main/config/annotations/",),
    ),
    Profile(
        key="kong", title="Kong Ingress Controller",
        controllers=("ingress-controllers.konghq.com/kong",), class_names=("kong",),
        can_rewrite=True, rewrite_knob="konghq.com/strip-path: \"true\"",
        tcp_knob="a TCPIngress on a stream listener",
        timeout=Timeout(60, "idle",
                        "konghq.com/read-timeout: \"3600000\" (milliseconds) on the backend "
                        "Service", _kong_read, websocket="idle"),
        references=(
            "https://developer.konghq.com/kubernetes-ingress-controller/reference/annotations/",
            "https://github.com/Kong/kubernetes-ingress-controller/blob/main/internal/dataplane/translator/translate_vars.go",
            # Kong proxies with nginx, whose upgraded connections close after proxy_read_timeout
            # without data.
            "https://nginx.org/en/docs/http/websocket.html",
        ),
    ),
    Profile(
        key="istio", title="Istio (Kubernetes Ingress support)",
        controllers=("istio.io/ingress-controller",), class_names=("istio",),
        can_rewrite=False,
        tcp_knob="a Gateway API TCPRoute or an Istio Gateway + VirtualService tcp route",
        references=("https://istio.io/latest/docs/tasks/traffic-management/ingress/kubernetes-ingress/",),
    ),
)

_BY_CONTROLLER = {c: p for p in PROFILES for c in p.controllers}
_BY_CLASS = {n: p for p in PROFILES for n in p.class_names}


def by_controller(controller: str) -> Profile | None:
    profile = _BY_CONTROLLER.get(controller)
    if profile is None and controller.startswith("haproxy.org/ingress-controller/"):
        return _BY_CONTROLLER["haproxy.org/ingress-controller"]
    return profile


def by_class_name(class_name: str) -> Profile | None:
    return _BY_CLASS.get(class_name)


def by_key(key: str) -> Profile | None:
    return next((p for p in PROFILES if p.key == key), None)


def route_timeout(profile: Profile, objects: ObjectSet, ingress: KubeObject,
                  service: KubeObject | None, port: str | None) -> tuple[float | None, str]:
    """The timeout a route of ``ingress`` meets on this controller: (seconds, or None for
    unlimited; where the value comes from)."""
    assert profile.timeout is not None
    t = profile.timeout
    found = t.read(objects, ingress, service, port) if t.read is not None else None
    if found is not None:
        return found
    return float(t.default_s), f"{profile.title} default"
