"""Port allocations as objects the API server holds, and the pure decisions about them.

Why an object per port, named after the port (``raygate-port-30001``): the API server refuses a
second object of the same name (409 AlreadyExists), so "this port is mine" is decided by the
server, atomically, whatever the number of operator replicas or restarts. This is how Kubernetes
allocates Service IPs since 1.27 (one ``IPAddress`` object per address, named after it). The
record is an immutable ConfigMap: an allocation never changes while the cluster lives; it is
released by deleting it. At start the operator rebuilds its view by listing these records, so
nothing lives only in memory.

The record names the cluster by namespace, name *and uid*: a cluster deleted and re-created with
the same name is a new cluster, and the old allocation is a leak to free, not a port to reuse
blindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

ALLOCATION_LABEL = "raygate.io/port-allocation"
CLUSTER_NS_LABEL = "raygate.io/cluster-namespace"
CLUSTER_NAME_LABEL = "raygate.io/cluster-name"
NAME_PREFIX = "raygate-port-"
MANAGED_BY = "app.kubernetes.io/managed-by"
OPERATOR = "raygate-operator"


@dataclass(frozen=True, order=True)
class Allocation:
    port: int
    #: ``namespace/name`` of the Ray cluster (RayCluster, RayService or RayJob).
    cluster: str
    uid: str
    kind: str
    #: What the port carries: ``client`` (Ray Client) or ``tcp-<head port>`` (extra ports).
    purpose: str

    @property
    def name(self) -> str:
        return object_name(self.port)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.cluster, self.uid, self.purpose)


def object_name(port: int) -> str:
    return f"{NAME_PREFIX}{port}"


def to_object(a: Allocation, namespace: str) -> dict[str, Any]:
    ns, _, name = a.cluster.partition("/")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": a.name,
            "namespace": namespace,
            "labels": {ALLOCATION_LABEL: "true", MANAGED_BY: OPERATOR,
                       CLUSTER_NS_LABEL: ns, CLUSTER_NAME_LABEL: name},
        },
        "immutable": True,
        "data": {"port": str(a.port), "cluster": a.cluster, "uid": a.uid, "kind": a.kind,
                 "purpose": a.purpose},
    }


def from_object(obj: Mapping[str, Any]) -> Allocation | None:
    """The allocation a record holds, or None for something that is not a valid record."""
    meta = obj.get("metadata") or {}
    data = obj.get("data") or {}
    name = str(meta.get("name") or "")
    if not name.startswith(NAME_PREFIX) or not isinstance(data, Mapping):
        return None
    try:
        port = int(str(data.get("port")))
    except ValueError:
        return None
    if object_name(port) != name:
        return None  # a record whose name and content disagree is not trusted
    cluster, uid = str(data.get("cluster") or ""), str(data.get("uid") or "")
    if "/" not in cluster or not uid:
        return None
    return Allocation(port, cluster, uid, str(data.get("kind") or "RayCluster"),
                      str(data.get("purpose") or "client"))


def free_ports(taken: Iterable[int], candidates: Iterable[int]) -> Iterable[int]:
    """Candidate ports not taken, lowest first (a lazy iterator: the range may be large)."""
    used = set(taken)
    return (p for p in candidates if p not in used)


@dataclass(frozen=True)
class Repair:
    """What a repair pass found: allocations to release, each with the reason."""

    release: tuple[tuple[Allocation, str], ...]

    @property
    def leaks(self) -> list[Allocation]:
        return [a for a, why in self.release if why.startswith("leak")]

    @property
    def duplicates(self) -> list[Allocation]:
        return [a for a, why in self.release if why.startswith("duplicate")]


def repair(allocations: Iterable[Allocation], live: Mapping[str, str],
           wanted: Mapping[str, set[str]] | None = None) -> Repair:
    """Allocations to free: leaks (the cluster is gone, or re-created with another uid, or no
    longer asks for that purpose) and duplicates (one cluster holding two ports for one
    purpose: the lowest port is kept, so a repair never moves a port that users were told
    about first).

    ``live``: ``namespace/name`` -> uid of every exposed cluster; ``wanted``: ``namespace/name``
    -> purposes it currently asks for (None: do not judge purposes).
    """
    release: list[tuple[Allocation, str]] = []
    seen: dict[tuple[str, str, str], Allocation] = {}
    for a in sorted(allocations):
        uid = live.get(a.cluster)
        if uid is None:
            release.append((a, f"leak: {a.cluster} is gone or no longer exposed"))
            continue
        if uid != a.uid:
            release.append((a, f"leak: {a.cluster} was re-created (uid {a.uid} -> {uid})"))
            continue
        if wanted is not None and a.purpose not in wanted.get(a.cluster, set()):
            release.append((a, f"leak: {a.cluster} no longer exposes {a.purpose}"))
            continue
        first = seen.get(a.key)
        if first is not None:
            release.append((a, f"duplicate: {a.cluster} {a.purpose} already holds port "
                               f"{first.port}"))
            continue
        seen[a.key] = a
    return Repair(tuple(release))
