"""Which location serves /ray, /ray/, /ray/api/x and /rayfoo, under ingress-nginx's per-host
regex enforcement (every path becomes ``location ~* "^<path>"``, longest path first, first
match wins; ingress_nginx.md §4.1).

Checked twice: against the one location model in ``raygate.backends.ingress_nginx_locations``, and against a
real nginx whose server block is built from the rendered Ingresses the way ingress-nginx builds
it (``rewrite "(?i)<path>" <target> break; proxy_pass``, ``return 301`` for the redirect, a
catch-all for the default backend). The backend is a second nginx server that echoes the URI
it received, so the test sees what the Ray head would see.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from raygate.backends.ingress_nginx import PREFIX
from raygate.render import render
from raygate.backends.ingress_nginx_locations import first_regex_match as route
from raygate.backends.ingress_nginx_locations import rewrite_uri as rewrite
from raygate.spec import from_dict

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

SPEC = from_dict({"rayCluster": {"authMode": "token"}, "exposures": {"serve": {"path": "/serve"}}})

#: uri -> (what answers, what the backend sees or where the redirect points)
EXPECTED = {
    "/ray": ("redirect", "/ray/"),
    "/RAY": ("redirect", "/ray/"),
    "/ray/": ("dashboard", "/"),
    "/ray/api/jobs/": ("dashboard", "/api/jobs/"),
    "/ray/static/js/main.js": ("dashboard", "/static/js/main.js"),
    "/Ray/api/version": ("dashboard", "/api/version"),
    "/rayfoo": ("404", None),
    "/ray-other/": ("404", None),
    "/serve": ("serve", "/"),
    "/serve/app/predict": ("serve", "/app/predict"),
    "/servefoo": ("404", None),
    "/": ("404", None),
}


def _ingress_paths(objs: list[dict]) -> list[tuple[str, dict, str]]:
    """(path, annotations, role) of every rendered Ingress path."""
    out = []
    for o in objs:
        if o["kind"] != "Ingress":
            continue
        role = ("redirect" if o["metadata"]["name"].endswith("-redirect") else
                "serve" if o["metadata"]["name"].endswith("-serve") else "dashboard")
        for rule in o["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                out.append((p["path"], o["metadata"]["annotations"], role))
    return out


def _model(paths: list[tuple[str, dict, str]], uri: str) -> tuple[str, str | None]:
    chosen = route([p for p, _, _ in paths], uri)
    if chosen is None:
        return "404", None
    _, notes, role = next(x for x in paths if x[0] == chosen)
    if PREFIX + "permanent-redirect" in notes:
        return role, notes[PREFIX + "permanent-redirect"]
    return role, rewrite(chosen, notes[PREFIX + "rewrite-target"], uri)


@pytest.mark.parametrize("uri", sorted(EXPECTED))
def test_model_routes_the_rendered_paths(uri: str) -> None:
    assert _model(_ingress_paths(render(SPEC)), uri) == EXPECTED[uri]


def test_model_shows_why_the_guides_single_path_is_not_enough() -> None:
    """With the guide's `/ray(/|$)(.*)` beside a `/ray$` redirect, the longer regex is tried
    first and swallows `/ray`, rewriting it to `/`: the redirect can never answer."""
    paths = ["/ray(/|$)(.*)", "/ray$"]
    assert route(paths, "/ray") == "/ray(/|$)(.*)"
    assert rewrite("/ray(/|$)(.*)", "/$2", "/ray") == "/"
    # Ours: the Dashboard path needs the slash, so `/ray` reaches the redirect.
    assert route(["/ray/(.*)", "/ray$"], "/ray") == "/ray$"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _location(path: str, notes: dict, role: str, backend: int) -> str:
    quoted = path.replace("\\", "\\\\").replace('"', '\\"')
    body = []
    if PREFIX + "permanent-redirect" in notes:
        if notes.get(PREFIX + "relative-redirects") == "true":
            body.append("absolute_redirect off;")
        body.append(f"return 301 {notes[PREFIX + 'permanent-redirect']};")
    else:
        target = notes[PREFIX + "rewrite-target"]
        body.append(f'rewrite "(?i){quoted}" {target} break;')
        body.append(f"proxy_set_header X-Role {role};")
        body.append(f"proxy_pass http://127.0.0.1:{backend};")
    return f'location ~* "^{quoted}" {{ {" ".join(body)} }}'


def _nginx_conf(tmp: Path, front: int, backend: int, paths: list[tuple[str, dict, str]]) -> str:
    # ingress-nginx orders locations by descending path length; the default backend is the
    # catch-all "/" (itself a regex once enforcement is on).
    ordered = sorted(paths, key=lambda x: len(x[0]), reverse=True)
    locations = "\n    ".join(_location(p, n, r, backend) for p, n, r in ordered)
    return f"""
worker_processes 1;
error_log {tmp}/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{front};
    {locations}
    location ~* "^/" {{ return 404; }}
  }}
  server {{
    listen 127.0.0.1:{backend};
    location / {{ return 200 "$http_x_role $uri"; }}
  }}
}}
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory):
    if NGINX is None:
        pytest.skip("nginx is not installed")
    tmp = tmp_path_factory.mktemp("nginx")
    # Free ports are picked, then bound by nginx: another process (a second suite beside
    # this one) may take one in between, so a bind conflict picks new ports.
    for _attempt in range(5):
        front, backend = _free_port(), _free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(_nginx_conf(tmp, front, backend, _ingress_paths(render(SPEC))))
        proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        error = _wait_until_listening(proc, front)
        if error is None:
            break
        if "Address already in use" not in error:
            pytest.fail(f"nginx exited: {error}")
    else:
        pytest.fail("nginx could not bind free ports in 5 attempts")
    yield front
    proc.terminate()
    proc.wait(timeout=10)


def _wait_until_listening(proc: subprocess.Popen, port: int) -> str | None:
    """Wait until nginx accepts on ``port`` (None) or exits (its error). The deadline only
    guards against a hang; a loaded machine may take a while to start nginx."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return None
        except OSError:
            if proc.poll() is not None:
                return proc.stderr.read().decode() if proc.stderr else "no output"
            time.sleep(0.05)  # a readiness poll, not a wait for "long enough"
    proc.kill()
    pytest.fail("nginx did not listen within 120 s")


def _get(port: int, uri: str) -> tuple[str, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", uri)
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    if resp.status == 301:
        return "redirect", resp.getheader("Location")
    if resp.status == 404:
        return "404", None
    assert resp.status == 200, (uri, resp.status, body)
    role, _, seen = body.partition(" ")
    return role, seen


@pytest.mark.e2e
@pytest.mark.parametrize("uri", sorted(EXPECTED))
def test_real_nginx_agrees(gateway: int, uri: str) -> None:
    assert _get(gateway, uri) == EXPECTED[uri]
