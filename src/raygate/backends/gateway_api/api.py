"""Gateway API as a versioned API: groups, kinds, and which apiVersion each CRD bundle serves.

Facts (``../shared/facts/gateway_api_metallb.md`` §1.2, read from ``config/crd/{standard,
experimental}/*.yaml`` at each tag of kubernetes-sigs/gateway-api, and the CRDs in
``../shared/corpus/crds/gateway-api-v1.{4,6}.1``):

* TCPRoute: v1alpha2 in the experimental channel up to v1.5; **v1 from v1.6** (standard
  channel; v1alpha2 is ``served: false`` there and still served, deprecated, by the v1.6
  experimental bundle) (``CHANGELOG/1.6-CHANGELOG.md``);
* ListenerSet: ``gateway.networking.x-k8s.io/v1alpha1`` ``XListenerSet`` in the v1.3/v1.4
  experimental channel, ``gateway.networking.k8s.io/v1`` ``ListenerSet`` from v1.5;
* ReferenceGrant: v1beta1 is served by every bundle from v0.6 to v1.6 (v1 from v1.5);
* a Gateway holds at most 64 listeners (``apis/v1/gateway_types.go`` @v1.6.1).
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from raygate.objects import ObjectSet
from raygate.records import record

GROUP = "gateway.networking.k8s.io"
EXPERIMENTAL_GROUP = "gateway.networking.x-k8s.io"
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute")
#: What each route kind hands its backend (``apis/v1/*route_types.go`` @v1.6.1, GEP-1016 for
#: GRPCRoute): ``http`` requests routed by host and path; ``grpc`` gRPC calls, HTTP/2 to the
#: backend, routed by host and ``/service/method``; ``tcp`` the byte stream itself (TCPRoute, and
#: TLSRoute, whose stream the listener passes through or terminates); ``udp`` datagrams.
ROUTE_CHANNELS = {"HTTPRoute": "http", "GRPCRoute": "grpc", "TCPRoute": "tcp", "TLSRoute": "tcp",
                  "UDPRoute": "udp"}
#: The route kinds that can be a way into a Ray head (Ray listens on no UDP port): the one list
#: the exposure model, the rules that judge exposures and doctor's lanes read.
EXPOSING_ROUTE_KINDS = tuple(k for k in ROUTE_KINDS if ROUTE_CHANNELS[k] != "udp")
MAX_LISTENERS = 64
#: The bundle annotation every Gateway API CRD carries (``gateway.networking.k8s.io/bundle-version``).
BUNDLE_VERSION_ANNOTATION = f"{GROUP}/bundle-version"
CHANNEL_ANNOTATION = f"{GROUP}/channel"
#: The first release whose standard channel serves TCPRoute v1.
TCP_ROUTE_V1_SINCE = (1, 6)
#: The first release with ListenerSet v1 (standard channel).
LISTENER_SET_V1_SINCE = (1, 5)

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str | None) -> tuple[int, int] | None:
    """``v1.6.1`` / ``1.6`` -> (1, 6); anything else -> None."""
    if not isinstance(text, str):
        return None
    m = _VERSION.match(text.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def tcp_route_version_for(release: tuple[int, int]) -> str:
    """The TCPRoute apiVersion a Gateway API release's CRDs serve (v1 from v1.6)."""
    return "v1" if release >= TCP_ROUTE_V1_SINCE else "v1alpha2"


@record(frozen=True)
class ListenerSetApi:
    """The apiVersion, kind and group of ListenerSet in a Gateway API release."""

    api_version: str
    kind: str
    group: str


def listener_set_api(release: tuple[int, int] | None,
                     crds: "InstalledCrds | None" = None) -> ListenerSetApi:
    """ListenerSet v1 from v1.5, XListenerSet before; when the release is unknown, what the
    cluster serves decides (XListenerSet when only it is served)."""
    if release is None and crds is not None and "XListenerSet" in crds.kinds \
            and "ListenerSet" not in crds.kinds:
        release = (1, 4)
    if release is not None and release < LISTENER_SET_V1_SINCE:
        return ListenerSetApi(f"{EXPERIMENTAL_GROUP}/v1alpha1", "XListenerSet", EXPERIMENTAL_GROUP)
    return ListenerSetApi(f"{GROUP}/v1", "ListenerSet", GROUP)


@record(frozen=True)
class InstalledCrds:
    """What the Gateway API CRDs in the inputs (or a cluster snapshot) say."""

    #: ``(1, 6)`` from the bundle-version annotation, when any CRD carries it.
    release: tuple[int, int] | None
    channel: str | None
    #: Served TCPRoute versions; empty when the TCPRoute CRD is not in the inputs.
    tcp_route_served: tuple[str, ...]
    #: Every Gateway API kind whose CRD is in the inputs (or that the cluster serves).
    kinds: frozenset[str]
    #: Where the served versions come from, for messages.
    where: str = "the TCPRoute CRD in the inputs"

    @property
    def tcp_route_version(self) -> str | None:
        """The version to write: v1 when served, else v1alpha2 when served, else None."""
        for v in ("v1", "v1alpha2"):
            if v in self.tcp_route_served:
                return v
        return None


#: How ``installed_crds`` names a live cluster's API discovery in messages.
DISCOVERY = "the cluster (API discovery)"


def installed_crds(objects: ObjectSet | None,
                   served: Mapping[str, Sequence[str]] | None = None) -> InstalledCrds | None:
    """Read the Gateway API CRDs among ``objects``; else, with ``served`` (kind -> versions a
    live cluster serves, from its API discovery: ``ClusterSource.served_versions()``), what
    the cluster serves; None when neither says anything."""
    if objects is None:
        return _from_discovery(served)
    release = None
    channel = None
    tcp: tuple[str, ...] = ()
    kinds: set[str] = set()
    for crd in objects.of_kind("CustomResourceDefinition"):
        group = crd.spec.get("group")
        if group not in (GROUP, EXPERIMENTAL_GROUP):
            continue
        names = crd.spec.get("names") or {}
        kind = names.get("kind") if isinstance(names, dict) else None
        if isinstance(kind, str):
            kinds.add(kind)
        found = parse_version(crd.annotations.get(BUNDLE_VERSION_ANNOTATION))
        if found is not None and (release is None or found > release):
            release = found
            ch = crd.annotations.get(CHANNEL_ANNOTATION)
            channel = ch if isinstance(ch, str) else channel
        if kind == "TCPRoute" and group == GROUP:
            versions = crd.spec.get("versions") or []
            tcp = tuple(v.get("name") for v in versions
                        if isinstance(v, dict) and v.get("served") is not False
                        and isinstance(v.get("name"), str))
    if not kinds:
        return _from_discovery(served)
    return InstalledCrds(release, channel, tcp, frozenset(kinds))


def _from_discovery(served: Mapping[str, Sequence[str]] | None) -> InstalledCrds | None:
    gateway = {k: tuple(v) for k, v in (served or {}).items()
               if k in ROUTE_KINDS + ("Gateway", "GatewayClass", "ListenerSet", "XListenerSet",
                                      "ReferenceGrant")}
    if not gateway:
        return None
    return InstalledCrds(None, None, gateway.get("TCPRoute", ()), frozenset(gateway), DISCOVERY)
