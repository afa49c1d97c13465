"""Renderers: a frozen ``GatewaySpec`` in, Kubernetes objects out, in apply order.

``render`` is the contract other parts of raygate code against (apply, lab, tests): plain
dicts, deterministic. Objects raygate creates are labelled ``app.kubernetes.io/managed-by:
raygate``; patches over objects another tool owns (the Node label, the upstream controller
Deployment or DaemonSet, ConfigMap and Service) carry no such label, so they never fight Helm.
``build`` returns the same objects with what the CLI also needs: which step of the guide each
object is, and the warnings and notes to print on stderr (GCS exposed, auth overridden, ...).

Unsafe or impossible requests raise ``SpecError``/``RenderError`` with the fix in the message;
they are never rendered with a warning attached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from raygate import ownership
from raygate.objects import ObjectSet
from raygate.render import ingress_nginx_manifests as nginx
from raygate.render import metallb
from raygate.spec import GatewaySpec

#: The guide's steps, as the YAML stream's comments name them.
STEPS = {
    1: "Step 1: node labelling: pin the controller to the gateway node",
    2: "Step 2: protocol bridging: raw TCP ports through the tcp-services ConfigMap",
    3: "Step 3: hardened controller: placement, tcp-services flag, global settings",
    4: "Step 4: snippet-free Ingresses for the Dashboard (and Serve)",
    # The Gateway API backend's steps (backend: gateway-api).
    11: "Placement: the gateway's address from MetalLB",
    12: "Cross-namespace references, granted explicitly (ReferenceGrant)",
    13: "The Gateway: one listener per protocol and port",
    14: "HTTPRoutes for the Dashboard (and Serve), no snippets",
    15: "TCPRoutes: raw TCP ports, one route per listener",
    16: "The implementation's policies: body size and timeouts Ray needs",
}


@dataclass(frozen=True)
class RenderedObject:
    obj: dict[str, Any]
    step: int
    #: Why this object exists, one line per comment line (the YAML stream prints them).
    comment: tuple[str, ...] = ()


@dataclass
class Rendered:
    items: list[RenderedObject]
    #: Loud, security-relevant messages (GCS exposed, auth overridden).
    warnings: list[str] = field(default_factory=list)
    #: Things the user has to know to use the output (manual steps, SSA caveats).
    notes: list[str] = field(default_factory=list)
    #: The spec's backend, so outputs can tell ingress-nginx objects from Gateway API ones.
    backend: str = "ingress-nginx"
    #: The server-side apply field manager of this gateway (``raygate.ownership``): what the
    #: output tells users to pass to ``kubectl apply --field-manager``.
    field_manager: str = ownership.field_manager("raygate")

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [i.obj for i in self.items]


# Imported here, not at the top: gateway_api builds RenderedObjects, defined above.
from raygate.render import gateway_api


def render(spec: GatewaySpec, *, cluster: ObjectSet | None = None,
           allow_unauthenticated: bool = False,
           served: Mapping[str, Sequence[str]] | None = None) -> list[dict[str, Any]]:
    """The gateway's manifests as plain dicts, in apply order, deterministic."""
    return build(spec, cluster=cluster, allow_unauthenticated=allow_unauthenticated,
                 served=served).objects


def build(spec: GatewaySpec, *, cluster: ObjectSet | None = None,
          allow_unauthenticated: bool = False,
          served: Mapping[str, Sequence[str]] | None = None) -> Rendered:
    """``render`` plus steps, comments, warnings and notes. ``served``: kind -> versions a live
    cluster serves (its API discovery), for the Gateway API versions to write when no CRD is
    in ``cluster``."""
    target = nginx.resolve_target(spec, cluster)
    warnings: list[str] = []
    notes: list[str] = []
    auth_warning = nginx.check_auth(spec, target, allow_unauthenticated)
    if auth_warning:
        warnings.append(auth_warning)
    if spec.exposures.gcs.enabled:
        warnings.append(
            f"GCS is exposed on gateway port {spec.exposures.gcs.port}: it is the cluster's "
            "control plane (ShadowRay-style attacks start there) and no HTTP allowlist covers "
            "it; keep it on a private network (exposures.gcs.enabled)")
    if spec.backend == "gateway-api":
        return Rendered(gateway_api.build_items(spec, target, notes, cluster, warnings, served),
                        warnings, notes, spec.backend, field_manager=_manager(spec))

    items: list[RenderedObject] = []

    def add(obj: dict[str, Any] | None, step: int, *comment: str) -> None:
        if obj is not None:
            items.append(RenderedObject(obj, step, tuple(comment)))

    pinned = spec.placement.mode == "pinned-node"
    if pinned:
        node = nginx.node_patch(spec)
        label_cmd = nginx.kubectl_label_command(spec)
        add(node, 1, "Labels the gateway node (a patch: only this label is owned). Same as:",
            f"  {label_cmd}",
            "Check the name first (kubectl get node): applying a Node that does not exist",
            "would create an empty one.")
        if node is None:
            notes.append(f"label the gateway node before applying: {label_cmd} "
                         "(or set placement.pinnedNode.nodeName / --node to render it)")

    tcp = nginx.tcp_services(spec, target)
    add(tcp, 2, "Gateway port -> head Service port; the controller listens on each key.")

    add(nginx.headers_configmap(spec), 3,
        "Response headers added on every route by the controller (add-headers).")
    add(nginx.controller_configmap(spec), 3,
        "Only these keys of the controller ConfigMap are set (server-side apply merges data).")
    add(metallb.ip_address_pool(spec), 3, "The address pool MetalLB allocates the gateway IP from.")
    add(metallb.l2_advertisement(spec), 3, "Announces the pool on the local network (L2 mode).")
    add(metallb.controller_service(spec, target), 3,
        "The controller Service as a MetalLB LoadBalancer with "
        + ("a pinned IP" if spec.placement.metallb.ip else "an address from its pool")
        + " (no externalIPs).")

    if metallb.enabled(spec) and spec.placement.metallb.ip is None:
        notes.append(f"the gateway gets any free address of MetalLB pool "
                     f"{spec.placement.metallb.pool}; it changes if the controller Service is "
                     "re-created: pin it with placement.metallb.ip (--metallb-ip)")

    _, args_source = nginx.controller_args(spec, cluster)
    # Say exactly what changes in the user's args: a flag added, or one whose value raygate
    # replaces (a Helm value, another tcp-services map) that the user may still rely on.
    changes = nginx.flag_changes(spec, cluster)
    workload = nginx.controller_patch(spec, cluster)
    kind = workload["kind"]
    add(workload, 3,
        f"A partial controller {kind}: only the fields the gateway owns.",
        *(("No updateStrategy: the DaemonSet default (maxUnavailable 1, maxSurge 0) replaces",
           "each pod in place, as pods holding the node's ports must be.")
          if kind == "DaemonSet" and pinned else ()),
        "args is atomic under server-side apply, so this is the full list: the args of",
        f"{args_source}, with " + ("these changes:" if changes else "no change (every flag "
                                    "the gateway needs is already set)."),
        *(f"  {c}" for c in changes),
        f"For a controller with other args, pass its {kind} with --cluster-manifest,",
        "or render --format kustomize (which appends the flags instead).")
    if pinned:
        notes.append("hostNetwork: the controller binds ports 80, 443 and every tcp-services "
                     "port on the gateway node itself, one controller pod per node")

    dashboard, redirect = nginx.dashboard_ingresses(spec, target)
    base = spec.exposures.dashboard.path
    add(dashboard, 4, f"{base}/<anything> -> /<anything> on the Dashboard; the path needs the",
        f"trailing slash so that {base} itself is left to the redirect below.")
    add(redirect, 4, f"Exactly {base} -> 301 {base}/ (no snippet): the Dashboard's relative asset",
        "URLs only work under the trailing slash.")
    add(nginx.serve_ingress(spec, target), 4, "Ray Serve under its sub-path.")

    if spec.security.allowlist and tcp is not None:
        notes.append("security.allowlist covers the HTTP routes only; raw TCP ports "
                     f"({', '.join(tcp['data'])}) are open to anyone who reaches the gateway "
                     "and rely on Ray token auth")
    return Rendered(items, warnings, notes, field_manager=_manager(spec))


def _manager(spec: GatewaySpec) -> str:
    return ownership.field_manager(ownership.gateway_id(spec.ray_cluster.namespace, spec.prefix))


__all__ = ["render", "build", "Rendered", "RenderedObject", "STEPS"]
