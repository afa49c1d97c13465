"""The gateway spec (``raygate.yaml``): what to expose, where, and how safely.

A spec is small on purpose: a few lines name the RayCluster and the choices that differ from
the defaults, and the defaults reproduce the seed guide's Pinned Gateway (controller from the
upstream ``deploy.yaml``, node label ``ingress-ready=true``, Dashboard under ``/ray``, Ray
Client on 10001) with the guide's unsafe parts switched off (GCS not mapped, token auth
required). The model is frozen so renderers can share it without defensive copies.

Invalid specs never surface a pydantic traceback: ``load``/``from_dict`` turn every error into
one ``SpecError`` line naming the file, the line when known, the field path and the allowed
values.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Union, get_args, get_origin

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)
from pydantic.alias_generators import to_camel

from raygate.errors import SpecError

API_VERSION = "raygate.io/v1alpha1"
KIND = "RayGateway"

# DNS-1123 label (namespaces, most object names) and DNS-1035 label (RayCluster names).
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# URL sub-paths we accept: plain segments only. Anything else would become part of a
# case-insensitive nginx regex (ingress_nginx.md §4.1), where '.', '(' or '$' change meaning.
_SUB_PATH = re.compile(r"^(/[A-Za-z0-9_-]+)+$")
# ingress-nginx SizeRegex (ingress_nginx.md §2.2): 0, 512k, 100m, 8G; not 100Mi or 1.5g.
_SIZE = re.compile(r"^(?i:\d+[bkmg]?)$")
# nginx time for the ConfigMap's proxy-stream-timeout (default "600s").
_NGINX_TIME = re.compile(r"^\d+(ms|s|m|h|d)?$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")

# Ports the controller keeps for itself (ingress_nginx.md §3.1), plus the admission webhook's
# 8443 which the same pod binds (a stream port there fails at reload).
RESERVED_TCP_PORTS = {80: "http", 443: "https", 442: "ssl-passthrough proxy",
                      10254: "healthz", 8181: "default server", 10245: "profiler",
                      10246: "status", 10247: "stream", 8443: "admission webhook"}


class _Model(BaseModel):
    """Frozen, camelCase in YAML, unknown keys refused (a typo must not be silently ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel,
                              populate_by_name=True)


def _check(pattern: re.Pattern[str], what: str, value: str) -> str:
    if not pattern.match(value):
        raise ValueError(f"{value!r} is not a valid {what}")
    return value


class RayClusterRef(_Model):
    """The RayCluster to expose, and what we know about it without reading it."""

    name: str = "ray-cluster-kuberay"
    namespace: str = "raycluster"
    #: Override the head Service name (KubeRay's is ``<name>-head-svc`` or headService's name).
    head_service: Optional[str] = None
    #: What the user asserts about the cluster's auth when its manifest is not given.
    auth_mode: Literal["token", "disabled", "unknown"] = "unknown"
    #: Manifests (RayCluster, head Service) to resolve ports and auth from; relative to the spec.
    manifests: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        # KubeRay >= 1.4 limits RayCluster names to 53 characters (kuberay_ray.md §1.1).
        if len(v) > 53:
            raise ValueError(f"{v!r} is longer than 53 characters (KubeRay's limit)")
        return _check(_DNS1035_LABEL, "RayCluster name (DNS-1035 label)", v)

    @field_validator("namespace")
    @classmethod
    def _ns(cls, v: str) -> str:
        return _check(_DNS1123_LABEL, "namespace (DNS-1123 label)", v)

    @field_validator("head_service")
    @classmethod
    def _svc(cls, v: Optional[str]) -> Optional[str]:
        return None if v is None else _check(_DNS1035_LABEL, "Service name (DNS-1035 label)", v)


class ControllerRef(_Model):
    """The ingress-nginx controller; defaults are those of the upstream ``deploy.yaml``."""

    namespace: str = "ingress-nginx"
    #: The controller workload's name, whichever its kind (the chart names both
    #: ``ingress-nginx-controller``); the field keeps its first name for existing specs.
    deployment: str = "ingress-nginx-controller"
    #: The controller workload's kind: the upstream ``deploy.yaml`` and the chart's default
    #: install a Deployment, the chart's ``controller.kind: DaemonSet`` a DaemonSet (common
    #: on bare metal with the host network, ingress_nginx.md §8). None: the kind of the
    #: workload of that name in the inputs (``--cluster-manifest``, the live cluster for
    #: apply), else Deployment. A kind that contradicts the inputs is refused
    #: (``raygate.render.ingress_nginx_manifests.controller_workload``).
    kind: Optional[Literal["Deployment", "DaemonSet"]] = None
    container: str = "controller"
    service: str = "ingress-nginx-controller"
    config_map: str = "ingress-nginx-controller"
    tcp_services_config_map: str = "tcp-services"
    ingress_class: str = "nginx"
    #: The controller pods' labels (the workload's selector), needed by a partial workload
    #: when the live one is not among the inputs to repeat its immutable selector.
    pod_labels: dict[str, str] = Field(default_factory=lambda: {
        "app.kubernetes.io/component": "controller",
        "app.kubernetes.io/instance": "ingress-nginx",
        "app.kubernetes.io/name": "ingress-nginx",
    })
    #: Headers added to every response, set globally in the controller ConfigMap instead of
    #: per-Ingress snippets (the guide's advice; ``add-headers`` ConfigMap reference).
    global_headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("namespace", "deployment", "service", "config_map",
                     "tcp_services_config_map", "ingress_class", "container")
    @classmethod
    def _names(cls, v: str) -> str:
        return _check(_DNS1123_SUBDOMAIN, "object name (DNS-1123)", v)

    @field_validator("global_headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            _check(_HEADER_NAME, "header name", name)
            if "\n" in value or "\r" in value:
                raise ValueError(f"header {name!r} value must be one line")
        return v


class PinnedNode(_Model):
    """Pin the controller to one labelled node and use its host network (the guide)."""

    #: The gateway node; when set, a Node patch adding the label is rendered (step 1).
    node_name: Optional[str] = None
    label_key: str = "ingress-ready"
    label_value: str = "true"

    @field_validator("node_name")
    @classmethod
    def _node(cls, v: Optional[str]) -> Optional[str]:
        return None if v is None else _check(_DNS1123_SUBDOMAIN, "node name", v)

    @field_validator("label_key")
    @classmethod
    def _key(cls, v: str) -> str:
        return _check(_LABEL_KEY, "label key", v)

    @field_validator("label_value")
    @classmethod
    def _value(cls, v: str) -> str:
        if len(v) > 63:
            raise ValueError("label values are at most 63 characters")
        return _check(_LABEL_VALUE, "label value", v)


class MetalLB(_Model):
    """Give the controller Service a stable LoadBalancer IP from MetalLB (L2)."""

    #: The address requested with ``metallb.io/loadBalancerIPs`` (the stable entry point);
    #: without it, any address of ``pool`` (``metallb.io/address-pool``).
    ip: Optional[str] = None
    #: The pool's addresses (CIDRs or ``a-b`` ranges); default: just ``ip``.
    addresses: tuple[str, ...] = ()
    pool: str = "raygate"
    namespace: str = "metallb-system"
    #: Render the IPAddressPool and L2Advertisement (false when the pool already exists).
    create_pool: bool = True
    #: ``Local`` keeps the client source IP (needed for the allowlist) and only answers on
    #: nodes running the controller (ingress-nginx baremetal docs).
    external_traffic_policy: Literal["Local", "Cluster"] = "Local"

    @field_validator("ip")
    @classmethod
    def _ip(cls, v: Optional[str]) -> Optional[str]:
        if v is not None:
            try:
                ipaddress.ip_address(v)
            except ValueError:
                raise ValueError(f"{v!r} is not an IP address") from None
        return v

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for a in v:
            _address_range(a)
        return v

    @field_validator("pool", "namespace")
    @classmethod
    def _names(cls, v: str) -> str:
        return _check(_DNS1123_LABEL, "name (DNS-1123 label)", v)


def _address_range(text: str) -> tuple[Any, Any]:
    """``10.0.0.0/24`` or ``10.0.0.5-10.0.0.9`` as (first, last) addresses."""
    try:
        if "-" in text:
            first, _, last = text.partition("-")
            lo, hi = ipaddress.ip_address(first.strip()), ipaddress.ip_address(last.strip())
            if lo.version != hi.version or lo > hi:
                raise ValueError
            return lo, hi
        net = ipaddress.ip_network(text, strict=False)
        return net[0], net[-1]
    except ValueError:
        raise ValueError(f"{text!r} is not a CIDR or an 'a-b' address range") from None


class Placement(_Model):
    mode: Literal["pinned-node", "metallb"] = "pinned-node"
    pinned_node: PinnedNode = Field(default_factory=PinnedNode)
    metallb: MetalLB = Field(default_factory=MetalLB)

    @model_validator(mode="after")
    def _metallb_needs_ip(self) -> "Placement":
        if self.mode == "metallb":
            m = self.metallb
            # "An address or a pool": without an IP, the Service asks MetalLB for any address
            # of the pool (metallb.io/address-pool), which must then exist or be created here.
            if m.ip is None and m.create_pool and not m.addresses:
                raise ValueError("placement.metallb.ip is required with mode metallb "
                                 "(the stable address the gateway is reached on), unless "
                                 "placement.metallb.addresses gives the pool's addresses or "
                                 "placement.metallb.createPool: false names an existing pool")
            if m.ip is not None and m.addresses:
                ip = ipaddress.ip_address(m.ip)
                if not any(lo.version == ip.version and lo <= ip <= hi
                           for lo, hi in map(_address_range, m.addresses)):
                    raise ValueError(f"placement.metallb.ip {m.ip} is outside "
                                     f"placement.metallb.addresses {list(m.addresses)}")
        return self


class Dashboard(_Model):
    path: str = "/ray"

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return _sub_path(v)


class Serve(_Model):
    path: str = "/serve"

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return _sub_path(v)


def _sub_path(v: str) -> str:
    if not _SUB_PATH.match(v):
        raise ValueError(f"{v!r} must be a sub-path like /ray: segments of letters, digits, "
                         "'-' and '_', no trailing '/', no regex characters")
    return v


def _port(v: int) -> int:
    if not 1 <= v <= 65535:
        raise ValueError(f"{v} is not a TCP port (1-65535)")
    return v


class RayClient(_Model):
    enabled: bool = True
    #: The port clients connect to on the gateway (``ray://GATEWAY:10001``).
    port: int = 10001

    @field_validator("port")
    @classmethod
    def _p(cls, v: int) -> int:
        return _port(v)


class TcpPort(_Model):
    """An extra raw TCP port on the gateway (the guide's 9000), forwarded to the head Service."""

    port: int
    #: The head Service port it goes to; default: the same number.
    service_port: Optional[int] = None

    @field_validator("port", "service_port")
    @classmethod
    def _p(cls, v: Optional[int]) -> Optional[int]:
        return v if v is None else _port(v)

    @property
    def target(self) -> int:
        return self.service_port if self.service_port is not None else self.port


class Gcs(_Model):
    """GCS (6379) on the gateway: off unless asked, since it is the cluster's control plane."""

    enabled: bool = False
    port: int = 6379

    @field_validator("port")
    @classmethod
    def _p(cls, v: int) -> int:
        return _port(v)


class Exposures(_Model):
    #: The HTTP host name; none means every host (the guide's setup). Required for TLS.
    host: Optional[str] = None
    dashboard: Dashboard = Field(default_factory=Dashboard)
    serve: Optional[Serve] = None
    ray_client: RayClient = Field(default_factory=RayClient)
    extra_tcp_ports: tuple[TcpPort, ...] = ()
    gcs: Gcs = Field(default_factory=Gcs)

    @field_validator("host")
    @classmethod
    def _host(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        try:
            ipaddress.ip_address(v)
        except ValueError:
            pass
        else:
            # The Ingress API rejects IP hosts (gateway_api_metallb.md §9.2).
            raise ValueError(f"{v!r} is an IP address; Ingress hosts must be DNS names")
        name = v[2:] if v.startswith("*.") else v
        return v if _check(_DNS1123_SUBDOMAIN, "DNS host name", name) else v

    @field_validator("extra_tcp_ports", mode="before")
    @classmethod
    def _ints(cls, v: Any) -> Any:
        # ``extraTcpPorts: [9000]`` is the common case; expand plain numbers.
        if isinstance(v, (list, tuple)):
            return [{"port": p} if isinstance(p, int) and not isinstance(p, bool) else p for p in v]
        return v

    @model_validator(mode="after")
    def _layout(self) -> "Exposures":
        if self.serve is not None:
            d, s = self.dashboard.path.lower(), self.serve.path.lower()
            # Nested sub-paths would compete for the same requests under "longest path
            # first, first regex match wins" (ingress_nginx.md §4.1); keep them disjoint.
            if d == s or d.startswith(s + "/") or s.startswith(d + "/"):
                raise ValueError(f"exposures.serve.path {self.serve.path} and "
                                 f"exposures.dashboard.path {self.dashboard.path} overlap; "
                                 "use disjoint sub-paths such as /ray and /serve")
        seen: dict[int, str] = {}
        for where, port in self.tcp_ports():
            if port in RESERVED_TCP_PORTS:
                raise ValueError(f"{where} {port} is reserved by the ingress-nginx controller "
                                 f"({RESERVED_TCP_PORTS[port]}); pick another port")
            if port in seen:
                raise ValueError(f"{where} {port} is already used by {seen[port]}")
            seen[port] = where
        return self

    def tcp_ports(self) -> list[tuple[str, int]]:
        """(field, gateway port) of every TCP port the gateway will listen on."""
        ports: list[tuple[str, int]] = []
        if self.ray_client.enabled:
            ports.append(("exposures.rayClient.port", self.ray_client.port))
        for i, tp in enumerate(self.extra_tcp_ports):
            ports.append((f"exposures.extraTcpPorts[{i}].port", tp.port))
        if self.gcs.enabled:
            ports.append(("exposures.gcs.port", self.gcs.port))
        return ports


class Tls(_Model):
    secret_name: str

    @field_validator("secret_name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check(_DNS1123_SUBDOMAIN, "Secret name", v)


class Security(_Model):
    #: Refuse to expose a RayCluster without Ray token auth (override: --allow-unauthenticated).
    require_token_auth: bool = True
    #: Source CIDRs allowed on the HTTP routes (``allowlist-source-range``); empty = anyone.
    allowlist: tuple[str, ...] = ()
    tls: Optional[Tls] = None

    @field_validator("allowlist")
    @classmethod
    def _cidrs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in v:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR such as 10.0.0.0/8") from None
        return v


class Tuning(_Model):
    #: Request body limit; the Dashboard itself accepts 100 MiB uploads (kuberay_ray.md §5.3).
    body_size: str = "100m"
    #: Seconds, unit-less: the annotation validator rejects "3600s" (ingress_nginx.md §2.2).
    read_timeout: int = 3600
    send_timeout: int = 3600
    #: Idle timeout of the TCP streams (Ray Client), controller ConfigMap only.
    stream_timeout: str = "3600s"

    @field_validator("body_size", mode="before")
    @classmethod
    def _size(cls, v: Any) -> Any:
        v = str(v) if isinstance(v, int) and not isinstance(v, bool) else v
        if isinstance(v, str) and not _SIZE.match(v):
            raise ValueError(f"{v!r} is not an nginx size: use digits with an optional "
                             "b/k/m/g suffix, e.g. 100m (not 100Mi or 1.5g)")
        return v

    @field_validator("read_timeout", "send_timeout", mode="before")
    @classmethod
    def _seconds(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.isdigit():
            raise ValueError(f"{v!r} must be a whole number of seconds without a unit, "
                             "e.g. 3600 (ingress-nginx rejects '3600s' and silently keeps 60)")
        if isinstance(v, bool) or (isinstance(v, int) and v <= 0):
            raise ValueError(f"{v!r} must be a positive number of seconds")
        return v

    @field_validator("stream_timeout", mode="before")
    @classmethod
    def _stream(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v}s"
        if isinstance(v, str) and not _NGINX_TIME.match(v):
            raise ValueError(f"{v!r} is not an nginx time such as 3600s or 1h")
        return v


#: TCPRoute apiVersions (gateway_api_metallb.md §1.2-1.3). v1alpha2 is what most released
#: implementations still reconcile (Istio <= 1.30, NGINX Gateway Fabric 2.6.x, Envoy Gateway
#: <= 1.8; experimental CRDs); v1 needs the v1.6 CRDs and Envoy Gateway >= 1.9 or Cilium 1.20.
#: A v1alpha2 object on v1.6 standard CRDs fails loudly at apply time, while a v1 object on an
#: implementation that only watches v1alpha2 is silently never attached: hence the default.
TCP_ROUTE_VERSIONS = ("v1alpha2", "v1")


class GatewayApi(_Model):
    """The Gateway API backend (``backend: gateway-api``): Gateway, HTTPRoutes, TCPRoutes."""

    #: The implementation's GatewayClass (``kubectl get gatewayclass``). Required when raygate
    #: creates the Gateway: the class decides which controller runs it, so it is never guessed.
    gateway_class_name: Optional[str] = None
    #: The Gateway's name; default ``<name>-gateway``.
    gateway_name: Optional[str] = None
    #: The Gateway's namespace; default: the RayCluster's.
    gateway_namespace: Optional[str] = None
    #: Create the Gateway (true) or attach the routes to an existing one with that name.
    create_gateway: bool = True
    #: Where the routes live; default: the RayCluster's namespace (next to the head Service,
    #: so no ReferenceGrant is needed). Elsewhere, a ReferenceGrant is rendered.
    route_namespace: Optional[str] = None
    #: The TCPRoute apiVersion; null: from the CRDs in the inputs, else ``version``, else what
    #: the implementation reconciles, else v1alpha2 (raygate.render.gateway_api.tcp_route_version).
    tcp_route_api_version: Optional[Literal["v1alpha2", "v1"]] = None
    http_port: int = 80
    https_port: int = 443
    #: The implementation behind the GatewayClass (raygate.backends.gateway_api.implementations):
    #: decides the policies rendered next to the routes and what is left out because it breaks
    #: Ray there. ``generic``: spec-only objects.
    implementation: Literal["envoy-gateway", "nginx-gateway-fabric", "istio", "cilium",
                            "traefik", "kong", "generic"] = "generic"
    #: The Gateway API release of the installed CRDs (``v1.6``); null: detected from the CRDs
    #: in the inputs when present.
    version: Optional[str] = None
    #: Add the listeners an existing Gateway lacks through a ListenerSet (null: when the
    #: Gateway is in the inputs, lacks them and allows ListenerSets from the routes' namespace).
    listener_set: Optional[bool] = None

    @field_validator("version")
    @classmethod
    def _version(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not re.match(r"^v?\d+\.\d+(\.\d+)?$", v):
            raise ValueError(f"{v!r} is not a Gateway API release such as v1.6 or v1.6.1")
        return v

    @field_validator("gateway_class_name", "gateway_name")
    @classmethod
    def _names(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and len(v) > 63:
            raise ValueError(f"{v!r} is longer than 63 characters")
        return None if v is None else _check(_DNS1123_SUBDOMAIN, "object name (DNS-1123)", v)

    @field_validator("gateway_namespace", "route_namespace")
    @classmethod
    def _ns(cls, v: Optional[str]) -> Optional[str]:
        return None if v is None else _check(_DNS1123_LABEL, "namespace (DNS-1123 label)", v)

    @field_validator("http_port", "https_port")
    @classmethod
    def _p(cls, v: int) -> int:
        return _port(v)


class GatewaySpec(_Model):
    """The whole spec. Every field has a default except what a cluster must tell us."""

    api_version: Literal["raygate.io/v1alpha1"] = API_VERSION
    kind: Literal["RayGateway"] = KIND
    #: Prefix for rendered object names; default: the RayCluster's name.
    name: Optional[str] = None
    ray_cluster: RayClusterRef = Field(default_factory=RayClusterRef)
    controller: ControllerRef = Field(default_factory=ControllerRef)
    placement: Placement = Field(default_factory=Placement)
    exposures: Exposures = Field(default_factory=Exposures)
    security: Security = Field(default_factory=Security)
    tuning: Tuning = Field(default_factory=Tuning)
    #: Which objects express the gateway: ingress-nginx (the guide) or Gateway API.
    backend: Literal["ingress-nginx", "gateway-api"] = "ingress-nginx"
    gateway_api: GatewayApi = Field(default_factory=GatewayApi)

    @field_validator("name")
    @classmethod
    def _name(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and len(v) > 40:
            raise ValueError(f"{v!r} is longer than 40 characters")
        return None if v is None else _check(_DNS1123_LABEL, "name (DNS-1123 label)", v)

    @model_validator(mode="after")
    def _tls_needs_host(self) -> "GatewaySpec":
        if self.security.tls is not None and self.exposures.host is None:
            raise ValueError("security.tls needs exposures.host: the certificate is served "
                             "for a host name")
        return self

    @model_validator(mode="after")
    def _gateway_api(self) -> "GatewaySpec":
        if self.backend != "gateway-api":
            return self
        gw = self.gateway_api
        if gw.create_gateway and gw.gateway_class_name is None:
            raise ValueError("gatewayApi.gatewayClassName is required with backend gateway-api: "
                             "name your implementation's GatewayClass (kubectl get "
                             "gatewayclass; --gateway-class), or set "
                             "gatewayApi.createGateway: false to attach to an existing Gateway")
        if gw.http_port == gw.https_port:
            raise ValueError(f"gatewayApi.httpsPort {gw.https_port} is also "
                             "gatewayApi.httpPort; use distinct listener ports")
        # Every listener is bound on every Gateway address (gateway_api_metallb.md §3.2), so
        # a TCP port equal to an HTTP listener's port could never work.
        for where, port in self.exposures.tcp_ports():
            if port in (gw.http_port, gw.https_port):
                raise ValueError(f"{where} {port} is also an HTTP listener port of the Gateway "
                                 "(gatewayApi.httpPort/httpsPort); pick another port")
        return self

    @property
    def prefix(self) -> str:
        return self.name or self.ray_cluster.name


# ---------------------------------------------------------------------------------------------
# Loading, with errors a user can act on


def load(path: Union[str, Path], overrides: Optional[Mapping[str, Any]] = None) -> GatewaySpec:
    """Read and validate ``raygate.yaml``; any problem is one ``SpecError`` line.

    ``overrides`` maps dotted field paths (``exposures.rayClient.port``) to values that
    replace the file's (the CLI's flags); errors in them are reported as command-line errors.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{p}: no such file (create one with `raygate init`)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"{p}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    return loads(text, str(p), overrides)


def loads(text: str, source: str = "<spec>",
          overrides: Optional[Mapping[str, Any]] = None) -> GatewaySpec:
    """Validate spec YAML text; ``source`` names it in messages."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader) if node is not None else {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise SpecError(f"{where}: invalid YAML: {getattr(e, 'problem', None) or e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a spec must be a mapping (see `raygate init`), "
                        f"not {type(data).__name__}")
    return from_dict(data, source, node=node, overrides=overrides)


def from_dict(data: dict, source: str = "<spec>", *, node: Any = None,
              overrides: Optional[Mapping[str, Any]] = None) -> GatewaySpec:
    """Validate ``data`` (camelCase keys, as in YAML) into a frozen ``GatewaySpec``."""
    if overrides:
        data = with_overrides(data, overrides)
    try:
        return GatewaySpec.model_validate(data)
    except ValidationError as e:
        raise SpecError(_describe(e, source, node, tuple(overrides or ()))) from None


def with_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """A copy of ``data`` with each dotted path in ``overrides`` set to its value."""
    import copy
    out = copy.deepcopy(dict(data))
    for dotted, value in overrides.items():
        keys = dotted.split(".")
        cur: Any = out
        for i, key in enumerate(keys[:-1]):
            nxt = cur.get(key)
            if not isinstance(nxt, dict):
                nxt = {}
                cur[key] = nxt
            cur = nxt
        if not isinstance(cur, dict) or not all(keys):
            raise SpecError(f"--set {dotted}: not a field path like exposures.rayClient.port")
        cur[keys[-1]] = value
    return out


def _describe(error: ValidationError, source: str, node: Any,
              overridden: tuple[str, ...] = ()) -> str:
    """The first error as ``file:line: field: problem (allowed: ...)``, plus a count."""
    # A misspelt key also makes the real key "missing"; naming the typo is the useful part.
    errors = sorted(error.errors(include_url=False),
                    key=lambda e: e.get("type") != "extra_forbidden")
    first = errors[0]
    loc = tuple(first.get("loc") or ())
    field_path = _format_loc(loc)
    message = _message(first, loc)
    # Cross-field checks name their own field first ("exposures.gcs.port 80 is ..."): point
    # at that field instead of repeating the section it was raised on.
    named = _parse_loc(message.split(" ", 1)[0])
    if named and field_path and _format_loc(named).startswith(field_path):
        loc, field_path = named, ""
    where_path = _format_loc(loc)
    line = _line_of(node, loc)
    from_flags = any(where_path == o or where_path.startswith(o + ".")
                     or where_path.startswith(o + "[") for o in overridden)
    if not from_flags and line is None:
        # An error on a section the file does not have, created by `--set foo.bar=1`.
        from_flags = any(o.startswith(where_path + ".") for o in overridden)
    if from_flags:
        where = "command line"
    else:
        where = f"{source}:{line}" if line else source
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" \
        if len(errors) > 1 else ""
    subject = f"{field_path}: " if field_path else ""
    return f"{where}: {subject}{message}{more}"


def _parse_loc(text: str) -> tuple[Any, ...]:
    """``exposures.extraTcpPorts[0].port`` -> ("exposures", "extraTcpPorts", 0, "port")."""
    if not re.match(r"^[a-z][A-Za-z]*(\.[a-z][A-Za-z]*|\[\d+\])+$", text):
        return ()
    return tuple(int(p) if p.isdigit() else p for p in re.findall(r"[A-Za-z]+|\d+", text))


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not part.startswith(("function-", "tagged-union")):
            out += ("." if out else "") + part
    return out


def _message(err: dict[str, Any], loc: tuple[Any, ...]) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return f"unknown field; allowed here: {', '.join(allowed)}" if allowed else "unknown field"
    if kind == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        return f"{err.get('input')!r} is not allowed; allowed values: {expected}"
    if kind in ("missing",):
        return "required field is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif kind.endswith("_type") or kind.endswith("_parsing"):
        msg = f"{msg} (got {err.get('input')!r})"
    return msg


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The YAML keys valid at ``loc``, found by walking the model's fields."""
    model: Any = GatewaySpec
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items()
                      if part in (n, f.alias)), None) if _is_model(model) else None
        if field is None:
            return []
        model = _inner_model(field.annotation)
    if not _is_model(model):
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _inner_model(annotation: Any) -> Any:
    if _is_model(annotation):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            inner = _inner_model(arg)
            if inner is not None:
                return inner
    return None


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest YAML node along ``loc`` (the key's line for mappings)."""
    if node is None:
        return None
    line = None
    for part in loc:
        if isinstance(part, int):
            if node.id != "sequence" or not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
            continue
        if node.id != "mapping":
            break
        for key, value in node.value:
            if getattr(key, "value", None) == part:
                line = key.start_mark.line + 1
                node = value
                break
        else:
            break
    return line


# ---------------------------------------------------------------------------------------------
# Writing a commented spec (``raygate init`` and examples/raygate.yaml)


def commented(spec: GatewaySpec) -> str:
    """``spec`` as a commented ``raygate.yaml`` that loads back to an equal spec.

    Every section is written, defaults included, so the file documents the choices it makes;
    comments say why a default is what it is.
    """
    rc, ctl, pl, ex, sec, tun = (spec.ray_cluster, spec.controller, spec.placement,
                                 spec.exposures, spec.security, spec.tuning)

    def q(value: Any) -> str:
        # JSON-style scalars are valid YAML and keep strings like "true" or "10" strings.
        import json
        return json.dumps(value)

    lines = [
        "# raygate.yaml: the Pinned Gateway for one RayCluster, as code.",
        "# Render it:   raygate render -f raygate.yaml [--cluster-manifest ray-cluster.yaml]",
        "# Every field can also be set on the command line (raygate render --help).",
        f"apiVersion: {API_VERSION}",
        f"kind: {KIND}",
    ]
    if spec.name is not None:
        lines += ["# Prefix for the rendered objects' names (default: the RayCluster's name).",
                  f"name: {q(spec.name)}"]
    lines += [
        "",
        "rayCluster:",
        f"  name: {q(rc.name)}",
        f"  namespace: {q(rc.namespace)}",
        "  # KubeRay names the head Service <name>-head-svc unless the RayCluster sets",
        "  # headGroupSpec.headService.metadata.name; set headService to override.",
        f"  headService: {q(rc.head_service) if rc.head_service else 'null'}",
        "  # Token auth on the cluster (spec.authOptions.mode: token, KubeRay >= 1.5.1).",
        "  # raygate reads it from the RayCluster manifest when given (manifests below or",
        "  # --cluster-manifest); otherwise this assertion is used: token | disabled | unknown.",
        f"  authMode: {rc.auth_mode}",
        "  # RayCluster / head Service manifests to resolve ports and auth from (relative paths",
        "  # are relative to this file).",
        f"  manifests: {q(list(rc.manifests))}",
        "",
        "# The ingress-nginx controller, as installed by the upstream deploy.yaml.",
        "controller:",
        f"  namespace: {q(ctl.namespace)}",
        "  # The controller workload's name and kind: Deployment (deploy.yaml, the chart's",
        "  # default) or DaemonSet (chart value controller.kind: DaemonSet); null reads the",
        "  # kind from --cluster-manifest or the live cluster, else Deployment.",
        f"  deployment: {q(ctl.deployment)}",
        f"  kind: {ctl.kind or 'null'}",
        f"  service: {q(ctl.service)}",
        f"  configMap: {q(ctl.config_map)}",
        f"  tcpServicesConfigMap: {q(ctl.tcp_services_config_map)}",
        f"  ingressClass: {q(ctl.ingress_class)}",
        "  # Response headers set once in the controller ConfigMap (no snippets needed).",
        f"  globalHeaders: {q(dict(ctl.global_headers))}",
    ]
    defaults = ControllerRef()
    if ctl.container != defaults.container:
        lines.append(f"  container: {q(ctl.container)}")
    if ctl.pod_labels != defaults.pod_labels:
        lines += ["  # The controller pods' labels (its workload's selector).",
                  f"  podLabels: {q(dict(ctl.pod_labels))}"]
    lines += [
        "",
        "placement:",
        "  # pinned-node: the controller runs on one labelled node with hostNetwork (the guide).",
        "  # metallb: the controller Service gets a stable LoadBalancer IP from MetalLB (L2).",
        f"  mode: {pl.mode}",
        "  pinnedNode:",
        "    # When set, a Node patch adding the label is rendered (step 1 of the guide).",
        f"    nodeName: {q(pl.pinned_node.node_name) if pl.pinned_node.node_name else 'null'}",
        f"    labelKey: {q(pl.pinned_node.label_key)}",
        f"    labelValue: {q(pl.pinned_node.label_value)}",
        "  metallb:",
        "    # The stable address, requested with the metallb.io/loadBalancerIPs annotation.",
        "    # null: any address of the pool (metallb.io/address-pool), which then needs",
        "    # addresses below or createPool: false for an existing pool.",
        f"    ip: {q(pl.metallb.ip) if pl.metallb.ip else 'null'}",
        "    # Pool addresses (CIDRs or a-b ranges); default: just ip. The pool must not",
        "    # overlap node IPs or DHCP ranges.",
        f"    addresses: {q(list(pl.metallb.addresses))}",
        f"    pool: {q(pl.metallb.pool)}",
        "    # MetalLB's namespace, where the pool and the L2Advertisement live.",
        f"    namespace: {q(pl.metallb.namespace)}",
        f"    createPool: {q(pl.metallb.create_pool)}",
        "    # Local keeps client source IPs (needed by security.allowlist).",
        f"    externalTrafficPolicy: {pl.metallb.external_traffic_policy}",
        "",
        "exposures:",
        "  # HTTP host name; null serves every host (the guide). Required for TLS.",
        f"  host: {q(ex.host) if ex.host else 'null'}",
        "  dashboard:",
        "    # Always open the Dashboard with the trailing slash; /ray redirects to /ray/.",
        f"    path: {q(ex.dashboard.path)}",
        "  # Ray Serve over HTTP, e.g. {path: /serve}; null leaves Serve unexposed.",
        f"  serve: {q({'path': ex.serve.path}) if ex.serve else 'null'}",
        "  rayClient:",
        f"    enabled: {q(ex.ray_client.enabled)}",
        f"    port: {ex.ray_client.port}",
        "  # Extra raw TCP ports forwarded to the head Service: [9000] or",
        "  # [{port: 9000, servicePort: 9000}].",
        f"  extraTcpPorts: {q([_tcp_port_data(tp) for tp in ex.extra_tcp_ports])}",
        "  # GCS (6379) is the cluster's control plane: keep it private unless you must.",
        "  gcs:",
        f"    enabled: {q(ex.gcs.enabled)}",
        f"    port: {ex.gcs.port}",
        "",
        "security:",
        "  # Refuse to render when the RayCluster has no token auth (override with",
        "  # --allow-unauthenticated). The Dashboard gives read AND write access to the cluster.",
        f"  requireTokenAuth: {q(sec.require_token_auth)}",
        "  # Source CIDRs allowed on the HTTP routes; [] allows everyone. Raw TCP ports",
        "  # (Ray Client) are not covered: token auth protects them.",
        f"  allowlist: {q(list(sec.allowlist))}",
        "  # TLS Secret in the RayCluster's namespace, e.g. {secretName: ray-tls}.",
        f"  tls: {q({'secretName': sec.tls.secret_name}) if sec.tls else 'null'}",
        "",
        "tuning:",
        "  # The Dashboard accepts 100 MiB uploads (job working_dir); ingress-nginx defaults to 1m.",
        f"  bodySize: {q(tun.body_size)}",
        "  # Seconds, without a unit (ingress-nginx rejects '3600s'). Long enough for log tailing.",
        f"  readTimeout: {tun.read_timeout}",
        f"  sendTimeout: {tun.send_timeout}",
        "  # Idle timeout of raw TCP streams (Ray Client); an nginx time.",
        f"  streamTimeout: {q(tun.stream_timeout)}",
        "",
    ]
    if spec.backend != "ingress-nginx" or spec.gateway_api != GatewayApi():
        lines += _commented_gateway_api(spec, q)
    return "\n".join(lines)


def _commented_gateway_api(spec: GatewaySpec, q: Any) -> list[str]:
    gw = spec.gateway_api

    def opt(value: Optional[str]) -> str:
        return q(value) if value is not None else "null"

    return [
        "# ingress-nginx (the guide, retired upstream in March 2026) or gateway-api.",
        f"backend: {spec.backend}",
        "gatewayApi:",
        "  # Your implementation's GatewayClass (kubectl get gatewayclass); never guessed.",
        f"  gatewayClassName: {opt(gw.gateway_class_name)}",
        "  # null: <name>-gateway in the RayCluster's namespace.",
        f"  gatewayName: {opt(gw.gateway_name)}",
        f"  gatewayNamespace: {opt(gw.gateway_namespace)}",
        "  # false: attach the routes to an existing Gateway of that name.",
        f"  createGateway: {q(gw.create_gateway)}",
        "  # Where the routes live (null: the RayCluster's namespace; elsewhere a",
        "  # ReferenceGrant lets them reach the head Service).",
        f"  routeNamespace: {opt(gw.route_namespace)}",
        "  # v1alpha2: Istio <= 1.30, NGINX Gateway Fabric 2.6, Envoy Gateway <= 1.8",
        "  # (experimental CRDs). v1: Gateway API v1.6 CRDs, Envoy Gateway >= 1.9, Cilium 1.20.",
        "  # null: from the Gateway API CRDs in the inputs, else `version`, else what the",
        "  # implementation reconciles (v1: Envoy Gateway >= 1.9, Cilium 1.20), else v1alpha2.",
        f"  tcpRouteApiVersion: {opt(gw.tcp_route_api_version)}",
        f"  httpPort: {gw.http_port}",
        f"  httpsPort: {gw.https_port}",
        "  # envoy-gateway | nginx-gateway-fabric | istio | cilium | traefik | kong | generic:",
        "  # which policies are rendered next to the routes.",
        f"  implementation: {gw.implementation}",
        "  # The installed Gateway API release (v1.6); null: detected from CRDs in the inputs.",
        f"  version: {opt(gw.version)}",
        "  # Add missing listeners to an existing Gateway through a ListenerSet (null: auto).",
        f"  listenerSet: {opt(None) if gw.listener_set is None else q(gw.listener_set)}",
        "",
    ]


def _tcp_port_data(tp: TcpPort) -> Any:
    return tp.port if tp.service_port is None else {"port": tp.port, "servicePort": tp.service_port}
