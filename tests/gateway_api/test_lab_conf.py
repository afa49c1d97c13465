"""The Gateway API data plane in real nginx, as NGINX Gateway Fabric builds it: the lab's
objects rendered for Gateway API, and the lab's ingress-nginx objects after ``raygate migrate``,
answer the same requests the ingress-nginx lab answers (redirect, prefix strip, 404 outside the
prefix, 100 MiB uploads, WebSocket upgrade headers, raw TCP)."""

from __future__ import annotations

import copy
import shutil
import socket
import socketserver
import threading
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from raygate import spec as spec_mod
from raygate.lab import gateway as gw
from raygate.migrate import Options, migrate
from raygate.objects import ObjectSet
from raygate.render import render
from raygate.render.nginx_conf import DEFAULT_STREAM_MODULE
from raygate.render.nginx_conf_gateway_api import render_gateway_api_conf
from tests.render.support import as_objects
from tests.render.test_nginx_conf import echo  # noqa: F401 (fixture)

needs_nginx = pytest.mark.skipif(not (shutil.which("nginx") and Path(DEFAULT_STREAM_MODULE).exists()),
                                 reason="nginx with the stream module is not installed")


def gateway_api_objects() -> list[dict]:
    spec = gw.LabSpec()
    data = spec.as_dict()
    data.update({"backend": "gateway-api", "rayCluster": {**data["rayCluster"], "authMode": "token"},
                 "gatewayApi": {"gatewayClassName": "nginx",
                                "implementation": "nginx-gateway-fabric"}})
    data["placement"] = {"mode": "metallb", "metallb": {"ip": "192.168.1.240"}}
    return render(spec_mod.from_dict(data)) + gw.cluster_objects(spec, auth=True)


def migrated_objects() -> list[dict]:
    spec = gw.LabSpec()
    objects = ObjectSet(as_objects(gw.lab_objects(spec)))
    result = migrate(objects, Options(implementation="nginx-gateway-fabric", gateway_class="nginx"))
    assert not result.errors, [e.why for e in result.errors]
    # The lab's controller keeps stream connections for 3600s, NGF's stream servers cut them
    # after nginx's 10m; the lab's tcp-services carry only the Ray Client, whose 30 s keepalive
    # never lets a live session go silent that long.
    [stream] = [i for i in result.items if i.subject == "proxy-stream-timeout 3600s"]
    assert (stream.status, stream.severity) == ("approximated", "info"), stream.why
    return result.objects + gw.cluster_objects(spec, auth=True)


class TcpEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b"tcp:" + self.request.recv(64))


@pytest.fixture
def tcp_echo() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), TcpEcho)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_conf_follows_gateway_api_matching() -> None:
    objects = gateway_api_objects()
    upstreams = gw.upstream_map(objects, gw.LabSpec(), {"dashboard": 1, "serve": 2, "client": 3})
    conf = render_gateway_api_conf(objects, upstreams, http_port=8080, tcp_ports={10001: 9001},
                                   prefix="/tmp/x")
    text = conf.text
    assert "location = /ray {\n            return 301 /ray/;" in text
    assert "location /ray/ {\n            rewrite ^/ray/?(.*)$ /$1 break;" in text
    assert "client_max_body_size 100m;" in text and "proxy_read_timeout 3600s;" in text
    assert "listen 127.0.0.1:9001;" in text and "proxy_pass 127.0.0.1:3;" in text
    assert "location / {\n            return 404;" in text


def _behaviour(objects: list[dict], http: int, tcp: int, tmp_path: Path, echo_port: int,
               tcp_port: int) -> dict:
    from raygate.lab import nginx as nginx_proc
    from raygate.lab.control import worker_user
    upstreams = gw.upstream_map(objects, gw.LabSpec(), {"dashboard": echo_port, "serve": echo_port,
                                                        "client": tcp_port})
    conf = render_gateway_api_conf(objects, upstreams, http_port=http, tcp_ports={10001: tcp},
                                   prefix=str(tmp_path), user=worker_user())
    assert not [l for l in conf.log if "no endpoint" in l], conf.log
    pid = nginx_proc.start_nginx(tmp_path, conf.text, [http, tcp])
    try:
        base = f"http://127.0.0.1:{http}"
        with httpx.Client(timeout=5) as c:
            redirect = c.get(base + "/ray")
            out = {
                "jobs": c.get(base + "/ray/api/jobs/").text.split(" conn")[0],
                "root": c.get(base + "/ray/").text.split(" conn")[0],
                "case": c.get(base + "/RAY/static/x.js").status_code,
                "outside": c.get(base + "/rayfoo").status_code,
                "serve": c.get(base + "/serve/hello").text.split(" conn")[0],
                "redirect": (redirect.status_code, redirect.headers.get("location")),
                "upload": c.put(base + "/ray/api/packages/gcs/p.zip",
                                content=b"x" * 5_000_000).status_code,
                "upgrade": c.get(base + "/ray/ws", headers={
                    "Upgrade": "websocket", "Connection": "Upgrade"}).text.rsplit("conn=", 1)[1],
            }
        with socket.create_connection(("127.0.0.1", tcp), timeout=5) as s:
            s.sendall(b"ping")
            out["tcp"] = s.recv(64)
        return out
    finally:
        nginx_proc.stop_nginx(pid)


@needs_nginx
@pytest.mark.parametrize("source", ["rendered", "migrated"])
def test_gateway_api_objects_behave_in_real_nginx(source: str, echo: int, tcp_echo: int,
                                                  tmp_path: Path) -> None:
    from raygate.lab.ports import pick_port
    objects = gateway_api_objects() if source == "rendered" else migrated_objects()
    http = pick_port(set())
    got = _behaviour(objects, http, pick_port({http}), tmp_path, echo, tcp_echo)
    assert got == {
        "jobs": "GET /api/jobs/", "root": "GET /", "case": 404, "outside": 404,
        "serve": "GET /hello", "redirect": (301, "/ray/"), "upload": 200,
        "upgrade": "upgrade", "tcp": b"tcp:ping",
    }


def test_lab_backend_is_recorded_and_faults_stay_ingress_nginx(tmp_path: Path) -> None:
    from raygate import lab
    from raygate.lab.control import LabState
    from raygate.lab.ray_head import LabError

    state = LabState(backend="gateway-api")
    assert LabState.from_json(state.to_json()).backend == "gateway-api"
    assert LabState.from_json('{"ray": null}').backend == "ingress-nginx"  # older state files
    with pytest.raises(LabError, match="faults mutate the ingress-nginx objects"):
        lab.up(tmp_path, "body-size-1m", "gateway-api")
    with pytest.raises(LabError, match="unknown backend"):
        lab.up(tmp_path, None, "traefik")
    assert not list(tmp_path.iterdir())  # refused before anything was written or started
