"""The fixed resource table the fake API server serves, and its discovery documents.

The table is data: every kind raygate reads or writes (core, apps, networking, discovery,
admission, KubeRay, Gateway API, MetalLB). Discovery (``/api``, ``/apis``, ``/apis/<g>/<v>``)
is generated from it, so a client that discovers before it lists (kubectl, lightkube generic
resources, raygate's cluster source) sees exactly what the fake can store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    #: Kinds with a ``/status`` subresource: writes to the main resource keep the old status.
    has_status: bool = True
    #: CRDs (ray.io, gateway API, MetalLB) list their items with kind/apiVersion; built-in
    #: kinds do not, exactly like a real API server (clients must fill them in).
    crd: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def singular(self) -> str:
        return self.kind.lower()


def _core(kind: str, plural: str, namespaced: bool = True, short: tuple[str, ...] = (),
          status: bool = True) -> ResourceType:
    return ResourceType("", "v1", kind, plural, namespaced, short, status)


DEFAULT_RESOURCES: tuple[ResourceType, ...] = (
    _core("Namespace", "namespaces", False, ("ns",)),
    _core("Node", "nodes", False, ("no",)),
    _core("Pod", "pods", True, ("po",)),
    _core("Service", "services", True, ("svc",)),
    _core("Endpoints", "endpoints", True, ("ep",), status=False),
    _core("ConfigMap", "configmaps", True, ("cm",), status=False),
    _core("Secret", "secrets", True, (), status=False),
    _core("ServiceAccount", "serviceaccounts", True, ("sa",), status=False),
    _core("Event", "events", True, ("ev",), status=False),
    ResourceType("apps", "v1", "Deployment", "deployments", True, ("deploy",)),
    ResourceType("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",)),
    ResourceType("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",)),
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",)),
    ResourceType("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",)),
    ResourceType("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False, (),
                 has_status=False),
    ResourceType("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True,
                 ("netpol",), has_status=False),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True, (), has_status=False),
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True, (),
                 has_status=False),
    ResourceType("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
                 "validatingwebhookconfigurations", False, (), has_status=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, (),
                 has_status=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
                 False, (), has_status=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True, (), has_status=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, (),
                 has_status=False),
    ResourceType("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
                 "customresourcedefinitions", False, ("crd",)),
    ResourceType("ray.io", "v1", "RayCluster", "rayclusters", True, (), crd=True),
    ResourceType("ray.io", "v1", "RayService", "rayservices", True, (), crd=True),
    ResourceType("ray.io", "v1", "RayJob", "rayjobs", True, (), crd=True),
    ResourceType("gateway.networking.k8s.io", "v1", "GatewayClass", "gatewayclasses", False, (),
                 crd=True),
    ResourceType("gateway.networking.k8s.io", "v1", "Gateway", "gateways", True, ("gtw",),
                 crd=True),
    ResourceType("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", True, (),
                 crd=True),
    # Gateway API v1.6 serves ListenerSet at v1 (experimental channel before).
    ResourceType("gateway.networking.k8s.io", "v1", "ListenerSet", "listenersets", True, (),
                 crd=True),
    ResourceType("gateway.networking.k8s.io", "v1alpha2", "TCPRoute", "tcproutes", True, (),
                 crd=True),
    ResourceType("metallb.io", "v1beta1", "IPAddressPool", "ipaddresspools", True, (),
                 crd=True),
    ResourceType("metallb.io", "v1beta1", "L2Advertisement", "l2advertisements", True, (),
                 crd=True),
)

#: Subresources advertised in discovery besides ``/status``.
EXTRA_SUBRESOURCES = {("", "pods"): ("log",)}


def api_resource_list(group_version: str, types: Iterable[ResourceType]) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for t in types:
        resources.append({
            "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
            "kind": t.kind, "verbs": list(VERBS), **({"shortNames": list(t.short_names)}
                                                     if t.short_names else {}),
        })
        subs = (("status",) if t.has_status else ()) + EXTRA_SUBRESOURCES.get(t.key, ())
        for sub in subs:
            resources.append({
                "name": f"{t.plural}/{sub}", "singularName": "", "namespaced": t.namespaced,
                "kind": "Pod" if sub == "log" else t.kind,
                "verbs": ["get"] if sub == "log" else ["get", "patch", "update"],
            })
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": resources}


#: The aggregated discovery media type (Kubernetes 1.30+ serves v2; 1.26-1.29 v2beta1):
#: ``staging/src/k8s.io/apiserver/pkg/endpoints/discovery/aggregated/negotation.go``.
AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def aggregated_discovery(types_by_group: dict[str, list[ResourceType]]) -> dict[str, Any]:
    """``GET /apis`` as an ``apidiscovery.k8s.io/v2`` ``APIGroupDiscoveryList``: every group,
    its versions (preferred first) and their resources in one document
    (``staging/src/k8s.io/api/apidiscovery/v2/types.go``: ``resource``, ``responseKind``,
    ``scope`` Cluster|Namespaced, ``singularResource``, ``verbs``, ``subresources``)."""
    items = []
    for group, types in types_by_group.items():
        versions: dict[str, list[dict[str, Any]]] = {}
        for t in types:
            subs = (("status",) if t.has_status else ()) + EXTRA_SUBRESOURCES.get(t.key, ())
            versions.setdefault(t.version, []).append({
                "resource": t.plural,
                "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
                "scope": "Namespaced" if t.namespaced else "Cluster",
                "singularResource": t.singular, "verbs": list(VERBS),
                **({"shortNames": list(t.short_names)} if t.short_names else {}),
                **({"subresources": [{"subresource": s, "verbs": ["get"] if s == "log"
                                      else ["get", "patch", "update"]} for s in subs]}
                   if subs else {}),
            })
        items.append({"metadata": {"name": group, "creationTimestamp": None},
                      "versions": [{"version": v, "resources": rs, "freshness": "Current"}
                                   for v, rs in versions.items()]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}


def api_group(group: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs,
            "preferredVersion": gvs[0]}


def api_group_list(groups: dict[str, list[str]]) -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [{k: v for k, v in api_group(g, vs).items() if k not in ("kind", "apiVersion")}
                       for g, vs in groups.items()]}


VERSION_INFO = {
    "major": "1", "minor": "33", "emulationMajor": "1", "emulationMinor": "33",
    "minCompatibilityMajor": "1", "minCompatibilityMinor": "32",
    "gitVersion": "v1.33.4-raygate-fake", "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.6",
    "compiler": "gc", "platform": "linux/amd64",
}


#: Real CRD files (``../shared/corpus/crds``): Gateway API bundles and implementation policies.
CORPUS_CRDS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "crds"
#: Core kinds plus KubeRay: a cluster whose Gateway API CRDs come from ``crd_resources``.
BASE_RESOURCES: tuple[ResourceType, ...] = tuple(
    t for t in DEFAULT_RESOURCES if not t.group.startswith("gateway.networking."))


def crd_resources(*directories: str, without: Iterable[str] = ()) -> tuple[ResourceType, ...]:
    """One ResourceType per served version of every CRD in ``directories`` (relative to
    ``CORPUS_CRDS``; the first directory that defines a kind wins, as installing a bundle over
    another replaces its CRDs), minus the kinds in ``without``. What a cluster with exactly
    those CRD files applied serves (versions with ``served: false`` are not served)."""
    import yaml
    skip = set(without)
    seen: set[tuple[str, str]] = set()
    out: list[ResourceType] = []
    for directory in directories:
        for path in sorted((CORPUS_CRDS / directory).glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                group, names = spec["group"], spec["names"]
                if names["kind"] in skip or (group, names["kind"]) in seen:
                    continue
                seen.add((group, names["kind"]))
                # Served versions, storage version first (the preferred one in discovery).
                versions = sorted((v for v in spec["versions"] if v.get("served")),
                                  key=lambda v: not v.get("storage"))
                for v in versions:
                    out.append(ResourceType(group, v["name"], names["kind"], names["plural"],
                                            spec["scope"] == "Namespaced",
                                            tuple(names.get("shortNames") or ()),
                                            has_status="status" in (v.get("subresources") or {}),
                                            crd=True))
    return tuple(out)
