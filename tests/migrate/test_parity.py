"""What a Ray path keeps after the move, per implementation: the report's verdicts on idle
timeouts, body size, WebSocket and upload time (an error whenever the result is shorter,
smaller or off), the route timeouts that carry them, and render's warnings on the same facts
(``backends/gateway_api/parity.py`` on the profiles of ``implementations.py``)."""

from __future__ import annotations

import dataclasses

import pytest

from raygate.backends.gateway_api import implementations, parity
from raygate.render import build
from tests.gateway_api import schemas
from tests.gateway_api.test_render_implementations import spec_with
from tests.migrate.test_migrate import SETUP, kinds, run_migrate

TIMEOUTS = "proxy-read-timeout/proxy-send-timeout"


def setup(read: int = 3600, body: str = "100m") -> str:
    """The seed guide's setup with the Dashboard's Ingress at a read timeout of ``read`` s and
    the controller's body size ``body`` (send timeout: the ConfigMap's 7200 s is lowered so the
    idle bound is ``read``)."""
    return SETUP.replace('proxy-read-timeout: "7200"', f'proxy-read-timeout: "{read}"') \
                .replace("proxy-body-size: 500m", f"proxy-body-size: {body}") \
                .replace('proxy-send-timeout: "7200"', 'proxy-send-timeout: "60"')


def verdicts(result) -> dict[str, tuple[str, str]]:
    out = {}
    for item in result.items:
        for key in (TIMEOUTS, "proxy-body-size", "WebSocket", "client-body-timeout"):
            if item.subject.startswith(key):
                out[key] = (item.status, item.severity)
    return out


CONVERTED = ("converted", "info")
# A 3600 s read timeout, a 100m body size and the log tail's WebSocket, per implementation.
EXPECTED = {
    # BackendTrafficPolicy streamIdleTimeout 1h (route idle_timeout), request 0s; no buffer.
    "envoy-gateway": {TIMEOUTS: CONVERTED, "proxy-body-size": CONVERTED, "WebSocket": CONVERTED},
    # ProxySettingsPolicy read/send, ClientSettingsPolicy body.maxSize.
    "nginx-gateway-fabric": {TIMEOUTS: CONVERTED, "proxy-body-size": CONVERTED,
                             "WebSocket": CONVERTED},
    # Stream idle timeout 0 (never cut): nothing sooner, the bound is gone.
    "istio": {TIMEOUTS: ("approximated", "warning"), "proxy-body-size": CONVERTED,
              "WebSocket": CONVERTED},
    # Envoy's 300 s stream idle timeout is shorter than 3600 s.
    "cilium": {TIMEOUTS: ("approximated", "error"), "proxy-body-size": CONVERTED,
               "WebSocket": CONVERTED},
    # No backend idle bound; the entryPoint's 60 s readTimeout covers a whole upload.
    "traefik": {TIMEOUTS: ("approximated", "warning"), "proxy-body-size": CONVERTED,
                "WebSocket": CONVERTED, "client-body-timeout": ("approximated", "error")},
    # timeouts.backendRequest 1h -> the Kong Service's read/write timeouts.
    "kong": {TIMEOUTS: CONVERTED, "proxy-body-size": CONVERTED, "WebSocket": CONVERTED},
    "generic": {TIMEOUTS: ("approximated", "warning"), "proxy-body-size": ("dropped", "warning"),
                "WebSocket": ("approximated", "warning")},
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


def test_a_smaller_body_limit_or_websocket_off_is_an_error() -> None:
    """No implementation read has these defaults; the comparison itself must still say so."""
    capped = dataclasses.replace(implementations.ISTIO, default_body_limit=1024 * 1024,
                                 body_limit_knob="an EnvoyFilter buffer")
    assert parity.body_size(capped, 100 * 1024 * 1024, "100m", True).severity == "error"
    assert parity.body_size(capped, 0, "0", True).severity == "error"  # unlimited -> 1m
    assert parity.body_size(capped, 512 * 1024, "512k", True).status == "converted"
    off = dataclasses.replace(implementations.ISTIO, websocket_by_default=False)
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
    """The spec's default read/send timeouts are 3600 s (an idle bound, as ingress-nginx's)."""
    spec = spec_with(implementation="cilium")
    assert spec.tuning.read_timeout == 3600
    assert "streamIdleTimeoutDurationSeconds" in " ".join(build(spec).warnings)
    traefik = " ".join(build(spec_with(implementation="traefik")).warnings)
    assert "respondingTimeouts.readTimeout=0" in traefik
    for quiet in ("istio", "kong", "envoy-gateway", "nginx-gateway-fabric"):
        assert not build(spec_with(implementation=quiet)).warnings, quiet
    assert any("bounds no silent stream" in n
               for n in build(spec_with(implementation="istio")).notes)
