"""pytest fixtures for the fake API server (registered for the whole suite in tests/conftest.py).

``fake_api`` is function-scoped: each test gets an empty server (own port, own kubeconfig),
so tests never see each other's objects or request counts. Starting one costs a few ms.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.fakeapi.server import FakeApiServer


@pytest.fixture
def fake_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeApiServer]:
    """A running fake kube-apiserver: ``.url``, ``.kubeconfig_path``, ``.add()``, ``.get()``,
    ``.requests``, ``.forbid(kind)``, ``.admission``, ``.set_logs()``, ``.disable_group()``."""
    server = FakeApiServer().start()
    server.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")
    try:
        yield server
    finally:
        server.stop()
