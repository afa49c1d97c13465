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
    #: Request body limit a route gets without policy, in bytes: 0 = no cap, None = unknown.
    default_body_limit: int | None = None
    body_limit_knob: str | None = None
    timeout_knob: str | None = None
    #: Does HTTPRoute ``timeouts.request: 0s`` switch the total request timeout off (the spec's
    #: SHOULD, ``apis/v1/httproute_types.go`` @v1.6.1)? None: unknown.
    request_zero_disables: bool | None = None
    #: How the idle timeout between two reads/writes (ingress-nginx ``proxy-read-timeout`` /
    #: ``proxy-send-timeout``) is kept: "policy" (raygate renders the implementation's policy),
    #: "backend-request" (``timeouts.backendRequest`` becomes the proxy's idle timeouts, Kong),
    #: "fixed" (only the proxy's own configuration sets it: ``stream_idle_s``), None: unknown.
    idle_timeout_by: str | None = None
    #: With ``idle_timeout_by == "fixed"``: seconds a silent stream lives (0 = never cut).
    stream_idle_s: int | None = None
    #: Where that fixed idle timeout is changed (proxy configuration, not a route object).
    stream_idle_knob: str | None = None
    #: Total seconds allowed to read a whole request, body included (uploads longer than this
    #: are cut; ingress-nginx's client_body_timeout only bounds the pause between two reads).
    request_read_total_s: int | None = None
    request_read_knob: str | None = None
    #: Seconds a silent TCPRoute connection lives on the proxy without policy (0 = never cut,
    #: None = unknown), against ingress-nginx's ``proxy-stream-timeout`` (``parity.tcp_idle``;
    #: the Ray Client's own 30 s keepalive keeps its sessions from going silent).
    tcp_idle_s: int | None = None
    #: Where that TCP idle timeout is changed; None where the implementation has no setting.
    tcp_idle_knob: str | None = None
    #: That setting is in milliseconds (Kong's annotations), not a duration.
    tcp_idle_knob_ms: bool = False
    #: Are WebSocket upgrades proxied by default (the log tail of ``ray job logs --follow``)?
    #: None: unknown.
    websocket_by_default: bool | None = None
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
    default_body_limit=0,
    body_limit_knob="BackendTrafficPolicy spec.requestBuffer.limit (NOT on a WebSocket route)",
    timeout_knob="HTTPRoute rules[].timeouts.request, or BackendTrafficPolicy "
                 "spec.timeout.http.requestTimeout",
    # api/v1alpha1/backendtrafficpolicy_types.go @v1.9.0: the buffer filter "does not work
    # with streaming or upgrade-based traffic such as gRPC streaming and WebSocket".
    request_buffer_breaks_websocket=True,
    # internal/gatewayapi/route.go processRouteTimeout @v1.9.0 keeps "0s" as a zero IR timeout;
    # internal/xds/translator/route.go writes it as the route's timeout, which Envoy reads as
    # "disabled" (RouteAction.timeout: "A value of 0 will disable the route's timeout").
    request_zero_disables=True,
    # route.go idleTimeout() @v1.9.0: a BackendTrafficPolicy timeout.http.streamIdleTimeout on
    # the route becomes the route's idle_timeout (a stream with no activity either way).
    idle_timeout_by="policy",
    # ClientTrafficPolicy CRD @v1.9.0, timeout.tcp.idleTimeout: "Default: 1 hour" (Envoy's
    # own tcp_proxy default, api/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto
    # idle_timeout: "If not set, the default idle timeout is 1 hour"); raygate renders a
    # ClientTrafficPolicy timeout.tcp.idleTimeout on the TCP listeners it owns.
    tcp_idle_s=3600,
    tcp_idle_knob="ClientTrafficPolicy spec.timeout.tcp.idleTimeout on the TCP listeners",
    # route.go buildUpgradeConfig @v1.9.0: the default upgrade config (websocket) unless a
    # requestBuffer is set, which raygate never writes.
    websocket_by_default=True,
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
    # ProxySettingsPolicy timeout.read/send are nginx's proxy_read/send_timeout: the same idle
    # timeouts as ingress-nginx's (gateway_api_metallb.md §4.3).
    idle_timeout_by="policy",
    # internal/controller/nginx/config/stream_servers_template.go @v2.6.7: a TCPRoute's stream
    # server has listen + proxy_pass and no proxy_timeout, so nginx's stream default applies
    # (ngx_stream_proxy_module proxy_timeout: "Default: 10m", the time between two successive
    # reads or writes). No NGF object reaches the stream context: ProxySettingsPolicy targets
    # Gateway/HTTPRoute/GRPCRoute and writes http directives (apis/v1alpha1/
    # proxysettingspolicy_types.go), SnippetsFilter contexts are main, http, http.server and
    # http.server.location (apis/v1alpha1/snippetsfilter_types.go), all @v2.6.7.
    tcp_idle_s=600,
    # NGF's nginx.conf maps $http_upgrade to the Upgrade/Connection headers (facts §2).
    websocket_by_default=True,
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
    # pilot/pkg/networking/core/route/route.go setTimeout @1.28.10: a route without a
    # VirtualService timeout gets Notimeout (0, disabled), so no default_route_timeout_s.
    # pilot/pkg/config/kube/gateway/conversion.go @1.28.10: timeouts.request "0s" sets no
    # timeout at all (`if request != 0`), i.e. that same disabled route timeout.
    request_zero_disables=True,
    # pilot/pkg/networking/core/listener_builder.go buildHTTPConnectionManager @1.28.10 (used
    # for gateway listeners, gateway.go): StreamIdleTimeout = 0s, a silent stream is never cut.
    # Nothing is shorter than ingress-nginx's idle timeouts; the bound itself is gone.
    idle_timeout_by="fixed",
    stream_idle_s=0,
    # pilot/pkg/networking/core/gateway.go @1.28.10 builds a TCPRoute listener's filters with
    # buildOutboundNetworkFilters (networkfilter.go): TcpProxy.IdleTimeout is the
    # DestinationRule's trafficPolicy.connectionPool.tcp.idleTimeout, else the proxy's
    # IDLE_TIMEOUT metadata (pkg/model/proxy.go: "If not set, default timeout is 1 hour"),
    # else unset, i.e. Envoy's tcp_proxy default of 1 hour (tcp_proxy.proto idle_timeout).
    tcp_idle_s=3600,
    tcp_idle_knob="a DestinationRule (networking.istio.io/v1) for the head Service's host with "
                  "spec.trafficPolicy.connectionPool.tcp.idleTimeout",
    # No Envoy buffer filter anywhere in pilot/pkg @1.28.10: bodies stream, no size cap.
    default_body_limit=0,
    # listener_builder.go @1.28.10: "Allow websocket upgrades", UpgradeConfigs [websocket].
    websocket_by_default=True,
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
    # operator/pkg/model/translation/envoy_virtual_host.go timeoutMutation (main, read through
    # the code index, not at the 1.20 tag): route timeout = min(request, backendRequest), and
    # operator/pkg/model/ingestion/gateway.go toTimeout keeps "0s" as a zero duration, so
    # "0s" is Envoy's disabled route timeout; with neither set only MaxStreamDuration 0 is
    # written and Envoy's own 15 s route timeout applies.
    default_route_timeout_s=15,
    request_zero_disables=True,
    # envoy_http_connection_manager.go (same source) sets no stream_idle_timeout: Envoy's 5 min
    # default, which Cilium's Helm value envoy.streamIdleTimeoutDurationSeconds (default 300,
    # install/kubernetes/cilium/README.md) is meant to change (cilium/cilium#43814, #34582:
    # it may not reach every generated listener; extraConfig proxy-stream-idle-timeout-seconds).
    idle_timeout_by="fixed",
    stream_idle_s=300,
    stream_idle_knob="Cilium's Envoy stream idle timeout (Helm envoy.streamIdleTimeoutDuration"
                     "Seconds, or extraConfig proxy-stream-idle-timeout-seconds where the Helm "
                     "value does not reach the Gateway listeners, cilium/cilium#43814)",
    # The same connection manager's filters are grpc_web, grpc_stats and the router: no buffer
    # filter, so no body cap; and UpgradeConfigs [websocket].
    default_body_limit=0,
    # operator/pkg/model/translation/envoy_listener.go NewTCPListener (main, code index): the
    # TCPRoute listener's TcpProxy has only StatPrefix and Cluster, no IdleTimeout, so Envoy's
    # tcp_proxy default of 1 hour applies (tcp_proxy.proto idle_timeout); Cilium has no setting
    # for it (the Helm envoy.* timeouts are HTTP connection manager / upstream HTTP ones).
    tcp_idle_s=3600,
    websocket_by_default=True,
    class_names=("cilium",),
    references=("https://github.com/cilium/cilium/pull/46184",
                "https://github.com/cilium/cilium/issues/43814"),
)

TRAEFIK = Implementation(
    key="traefik", title="Traefik",
    controller_names=("traefik.io/gateway-controller",),
    version_read="v3.8",
    tcp_route_versions=("v1alpha2",),
    # Traefik's conformance report does not claim HTTPRoute timeouts (gateway_api_metallb.md
    # §4.5), and pkg/provider/kubernetes/gateway @v3.7.9 never reads rules[].timeouts.
    honours_route_timeouts=False,
    body_limit_knob="a Traefik buffering Middleware (maxRequestBodyBytes)",
    timeout_knob="the entryPoint's transport.respondingTimeouts (static configuration)",
    # pkg/config/dynamic/http_config.go ForwardingTimeouts @v3.7.9: responseHeaderTimeout 0 and
    # the read/write idle timeouts only the NGINX provider sets (json:"-"): nothing bounds a
    # silent response stream. Nothing is shorter than ingress-nginx's idle timeouts.
    idle_timeout_by="fixed",
    stream_idle_s=0,
    # pkg/config/static/static_config.go @v3.7.9: RespondingTimeouts.SetDefaults readTimeout
    # 60s, "the maximum duration for reading the entire request, including the body"
    # (docs/content/reference/install-configuration/entrypoints.md): a Ray upload still flowing
    # after 60 s is cut, where ingress-nginx's client_body_timeout only bounds a pause.
    request_read_total_s=60,
    request_read_knob="--entryPoints.<name>.transport.respondingTimeouts.readTimeout=0 on each "
                      "HTTP(S) entryPoint (static configuration)",
    # No MaxBytesReader outside the Buffering (and Retry) middlewares in pkg/ @v3.7.9: no cap.
    default_body_limit=0,
    # A TCPRoute becomes a HostSNI(`*`) TCP router (pkg/provider/kubernetes/gateway/
    # tcproute.go @v3.7.9). The entryPoint's readTimeout/writeTimeout deadlines set at accept
    # (pkg/server/server_entrypoint_tcp.go) are cleared before the TCP handler runs
    # (pkg/server/router/tcp/router.go ServeTCP: "Remove read/write deadline"), and
    # pkg/tcp/proxy.go copies both ways with no deadline (terminationDelay only after one side
    # has closed): a silent connection is never cut.
    tcp_idle_s=0,
    # pkg/proxy/httputil/proxy.go @v3.7.9: Go's ReverseProxy, which proxies Upgrade natively.
    # The entryPoint's 60 s readTimeout does not end the upgraded log tail: ReverseProxy
    # hijacks the client connection, and Go's net/http/server.go (*conn).hijackLocked clears
    # its deadlines (rwc.SetDeadline(time.Time{})); Traefik v3.7.9 builds with Go 1.26
    # (go.mod) and sets no deadline of its own on the client connection after that (the other
    # SetDeadline calls in pkg/ are the TCP entryPoint's accept, cleared by the TCP router, and
    # the backend side's connWithTimeouts in pkg/server/service/transport.go, active only with
    # the read/write timeouts the NGINX provider alone sets).
    websocket_by_default=True,
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
    # Kong/kubernetes-ingress-controller internal/dataplane/translator/subtranslator/
    # httproute.go applyTimeoutToServiceFromHTTPRouteRule @v3.5.13 (Kong Operator runs the same
    # translator; not read separately): timeouts.request is ignored, timeouts.backendRequest
    # becomes the Kong Service's read/write/connect timeouts.
    honours_route_timeouts=None,
    timeout_knob="HTTPRoute rules[].timeouts.backendRequest (the Kong Service's read/write/"
                 "connect timeouts), or the konghq.com/read-timeout and write-timeout Service "
                 "annotations",
    # Kong/kong kong/db/schema/entities/services.lua @3.9.3: read/write_timeout default 60000
    # ms, nonzero; kong/init.lua passes them to ngx.balancer.set_timeouts, i.e. nginx's
    # proxy_read/send_timeout: idle timeouts between two reads/writes, as ingress-nginx's.
    idle_timeout_by="backend-request",
    stream_idle_s=60,
    # internal/dataplane/translator/translate_utils.go generateKongServiceFromBackendRefWithName
    # @v3.5.13: the Kong Service of a TCPRoute rule (protocol tcp) gets read/write timeouts of
    # DefaultServiceTimeout, 60000 ms (testdata/golden/tcproute-example/default_golden.yaml);
    # in the stream subsystem Kong's balancer hands them to ngx.balancer.set_timeouts, which
    # sets nginx's proxy_timeout to max(send, read) (lua-resty-core lib/ngx/balancer.md):
    # a connection silent for 60 s is cut (a live Ray Client pings every 30 s). internal/dataplane/kongstate/service.go
    # overrideByAnnotation @v3.5.13 takes konghq.com/read-timeout and write-timeout (ms) from
    # the backend Kubernetes Service, for every route kind (translator/ingressrules.go).
    tcp_idle_s=60,
    tcp_idle_knob="the konghq.com/read-timeout and konghq.com/write-timeout annotations on "
                  "the head Service (KubeRay owns it: set them in the RayCluster's "
                  "spec.headServiceAnnotations)",
    tcp_idle_knob_ms=True,
    # kong/templates/kong_defaults.lua @3.9.3: nginx_http_client_max_body_size = 0 (no check).
    default_body_limit=0,
    body_limit_knob="kong.conf nginx_http_client_max_body_size",
    # kong/runloop/handler.lua @3.9.3: an "Upgrade: websocket" request gets upstream_upgrade
    # websocket (nginx_kong.lua proxies it).
    websocket_by_default=True,
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
