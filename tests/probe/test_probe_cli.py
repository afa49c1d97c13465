"""``raygate probe`` as a user runs it (a subprocess, as from a shell): exit codes, the table
and JSON, the token never printed, and failures named as refused / timed out / auth. Fast:
small local servers stand in for the gateway (the real one is in tests/e2e)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from rich.console import Console

from raygate.probe import ProbeOptions, Verdict, probe
from raygate.probe.model import CheckResult, ProbeReport
from raygate.probe.output import render_table
from raygate.probe.tcp import http2_preface
from tests.probe.test_probe_units import (TOKEN, FakeDashboard, closed_port,  # noqa: F401
                                          dashboard)


def raygate_probe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_TOKEN"}
    full_env["COLUMNS"] = "300"  # one line per cell, so words are not folded apart
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "raygate", "probe", *args], capture_output=True,
                          text=True, timeout=60, env=full_env)


def base_args(server: Any) -> list[str]:
    return [f"http://127.0.0.1:{server.server_address[1]}/ray/", "--gcs-port", str(closed_port()),
            "--agent-port", str(closed_port()), "--timeout", "3"]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts TCP connections and never answers: the 'timed out' case."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


class EchoingUpload(FakeDashboard):
    """A gateway whose error page quotes the request headers (some do), token included."""

    def do_PUT(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = f"bad request; got Authorization: {self.headers.get('Authorization')}".encode()
        self._send(400, body)


def test_healthy_gateway_exits_0_with_the_token_from_the_env(dashboard: Any) -> None:
    done = raygate_probe(*base_args(dashboard), "--format", "json", env={"RAY_AUTH_TOKEN": TOKEN})
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert {c["name"]: c["verdict"] for c in report["checks"]}["jobs-api"] == "pass"
    assert all(isinstance(c["seconds"], float) for c in report["checks"])


def test_blank_page_fails_the_table_with_exit_1(dashboard: Any, tmp_path: Path) -> None:
    dashboard.handler.mode = "broken-assets"
    (tmp_path / "token").write_text(TOKEN + "\n")
    done = raygate_probe(*base_args(dashboard), "--token-file", str(tmp_path / "token"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL" in done.stdout and "blank page" in done.stdout
    assert "dashboard-subpath-without-slash-redirect" in done.stdout  # the static rule, named
    assert "1 check(s) failed" in done.stdout
    assert "Traceback" not in done.stderr


def test_token_is_never_printed_even_when_a_server_echoes_it(dashboard: Any) -> None:
    handler = type("Handler", (EchoingUpload,), {"mode": "healthy"})
    dashboard.RequestHandlerClass = handler
    for fmt in ("json", "table"):
        done = raygate_probe(*base_args(dashboard), "--submit", "--format", fmt,
                             env={"RAY_AUTH_TOKEN": TOKEN})
        assert done.returncode == 1, done.stdout + done.stderr
        assert TOKEN not in done.stdout + done.stderr
        assert "Bearer ***" in done.stdout  # the echo is there, masked


@pytest.mark.parametrize("args, message", [
    (["gateway/ray"], "is not a gateway URL"),
    (["http://127.0.0.1:1/ray/", "--client", "nohost"], "must be HOST:PORT"),
    (["http://127.0.0.1:1/ray/", "--token-file", "/nonexistent/token"], "cannot read the token file"),
])
def test_bad_input_is_exit_2_with_one_clear_line(args: list[str], message: str) -> None:
    done = raygate_probe(*args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_refused_and_timed_out_are_told_apart(silent_port: int) -> None:
    refused = probe(ProbeOptions(f"http://127.0.0.1:{closed_port()}/ray/", gcs_port=closed_port(),
                                 agent_port=closed_port(), timeout=1))
    assert "connection refused" in (refused.result("dashboard").cause or "")
    hung = probe(ProbeOptions(f"http://127.0.0.1:{silent_port}/ray/", gcs_port=closed_port(),
                              agent_port=closed_port(), timeout=0.5))
    assert "no answer in time" in (hung.result("dashboard").cause or "")
    assert "no answer in time" in (hung.result("jobs-api").cause or "")


def test_ray_client_port_that_never_answers_is_a_timeout(silent_port: int) -> None:
    assert asyncio.run(http2_preface("127.0.0.1", silent_port, 0.5)) == "silent"
    result = probe(ProbeOptions(f"http://127.0.0.1:{closed_port()}/ray/",
                                client=f"127.0.0.1:{silent_port}", gcs_port=closed_port(),
                                agent_port=closed_port(), timeout=0.5)).result("ray-client")
    assert result is not None and result.verdict is Verdict.FAIL
    assert "timed out" in (result.cause or "")


def test_table_shows_server_text_verbatim_not_as_markup() -> None:
    report = ProbeReport("http://gw/ray/", [CheckResult(
        "ray-client", "Ray Client", Verdict.FAIL, 1.0,
        detail="(raylet) oops [repeated 2x across cluster]", cause="see [/ray] and [bold]x")], 1.0)
    console = Console(width=200, record=True, file=open(os.devnull, "w"))
    console.print(render_table(report))
    text = console.export_text()
    assert "[repeated 2x across cluster]" in text and "[/ray]" in text and "[bold]x" in text

