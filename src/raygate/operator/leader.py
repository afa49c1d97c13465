"""One active reconciler: leader election on a ``coordination.k8s.io/v1`` Lease.

The protocol is client-go's (``tools/leaderelection``), which controller-runtime uses:

* the Lease records ``holderIdentity``, ``leaseDurationSeconds``, ``acquireTime``,
  ``renewTime`` and ``leaseTransitions``;
* every write carries the ``resourceVersion`` that was read, so of two candidates writing at
  once the API server accepts one and answers 409 Conflict to the other: never two leaders;
* a candidate judges expiry by *its own clock*: it takes the lease only when the record has not
  changed for ``leaseDurationSeconds`` since it first observed it (``observedTime``), never by
  comparing ``renewTime`` with its clock (clocks of two nodes disagree);
* the leader renews every ``retryPeriod`` and gives up leading when it could not renew within
  ``renewDeadline`` (< leaseDuration), so it stops writing before anyone else may take over.

Why not kopf's peering: it keeps a ``KopfPeering`` object where operators of equal priority
freeze each other, and has no Lease (docs/operator.md).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Callable

LEASE_API = "coordination.k8s.io/v1"


def _now_micro() -> str:
    # MicroTime: RFC 3339 with microseconds, as the API server stores it.
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Observed:
    record: tuple[Any, ...]
    at: float


class LeaseElector:
    """Try to acquire or renew a Lease; ``is_leader`` says whether this replica may write.

    ``api`` is a small adapter (``get(ns, name) -> dict | None``, ``create(obj) -> dict``,
    ``replace(obj) -> dict``, raising ``LeaseConflict`` on 409/AlreadyExists): the reconciler
    passes one over lightkube, tests may pass the same over the fake API server.
    """

    def __init__(self, api: Any, namespace: str, name: str, identity: str, *,
                 lease_duration: float = 15, renew_deadline: float = 10,
                 retry_period: float = 2, clock: Callable[[], float] = time.monotonic) -> None:
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError("need retry_period < renew_deadline < lease_duration")
        self.api = api
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_duration, self.renew_deadline = lease_duration, renew_deadline
        self.retry_period = retry_period
        self.clock = clock
        self._observed: _Observed | None = None
        self._last_renew: float | None = None
        self.transitions = 0

    @property
    def is_leader(self) -> bool:
        """Leading, and renewed recently enough that no one else can have taken over."""
        return (self._last_renew is not None
                and self.clock() - self._last_renew < self.renew_deadline)

    def try_acquire_or_renew(self) -> bool:
        now = self.clock()
        try:
            lease = self.api.get(self.namespace, self.name)
        except LeaseConflict:
            return self._lost()
        if lease is None:
            try:
                self.api.create(self._record(None))
            except LeaseConflict:
                return self._lost()
            self._became_leader(now, fresh=True)
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        record = (holder, spec.get("renewTime"), spec.get("leaseTransitions"),
                  (lease.get("metadata") or {}).get("resourceVersion"))
        if self._observed is None or self._observed.record != record:
            self._observed = _Observed(record, now)
        duration = spec.get("leaseDurationSeconds") or self.lease_duration
        held_by_other = holder not in (None, "", self.identity)
        if held_by_other and now - self._observed.at < float(duration):
            return self._lost()
        body = self._record(lease)
        try:
            self.api.replace(body)
        except LeaseConflict:
            return self._lost()
        self._became_leader(now, fresh=holder != self.identity)
        return True

    def release(self) -> None:
        """Give the lease up on shutdown, so a standby takes over at once (as client-go's
        ``ReleaseOnCancel``): clear the holder, keep the record."""
        if not self.is_leader:
            return
        try:
            lease = self.api.get(self.namespace, self.name)
            if lease is not None and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                body = self._record(lease)
                body["spec"]["holderIdentity"] = None
                body["spec"]["leaseDurationSeconds"] = 1
                self.api.replace(body)
        except LeaseConflict:
            pass
        self._last_renew = None

    def _lost(self) -> bool:
        if self._last_renew is not None and not self.is_leader:
            self._last_renew = None
        return False

    def _became_leader(self, now: float, *, fresh: bool) -> None:
        self._last_renew = now
        if fresh:
            self.transitions += 1

    def _record(self, live: dict[str, Any] | None) -> dict[str, Any]:
        spec = dict((live or {}).get("spec") or {})
        stamp = _now_micro()
        taking_over = spec.get("holderIdentity") != self.identity
        if taking_over:
            spec["acquireTime"] = stamp
            if live is not None:
                spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.setdefault("leaseTransitions", 0)
        spec["holderIdentity"] = self.identity
        spec["leaseDurationSeconds"] = int(self.lease_duration)
        spec["renewTime"] = stamp
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if live is not None:
            meta["resourceVersion"] = (live.get("metadata") or {}).get("resourceVersion")
        return {"apiVersion": LEASE_API, "kind": "Lease", "metadata": meta, "spec": spec}


class LeaseConflict(Exception):
    """Someone else wrote the Lease first (409), or it already exists."""


class LightkubeLeaseApi:
    """The Lease adapter over a lightkube client (GET, POST, PUT with resourceVersion)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _res(self) -> Any:
        from lightkube.resources.coordination_v1 import Lease
        return Lease

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        from lightkube.core.exceptions import ApiError
        try:
            return _plain(self.client.get(self._res(), name, namespace=namespace))
        except ApiError as e:
            if e.status.code == 404:
                return None
            raise

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        from lightkube.core.exceptions import ApiError
        try:
            return _plain(self.client.create(self._res().from_dict(obj)))
        except ApiError as e:
            if e.status.code == 409:
                raise LeaseConflict(str(e.status.message)) from None
            raise

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        from lightkube.core.exceptions import ApiError
        try:
            return _plain(self.client.replace(self._res().from_dict(obj)))
        except ApiError as e:
            if e.status.code == 409:
                raise LeaseConflict(str(e.status.message)) from None
            raise


def _plain(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
