"""Fixtures shared by the operator's tests against the fake API server."""

from __future__ import annotations

from typing import Iterator

import pytest

from raygate.sources.cluster import ClusterSource
from tests.fakeapi.server import FakeApiServer


@pytest.fixture
def source(api_server: FakeApiServer) -> Iterator[ClusterSource]:
    """A cluster source on each test module's own ``api_server`` (its world of objects)."""
    with ClusterSource(api_server.kubeconfig_path) as s:
        yield s
