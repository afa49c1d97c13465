"""The Pinned Gateway on ingress-nginx: the guide's four steps as objects, nothing risky.

Each function returns one plain dict and decides nothing about order or output format (that is
``raygate.render``'s and ``raygate.render.outputs``' job). What they share is resolved once in
``Target``: the head Service, its real ports and the cluster's auth mode, taken from the
objects the user gave when there are any, from KubeRay's naming rules otherwise.

Why the Dashboard needs two Ingresses, and why their paths look the way they do, is explained
at ``dashboard_ingresses``; ``route`` is the executable form of that reasoning and the tests
check it against a real nginx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from raygate import kuberay
from raygate.engine import IGNORE_ANNOTATION
from raygate.errors import RenderError, SpecError
from raygate.backends.ingress_nginx import PREFIX
from raygate.objects import KubeObject, ObjectSet
from raygate.spec import GatewaySpec

MANAGED_BY = {"app.kubernetes.io/managed-by": "raygate"}

#: The controller args of the upstream baremetal deploy.yaml, controller v1.15.1
#: (shared/corpus/ingress-nginx/deploy-baremetal.yaml). Used as the base of the args list
#: when the user's controller workload is not among the inputs; see ``controller_args``.
UPSTREAM_ARGS = (
    "/nginx-ingress-controller",
    "--election-id=ingress-nginx-leader",
    "--controller-class=k8s.io/ingress-nginx",
    "--ingress-class=nginx",
    "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller",
    "--validating-webhook=:8443",
    "--validating-webhook-certificate=/usr/local/certificates/cert",
    "--validating-webhook-key=/usr/local/certificates/key",
)


def labels(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Labels of an object raygate creates and owns (``app.kubernetes.io/managed-by: raygate``)."""
    out = dict(extra or {})
    out.update(MANAGED_BY)
    return dict(sorted(out.items()))


def patch_metadata(name: str, namespace: str | None = None,
                   extra_labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Metadata of a patch over an object another tool owns (the Node, the upstream controller
    Deployment or DaemonSet, ConfigMap and Service): no managed-by label. Claiming it would
    conflict with Helm's ``managed-by: Helm`` on every server-side apply, and forcing it breaks
    ``helm upgrade``; ``raygate apply`` follows the same rule."""
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if extra_labels:
        meta["labels"] = dict(sorted(extra_labels.items()))
    return meta


# ---------------------------------------------------------------------------------------------
# What the gateway points at


@dataclass(frozen=True)
class Target:
    """The head Service the gateway routes to, with the ports and auth we could establish."""

    namespace: str
    service: str
    #: port name -> port number on the head Service.
    ports: Mapping[str, int]
    #: Where ``ports`` came from: a Service, a RayCluster, or KubeRay's defaults.
    ports_source: str
    #: True when ports came from the user's objects (a missing port is then an error).
    ports_known: bool
    auth_mode: str
    auth_source: str

    def port(self, name: str, purpose: str, fix: str) -> int:
        """The port named ``name`` (KubeRay's names: dashboard, client, serve, gcs-server)."""
        if name in self.ports:
            return self.ports[name]
        if self.ports_known:
            raise RenderError(
                f"{self.ports_source}: the head Service {self.namespace}/{self.service} has no "
                f"port named {name!r} for {purpose}; {fix}")
        return kuberay.DEFAULT_PORTS[name]

    def has_port(self, number: int) -> bool:
        return not self.ports_known or number in self.ports.values()


def resolve_target(spec: GatewaySpec, cluster: ObjectSet | None) -> Target:
    rc_ref = spec.ray_cluster
    objects = cluster or ObjectSet(())
    owner = _find_ray_cr(objects, rc_ref.namespace, rc_ref.name)
    service_name = rc_ref.head_service or (kuberay.head_service_name(owner) if owner is not None
                                           else f"{rc_ref.name}-head-svc")
    svc = objects.get("Service", rc_ref.namespace, service_name)
    if svc is not None:
        ports = _service_ports(svc)
        ports_source, known = f"{svc.origin} (Service {svc.namespace}/{svc.name})", True
    elif owner is not None:
        ports = kuberay.head_ports(owner)
        ports_source, known = f"{owner.origin} ({owner.kind} {owner.namespace}/{owner.name})", True
    else:
        ports, ports_source, known = dict(kuberay.DEFAULT_PORTS), "KubeRay's default ports", False

    if owner is not None:
        mode = kuberay.auth_mode(owner)
        auth_source = f"{owner.kind} {owner.namespace}/{owner.name} at {owner.origin}"
    else:
        mode = rc_ref.auth_mode
        auth_source = "rayCluster.authMode in the spec"
    return Target(rc_ref.namespace, service_name, ports, ports_source, known, mode, auth_source)


def _find_ray_cr(objects: ObjectSet, namespace: str, name: str) -> KubeObject | None:
    found = [o for o in kuberay.ray_clusters(objects) if o.namespace == namespace and o.name == name]
    if found:
        return found[0]
    others = [f"{o.kind} {o.namespace}/{o.name}" for o in kuberay.ray_clusters(objects)]
    if others:
        # The user gave us a Ray cluster manifest but the spec names another one: guessing
        # would silently render for the wrong cluster.
        raise SpecError(f"rayCluster is {namespace}/{name} but the given manifests only hold "
                        f"{', '.join(others)}; fix rayCluster.name/namespace (or --ray-cluster, "
                        "--namespace)")
    return None


def _service_ports(svc: KubeObject) -> dict[str, int]:
    ports: dict[str, int] = {}
    for p in svc.spec.get("ports") or []:
        if isinstance(p, dict) and isinstance(p.get("port"), int) \
                and str(p.get("protocol") or "TCP").upper() == "TCP":
            ports[str(p.get("name") or p["port"])] = p["port"]
    return ports


def check_auth(spec: GatewaySpec, target: Target, allow_unauthenticated: bool) -> str | None:
    """Refuse an unauthenticated exposure; returns a warning when the user overrode it."""
    if target.auth_mode == "token":
        return None
    what = f"{spec.ray_cluster.namespace}/{spec.ray_cluster.name}"
    if allow_unauthenticated or not spec.security.require_token_auth:
        why = ("--allow-unauthenticated" if allow_unauthenticated
               else "security.requireTokenAuth: false")
        return (f"exposing RayCluster {what} WITHOUT token auth (auth: {target.auth_mode}, "
                f"from {target.auth_source}): anyone who reaches the gateway controls the "
                f"cluster ({why})")
    if target.auth_mode == "unknown":
        raise SpecError(
            f"cannot tell whether RayCluster {what} has token auth: give its manifest "
            "(--cluster-manifest ray-cluster.yaml, or rayCluster.manifests in the spec), or "
            "assert rayCluster.authMode: token once the RayCluster sets "
            "spec.authOptions.mode: token (KubeRay >= 1.5.1, Ray >= 2.52); "
            "--allow-unauthenticated overrides")
    raise SpecError(
        f"refusing to expose RayCluster {what} without token auth (auth: {target.auth_mode}, "
        f"from {target.auth_source}); the Dashboard and Ray Client give full control of the "
        "cluster. Fix: set spec.authOptions.mode: token on the RayCluster (KubeRay >= 1.5.1, "
        "Ray >= 2.52), then render again; --allow-unauthenticated overrides")


# ---------------------------------------------------------------------------------------------
# Step 1: the node label


def node_patch(spec: GatewaySpec) -> dict[str, Any] | None:
    """A Node object carrying only the gateway label (applied as a patch, server-side)."""
    pinned = spec.placement.pinned_node
    if spec.placement.mode != "pinned-node" or pinned.node_name is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": patch_metadata(pinned.node_name,
                                   extra_labels={pinned.label_key: pinned.label_value}),
    }


def kubectl_label_command(spec: GatewaySpec) -> str:
    pinned = spec.placement.pinned_node
    node = pinned.node_name or "<your-node-name>"
    return f"kubectl label node {node} {pinned.label_key}={pinned.label_value} --overwrite"


# ---------------------------------------------------------------------------------------------
# Step 2: tcp-services


def tcp_mappings(spec: GatewaySpec, target: Target) -> list[tuple[int, int, str]]:
    """(gateway port, head Service port, what) for every raw TCP exposure, by gateway port."""
    ex = spec.exposures
    out: list[tuple[int, int, str]] = []
    if ex.ray_client.enabled:
        port = target.port("client", "the Ray Client",
                           "add containerPort 10001 named client to the head container")
        out.append((ex.ray_client.port, port, "Ray Client"))
    for i, tp in enumerate(ex.extra_tcp_ports):
        if not target.has_port(tp.target):
            raise RenderError(
                f"exposures.extraTcpPorts[{i}]: the head Service "
                f"{target.namespace}/{target.service} has no port {tp.target} "
                f"({target.ports_source}); add it to the head container's ports so KubeRay "
                "puts it on the Service, or fix servicePort")
        out.append((tp.port, tp.target, f"extra TCP port {tp.port}"))
    if ex.gcs.enabled:
        port = target.port("gcs-server", "GCS", "add containerPort 6379 named gcs-server")
        out.append((ex.gcs.port, port, "GCS"))
    return sorted(out)


def tcp_services(spec: GatewaySpec, target: Target) -> dict[str, Any] | None:
    """The tcp-services ConfigMap: ``"<gateway port>": "<ns>/<svc>:<service port>"``.

    The value's port is the Service's ``port`` (not targetPort), which is how the controller
    matches it (ingress_nginx.md §3.1).
    """
    mappings = tcp_mappings(spec, target)
    if not mappings:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": spec.controller.tcp_services_config_map,
                     "namespace": spec.controller.namespace, "labels": labels()},
        "data": {str(gw): f"{target.namespace}/{target.service}:{svc_port}"
                 for gw, svc_port, _ in mappings},
    }


# ---------------------------------------------------------------------------------------------
# Step 3: the controller


def headers_configmap_name(spec: GatewaySpec) -> str:
    return f"{spec.prefix}-response-headers"


def headers_configmap(spec: GatewaySpec) -> dict[str, Any] | None:
    """Response headers for every route, referenced from the controller ConfigMap's
    ``add-headers`` (the guide: global headers instead of snippets)."""
    headers = spec.controller.global_headers
    if not headers:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": headers_configmap_name(spec), "namespace": spec.controller.namespace,
                     "labels": labels()},
        "data": dict(sorted(headers.items())),
    }


def controller_settings(spec: GatewaySpec) -> dict[str, str]:
    """Keys this gateway sets in the controller ConfigMap (everything else is left alone)."""
    settings = {}
    if spec.exposures.tcp_ports():
        # Stream idle timeout (default 600s) is ConfigMap-only; it applies to every
        # tcp-services port (ingress_nginx.md §5).
        settings["proxy-stream-timeout"] = spec.tuning.stream_timeout
    if spec.controller.global_headers:
        settings["add-headers"] = f"{spec.controller.namespace}/{headers_configmap_name(spec)}"
    return settings


def controller_configmap(spec: GatewaySpec) -> dict[str, Any] | None:
    """Only our keys of the upstream controller ConfigMap (SSA merges ``data`` per key)."""
    settings = controller_settings(spec)
    if not settings:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": patch_metadata(spec.controller.config_map, spec.controller.namespace),
        "data": dict(sorted(settings.items())),
    }


#: Every flag ``added_args`` may set: ``raygate apply`` changes only these in the live args.
RAYGATE_FLAG_NAMES = ("--tcp-services-configmap", "--report-node-internal-ip-address",
                      "--publish-service")


def added_args(spec: GatewaySpec) -> list[str]:
    """The controller flags this gateway needs on top of the upstream ones."""
    ctl = spec.controller
    args = []
    if spec.exposures.tcp_ports():
        args.append(f"--tcp-services-configmap=$(POD_NAMESPACE)/{ctl.tcp_services_config_map}")
    if spec.placement.mode == "pinned-node":
        # With hostNetwork there is no Service to publish; report the node's IP in the
        # Ingress status instead (ingress_nginx.md §8), so `kubectl get ingress` shows it.
        args.append("--report-node-internal-ip-address")
    else:
        args.append(f"--publish-service=$(POD_NAMESPACE)/{ctl.service}")
    return args


def controller_args(spec: GatewaySpec, cluster: ObjectSet | None) -> tuple[list[str], str]:
    """The controller's args with this gateway's flags added or changed, and where the base
    list came from.

    Lists of scalars are atomic under server-side apply: whoever applies ``args`` owns all of
    it, so a rendered patch must carry the complete list: the user's controller args when
    their Deployment or DaemonSet is among the inputs (live cluster or ``--cluster-manifest``),
    the upstream v1.15.1 baremetal args otherwise. Every other flag keeps its place and value
    (``merge_flags``); ``raygate apply`` does not apply this list at all but changes only the
    flags in ``added_args`` (see ``raygate.apply``).
    """
    base, source = controller_base_args(spec, cluster)
    args, _ = merge_flags(base, added_args(spec))
    return args, source


def controller_base_args(spec: GatewaySpec, cluster: ObjectSet | None) -> tuple[list[str], str]:
    """The controller's current args (from the inputs) or upstream's, and where they came from."""
    # The upstream args, naming this spec's ConfigMap and class (they are upstream's defaults
    # unless the spec renamed them).
    base: Sequence[str] = [
        f"--configmap=$(POD_NAMESPACE)/{spec.controller.config_map}" if a.startswith("--configmap=")
        else f"--ingress-class={spec.controller.ingress_class}" if a.startswith("--ingress-class=")
        else a for a in UPSTREAM_ARGS]
    source = "the upstream v1.15.1 baremetal deploy.yaml"
    kind, workload = controller_workload(spec, cluster)
    if workload is not None:
        for c in workload.get("spec", "template", "spec", "containers") or []:
            if isinstance(c, dict) and c.get("name") == spec.controller.container \
                    and isinstance(c.get("args"), list):
                base = [str(a) for a in c["args"]]
                source = f"{workload.origin} ({kind} {workload.namespace}/{workload.name})"
    return list(base), source


#: The kinds an ingress-nginx controller is installed as: the upstream deploy.yaml and the
#: chart's default make a Deployment, the chart's ``controller.kind: DaemonSet`` a DaemonSet
#: (charts/ingress-nginx/values.yaml @controller-v1.15.1: "Use a `DaemonSet` or `Deployment`").
WORKLOAD_KINDS = ("Deployment", "DaemonSet")


def controller_workload(spec: GatewaySpec, cluster: ObjectSet | None
                        ) -> tuple[str, KubeObject | None]:
    """The controller workload's kind, and the workload itself when it is among the inputs.

    The kind is ``controller.kind`` when the spec says it, else the kind of the workload named
    ``controller.deployment`` in the inputs, else Deployment (the upstream deploy.yaml's). A
    spec kind the inputs contradict is refused: rendering it would patch a workload that does
    not exist, and ``raygate apply`` must never create a second controller beside the user's.
    Both kinds under one name is the chart's ``controller.kind: Both``, removed in chart 4.8.3
    (kubernetes/ingress-nginx#10255): two controllers serve the class, and the one raygate did
    not patch would serve without its flags, so it is refused too.
    """
    ctl = spec.controller
    objects = cluster or ObjectSet(())
    found = {kind: obj for kind in WORKLOAD_KINDS
             if (obj := objects.get(kind, ctl.namespace, ctl.deployment)) is not None}
    where = ", ".join(f"{k} {o.namespace}/{o.name} at {o.origin}" for k, o in found.items())
    if len(found) > 1:
        raise RenderError(
            f"the controller runs as both a Deployment and a DaemonSet ({where}), as the "
            "ingress-nginx chart's controller.kind: Both did before chart 4.8.3; raygate "
            "patches one controller workload and the other would serve the class without "
            "its flags: keep one (helm upgrade with controller.kind: Deployment or DaemonSet)")
    if ctl.kind is not None:
        if found and ctl.kind not in found:
            [(other, obj)] = found.items()
            raise SpecError(
                f"controller.kind is {ctl.kind} but the controller is a {other} ({where}); "
                f"set controller.kind: {other} (or leave it out to follow the cluster): "
                f"raygate only patches the controller and never creates a second one")
        return ctl.kind, found.get(ctl.kind)
    if found:
        [(kind, obj)] = found.items()
        return kind, obj
    return "Deployment", None


def flag_name(arg: str) -> str:
    """``--tcp-services-configmap=x`` -> ``--tcp-services-configmap`` (Go flags: ``--f=v``)."""
    return arg.partition("=")[0]


def merge_flags(args: Sequence[str], wanted: Sequence[str]) -> tuple[list[str], list[str]]:
    """``args`` with every flag of ``wanted`` set: a flag already there with another value is
    changed in place, a missing one is appended, everything else is left as it is (order,
    other flags, a second occurrence). Returns the new list and one line per change."""
    out = [str(a) for a in args]
    changes: list[str] = []
    for flag in wanted:
        name = flag_name(flag)
        at = [i for i, a in enumerate(out) if flag_name(a) == name]
        if not at:
            out.append(flag)
            changes.append(f"adds {flag}")
        elif out[at[-1]] != flag:
            # Go's flag package keeps the last occurrence: that is the one that counts.
            changes.append(f"changes {out[at[-1]]} to {flag}")
            out[at[-1]] = flag
    return out, changes


def flag_changes(spec: GatewaySpec, cluster: ObjectSet | None) -> list[str]:
    """What this gateway changes in the controller's args (empty when nothing)."""
    base, _ = controller_base_args(spec, cluster)
    return merge_flags(base, added_args(spec))[1]


def controller_patch(spec: GatewaySpec, cluster: ObjectSet | None) -> dict[str, Any]:
    """The controller workload (Deployment or DaemonSet, ``controller_workload``) as a partial
    object: only the fields the gateway owns.

    ``selector`` is repeated because the schema requires it and it is immutable (the live one
    when the workload is among the inputs: same value, so co-owned without conflict); the
    container is matched by name (SSA list-map key). A DaemonSet gets no ``replicas`` and no
    rollout strategy: see ``PINNED_ROLLOUT`` for why its default is already the right one.
    """
    ctl = spec.controller
    kind, live = controller_workload(spec, cluster)
    args, _ = controller_args(spec, cluster)
    pod_spec: dict[str, Any] = {}
    if spec.placement.mode == "pinned-node":
        pinned = spec.placement.pinned_node
        pod_spec.update({
            # The guide's step 3: bind the node's own ports, keep cluster DNS working.
            "hostNetwork": True,
            "dnsPolicy": "ClusterFirstWithHostNet",
            "nodeSelector": {pinned.label_key: pinned.label_value},
        })
    pod_spec["containers"] = [{"name": ctl.container, "args": args}]
    pod_labels = dict(sorted(ctl.pod_labels.items()))
    live_selector = live.get("spec", "selector", "matchLabels") if live is not None else None
    if isinstance(live_selector, dict) and live_selector:
        pod_labels = {str(k): str(v) for k, v in sorted(live_selector.items())}
    workload_spec: dict[str, Any] = {"selector": {"matchLabels": pod_labels}}
    if spec.placement.mode == "pinned-node" and kind == "Deployment":
        workload_spec["strategy"] = PINNED_ROLLOUT
    workload_spec["template"] = {"metadata": {"labels": dict(pod_labels)}, "spec": pod_spec}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": patch_metadata(ctl.deployment, ctl.namespace),
        "spec": workload_spec,
    }


#: A hostNetwork pod holds the node's ports, so the next one can only start after the old one
#: stopped: no surge, one unavailable (the upstream static manifest's maxUnavailable: 1; the
#: Helm chart's default 25%/25% would hang every rollout on a single pinned node).
#: Deployments only: a DaemonSet's ``updateStrategy`` defaults to exactly this, RollingUpdate
#: with maxUnavailable 1 and maxSurge 0 (k8s.io/api apps/v1 types.go RollingUpdateDaemonSet:
#: "Default value is 1" / "Default value is 0"; SetDefaults_DaemonSet in
#: pkg/apis/apps/v1/defaults.go), which replaces the pod on a node in place: the old pod is
#: deleted before the new one starts. A surge would start the new pod beside the old one on
#: the same node, where it cannot bind the host ports (ingress_nginx.md §8), so raygate leaves
#: the DaemonSet's default, and whoever set it, alone.
PINNED_ROLLOUT: dict[str, Any] = {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


# ---------------------------------------------------------------------------------------------
# Step 4: the Ingresses
#
# How ingress-nginx picks a location (ingress_nginx.md §4.1):
#   * rewrite-target (or use-regex) on ANY Ingress of a host turns EVERY path of that host,
#     from every Ingress, into `location ~* "^<path>"`: a case-insensitive regex anchored
#     only at the start;
#   * locations are ordered by descending path length, and the first regex that matches wins.
#
# The guide's single path `/ray(/|$)(.*)` also matches `/ray` itself (through `$`) and
# rewrites it to `/`, so the Dashboard loads with the wrong base URL and its relative
# assets break. A redirect for `/ray` cannot sit beside it: `/ray(/|$)(.*)` is longer than
# any `/ray` redirect path, so it is tried first and always wins.
#
# Hence two Ingresses for the Dashboard:
#   1. `/ray/(.*)` with rewrite-target `/$1`: requires the slash, so it matches `/ray/` and
#      `/ray/api/x` but neither `/ray` nor `/rayfoo`;
#   2. `/ray$` (ImplementationSpecific, use-regex) with permanent-redirect `/ray/`: under the
#      anchored regex it matches exactly `/ray` (any case). A Prefix or Exact `/ray` would not
#      do: under the host-wide regex it becomes `^/ray` and would also catch `/rayfoo`.
# `/rayfoo` matches neither and falls through to the default backend (404).
# permanent-redirect's validator (URLIsValidRegex) accepts `/ray/` (no `$`, no scheme
# needed; only temporal-redirect insists on http/https), and relative-redirects makes nginx
# send `Location: /ray/` as is, so the redirect keeps whatever host, port and scheme the
# client used.


def dashboard_paths(spec: GatewaySpec) -> tuple[str, str]:
    """(Dashboard location path, exact redirect path) for the configured sub-path."""
    base = spec.exposures.dashboard.path
    return f"{base}/(.*)", f"{base}$"


def serve_path(spec: GatewaySpec) -> str | None:
    # Serve apps are reached at the prefix itself too (`/serve` -> `/`), so the guide's
    # optional-slash form is right here; sub-paths are disjoint from the Dashboard's.
    serve = spec.exposures.serve
    return None if serve is None else f"{serve.path}(/|$)(.*)"


def _ingress(spec: GatewaySpec, target: Target, name: str, path: str, port: int,
             annotations: Mapping[str, str]) -> dict[str, Any]:
    ex, sec = spec.exposures, spec.security
    notes = dict(annotations)
    if sec.allowlist:
        notes[PREFIX + "allowlist-source-range"] = ",".join(sec.allowlist)
    rule: dict[str, Any] = {}
    if ex.host:
        rule["host"] = ex.host
    rule["http"] = {"paths": [{
        "path": path,
        "pathType": "ImplementationSpecific",
        "backend": {"service": {"name": target.service, "port": {"number": port}}},
    }]}
    ingress_spec: dict[str, Any] = {"ingressClassName": spec.controller.ingress_class}
    if sec.tls is not None and ex.host:
        ingress_spec["tls"] = [{"hosts": [ex.host], "secretName": sec.tls.secret_name}]
    ingress_spec["rules"] = [rule]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": spec.ray_cluster.namespace, "labels": labels(),
                     "annotations": dict(sorted(notes.items()))},
        "spec": ingress_spec,
    }


def _proxy_annotations(spec: GatewaySpec) -> dict[str, str]:
    tun = spec.tuning
    return {
        PREFIX + "proxy-body-size": tun.body_size,
        PREFIX + "proxy-read-timeout": str(tun.read_timeout),
        PREFIX + "proxy-send-timeout": str(tun.send_timeout),
    }


def dashboard_ingresses(spec: GatewaySpec, target: Target) -> list[dict[str, Any]]:
    port = target.port("dashboard", "the Dashboard",
                       "add containerPort 8265 named dashboard to the head container")
    path, redirect_path = dashboard_paths(spec)
    dashboard = _ingress(spec, target, f"{spec.prefix}-dashboard", path, port, {
        PREFIX + "rewrite-target": "/$1",
        PREFIX + "use-regex": "true",
        **_proxy_annotations(spec),
    })
    redirect = _ingress(spec, target, f"{spec.prefix}-dashboard-redirect", redirect_path, port, {
        PREFIX + "use-regex": "true",
        PREFIX + "permanent-redirect": spec.exposures.dashboard.path + "/",
        PREFIX + "relative-redirects": "true",
        # nginx checks the body size once the location is chosen, before the redirect runs:
        # without the same limit, a large POST to /ray gets 413 instead of the redirect.
        **_proxy_annotations(spec),
    })
    if not spec.exposures.ray_client.enabled:
        # The user chose not to expose the Ray Client; record that decision where the
        # catalog's ray-client-not-exposed rule would otherwise ask for it.
        for ingress in (dashboard, redirect):
            ingress["metadata"]["annotations"][IGNORE_ANNOTATION] = "ray-client-not-exposed"
    return [dashboard, redirect]


def serve_ingress(spec: GatewaySpec, target: Target) -> dict[str, Any] | None:
    path = serve_path(spec)
    if path is None:
        return None
    port = target.port("serve", "Ray Serve",
                       "add containerPort 8000 named serve to the head container")
    return _ingress(spec, target, f"{spec.prefix}-serve", path, port, {
        PREFIX + "rewrite-target": "/$2",
        PREFIX + "use-regex": "true",
        **_proxy_annotations(spec),
    })
