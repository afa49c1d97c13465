"""Gateway API implementations as profiles: what each one does with the objects Ray needs.

Gateway API leaves body size, most timeouts and TCP plumbing to the implementation, and the
implementations differ exactly where Ray's paths are fragile (job uploads, the WebSocket log
tail of ``ray job logs --follow``, Ray Client on raw TCP). Every field below is a fact read
at the version named in ``version_read``; sources: ``../shared/facts/gateway_api_2026.md``
§2 and ``gateway_api_metallb.md`` §3.3, §4, with the upstream files they cite.

A profile is keyed by the ``GatewayClass.spec.controllerName`` values the implementation
uses by default, so lint can tell which implementation serves a route.
"""

from __future__ import annotations

from raygate.records import field, record


@record(frozen=True)
class Implementation:
    """What raygate knows of one Gateway API implementation's behaviour."""

    key: str                          # "envoy-gateway": the --implementation value
    title: str
    controller_names: tuple[str, ...]  # GatewayClass.spec.controllerName values
    version_read: str
    #: TCPRoute apiVersions the implementation reconciles (empty: no TCPRoute support known).
    tcp_route_versions: tuple[str, ...]
    #: Does it honour HTTPRoute ``rules[].timeouts``? None: unknown / not claimed.
    honours_route_timeouts: bool | None
    #: Seconds after which a route without a timeout is cut (Envoy's 15 s), when known.
    default_route_timeout_s: int | None = None
    #: Request body limit a route gets without policy (bytes), when known; None: no cap known.
    default_body_limit: int | None = None
    body_limit_knob: str | None = None
    timeout_knob: str | None = None
    #: Enabling its request buffer turns the WebSocket upgrade off on that route.
    request_buffer_breaks_websocket: bool = False
    #: Every TCP listener port must equal a static entryPoint port of the proxy.
    tcp_listener_needs_entrypoint: bool = False
    #: What has to be switched on for TCPRoute (a flag, the experimental CRDs), if anything.
    tcp_prerequisite: str | None = None
    #: Policy CRD group, when raygate renders policies for it.
    policy_group: str | None = None
    #: Policy kinds of ``policy_group`` that raygate's rules and model read (doctor lists them
    #: from a live cluster when the cluster serves them).
    policy_kinds: tuple[str, ...] = ()
    #: GatewayClass names its installers create by default (for inputs without the class).
    class_names: tuple[str, ...] = ()
    references: tuple[str, ...] = field(default=())


ENVOY_GATEWAY = Implementation(
    key="envoy-gateway", title="Envoy Gateway",
    controller_names=("gateway.envoyproxy.io/gatewayclass-controller",),
    version_read="v1.9.0",
    # Built on gateway-api v1.6.1: reconciles TCPRoute v1 (gateway_api_2026.md §2).
    tcp_route_versions=("v1",),
    honours_route_timeouts=True,
    # internal/xds/translator/route.go @v1.9.0; site .../tasks/traffic/http-timeouts.md:
    # "The default request timeout is set to 15 seconds in Envoy Proxy."
    default_route_timeout_s=15,
    # Without a requestBuffer Envoy streams bodies and sets no cap (gateway_api_metallb.md §4.2).
    default_body_limit=None,
    body_limit_knob="BackendTrafficPolicy spec.requestBuffer.limit (NOT on a WebSocket route)",
    timeout_knob="HTTPRoute rules[].timeouts.request, or BackendTrafficPolicy "
                 "spec.timeout.http.requestTimeout",
    # api/v1alpha1/backendtrafficpolicy_types.go @v1.9.0: the buffer filter "does not work
    # with streaming or upgrade-based traffic such as gRPC streaming and WebSocket".
    request_buffer_breaks_websocket=True,
    policy_group="gateway.envoyproxy.io",
    # Timeouts and the request buffer (RG-protocol rules), authentication (model/protections).
    policy_kinds=("BackendTrafficPolicy", "SecurityPolicy"),
    class_names=("eg",),
    references=("https://gateway.envoyproxy.io/latest/tasks/traffic/http-timeouts/",
                "https://gateway.envoyproxy.io/latest/tasks/traffic/request-buffering/",
                "https://gateway.envoyproxy.io/latest/tasks/traffic/tcp-routing/"),
)

NGINX_GATEWAY_FABRIC = Implementation(
    key="nginx-gateway-fabric", title="NGINX Gateway Fabric",
    controller_names=("gateway.nginx.org/nginx-gateway-controller",),
    version_read="v2.6.7",
    # TCP/UDP since 2026-01; the v1 TCPRoute API was merged after 2.6.7 (#5604).
    tcp_route_versions=("v1alpha2",),
    # internal/controller/state/graph/httproute.go: rules[].timeouts is reported with reason
    # UnsupportedField and ignored.
    honours_route_timeouts=False,
    # NGF does not set client_max_body_size: nginx's default 1m applies.
    default_body_limit=1024 * 1024,
    body_limit_knob="ClientSettingsPolicy spec.body.maxSize",
    timeout_knob="ProxySettingsPolicy spec.timeout.read / send",
    tcp_prerequisite="the experimental features flag (nginxGateway.gwAPIExperimentalFeatures."
                     "enable=true) and the experimental-channel CRDs",
    policy_group="gateway.nginx.org",
    # Body size and timeouts (the NGINX Gateway Fabric protocol rules).
    policy_kinds=("ClientSettingsPolicy", "ProxySettingsPolicy"),
    class_names=("nginx",),
    references=("https://docs.nginx.com/nginx-gateway-fabric/traffic-management/client-settings/",
                "https://docs.nginx.com/nginx-gateway-fabric/traffic-management/tcp-routing/",
                "https://github.com/nginx/nginx-gateway-fabric/blob/v2.6.7/internal/controller/state/graph/httproute.go"),
)

ISTIO = Implementation(
    key="istio", title="Istio",
    controller_names=("istio.io/gateway-controller",),
    version_read="1.28",
    # Alpha, behind PILOT_ENABLE_ALPHA_GATEWAY_API (istio/istio#51903); v1alpha2 only <= 1.30.
    tcp_route_versions=("v1alpha2",),
    honours_route_timeouts=True,
    timeout_knob="HTTPRoute rules[].timeouts.request",
    tcp_prerequisite="istiod with PILOT_ENABLE_ALPHA_GATEWAY_API=true and the "
                     "experimental-channel CRDs",
    class_names=("istio",),
    references=("https://istio.io/latest/docs/tasks/traffic-management/tcp-traffic-shifting/",
                "https://github.com/istio/istio/issues/51903"),
)

CILIUM = Implementation(
    key="cilium", title="Cilium",
    controller_names=("io.cilium/gateway-controller",),
    version_read="1.20",
    # v1.20 passes GATEWAY-TCP on the standard v1.6.1 CRDs (cilium/cilium#46184).
    tcp_route_versions=("v1",),
    honours_route_timeouts=True,
    timeout_knob="HTTPRoute rules[].timeouts.request",
    class_names=("cilium",),
    references=("https://github.com/cilium/cilium/pull/46184",),
)

TRAEFIK = Implementation(
    key="traefik", title="Traefik",
    controller_names=("traefik.io/gateway-controller",),
    version_read="v3.8",
    tcp_route_versions=("v1alpha2",),
    # Traefik's conformance report does not claim HTTPRoute timeouts (gateway_api_metallb.md §4.5).
    honours_route_timeouts=None,
    body_limit_knob="a Traefik buffering Middleware (maxRequestBodyBytes)",
    timeout_knob="the entryPoint's transport.respondingTimeouts (static configuration)",
    # traefik/traefik#8974: a Gateway listener port must equal an entryPoint port.
    tcp_listener_needs_entrypoint=True,
    tcp_prerequisite="the experimental channel (providers.kubernetesGateway."
                     "experimentalChannel=true) and the experimental-channel CRDs",
    class_names=("traefik",),
    references=("https://doc.traefik.io/traefik/v3.8/reference/install-configuration/providers/kubernetes/kubernetes-gateway/",
                "https://github.com/traefik/traefik/issues/8974"),
)

KONG = Implementation(
    key="kong", title="Kong",
    controller_names=("konghq.com/kic-gateway-controller", "konghq.com/gateway-operator"),
    version_read="Kong Operator 2.3",
    tcp_route_versions=("v1alpha2",),
    honours_route_timeouts=None,
    tcp_prerequisite="the experimental-channel CRDs",
    class_names=("kong",),
    references=("https://developer.konghq.com/operator/dataplanes/how-to/tcproute/",
                "https://developer.konghq.com/kubernetes-ingress-controller/routing/tcp-by-port"),
)

GENERIC = Implementation(
    key="generic", title="a Gateway API implementation",
    controller_names=(), version_read="spec v1.6.1",
    tcp_route_versions=("v1", "v1alpha2"),
    honours_route_timeouts=None,
)

IMPLEMENTATIONS: tuple[Implementation, ...] = (ENVOY_GATEWAY, NGINX_GATEWAY_FABRIC, ISTIO,
                                               CILIUM, TRAEFIK, KONG, GENERIC)
KEYS: tuple[str, ...] = tuple(i.key for i in IMPLEMENTATIONS)
_BY_KEY = {i.key: i for i in IMPLEMENTATIONS}
_BY_CONTROLLER = {c: i for i in IMPLEMENTATIONS for c in i.controller_names}
_BY_CLASS_NAME = {c: i for i in IMPLEMENTATIONS for c in i.class_names}


def by_key(key: str) -> Implementation:
    return _BY_KEY[key]


def by_controller(controller_name: str | None) -> Implementation | None:
    return _BY_CONTROLLER.get(controller_name) if isinstance(controller_name, str) else None


def by_class_name(name: str | None) -> Implementation | None:
    return _BY_CLASS_NAME.get(name) if isinstance(name, str) else None
