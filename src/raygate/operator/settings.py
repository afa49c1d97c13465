"""The operator's configuration: one frozen model, from a YAML file and/or flags."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from raygate.errors import SpecError
from raygate.spec import ControllerRef

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9_-]+)+$")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=_camel,
                              populate_by_name=True)


class PortRange(_Model):
    """External TCP ports handed out to clusters, inclusive at both ends."""

    first: int = 30001
    last: int = 30999

    @model_validator(mode="after")
    def _order(self) -> "PortRange":
        if not (1 <= self.first <= self.last <= 65535):
            raise ValueError(f"portRange {self.first}-{self.last} must be 1 <= first <= last "
                             "<= 65535")
        return self

    def __iter__(self) -> Any:  # type: ignore[override]
        return iter(range(self.first, self.last + 1))

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.first <= port <= self.last


class Routing(_Model):
    """How a cluster's HTTP routes are told apart on the gateway.

    ``path``: ``<host>/<prefix>/<namespace>/<name>/`` (one host for all). Ray's auth cookie is
    set with ``path=/``, so clusters with different tokens behind one host share one cookie and
    log each other out; ``host``: ``<name>.<namespace>.<domain>`` (one host per cluster) avoids it.
    """

    mode: Literal["path", "host"] = "path"
    #: The shared host for path-based routing (None: every host).
    host: Optional[str] = None
    prefix: str = "/ray"
    #: Parent domain for host-based routing.
    domain: Optional[str] = None

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not _PREFIX.match(v):
            raise ValueError(f"{v!r} must be a path like /ray (letters, digits, '-', '_')")
        return v

    @model_validator(mode="after")
    def _domain(self) -> "Routing":
        if self.mode == "host" and not self.domain:
            raise ValueError("routing.mode host needs routing.domain (clusters are served at "
                             "<name>.<namespace>.<domain>)")
        return self


class Placement(_Model):
    """Where the gateway runs. ``pinned-node``: the controller runs on the node carrying
    ``label`` (the guide); the operator watches that node and, with ``failoverLabel``, moves the
    label to a Ready candidate when it goes away. ``metallb``: MetalLB moves the address between
    healthy nodes itself; the operator tells users the address it assigned to the controller's
    Service (the shared Gateway's, on the Gateway API backend) and follows its changes
    (``placement.decide_load_balancer``); ``none``: not watched."""

    mode: Literal["none", "pinned-node", "metallb"] = "none"
    label: str = "ingress-ready=true"
    failover_label: Optional[str] = None

    @field_validator("label", "failover_label")
    @classmethod
    def _selector(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not re.match(r"^[A-Za-z0-9./_-]+(=[A-Za-z0-9._-]*)?$", v):
            raise ValueError(f"{v!r} must be a label selector key=value (or key)")
        return v


class Probe(_Model):
    """Probe each exposed cluster's path after a change and every ``intervalSeconds``."""

    enabled: bool = False
    interval_seconds: int = 300
    timeout_seconds: float = 10


class SharedGateway(_Model):
    """The Gateway the gateway-api backend attaches every cluster to. It belongs to whoever
    runs it and is never written: the operator only reads it. Each cluster's HTTPRoutes attach
    to its HTTP listener, and each cluster's TCP ports (Ray Client, extra ports, GCS) get
    listeners of their own through a ListenerSet per cluster, which the Gateway must admit
    (``spec.allowedListeners``)."""

    gateway_name: Optional[str] = None
    #: Default: the operator's namespace.
    gateway_namespace: Optional[str] = None
    #: The TCPRoute apiVersion; null: v1 when the API server serves it (Gateway API v1.6),
    #: else v1alpha2.
    tcp_route_api_version: Optional[Literal["v1alpha2", "v1"]] = None
    http_port: int = 80

    @field_validator("gateway_name", "gateway_namespace")
    @classmethod
    def _gw_names(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not _DNS1123_SUBDOMAIN.match(v):
            raise ValueError(f"{v!r} is not a valid object name (DNS-1123)")
        return v


class OperatorSettings(_Model):
    backend: Literal["ingress-nginx", "gateway-api"] = "ingress-nginx"
    #: Namespace holding the operator's own records (port allocations, the Lease).
    namespace: str = "raygate-system"
    #: Namespaces whose Ray clusters are watched; empty: all.
    watch_namespaces: tuple[str, ...] = ()
    port_range: PortRange = Field(default_factory=PortRange)
    routing: Routing = Field(default_factory=Routing)
    controller: ControllerRef = Field(default_factory=ControllerRef)
    placement: Placement = Field(default_factory=Placement)
    #: The shared Gateway (backend gateway-api).
    gateway_api: SharedGateway = Field(default_factory=SharedGateway)
    probe: Probe = Field(default_factory=Probe)
    #: The address users reach the gateway at (for the URLs written on each cluster).
    gateway_address: Optional[str] = None
    #: Expose clusters without token auth (off: they get an Event and a refusal annotation).
    allow_unauthenticated: bool = False
    #: Allow ``gcs`` in ``raygate.io/expose`` (off: GCS is the cluster's control plane).
    allow_gcs: bool = False
    #: Seconds between full passes (repair, garbage collection, probes).
    resync_seconds: int = 300
    lease_name: str = "raygate-operator"
    lease_duration_seconds: int = 15
    renew_deadline_seconds: int = 10
    retry_period_seconds: int = 2

    @field_validator("namespace", "lease_name")
    @classmethod
    def _names(cls, v: str) -> str:
        if not _DNS1123_SUBDOMAIN.match(v):
            raise ValueError(f"{v!r} is not a valid object name (DNS-1123)")
        return v

    @model_validator(mode="after")
    def _gateway(self) -> "OperatorSettings":
        if self.backend == "gateway-api" and not self.gateway_api.gateway_name:
            raise ValueError("backend gateway-api needs gatewayApi.gatewayName: the shared "
                             "Gateway every cluster's routes and ListenerSets attach to")
        return self

    @property
    def gateway_ref(self) -> tuple[str, str]:
        """(namespace, name) of the shared Gateway (backend gateway-api)."""
        gw = self.gateway_api
        return gw.gateway_namespace or self.namespace, gw.gateway_name or ""

    @model_validator(mode="after")
    def _lease(self) -> "OperatorSettings":
        if not (self.retry_period_seconds < self.renew_deadline_seconds
                < self.lease_duration_seconds):
            raise ValueError("need retryPeriodSeconds < renewDeadlineSeconds < "
                             "leaseDurationSeconds (as client-go's leader election does)")
        return self

    def watches(self, namespace: str) -> bool:
        return not self.watch_namespaces or namespace in self.watch_namespaces


def load(path: Union[str, Path, None], overrides: dict[str, Any] | None = None) -> OperatorSettings:
    """Settings from a YAML file (camelCase keys) plus overrides; one SpecError line on error."""
    data: dict[str, Any] = {}
    source = str(path) if path else "<flags>"
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except OSError as e:
            raise SpecError(f"{path}: cannot read: {e.strerror}") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise SpecError(f"{path}{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise SpecError(f"{path}: expected a mapping of settings, got "
                            f"{type(loaded).__name__}")
        data = dict(loaded or {})
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    try:
        return OperatorSettings.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise SpecError(f"{source}: {loc + ': ' if loc else ''}{msg}") from None
