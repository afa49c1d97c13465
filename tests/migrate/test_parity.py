"""What a Ray path keeps after the move, per implementation: the report's verdicts on idle
timeouts, body size, WebSocket, upload time and the Ray Client's TCP idle timeout (an error whenever the result is shorter,
smaller or off), the route timeouts that carry them, and render's warnings on the same facts
(``backends/gateway_api/parity.py`` on the profiles of ``implementations.py``)."""

from __future__ import annotations

import copy
import pytest

from raygate import records
from raygate import spec as spec_mod
from raygate.backends.gateway_api import implementations, parity
from raygate.render import build
from tests.gateway_api import schemas
from tests.gateway_api.test_render_implementations import BASE, spec_with
from tests.migrate.test_migrate import SETUP, kinds, run_migrate

TIMEOUTS = "proxy-read-timeout/proxy-send-timeout"
STREAM = "proxy-stream-timeout"


def setup(read: int = 3600, body: str = "100m", stream: str | None = "3600s") -> str:
    """The seed guide's setup with the Dashboard's Ingress at a read timeout of ``read`` s,
    the controller's body size ``body`` and its ``proxy-stream-timeout`` ``stream`` (None: the
    controller's 600s default; raygate's spec writes 3600s) for Ray Client on tcp-services
    (send timeout: the ConfigMap's 7200 s is lowered so the idle bound is ``read``)."""
    text = SETUP.replace('proxy-read-timeout: "7200"', f'proxy-read-timeout: "{read}"') \
                .replace("proxy-body-size: 500m", f"proxy-body-size: {body}") \
                .replace('proxy-send-timeout: "7200"', 'proxy-send-timeout: "60"')
    if stream is not None:
        text = text.replace('proxy-send-timeout: "60"',
                            f'proxy-send-timeout: "60"\n  {STREAM}: "{stream}"')
    return text


def verdicts(result) -> dict[str, tuple[str, str]]:
    out = {}
    for item in result.items:
        for key in (TIMEOUTS, "proxy-body-size", "WebSocket", "client-body-timeout", STREAM):
            if item.subject.startswith(key):
                out[key] = (item.status, item.severity)
    return out


CONVERTED = ("converted", "info")
SHORTER = ("approximated", "error")
UNBOUNDED = ("approximated", "warning")
# Shorter than proxy-stream-timeout, longer than the Ray Client's 30 s keepalive: only dead
# connections are closed sooner.
KEPT_ALIVE = ("approximated", "info")
# A 3600 s read timeout, a 100m body size, the log tail's WebSocket and a 3600 s
# proxy-stream-timeout on tcp-services, which carries only the Ray Client, per implementation.
EXPECTED = {
    # BackendTrafficPolicy streamIdleTimeout 1h (route idle_timeout), request 0s; no buffer;
    # ClientTrafficPolicy timeout.tcp.idleTimeout 1h on the TCP listener.
    "envoy-gateway": {TIMEOUTS: CONVERTED, "proxy-body-size": CONVERTED, "WebSocket": CONVERTED,
                      STREAM: CONVERTED},
    # ProxySettingsPolicy read/send, ClientSettingsPolicy body.maxSize; the stream server keeps
    # nginx's proxy_timeout 10m, which no NGF object changes (the Ray Client pings every 30 s).
    "nginx-gateway-fabric": {TIMEOUTS: CONVERTED, "proxy-body-size": CONVERTED,
                             "WebSocket": CONVERTED, STREAM: KEPT_ALIVE},
    # Stream idle timeout 0 (never cut): nothing sooner, the bound is gone; tcp_proxy 1h.
    "istio": {TIMEOUTS: UNBOUNDED, "proxy-body-size": CONVERTED, "WebSocket": CONVERTED,
              STREAM: CONVERTED},
    # Envoy's 300 s stream idle timeout is shorter than 3600 s; tcp_proxy 1h.
    "cilium": {TIMEOUTS: SHORTER, "proxy-body-size": CONVERTED, "WebSocket": CONVERTED,
               STREAM: CONVERTED},
    # No backend idle bound; the entryPoint's 60 s readTimeout covers a whole upload; a TCP
    # router's connection has no deadline at all.
    "traefik": {TIMEOUTS: UNBOUNDED, "proxy-body-size": CONVERTED, "WebSocket": CONVERTED,
                "client-body-timeout": SHORTER, STREAM: UNBOUNDED},
    # timeouts.backendRequest 1h -> the Kong Service's read/write timeouts; the TCPRoute's
    # Kong Service keeps 60000 ms, twice the Ray Client's keepalive interval.
    "kong": {TIMEOUTS: CONVERTED, "proxy-body-size": CONVERTED, "WebSocket": CONVERTED,
             STREAM: KEPT_ALIVE},
    "generic": {TIMEOUTS: UNBOUNDED, "proxy-body-size": ("dropped", "warning"),
                "WebSocket": ("approximated", "warning"), STREAM: UNBOUNDED},
}


@pytest.mark.parametrize("impl", implementations.KEYS)
def test_verdicts_per_implementation(impl: str) -> None:
    assert set(EXPECTED) == set(implementations.KEYS)
    result = run_migrate(setup(), implementation=impl)
    assert verdicts(result) == EXPECTED[impl]
    # Exactly the error verdicts make the migration fail (exit 1).
    errors = {k for k, (_, severity) in EXPECTED[impl].items() if severity == "error"}
    assert {k for k in verdicts(result) if any(e.subject.startswith(k) for e in result.errors)} \
        == errors


@pytest.mark.parametrize("impl", implementations.KEYS)
def test_an_unlimited_body_stays_unlimited(impl: str) -> None:
    result = run_migrate(setup(body="0"), implementation=impl)
    assert verdicts(result)["proxy-body-size"] == EXPECTED[impl]["proxy-body-size"]
    if impl == "nginx-gateway-fabric":
        [csp] = kinds(result.objects, "ClientSettingsPolicy")
        assert csp["spec"]["body"]["maxSize"] == "0"  # NGF: "0" disables the check


def test_a_shorter_result_is_an_error_and_an_equal_one_is_not() -> None:
    """Cilium's Envoy cuts a stream silent for 300 s: a 3600 s idle timeout becomes shorter
    (error), a 300 s one is kept (converted), a 60 s one too."""
    for read, expected in ((3600, ("approximated", "error")), (301, ("approximated", "error")),
                           (300, CONVERTED), (60, CONVERTED)):
        result = run_migrate(setup(read=read), implementation="cilium")
        assert verdicts(result)[TIMEOUTS] == expected, read
        assert bool(result.errors) == (expected[1] == "error")
    [error] = run_migrate(setup(), implementation="cilium").errors
    assert "streamIdleTimeoutDurationSeconds" in error.why and "3600s" in error.why


def stream_item(result):
    [item] = [i for i in result.items if i.subject.startswith(STREAM)]
    return item


def with_other_tcp_port(text: str) -> str:
    """tcp-services also carries a head port that is not the Ray Client's."""
    return text.replace('"10001": ray/raycluster-kuberay-head-svc:10001',
                        '"10001": ray/raycluster-kuberay-head-svc:10001\n'
                        '  "9000": ray/raycluster-kuberay-head-svc:9000')


#: proxy-stream-timeout -> verdict per implementation, for the three values that separate them:
#: under Kong's 60 s, ingress-nginx's 600 s default (NGF's nginx keeps the same 10m), and over
#: Envoy's 1 h tcp_proxy default; (Ray Client only, with another TCP port).
STREAM_CASES = {
    "envoy-gateway": {s: (CONVERTED, CONVERTED) for s in ("60s", None, "7200s")},  # rendered
    "nginx-gateway-fabric": {"60s": (CONVERTED, CONVERTED), None: (CONVERTED, CONVERTED),
                             "7200s": (KEPT_ALIVE, SHORTER)},
    "istio": {"60s": (CONVERTED, CONVERTED), None: (CONVERTED, CONVERTED),
              "7200s": (KEPT_ALIVE, SHORTER)},
    "cilium": {"60s": (CONVERTED, CONVERTED), None: (CONVERTED, CONVERTED),
               "7200s": (KEPT_ALIVE, SHORTER)},
    "traefik": {s: (UNBOUNDED, UNBOUNDED) for s in ("60s", None, "7200s")},
    "kong": {"60s": (CONVERTED, CONVERTED), None: (KEPT_ALIVE, SHORTER),
             "7200s": (KEPT_ALIVE, SHORTER)},
    "generic": {s: (UNBOUNDED, UNBOUNDED) for s in ("60s", None, "7200s")},
}


@pytest.mark.parametrize("impl", implementations.KEYS)
def test_a_shorter_tcp_idle_timeout_is_an_error_unless_only_ray_client_rides_it(impl: str) -> None:
    """A TCPRoute connection cut sooner than ingress-nginx's proxy-stream-timeout is an error
    that fails the migration; as long or longer is converted; no limit at all is a warning.
    The Ray Client alone is never silent for 30 s (keepalive), so a shorter bound above that is
    not worse for it (info); another service on a tcp-services port may be."""
    assert set(STREAM_CASES) == set(implementations.KEYS)
    for stream, (client_only, mixed) in STREAM_CASES[impl].items():
        for text, expected in ((setup(stream=stream), client_only),
                               (with_other_tcp_port(setup(stream=stream)), mixed)):
            result = run_migrate(text, implementation=impl)
            item = stream_item(result)
            assert (item.status, item.severity) == expected, (stream, item.why)
            assert (item in result.errors) == (expected[1] == "error"), stream


def test_the_ray_client_keepalive_bounds_what_it_rides_out() -> None:
    """A TCP idle timeout at or under the Ray Client's 30 s keepalive cuts idle sessions: an
    error even when only the Ray Client uses the port."""
    assert parity.RAY_CLIENT_KEEPALIVE_S == 30
    for idle, expected in ((31, KEPT_ALIVE), (30, SHORTER), (20, SHORTER)):
        impl = records.replace(implementations.KONG, tcp_idle_s=idle)
        v = parity.tcp_idle(impl, 600, "600s", only_ray_client=True)
        assert (v.status, v.severity) == expected, idle
    error = parity.tcp_idle(records.replace(implementations.KONG, tcp_idle_s=20), 600,
                            "600s", only_ray_client=True)
    assert "Ray Client session is cut between its 30s keepalives" in error.why


@pytest.mark.parametrize("impl,stream,fix", [
    ("kong", None, "konghq.com/read-timeout"),
    ("kong", "3600s", "spec.headServiceAnnotations"),
    ("nginx-gateway-fabric", "3600s", "has no setting for it"),
    ("istio", "7200s", "connectionPool.tcp.idleTimeout"),
    ("cilium", "7200s", "has no setting for it"),
])
def test_the_error_names_the_fix(impl: str, stream: str | None, fix: str) -> None:
    item = stream_item(run_migrate(with_other_tcp_port(setup(stream=stream)), implementation=impl))
    assert item.severity == "error"
    old = stream or "600s"
    assert fix in item.why, item.why
    assert f"proxy-stream-timeout {old}" in item.why
    # A knob comes with the value it needs (Kong's annotations in milliseconds); without one
    # the way around is named.
    seconds = int(old[:-1])
    least = f'"{seconds * 1000}" (milliseconds, {old})' if impl == "kong" else old
    assert (f"to at least {least}" in item.why) != ("LoadBalancer Service" in item.why)


def test_envoy_gateway_carries_the_stream_timeout_only_on_a_gateway_it_creates() -> None:
    """The ClientTrafficPolicy goes on the TCP listeners of the Gateway raygate writes (schema
    valid); attached to an existing Gateway, Envoy's 1 h default is what the ports get."""
    result = run_migrate(setup(stream="7200s"), implementation="envoy-gateway")
    [ctp] = [o for o in kinds(result.objects, "ClientTrafficPolicy") if "tcp" in o["spec"]["timeout"]]
    assert ctp["spec"]["timeout"] == {"tcp": {"idleTimeout": "2h"}}
    assert [r["sectionName"] for r in ctp["spec"]["targetRefs"]] == ["tcp-10001"]
    schemas.validate(ctp, "v1.6.1-standard")
    assert stream_item(result).severity == "info"
    existing = run_migrate(with_other_tcp_port(setup(stream="7200s")),
                           implementation="envoy-gateway", existing_gateway=True)
    assert not [o for o in kinds(existing.objects, "ClientTrafficPolicy")
                if "tcp" in o["spec"]["timeout"]]
    item = stream_item(existing)
    assert (item.status, item.severity) == SHORTER
    assert "ClientTrafficPolicy spec.timeout.tcp.idleTimeout" in item.why
    item = stream_item(run_migrate(setup(stream="3600s"), implementation="envoy-gateway",
                                   existing_gateway=True))
    assert (item.status, item.severity) == CONVERTED


def test_an_unreadable_stream_timeout_is_a_warning() -> None:
    item = stream_item(run_migrate(setup(stream="soon"), implementation="kong"))
    assert (item.status, item.severity) == ("approximated", "warning")


def test_a_smaller_body_limit_or_websocket_off_is_an_error() -> None:
    """No implementation read has these defaults; the comparison itself must still say so."""
    capped = records.replace(implementations.ISTIO, default_body_limit=1024 * 1024,
                                 body_limit_knob="an EnvoyFilter buffer")
    assert parity.body_size(capped, 100 * 1024 * 1024, "100m", True).severity == "error"
    assert parity.body_size(capped, 0, "0", True).severity == "error"  # unlimited -> 1m
    assert parity.body_size(capped, 512 * 1024, "512k", True).status == "converted"
    off = records.replace(implementations.ISTIO, websocket_by_default=False)
    assert parity.websocket(off).severity == "error"


# ---------------------------------------------------------------------------------------------
# The objects that carry the verdicts


@pytest.mark.parametrize("impl,expected", [
    ("envoy-gateway", {"request": "0s"}), ("istio", {"request": "0s"}),
    ("cilium", {"request": "0s"}), ("generic", {"request": "0s"}),
    ("kong", {"request": "0s", "backendRequest": "1h"}),
    ("nginx-gateway-fabric", None), ("traefik", None)])
def test_no_rule_gets_a_total_timeout(impl: str, expected: dict | None) -> None:
    """Dashboard (log tail, uploads) and Serve alike: nginx's idle timeouts never become a
    total request timeout; Kong carries the idle bound in backendRequest; NGF and Traefik do
    not read the field, so it is not written."""
    result = run_migrate(setup(), implementation=impl)
    [route] = kinds(result.objects, "HTTPRoute")
    backend_rules = [r for r in route["spec"]["rules"] if "backendRefs" in r]
    assert len(backend_rules) == 2  # Dashboard and Serve
    assert [r.get("timeouts") for r in backend_rules] == [expected, expected]
    tcp = {o["apiVersion"] for o in kinds(result.objects, "TCPRoute")}
    bundle = "v1.6.1-standard" if tcp == {"gateway.networking.k8s.io/v1"} else \
        "v1.6.1-experimental"
    for obj in result.objects:
        schemas.validate(obj, bundle)


# ---------------------------------------------------------------------------------------------
# Render says the same


def test_render_warns_where_the_implementation_would_cut_sooner() -> None:
    """The spec's default read/send timeouts are 3600 s (an idle bound, as ingress-nginx's),
    and so is its streamTimeout (ingress-nginx's proxy-stream-timeout) for Ray Client."""
    spec = spec_with(implementation="cilium")
    assert spec.tuning.read_timeout == 3600
    assert spec.tuning.stream_timeout == "3600s" and spec.exposures.ray_client.enabled
    assert "streamIdleTimeoutDurationSeconds" in " ".join(build(spec).warnings)
    traefik = " ".join(build(spec_with(implementation="traefik")).warnings)
    assert "respondingTimeouts.readTimeout=0" in traefik
    for quiet in ("istio", "envoy-gateway"):
        assert not build(spec_with(implementation=quiet)).warnings, quiet
    assert any("bounds no silent stream" in n
               for n in build(spec_with(implementation="istio")).notes)
    # The extra TCP port 9000: Kong's stream Service cuts after 60 s, NGF's stream server
    # after 10m.
    [kong] = build(spec_with(implementation="kong")).warnings
    assert "shorter than proxy-stream-timeout 3600s" in kong and "konghq.com/read-timeout" in kong
    [ngf] = build(spec_with(implementation="nginx-gateway-fabric")).warnings
    assert "NGINX Gateway Fabric cuts a TCPRoute connection silent for 10m" in ngf
    assert any("never cuts a silent TCPRoute connection" in n
               for n in build(spec_with(implementation="traefik")).notes)


def spec_of(impl: str, stream: str = "3600s", tcp: str = "client+extra"):
    """BASE (Ray Client and extra TCP port 9000) for ``impl``; ``tcp``: "client" keeps only the
    Ray Client, "none" no TCP port at all."""
    data = copy.deepcopy(BASE)
    data["gatewayApi"]["implementation"] = impl
    data["tuning"] = {"streamTimeout": stream}
    if tcp != "client+extra":
        data["exposures"] = {"serve": {"path": "/serve"}}
    if tcp == "none":
        data["exposures"]["rayClient"] = {"enabled": False}
    return spec_mod.from_dict(data, "<test>")


def test_render_compares_the_spec_stream_timeout() -> None:
    """Istio's and Cilium's tcp_proxy keep 1 h: a 2 h streamTimeout is cut sooner on the extra
    TCP port; Envoy Gateway renders it (schema valid); a spec without TCP listeners gets no
    verdict."""
    for impl in ("istio", "cilium"):
        assert any("shorter than proxy-stream-timeout 7200s" in w
                   for w in build(spec_of(impl, "7200s")).warnings), impl
    rendered = build(spec_of("envoy-gateway", "7200s"))
    assert not rendered.warnings
    [ctp] = [i.obj for i in rendered.items if i.obj["kind"] == "ClientTrafficPolicy"
             and "tcp" in i.obj["spec"]["timeout"]]
    assert ctp["spec"]["timeout"]["tcp"] == {"idleTimeout": "2h"}
    schemas.validate(ctp, "v1.6.1-experimental")
    assert build(spec_of("kong")).warnings
    # The Ray Client alone rides Kong's 60 s and NGF's 10m out on its 30 s keepalive.
    for impl in ("kong", "nginx-gateway-fabric"):
        assert not build(spec_of(impl, tcp="client")).warnings, impl
        assert not build(spec_of(impl, tcp="none")).warnings, impl
