"""Ingress controllers other than ingress-nginx, as profiles: what each one does with an Ingress.

A rule that depends on a controller's behaviour (body size, timeouts, rewrites, TCP) must fire
only where that controller serves the route, and its fix must use that controller's own knob.
This module is the data for the controllers Ray users run besides ingress-nginx; the
ingress-nginx controller's knowledge is ``raygate.backends.ingress_nginx``.

A profile is keyed by the ``IngressClass.spec.controller`` string the controller watches, and
also lists the class names its installers create, for inputs that name a class without
carrying the IngressClass object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: ``IngressClass.spec.controller`` of ingress-nginx (its ``--controller-class`` default).
INGRESS_NGINX_CONTROLLER = "k8s.io/ingress-nginx"


@dataclass(frozen=True)
class Profile:
    """What one Ingress controller does with an Ingress, as far as Ray's paths care."""

    key: str                      # short, stable name used in findings: "aws-alb"
    title: str                    # "AWS Load Balancer Controller"
    controllers: tuple[str, ...]  # IngressClass.spec.controller values
    class_names: tuple[str, ...]  # class names its installers create by default
    #: Can it strip or replace a path prefix before the backend sees the request?
    can_rewrite: bool
    #: How (annotation or CRD), when it can; shown in fixes.
    rewrite_knob: str | None = None
    #: Can it carry raw TCP (Ray Client 10001) from an Ingress? (None: not through Ingress.)
    tcp_knob: str | None = None
    #: Idle/read timeout in seconds a long request (log tail, upload) meets by default.
    default_timeout_s: int | None = None
    timeout_knob: str | None = None
    #: Request body limit in bytes by default (None: unlimited or not documented).
    default_body_limit: int | None = None
    body_limit_knob: str | None = None
    websocket: bool = True
    auth_knob: str | None = None
    references: tuple[str, ...] = field(default=())


PROFILES: tuple[Profile, ...] = (
    Profile(
        key="aws-alb", title="AWS Load Balancer Controller",
        controllers=("ingress.k8s.aws/alb",), class_names=("alb",),
        can_rewrite=False,
        tcp_knob="a Service of type LoadBalancer with the NLB annotations "
                 "(service.beta.kubernetes.io/aws-load-balancer-type: external)",
        default_timeout_s=60,
        timeout_knob="alb.ingress.kubernetes.io/load-balancer-attributes: "
                     "idle_timeout.timeout_seconds=3600",
        auth_knob="alb.ingress.kubernetes.io/auth-type: cognito|oidc, or "
                  "alb.ingress.kubernetes.io/scheme: internal",
        references=("https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/",),
    ),
    Profile(
        key="gce", title="GKE Ingress (ingress-gce)",
        controllers=("k8s.io/ingress-gce",), class_names=("gce", "gce-internal"),
        can_rewrite=False,
        tcp_knob="a Service of type LoadBalancer",
        default_timeout_s=30,
        timeout_knob="a BackendConfig with spec.timeoutSec, referenced by the Service's "
                     "cloud.google.com/backend-config annotation",
        auth_knob="a BackendConfig with spec.iap (Identity-Aware Proxy)",
        references=("https://cloud.google.com/kubernetes-engine/docs/how-to/ingress-configuration",),
    ),
    Profile(
        key="traefik", title="Traefik",
        controllers=("traefik.io/ingress-controller",), class_names=("traefik",),
        can_rewrite=True,
        rewrite_knob="a StripPrefix Middleware referenced by "
                     "traefik.ingress.kubernetes.io/router.middlewares",
        tcp_knob="an IngressRouteTCP on a TCP entryPoint",
        references=("https://doc.traefik.io/traefik/routing/providers/kubernetes-ingress/",),
    ),
    Profile(
        key="haproxy", title="HAProxy Kubernetes Ingress Controller",
        controllers=("haproxy.org/ingress-controller/haproxy",), class_names=("haproxy",),
        can_rewrite=True, rewrite_knob="haproxy.org/path-rewrite",
        tcp_knob="the controller's --configmap-tcp-services ConfigMap",
        default_timeout_s=50, timeout_knob="haproxy.org/timeout-server",
        references=("https://www.haproxy.com/documentation/kubernetes-ingress/community/configuration-reference/ingress/",),
    ),
    Profile(
        key="contour", title="Contour",
        controllers=("projectcontour.io/ingress-controller",), class_names=("contour",),
        can_rewrite=False,
        tcp_knob="an HTTPProxy with spec.tcpproxy (TLS passthrough)",
        default_timeout_s=15,
        timeout_knob="projectcontour.io/response-timeout",
        references=("https://projectcontour.io/docs/main/config/annotations/",),
    ),
    Profile(
        key="kong", title="Kong Ingress Controller",
        controllers=("ingress-controllers.konghq.com/kong",), class_names=("kong",),
        can_rewrite=True, rewrite_knob="konghq.com/strip-path: \"true\"",
        tcp_knob="a TCPIngress on a stream listener",
        default_timeout_s=60, timeout_knob="konghq.com/read-timeout (milliseconds)",
        references=("https://docs.konghq.com/kubernetes-ingress-controller/latest/reference/annotations/",),
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
    return _BY_CONTROLLER.get(controller)


def by_class_name(class_name: str) -> Profile | None:
    return _BY_CLASS.get(class_name)
