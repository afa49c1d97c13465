"""Probe checks against small local servers: asset resolution, the redirect verdicts, the
auth verdict, token masking, the HTTP/2 pre-check and closed-port detection. Fast, no Ray."""

from __future__ import annotations

import asyncio
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from raygate.errors import ProbeError
from raygate.probe import ProbeOptions, Verdict, probe
from raygate.probe.http import asset_urls
from raygate.probe.model import validate
from raygate.probe.tcp import connect_outcome, http2_preface

TOKEN = "f" * 64
INDEX = (b'<!doctype html><html><head><link rel="icon" href="./favicon.ico"/>'
         b'<script defer="defer" src="./static/js/main.1.js"></script>'
         b'<link href="./static/css/main.2.css" rel="stylesheet"></head><body></body></html>')


class FakeDashboard(BaseHTTPRequestHandler):
    """A Dashboard behind a prefix; ``mode`` decides how the gateway misbehaves."""

    mode = "healthy"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        path, mode = self.path, self.mode
        if path == "/ray":
            if mode == "no-redirect":
                return self._send(200, INDEX)
            return self._send(301, headers={"Location": "/ray/"})
        if path == "/ray/":
            return self._send(200, INDEX)
        if path.startswith("/ray/static/") or path == "/ray/favicon.ico":
            return self._send(404 if mode == "broken-assets" else 200, b"x")
        if path == "/ray/api/jobs/":
            auth = self.headers.get("Authorization")
            if mode == "open" or auth == f"Bearer {TOKEN}":
                return self._send(200, b"[]")
            return self._send(401 if not auth else 403, b"Unauthorized")
        if path == "/ray/api/authentication_mode":
            return self._send(200, b'{"authentication_mode": "disabled"}')
        return self._send(404, b"not found")


@pytest.fixture
def dashboard() -> Iterator[Any]:
    handler = type("Handler", (FakeDashboard,), {"mode": "healthy"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.handler = handler  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


#: Sockets behind closed_port(): held for the whole run so no other process (a second test
#: run beside this one) can take the port and answer on it.
_HELD: list[socket.socket] = []


def closed_port() -> int:
    """A port that refuses connections: bound here (nobody else can take it) but never
    listening, so the refusal is deterministic rather than "probably free"."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _HELD.append(s)
    return int(s.getsockname()[1])


def opts_for(server: Any, **kw: Any) -> ProbeOptions:
    port = server.server_address[1]
    return ProbeOptions(f"http://127.0.0.1:{port}/ray/", token=TOKEN, gcs_port=closed_port(),
                        agent_port=closed_port(), timeout=3, **kw)


def test_assets_resolve_against_the_final_url() -> None:
    assert asset_urls(INDEX.decode(), "http://gw/ray/") == [
        "http://gw/ray/favicon.ico", "http://gw/ray/static/js/main.1.js",
        "http://gw/ray/static/css/main.2.css"]
    # Without the slash the same index points outside the prefix: the blank page.
    assert asset_urls(INDEX.decode(), "http://gw/ray")[1] == "http://gw/static/js/main.1.js"


def test_healthy_gateway_passes(dashboard: Any) -> None:
    report = probe(opts_for(dashboard))
    assert report.ok, report.to_dict()
    assert {r.name: r.verdict for r in report.results} == {
        "dashboard": Verdict.PASS, "slash-redirect": Verdict.PASS, "jobs-api": Verdict.PASS,
        "auth-required": Verdict.PASS, "gcs-closed": Verdict.PASS, "agent-closed": Verdict.PASS}


def test_blank_page_is_a_failure_even_with_a_200_index(dashboard: Any) -> None:
    dashboard.handler.mode = "broken-assets"
    result = probe(opts_for(dashboard)).result("dashboard")
    assert result.verdict is Verdict.FAIL and "blank page" in result.cause
    assert "/ray/static/js/main.1.js 404" in result.cause


def test_index_without_redirect_is_the_trailing_slash_failure(dashboard: Any) -> None:
    dashboard.handler.mode = "no-redirect"
    result = probe(opts_for(dashboard)).result("slash-redirect")
    assert result.verdict is Verdict.FAIL
    assert result.rule == "dashboard-subpath-without-slash-redirect"
    assert "serves the index without redirecting" in result.cause


def test_open_jobs_api_fails_and_wrong_token_is_named(dashboard: Any) -> None:
    dashboard.handler.mode = "open"
    report = probe(opts_for(dashboard))
    assert report.result("auth-required").verdict is Verdict.FAIL
    assert "authentication_mode: disabled" in report.result("auth-required").detail
    assert not report.ok
    assert probe(opts_for(dashboard, allow_unauthenticated=True)).result(
        "auth-required").verdict is Verdict.WARN
    dashboard.handler.mode = "healthy"
    wrong = ProbeOptions(opts_for(dashboard).url, token="0" * 64, gcs_port=closed_port(),
                         agent_port=closed_port())
    assert "403" in probe(wrong).result("jobs-api").cause


def test_open_port_on_the_gateway_is_reported(dashboard: Any) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        opts = ProbeOptions(opts_for(dashboard).url, token=TOKEN,
                            gcs_port=listener.getsockname()[1], agent_port=closed_port())
        result = probe(opts).result("gcs-closed")
        assert result.verdict is Verdict.FAIL and result.rule == "gcs-port-exposed"
    finally:
        listener.close()


def test_http2_precheck_tells_refused_http1_and_closed_apart(dashboard: Any) -> None:
    port = dashboard.server_address[1]
    assert asyncio.run(http2_preface("127.0.0.1", closed_port(), 1)) == "refused"
    # An HTTP/1 server never answers the preface with a SETTINGS frame.
    assert asyncio.run(http2_preface("127.0.0.1", port, 2)) in ("http1", "closed", "other")
    assert asyncio.run(connect_outcome("127.0.0.1", port, 1)) == "open"


def test_ray_client_refused_names_the_tcp_mapping(dashboard: Any) -> None:
    result = probe(opts_for(dashboard, client=f"127.0.0.1:{closed_port()}")).result("ray-client")
    assert result.verdict is Verdict.FAIL and "connection refused" in result.cause
    assert result.rule == "ray-client-not-exposed"


def test_token_never_appears_in_output() -> None:
    opts = ProbeOptions(f"http://127.0.0.1:{closed_port()}/ray/", token=TOKEN,
                        gcs_port=closed_port(), agent_port=closed_port(), timeout=1)
    text = str(probe(opts).to_dict()) + repr(opts)
    assert TOKEN not in text
    assert opts.masked(f"bad token {TOKEN}") == "bad token ***"


@pytest.mark.parametrize("url", ["gateway/ray", "ftp://x/ray", "http:///ray"])
def test_bad_url_is_a_probe_error(url: str) -> None:
    with pytest.raises(ProbeError):
        validate(ProbeOptions(url))
