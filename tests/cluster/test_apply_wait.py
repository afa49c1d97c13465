"""``raygate apply``'s wait: the controller rollout and the backends' endpoints, read from the
fake API server through the real lightkube client, as ``raygate apply`` waits after writing.

The rollout checks follow ``kubectl rollout status`` (kubectl/pkg/polymorphichelpers/
rollout_status.go): the spec must be observed (``status.observedGeneration`` >=
``metadata.generation``), then every replica updated, then every one available. Status counts
of zero are omitted by the API server (``omitempty``), so a missing count is zero.
"""

from __future__ import annotations

from typing import Any

import pytest

from raygate import apply as apply_mod
from raygate.sources.cluster import ClusterSource
from tests.cluster import world
from tests.fakeapi.server import FakeApiServer


def _controller(kind: str, status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    obj = world.controller_deployment()
    obj["kind"] = kind
    obj["spec"].update(spec)
    if kind == "DaemonSet":
        obj["spec"].pop("replicas")
    obj["status"] = status
    return obj


def _rollout(server: FakeApiServer, kind: str = "Deployment") -> str | None:
    """The state of the one rollout target ``wait_targets`` makes for the controller."""
    target_obj = {"apiVersion": "apps/v1", "kind": kind,
                  "metadata": {"name": world.CTRL, "namespace": world.CTRL_NS}}
    [target] = apply_mod.wait_targets([target_obj])
    assert target.description == f"rollout of {kind} {world.CTRL_NS}/{world.CTRL}"
    with ClusterSource(server.kubeconfig_path) as source:
        return target.check(source)


@pytest.mark.parametrize("status, replicas, state", [
    # Generation 1, no observedGeneration yet: the controller has not seen the spec.
    ({}, 1, "the controller has not seen the new spec yet"),
    # Observed, but no pod updated: the zero count is omitted.
    ({"observedGeneration": 1}, 1, "0/1 pods updated"),
    ({"observedGeneration": 1, "updatedReplicas": 1}, 2, "1/2 pods updated"),
    ({"observedGeneration": 1, "updatedReplicas": 2}, 2, "0/2 pods available"),
    ({"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 1}, 2, "1/2 pods available"),
    ({"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 2}, 2, None),
    # More available than wanted (old pods still terminating) is still rolled out.
    ({"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 3}, 2, None),
])
def test_deployment_rollout_states(fake_api: FakeApiServer, status: dict[str, Any],
                                   replicas: int, state: str | None) -> None:
    fake_api.add(_controller("Deployment", status, replicas=replicas))
    assert _rollout(fake_api) == state


def test_a_changed_spec_is_waited_for_until_observed(fake_api: FakeApiServer) -> None:
    fake_api.add(_controller("Deployment", {"observedGeneration": 1, "updatedReplicas": 1,
                                            "availableReplicas": 1}))
    assert _rollout(fake_api) is None
    fake_api.patch("Deployment", world.CTRL_NS, world.CTRL, {"spec": {"minReadySeconds": 5}})
    assert fake_api.get("Deployment", world.CTRL_NS, world.CTRL)["metadata"]["generation"] == 2
    assert _rollout(fake_api) == "the controller has not seen the new spec yet"
    fake_api.patch("Deployment", world.CTRL_NS, world.CTRL, {"status": {"observedGeneration": 2}})
    assert _rollout(fake_api) is None


@pytest.mark.parametrize("status, state", [
    ({}, "the controller has not seen the new spec yet"),
    # No node selected yet: nothing to wait for (kubectl says rolled out too).
    ({"observedGeneration": 1}, None),
    ({"observedGeneration": 1, "desiredNumberScheduled": 2}, "0/2 pods updated"),
    ({"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 1,
      "numberAvailable": 2}, "1/2 pods updated"),
    ({"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2},
     "0/2 pods available"),
    ({"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2,
      "numberAvailable": 1}, "1/2 pods available"),
    ({"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2,
      "numberAvailable": 2}, None),
])
def test_daemonset_rollout_states(fake_api: FakeApiServer, status: dict[str, Any],
                                  state: str | None) -> None:
    fake_api.add(_controller("DaemonSet", status))
    assert _rollout(fake_api, "DaemonSet") == state


def test_a_missing_controller_is_not_found(fake_api: FakeApiServer) -> None:
    assert _rollout(fake_api) == "not found"
    assert _rollout(fake_api, "DaemonSet") == "not found"
