"""The lab's nginx.conf renderer mirrors ingress-nginx (facts: ingress_nginx.md §3-§5).

Text-level tests pin the controller's rendering rules; the last tests run the config in a
real nginx against a small echo backend, so the rules are checked by behaviour too."""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from raygate.lab import gateway as gw
from raygate.render.nginx_conf import DEFAULT_STREAM_MODULE, render_nginx_conf

A = "nginx.ingress.kubernetes.io/"


def ingress(name: str, paths: list[tuple[str, str]], annotations: dict[str, str] | None = None,
            host: str | None = None, ns: str = "ray", svc: str = "head", port: int = 8265) -> dict[str, Any]:
    rule: dict[str, Any] = {"http": {"paths": [
        {"path": p, "pathType": t, "backend": {"service": {"name": svc, "port": {"number": port}}}}
        for p, t in paths]}}
    if host:
        rule["host"] = host
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
            "spec": {"ingressClassName": "nginx", "rules": [rule]}}


def tcp_map(data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "tcp-services", "namespace": "ingress-nginx"}, "data": data}


def controller_cm(data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
            "data": data}


UP = {"ray/head:8265": "127.0.0.1:9001", "ray/head:10001": "127.0.0.1:9002",
      "ray/head:8000": "127.0.0.1:9003"}


def render(objs: list[dict[str, Any]], **kw: Any) -> Any:
    kw.setdefault("upstreams", UP)
    return render_nginx_conf(objs, http_port=18080, prefix="/tmp/x", **kw)


def locations(text: str) -> list[str]:
    return [line.strip().rstrip(" {") for line in text.splitlines() if line.strip().startswith("location")]


def test_rewrite_enforces_regex_on_every_path_of_the_host() -> None:
    conf = render([ingress("dash", [("/ray/(.*)", "ImplementationSpecific")], {A + "rewrite-target": "/$1"}),
                   ingress("other", [("/plain", "Prefix")], port=8000)])
    # The plain Prefix path of *another* Ingress on the same host becomes a regex too. It was
    # normalised first (updateServerLocations runs whatever the server's regex enforcement, in
    # getConfiguration, controller-v1.15.1 location.go): "/plain/" then the exact "/plain".
    assert locations(conf.text) == ['location ~* "^/ray/(.*)"', 'location ~* "^/plain/"',
                                    'location ~* "^/plain"', 'location ~* "^/"']
    assert 'rewrite "(?i)/ray/(.*)" /$1 break;' in conf.text
    assert conf.text.count("rewrite ") == 1  # only the Ingress with the annotation rewrites


def test_hosts_are_separate_servers_and_regex_is_per_host() -> None:
    conf = render([ingress("a", [("/ray/(.*)", "ImplementationSpecific")], {A + "rewrite-target": "/$1"},
                           host="a.example"),
                   ingress("b", [("/ray", "Prefix")], host="b.example")])
    a, b = conf.text.split("server_name a.example;")[1], conf.text.split("server_name b.example;")[1]
    assert 'location ~* "^/ray/(.*)"' in a.split("server_name")[0]
    # b.example has no rewrite: Prefix normalisation, "<path>/" plus an exact "= <path>".
    assert 'location "/ray/"' in b and 'location = "/ray"' in b
    assert "server_name _;" in conf.text and "default_server" in conf.text


def test_longest_path_first_makes_the_exact_redirect_reachable() -> None:
    conf = render([ingress("dash", [("/ray/(.*)", "ImplementationSpecific")],
                           {A + "rewrite-target": "/$1", A + "use-regex": "true"}),
                   ingress("redirect", [("/ray$", "ImplementationSpecific")],
                           {A + "permanent-redirect": "/ray/", A + "use-regex": "true"})])
    assert locations(conf.text)[:2] == ['location ~* "^/ray/(.*)"', 'location ~* "^/ray$"']
    assert 'return 301 "/ray/";' in conf.text


def test_body_size_annotation_beats_configmap_beats_default() -> None:
    objs = [ingress("a", [("/a", "Prefix")], {A + "proxy-body-size": "100m"}),
            ingress("b", [("/b", "Prefix")]), ingress("c", [("/c", "Prefix")], {A + "proxy-body-size": "1Mi"})]
    text = render(objs).text
    assert text.count("client_max_body_size 100m;") == 2  # "/a/" and "= /a"
    assert text.count("client_max_body_size 1m;") >= 4   # default, and "1Mi" fails the validator
    assert render([*objs, controller_cm({"proxy-body-size": "8m"})]).text.count("client_max_body_size 8m;") >= 4


def test_timeouts_websocket_headers_and_connection_override() -> None:
    text = render([ingress("a", [("/a", "Exact")], {A + "proxy-read-timeout": "3600",
                                                     A + "proxy-send-timeout": "3600s"})]).text
    assert "proxy_read_timeout 3600s;" in text
    assert "proxy_send_timeout 60s;" in text  # "3600s" is not unit-less: silently the default
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    closed = render([ingress("a", [("/a", "Exact")], {A + "connection-proxy-header": "close"})]).text
    assert "proxy_set_header Connection close;" in closed
    bogus = render([ingress("a", [("/a", "Exact")], {A + "connection-proxy-header": "x; evil"})]).text
    assert "evil" not in bogus


def test_allowlist_renders_allow_and_deny() -> None:
    text = render([ingress("a", [("/a", "Exact")], {A + "whitelist-source-range": "10.0.0.0/8, 192.168.1.7,junk"})]).text
    assert "allow 10.0.0.0/8;" in text and "allow 192.168.1.7/32;" in text and "deny all;" in text
    assert "junk" not in text


def test_stream_servers_drop_entries_like_the_controller() -> None:
    conf = render([tcp_map({"10001": "ray/head:10001", "6379": "ray/gone:6379",
                            "80": "ray/head:10001", "abc": "ray/head:1", "9000": "nonsense"}),
                   controller_cm({"proxy-stream-timeout": "3600s"})], tcp_ports={10001: 19001})
    assert conf.stream_ports == {10001: 19001}
    assert "listen 127.0.0.1:19001;" in conf.text and "proxy_timeout 3600s;" in conf.text
    assert "upstream tcp-ray-head-10001" in conf.text
    assert 'Service "ray/gone" does not have any active Endpoint for TCP port 6379' in conf.log
    assert ("Port 80 cannot be used for TCP stream services. It is reserved for the Ingress "
            "controller.") in conf.log
    assert '"abc" is not a valid TCP port number' in conf.log
    assert 'Invalid Service reference "nonsense" for TCP port 9000' in conf.log


def test_controller_reads_only_the_configmap_its_flag_names() -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
                  "spec": {"template": {"spec": {"containers": [
                      {"name": "controller", "args": ["/nginx-ingress-controller"]}]}}}}
    assert render([deployment, tcp_map({"10001": "ray/head:10001"})]).stream_ports == {}


def test_missing_backend_answers_503_and_logs() -> None:
    conf = render([ingress("a", [("/a", "Exact")], svc="nope")])
    assert 'Service "ray/nope" does not have any active Endpoint.' in conf.log
    assert "return 503;" in conf.text


def test_paths_are_quoted_so_they_cannot_inject_config() -> None:
    text = render([ingress("a", [('/x"; return 200 "pwned', "ImplementationSpecific")])]).text
    assert 'location "/x\\"; return 200 \\"pwned/"' in text


# ------------------------------------------------------------------ real nginx behaviour

needs_nginx = pytest.mark.skipif(not (shutil.which("nginx") and Path(DEFAULT_STREAM_MODULE).exists()),
                                 reason="nginx with the stream module is not installed")


class Echo(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self) -> None:
        body = f"{self.command} {self.path} conn={self.headers.get('Connection')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _reply

    def do_PUT(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._reply()


@pytest.fixture
def echo() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@needs_nginx
@pytest.mark.parametrize("fault", [None, "body-size-1m", "missing-slash-redirect", "no-websocket"])
def test_lab_objects_behave_in_real_nginx(fault: str | None, echo: int, tmp_path: Path) -> None:
    from raygate.lab import nginx as nginx_proc
    from raygate.lab.control import worker_user
    from raygate.lab.ports import pick_port

    spec = gw.LabSpec()
    objects = gw.lab_objects(spec, fault)
    upstreams = gw.upstream_map(objects, spec, {"dashboard": echo, "serve": echo, "client": echo,
                                                "gcs": echo, "agent": echo})
    port = pick_port(set())
    conf = render_nginx_conf(objects, upstreams, http_port=port, tcp_ports={10001: pick_port({port})},
                             prefix=str(tmp_path), user=worker_user())
    pid = nginx_proc.start_nginx(tmp_path, conf.text, [port])
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=5) as c:
            assert c.get(base + "/ray/api/jobs/").text.startswith("GET /api/jobs/ ")
            assert c.get(base + "/RAY/static/x.js").text.startswith("GET /static/x.js ")  # (?i)
            assert c.get(base + "/rayfoo").status_code == 404
            assert c.get(base + "/serve/hello").text.startswith("GET /hello ")
            redirect = c.get(base + "/ray")
            big = c.put(base + "/ray/api/packages/gcs/p.zip", content=b"x" * 1_100_000)
            upgrade = c.get(base + "/ray/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade"})
        if fault == "missing-slash-redirect":
            assert redirect.status_code == 404
        else:
            assert redirect.status_code == 301 and redirect.headers["location"] == "/ray/"
        assert big.status_code == (413 if fault == "body-size-1m" else 200)
        assert upgrade.text.endswith("conn=close" if fault == "no-websocket" else "conn=upgrade")
    finally:
        nginx_proc.stop_nginx(pid)
