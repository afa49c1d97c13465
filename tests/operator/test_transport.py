"""The operator's write connections (operator/transport.py): the server, TLS and credentials
lightkube resolved, errors as lightkube raises them, and what only httpx can do left to it."""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from lightkube.core.exceptions import ApiError

from raygate.operator.reconciler import Api
from raygate.sources.cluster import ClusterSource
from tests.fakeapi.server import FakeApiServer

CM = {"apiVersion": "v1", "kind": "ConfigMap",
      "metadata": {"name": "raygate-port-20000", "namespace": "default"}, "data": {"a": "b"}}


def kubeconfig(path: Path, server: str, user: dict[str, Any],
               cluster: dict[str, Any] | None = None) -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, **(cluster or {})}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c"}))
    return str(path)


def test_writes_go_over_the_operators_connections_and_fail_as_lightkube_fails(
        fake_api: FakeApiServer) -> None:
    with ClusterSource(fake_api.kubeconfig_path) as src:
        api = Api(src)
        api.prepare()
        assert api._transport().usable
        assert api.create(dict(CM)) is True
        assert api.create(dict(CM)) is False  # 409 AlreadyExists: the name (the port) is held
        stored = api.merge_patch("v1", "ConfigMap", "default", CM["metadata"]["name"],
                                 {"metadata": {"annotations": {"x": "1"}}})
        assert stored["metadata"]["annotations"] == {"x": "1"}
        with pytest.raises(ApiError) as refused:  # a 422 carries the server's Status
            api.apply({**CM, "metadata": {"name": "Bad_Name", "namespace": "default"}})
        assert refused.value.status.code == 422
        assert "Bad_Name" in refused.value.status.message
    posts = [r for r in fake_api.requests if r.method == "POST" and r.kind == "ConfigMap"]
    assert [r.status for r in posts] == [201, 409]


def test_a_rotated_token_file_is_read_again_through_httpx_after_a_401(
        fake_api: FakeApiServer, tmp_path: Path) -> None:
    """The kubelet rotates a pod's service-account token: the connection's cached bearer is
    refused once (401), and lightkube's auth flow reads the file again."""
    token = tmp_path / "token"
    token.write_text(fake_api.token)
    with ClusterSource(kubeconfig(tmp_path / "kc", fake_api.url, {"tokenFile": str(token)})) as src:
        api = Api(src)
        api.prepare()
        assert api.create(dict(CM)) is True
        fake_api.token = "rotated-token"
        token.write_text("rotated-token")
        second = {**CM, "metadata": {**CM["metadata"], "name": "raygate-port-20001"}}
        assert api.create(second) is True
    statuses = [r.status for r in fake_api.requests if r.method == "POST"]
    assert statuses == [201, 401, 401, 201]  # ours, httpx's with the old token, the new one
    assert fake_api.get("ConfigMap", "default", "raygate-port-20001") is not None


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A server that answers every POST 201 and, when told to, closes the connection after
    answering without saying so (what an API server's idle keep-alive timeout does)."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str | None]] = []
    close_after_answer = False
    #: Seconds to wait before answering (a slow server); None: never answer, hang up.
    delay: float | None = 0.0

    def do_GET(self) -> None:  # noqa: N802 - a watch: two events, then the end
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        type(self).agents.append((self.headers.get("User-Agent"), self.headers.get("Accept")))
        if not self._wait():
            return
        out = b"".join(json.dumps({"type": "ADDED", "object": {
            "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}}}).encode() + b"\n"
            for i in range(2))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def _wait(self) -> bool:
        import time
        delay = type(self).delay
        if delay is None:
            self.close_connection = True
            return False
        time.sleep(delay)
        return True

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        type(self).agents.append((self.headers.get("User-Agent"), self.headers.get("Accept")))
        type(self).peers.add(self.client_address)
        if not self._wait():
            return
        out = json.dumps({"kind": "ConfigMap", **json.loads(body)}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
        if type(self).close_after_answer:
            self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[http.server.ThreadingHTTPServer, type[_Recorder]]]:
    handler = type("Recorder", (_Recorder,), {"seen": [], "peers": set(), "agents": [],
                                              "close_after_answer": False, "delay": 0.0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, handler
    server.shutdown()
    server.server_close()


def _api(kc: str, timeout: float = 10) -> Api:
    src = ClusterSource(kc, timeout=timeout)
    api = Api(src)
    # Discovery is not what is tested here: the ConfigMap's collection URL is known.
    api._prefixes[("v1", "ConfigMap", "default")] = (
        str(src.client._client._client.base_url).rstrip("/")
        + "/api/v1/namespaces/default/configmaps")
    return api


def test_a_keep_alive_connection_the_server_closed_is_replaced_and_the_write_sent_once(
        recorder: Any, tmp_path: Path) -> None:
    server, handler = recorder
    handler.close_after_answer = True
    api = _api(kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{server.server_port}",
                          {"token": "t"}))
    for port in (20000, 20001, 20002):
        assert api.create({**CM, "metadata": {"name": f"raygate-port-{port}",
                                              "namespace": "default"}}) is True
    assert [p.rsplit("/", 1)[-1] for p, _ in handler.seen] == ["configmaps"] * 3
    assert {auth for _, auth in handler.seen} == {"Bearer t"}


def test_writers_on_new_threads_reuse_the_idle_connections(recorder: Any,
                                                             tmp_path: Path) -> None:
    """Each pass writes from threads of its own: the connections outlive them (with TLS, a
    handshake per thread per pass would cost more than the writes)."""
    server, handler = recorder
    api = _api(kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{server.server_port}",
                          {"token": "t"}))
    for port in (20000, 20001, 20002):
        writer = threading.Thread(target=api.create, args=(
            {**CM, "metadata": {"name": f"raygate-port-{port}", "namespace": "default"}},))
        writer.start()
        writer.join()
    assert len(handler.seen) == 3 and len(handler.peers) == 1


def test_writes_say_who_they_are_and_what_they_accept(recorder: Any, tmp_path: Path) -> None:
    """The User-Agent lightkube's client sends (the API server's audit log names it), and JSON
    asked for: a real API server answers 406 to a media type it does not serve."""
    server, handler = recorder
    api = _api(kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{server.server_port}",
                          {"token": "t"}))
    api.create(dict(CM))
    assert handler.agents == [(api._http().headers["user-agent"], "application/json")]
    with pytest.raises(ValueError, match="http://elsewhere:1/x is not on http://127.0.0.1"):
        api._transport().send("POST", "http://elsewhere:1/x", b"{}", "application/json")
    with pytest.raises(ValueError, match="http://elsewhere:1/w is not on http://127.0.0.1"):
        api._transport().stream("http://elsewhere:1/w", timeout=1)


def test_a_slow_server_fails_a_write_within_the_clients_timeout(recorder: Any,
                                                                tmp_path: Path) -> None:
    import time
    server, handler = recorder
    handler.delay = 3.0
    api = _api(kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{server.server_port}",
                          {"token": "t"}), timeout=0.5)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        api.create(dict(CM))
    assert time.monotonic() - started < 2.5


def test_a_server_that_hangs_up_unanswered_fails_the_write_it_never_saw_twice(
        recorder: Any, tmp_path: Path) -> None:
    """A new connection the server closes without answering is an error at once (only a
    reused one may have been closed while idle: that one is tried again, once)."""
    server, handler = recorder
    handler.delay = None
    api = _api(kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{server.server_port}",
                          {"token": "t"}))
    failures: list[BaseException] = []

    def write() -> None:
        try:
            api.create(dict(CM))
        except BaseException as e:  # noqa: BLE001 - what the write raised is the result
            failures.append(e)
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    writer.join(10)
    assert not writer.is_alive(), "the write retried for ever"
    assert len(failures) == 1 and isinstance(failures[0], ConnectionError)
    assert len(handler.seen) == 1


def test_a_watch_over_tls_and_one_that_hangs(recorder: Any, tmp_path: Path) -> None:
    """``Transport.stream`` (the operator's watches): over TLS with the kubeconfig's CA, and
    a server that never answers ends in the timeout given, not in a thread stuck for ever."""
    import time
    server, handler = recorder
    url, ca, _ = _serve_tls(server, tmp_path)
    transport = _api(kubeconfig(tmp_path / "kc", url, {"token": "t"},
                                {"certificate-authority": str(ca)}))._transport()
    stream = transport.stream(url + "/api/v1/configmaps?watch=true", timeout=5)
    try:
        body = b"".join(stream.chunks())
    finally:
        stream.close()
    assert stream.status_code == 200 and stream.headers["content-type"] == "application/json"
    assert [json.loads(line)["object"]["metadata"]["name"] for line in body.splitlines()] == \
        ["cm-0", "cm-1"]
    assert handler.seen == [("/api/v1/configmaps?watch=true", "Bearer t")]
    assert handler.agents == [(transport._user_agent, "application/json")]
    assert transport._user_agent.startswith("python-httpx")
    handler.delay = 3.0
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        transport.stream(url + "/api/v1/configmaps?watch=true", timeout=0.5)
    assert time.monotonic() - started < 2.5
    slow = _api(kubeconfig(tmp_path / "kc3", url, {"token": "t"},
                           {"certificate-authority": str(ca)}), timeout=0.5)
    with pytest.raises(TimeoutError):  # a write over TLS: the client's timeout too
        slow.create(dict(CM))
    assert time.monotonic() - started < 5


def test_a_watch_that_hangs_over_plain_http_ends_in_its_timeout(recorder: Any,
                                                                tmp_path: Path) -> None:
    import time
    server, handler = recorder
    handler.delay = 3.0
    url = f"http://127.0.0.1:{server.server_port}"
    transport = _api(kubeconfig(tmp_path / "kc", url, {"token": "t"}))._transport()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        transport.stream(url + "/api/v1/configmaps?watch=true", timeout=0.5)
    assert time.monotonic() - started < 2.5


def test_a_watch_refused_by_the_server_is_lightkubes_api_error(fake_api: FakeApiServer) -> None:
    from raygate.operator.loop import watch_stream
    from raygate.operator.transport import Transport
    fake_api.inject(410, verb="watch", kind="ConfigMap", reason="Expired",
                    message="too old resource version")
    with ClusterSource(fake_api.kubeconfig_path) as src:
        res = src.resource_for({"apiVersion": "v1", "kind": "ConfigMap"})
        with pytest.raises(ApiError) as gone:
            list(watch_stream(src, res, since="1", transport=Transport(
                src.client._client._client)))
    assert gone.value.status.code == 410 and gone.value.status.reason == "Expired"


def _certificates(d: Path) -> tuple[Path, Path, Path, Path]:
    """A CA, a server certificate for 127.0.0.1 signed by it, and a second unrelated CA."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    for ca in ("ca", "other-ca"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={ca}",
            "-keyout", str(d / f"{ca}.key"), "-out", str(d / f"{ca}.crt"))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.crt"),
        "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "1",
        "-extfile", str(d / "ext"), "-out", str(d / "server.crt"))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=raygate-operator",
        "-keyout", str(d / "client.key"), "-out", str(d / "client.csr"))
    run("x509", "-req", "-in", str(d / "client.csr"), "-CA", str(d / "ca.crt"),
        "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "1", "-out", str(d / "client.crt"))
    return d / "ca.crt", d / "other-ca.crt", d / "server.crt", d / "server.key"


def _serve_tls(server: http.server.ThreadingHTTPServer, d: Path, *,
               client_certificates: bool = False) -> tuple[str, Path, Path]:
    """The recorder over TLS with a certificate of ``_certificates``' CA (asking clients for
    theirs too when ``client_certificates``): its URL, that CA and an unrelated one."""
    ca, other_ca, cert, key = _certificates(d)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if client_certificates:
        context.load_verify_locations(ca)
        context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return f"https://127.0.0.1:{server.server_port}", ca, other_ca


def test_tls_is_verified_against_the_kubeconfigs_certificate_authority(
        recorder: Any, tmp_path: Path) -> None:
    server, handler = recorder
    url, ca, other_ca = _serve_tls(server, tmp_path)
    trusted = _api(kubeconfig(tmp_path / "kc", url, {"token": "t"},
                              {"certificate-authority": str(ca)}))
    assert trusted._transport().usable
    assert trusted.create(dict(CM)) is True
    assert handler.seen == [("/api/v1/namespaces/default/configmaps", "Bearer t")]
    stranger = _api(kubeconfig(tmp_path / "kc2", url, {"token": "t"},
                               {"certificate-authority": str(other_ca)}))
    with pytest.raises(ssl.SSLCertVerificationError):
        stranger.create(dict(CM))
    assert len(handler.seen) == 1


def test_a_client_certificate_from_the_kubeconfig_is_presented(recorder: Any,
                                                               tmp_path: Path) -> None:
    """kind's and kubeadm's kubeconfigs authenticate with a client certificate, no token."""
    server, handler = recorder
    url, ca, _ = _serve_tls(server, tmp_path, client_certificates=True)
    api = _api(kubeconfig(tmp_path / "kc", url,
                          {"client-certificate": str(tmp_path / "client.crt"),
                           "client-key": str(tmp_path / "client.key")},
                          {"certificate-authority": str(ca)}))
    assert api._transport().usable
    assert api.create(dict(CM)) is True
    assert handler.seen == [("/api/v1/namespaces/default/configmaps", None)]


@pytest.mark.parametrize("what", ["proxy", "transport", "response hook", "unknown CA"])
def test_what_only_httpx_can_do_is_left_to_httpx(what: str) -> None:
    """A proxy or another transport is mounted in httpx (our connections would bypass it); a
    response hook wants httpx's responses; an https server without the TLS context found."""
    import httpx2
    from raygate.operator.transport import Transport
    base = "https://10.0.0.1:6443" if what == "unknown CA" else "http://10.0.0.1:6443"
    options: dict[str, Any] = {
        "proxy": {"proxy": "http://127.0.0.1:3128"},
        "transport": {"transport": httpx2.MockTransport(lambda r: httpx2.Response(201))},
        "response hook": {"event_hooks": {"response": [lambda r: None]}},
        "unknown CA": {},
    }[what]
    with httpx2.Client(base_url=base, **options) as client:
        if what == "unknown CA":
            client._transport._pool._ssl_context = None
        assert Transport(client).usable is False
    with httpx2.Client(base_url="http://10.0.0.1:6443",
                       event_hooks={"request": [lambda r: None]}) as plain:
        assert Transport(plain).usable is True


def test_what_the_transport_takes_from_the_client() -> None:
    """A server URL without a port is on 443 (https) or 80 (http), as httpx reads it; the
    connections' timeout is the client's longest, none when the client has none."""
    import httpx2
    from raygate.operator.transport import Transport
    with httpx2.Client(base_url="https://api.example.com", timeout=httpx2.Timeout(
            5, connect=2, read=7)) as tls, \
            httpx2.Client(base_url="http://api.example.com", timeout=None) as plain:
        secure, clear = Transport(tls), Transport(plain)
    assert (secure._port, secure._timeout, secure._ssl is not None) == (443, 7, True)
    assert (clear._port, clear._timeout, clear._ssl) == (80, None, None)
    assert secure.origin == "https://api.example.com"


def test_request_hooks_see_every_write(fake_api: FakeApiServer) -> None:
    """``ClusterSource`` counts every request it makes (a request hook): writes included."""
    with ClusterSource(fake_api.kubeconfig_path) as src:
        api = Api(src)
        api.prepare()
        seen: list[tuple[str, str]] = []
        http = api._http()
        http.event_hooks = {**http.event_hooks, "request": [
            *http.event_hooks["request"], lambda r: seen.append((r.method, r.url.path))]}
        before = src.request_count
        api.create(dict(CM))
        api.merge_patch("v1", "ConfigMap", "default", CM["metadata"]["name"], {"data": {"a": "c"}})
        assert src.request_count - before == 2
        assert seen == [("POST", "/api/v1/namespaces/default/configmaps"),
                        ("PATCH", "/api/v1/namespaces/default/configmaps/raygate-port-20000")]


def test_a_watch_refused_401_on_the_operators_connection_is_made_again_through_httpx(
        fake_api: FakeApiServer, tmp_path: Path) -> None:
    """Watches go over the operator's own connection too (``loop.watch_stream``); a rotated
    token refuses it once, and httpx's auth flow reads the token file again."""
    from raygate.operator.loop import watch_stream
    from raygate.operator.transport import Transport
    token = tmp_path / "token"
    token.write_text(fake_api.token)
    fake_api.add(dict(CM))
    with ClusterSource(kubeconfig(tmp_path / "kc", fake_api.url, {"tokenFile": str(token)})) as src:
        res = src.resource_for({"apiVersion": "v1", "kind": "ConfigMap"})
        transport = Transport(src.client._client._client)
        first = list(watch_stream(src, res, namespace="default", transport=transport,
                                  timeout_seconds=1))
        fake_api.token = "rotated-token"
        token.write_text("rotated-token")
        again = list(watch_stream(src, res, namespace="default", transport=transport,
                                  timeout_seconds=1))
    assert [(e, o["metadata"]["name"]) for e, o in first] == [("ADDED", "raygate-port-20000")]
    assert [(e, o["metadata"]["name"]) for e, o in again] == [("ADDED", "raygate-port-20000")]
    # (A refused request is answered before the fake knows its verb: the query says watch.)
    watches = [r.status for r in fake_api.requests if r.query.get("watch") == "true"]
    assert watches == [200, 401, 401, 200]  # ours, ours refused, httpx's refused, re-read
