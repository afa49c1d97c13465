"""Real components for the end-to-end tests: one Ray head per session, nginx per test.

Skips (with the reason) when Ray, nginx, its stream module or Chromium are missing; the CI
test command installs them, so there these tests always run.
"""

from __future__ import annotations

import shutil
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from raygate.render.nginx_conf import DEFAULT_STREAM_MODULE


def missing_components() -> str | None:
    if find_spec("ray") is None:
        return "ray is not installed (pip install 'raygate[ray]')"
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        return "nginx is not installed (apt-get install -y nginx libnginx-mod-stream)"
    if not Path(DEFAULT_STREAM_MODULE).exists():
        return "the nginx stream module is missing (apt-get install -y libnginx-mod-stream)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = missing_components()
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """ONE token-auth Ray head (with the Serve app) for the whole session."""
    from raygate.lab.ray_head import start_ray_head, stop_ray_head

    head = start_ray_head(tmp_path_factory.mktemp("rayhead"), auth=True)
    try:
        yield head
    finally:
        stop_ray_head(head)


@pytest.fixture
def gateway(ray_head: Any, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start nginx for the lab objects with a fault; stopped after the test."""
    from raygate.lab import nginx as nginx_proc
    from raygate.lab.control import build_gateway

    started: list[int] = []

    def make(fault: str | None = None, head: Any = None, backend: str = "ingress-nginx") -> Any:
        built = build_gateway(head or ray_head, fault, tmp_path / "nginx", backend=backend)
        pid = nginx_proc.start_nginx(tmp_path / "nginx", built.conf.text,
                                     [built.http_port, *built.conf.stream_ports.values()])
        started.append(pid)
        built.pid = pid  # type: ignore[attr-defined]
        return built

    yield make
    for pid in started:
        nginx_proc.stop_nginx(pid)
