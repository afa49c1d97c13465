"""``raygate apply``: server-side apply the rendered gateway, wait for it, then verify.

Why server-side apply (field manager ``raygate``) and nothing else: the gateway shares
objects with other tools. The tcp-services ConfigMap may carry entries for other services,
the controller Deployment was installed by Helm or the upstream ``deploy.yaml``, the Node
belongs to the kubelet. With SSA raygate owns exactly the fields it renders: its
tcp-services keys are merged entry by entry and entries owned by others stay; keys raygate
stops rendering are removed by the API server itself. A field someone else owns and raygate
wants to change is a conflict, reported and left alone unless ``--force-conflicts``.

Objects that raygate only patches (the Node label, the controller workload) must already
exist: applying a partial Deployment would create a broken one, so a missing one is reported
("install ingress-nginx first") instead of created.

Objects raygate creates carry ``app.kubernetes.io/managed-by: raygate`` and
``raygate.io/gateway: <this gateway>``; objects it only patches (the controller workload, or
any object whose live managed-by names another tool, e.g. Helm) get the gateway label only.
``--prune`` deletes objects carrying both labels that are no longer rendered, and only when
raygate is their sole field manager, so an object another tool also writes is never deleted.

Re-running is a no-op: the API server does not write an object whose applied fields did not
change, so its resourceVersion stays and the report counts it as unchanged.
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import yaml

from raygate.backends import ingress_nginx as nginx
from raygate.sources.cluster import FIELD_MANAGER, ClusterSource

MANAGED_BY = "app.kubernetes.io/managed-by"
GATEWAY_LABEL = "raygate.io/gateway"
#: Kinds raygate patches but never creates: a partial one would be a broken object.
MUST_EXIST = frozenset({"Node", "Deployment", "DaemonSet"})
#: Kinds ``--prune`` looks at (what the renderers produce, minus the patched ones).
PRUNE_KINDS = (("v1", "ConfigMap"), ("v1", "Service"), ("networking.k8s.io/v1", "Ingress"),
               ("metallb.io/v1beta1", "IPAddressPool"), ("metallb.io/v1beta1", "L2Advertisement"),
               ("gateway.networking.k8s.io/v1", "Gateway"),
               ("gateway.networking.k8s.io/v1", "HTTPRoute"),
               ("gateway.networking.k8s.io/v1alpha2", "TCPRoute"))
_VOLATILE_META = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation",
                  "selfLink")

CREATED, CONFIGURED, UNCHANGED, PRUNED = "created", "configured", "unchanged", "pruned"
CONFLICT, DENIED, MISSING = "conflict", "denied", "missing"
CHANGED_ACTIONS = (CREATED, CONFIGURED, PRUNED)
FAILED_ACTIONS = (CONFLICT, DENIED, MISSING)


@dataclass
class Change:
    """What happened (or, with ``dry_run``, would happen) to one object."""

    ref: str
    action: str
    message: str = ""
    diff: str = ""


@dataclass
class ApplyReport:
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    #: Problems found while waiting (rollout not done, endpoints missing); empty when ready.
    waiting: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[Change]:
        return [c for c in self.changes if c.action in CHANGED_ACTIONS]

    @property
    def failed(self) -> list[Change]:
        return [c for c in self.changes if c.action in FAILED_ACTIONS]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            out[c.action] = out.get(c.action, 0) + 1
        return out


def gateway_id(spec: Any) -> str:
    """A label value naming this gateway: ``<namespace>.<prefix>`` (DNS-safe, <= 63 chars)."""
    raw = f"{spec.ray_cluster.namespace}.{spec.prefix}"
    value = re.sub(r"[^A-Za-z0-9_.-]", "-", raw)[:63].strip("-_.")
    return value or "raygate"


def ref_of(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')}/{ns}/{meta.get('name')}" if ns else f"{obj.get('kind')}/{meta.get('name')}"


def label(objects: Iterable[Mapping[str, Any]], gateway: str) -> list[dict[str, Any]]:
    """Copies of ``objects`` carrying the managed-by and gateway labels. Nodes get none: a
    Node is the kubelet's, raygate only owns its one placement label. (``_claim`` drops
    managed-by again where the live object is another tool's.)"""
    out = []
    for obj in objects:
        new = _deep(obj)
        if new.get("kind") != "Node":
            labels = new.setdefault("metadata", {}).setdefault("labels", {})
            labels[MANAGED_BY] = "raygate"
            labels[GATEWAY_LABEL] = gateway
        out.append(new)
    return out


def _deep(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _deep(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deep(v) for v in obj]
    return obj


def normalized(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    """An object without server bookkeeping and status, for diffs and comparisons."""
    if obj is None:
        return {}
    out = {k: _deep(v) for k, v in obj.items() if k != "status"}
    meta = out.get("metadata") or {}
    for k in _VOLATILE_META:
        meta.pop(k, None)
    return out


def unified_diff(ref: str, live: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> str:
    a = yaml.safe_dump(normalized(live), sort_keys=True).splitlines(keepends=True) if live else []
    b = yaml.safe_dump(normalized(wanted), sort_keys=True).splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, f"live/{ref}", f"raygate/{ref}"))


# --------------------------------------------------------------------------- apply

def apply_objects(source: ClusterSource, objects: list[dict[str, Any]], *, gateway: str,
                  dry_run: bool = False, force_conflicts: bool = False, diff: bool = False,
                  prune: bool = False) -> ApplyReport:
    """Server-side apply each object in order (field manager ``raygate``)."""
    report = ApplyReport(dry_run=dry_run)
    wanted = label(objects, gateway)
    for obj in wanted:
        report.changes.append(_apply_one(source, obj, dry_run=dry_run, force=force_conflicts,
                                         want_diff=diff))
    if prune:
        report.changes.extend(_prune(source, wanted, gateway, dry_run=dry_run, want_diff=diff))
    return report


def _get(source: ClusterSource, res: Any, name: str, namespace: str | None) -> dict | None:
    import httpx2
    from lightkube.core.exceptions import ApiError
    try:
        kwargs = {"namespace": namespace} if namespace else {}
        return dict(source.client.get(res, name, **kwargs))
    except ApiError as e:
        if e.status.code == 404:
            return None
        raise source.error(e, f"GET {res.__name__}/{name}") from None
    except httpx2.HTTPError as e:
        raise source.error(e, f"GET {res.__name__}/{name}") from None


def _ssa(source: ClusterSource, res: Any, obj: dict[str, Any], *, dry_run: bool,
         force: bool) -> tuple[dict[str, Any] | None, Change | None]:
    """Apply one object: ``(result, None)`` or ``(None, Change)`` for a refusal."""
    import httpx2
    from lightkube.core.exceptions import ApiError
    meta = obj.get("metadata") or {}
    ref = ref_of(obj)
    try:
        kwargs = {"namespace": meta.get("namespace")} if meta.get("namespace") else {}
        result = source.client.apply(res(obj), field_manager=FIELD_MANAGER, force=force,
                                     dry_run=dry_run, **kwargs)
        return dict(result), None
    except ApiError as e:
        code, message = e.status.code, str(e.status.message)
        if code == 409:
            return None, Change(ref, CONFLICT, message + " (fields owned by another manager; "
                                "re-run with --force-conflicts to take them over)")
        if code in (400, 403, 422):
            return None, Change(ref, DENIED, message)
        raise source.error(e, f"apply {ref}") from None
    except httpx2.HTTPError as e:
        raise source.error(e, f"apply {ref}") from None


def _apply_one(source: ClusterSource, obj: dict[str, Any], *, dry_run: bool, force: bool,
               want_diff: bool) -> Change:
    ref = ref_of(obj)
    res = source.resource_for(obj)
    meta = obj.get("metadata") or {}
    live = _get(source, res, meta.get("name"), meta.get("namespace"))
    obj = _claim(obj, live)
    if live is None and obj.get("kind") in MUST_EXIST:
        what = "label the node" if obj.get("kind") == "Node" else "install ingress-nginx first"
        return Change(ref, MISSING, f"{ref} does not exist; raygate only patches it ({what})")
    text = ""
    if want_diff and not dry_run:
        preview, refusal = _ssa(source, res, obj, dry_run=True, force=force)
        if refusal is not None:
            return refusal
        text = unified_diff(ref, live, preview or {})
    result, refusal = _ssa(source, res, obj, dry_run=dry_run, force=force)
    if refusal is not None:
        return refusal
    assert result is not None
    if want_diff and dry_run:
        text = unified_diff(ref, live, result)
    if live is None:
        return Change(ref, CREATED, diff=text)
    same_version = (result.get("metadata") or {}).get("resourceVersion") == \
        (live.get("metadata") or {}).get("resourceVersion")
    unchanged = same_version if not dry_run else normalized(result) == normalized(live)
    return Change(ref, UNCHANGED if unchanged else CONFIGURED, diff=text)


def _claim(obj: dict[str, Any], live: Mapping[str, Any] | None) -> dict[str, Any]:
    """``obj`` without the managed-by label when the object is not raygate's to claim: a
    workload raygate only patches, or one whose live managed-by names another tool (Helm
    labels the controller, its ConfigMap and a tcp-services it created). Applying our value
    would be a conflict on every run, and forcing it would break ``helm upgrade``; without
    the label ``--prune`` never touches the object, which is what it should do."""
    live_labels = ((live or {}).get("metadata") or {}).get("labels") or {}
    theirs = live_labels.get(MANAGED_BY) if isinstance(live_labels, Mapping) else None
    if obj.get("kind") not in MUST_EXIST and (not theirs or theirs == "raygate"):
        return obj
    out = _deep(obj)
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(MANAGED_BY, None)
    return out


def _prune(source: ClusterSource, wanted: list[dict[str, Any]], gateway: str, *,
           dry_run: bool, want_diff: bool) -> list[Change]:
    import httpx2
    from lightkube.core.exceptions import ApiError
    keep = {(o.get("kind"), (o.get("metadata") or {}).get("namespace") or "",
             (o.get("metadata") or {}).get("name")) for o in wanted}
    groups = source.discover()
    changes: list[Change] = []
    for api_version, kind in PRUNE_KINDS:
        group, _, version = api_version.rpartition("/")
        if version not in groups.get(group, []):
            continue
        res = source.resource_for({"apiVersion": api_version, "kind": kind})
        try:
            kwargs = {"namespace": "*"} if _namespaced(res) else {}
            live = [dict(o) for o in source.client.list(
                res, labels={MANAGED_BY: "raygate", GATEWAY_LABEL: gateway}, **kwargs)]
        except (ApiError, httpx2.HTTPError) as e:
            raise source.error(e, f"LIST {kind} for --prune") from None
        for obj in live:
            obj.setdefault("kind", kind)
            meta = obj.get("metadata") or {}
            key = (kind, meta.get("namespace") or "", meta.get("name"))
            if key in keep:
                continue
            ref = ref_of(obj)
            others = sorted({m.get("manager") for m in meta.get("managedFields") or []
                             if m.get("manager") != FIELD_MANAGER and m.get("subresource") != "status"})
            if others:
                changes.append(Change(ref, UNCHANGED, "not pruned: also managed by "
                                      + ", ".join(str(o) for o in others)))
                continue
            try:
                if not dry_run:
                    kwargs = {"namespace": meta.get("namespace")} if meta.get("namespace") else {}
                    source.client.delete(res, meta.get("name"), **kwargs)
            except (ApiError, httpx2.HTTPError) as e:
                raise source.error(e, f"delete {ref}") from None
            text = unified_diff(ref, obj, {}) if want_diff else ""
            changes.append(Change(ref, PRUNED, "no longer rendered", diff=text))
    return changes


def _namespaced(res: Any) -> bool:
    from lightkube.core import resource as r
    return issubclass(res, r.NamespacedResource)


# --------------------------------------------------------------------------- wait

@dataclass(frozen=True)
class WaitTarget:
    """Something that must become true after apply: a rollout, or ready endpoints."""

    description: str
    check: Callable[[ClusterSource], str | None]  # None when satisfied, else what is missing


def wait_targets(objects: Iterable[Mapping[str, Any]]) -> list[WaitTarget]:
    """The controller rollout and the endpoints of every backend the gateway routes to."""
    targets: list[WaitTarget] = []
    backends: dict[tuple[str, str], set[str]] = {}
    for obj in objects:
        kind, meta = obj.get("kind"), obj.get("metadata") or {}
        ns, name = meta.get("namespace") or "default", meta.get("name")
        if kind in ("Deployment", "DaemonSet"):
            targets.append(WaitTarget(f"rollout of {kind} {ns}/{name}",
                                      _rollout_check(str(kind), ns, str(name))))
        elif kind == "ConfigMap" and isinstance(obj.get("data"), dict) and \
                all(str(k).isdigit() for k in obj["data"]) and obj["data"]:
            for k, v in obj["data"].items():
                entry = nginx.parse_tcp_entry(k, v)
                if entry.error is None and entry.namespace and entry.service and entry.port:
                    backends.setdefault((entry.namespace, entry.service), set()).add(entry.port)
        elif kind == "Ingress":
            for _, path, _ in _ingress_paths(obj):
                svc, port = nginx.backend_service(path)
                if svc and port:
                    backends.setdefault((ns, svc), set()).add(port)
    for (ns, svc), ports in sorted(backends.items()):
        targets.append(WaitTarget(f"endpoints of Service {ns}/{svc} (ports {', '.join(sorted(ports))})",
                                  _endpoints_check(ns, svc, ports)))
    return targets


def _ingress_paths(obj: Mapping[str, Any]) -> Iterable[Any]:
    from raygate.objects import KubeObject, Origin
    return nginx.ingress_paths(KubeObject(obj, Origin("apply")))


def _rollout_check(kind: str, ns: str, name: str) -> Callable[[ClusterSource], str | None]:
    def check(source: ClusterSource) -> str | None:
        res = source.resource_for({"apiVersion": "apps/v1", "kind": kind})
        live = _get(source, res, name, ns)
        if live is None:
            return "not found"
        status = live.get("status") or {}
        generation = (live.get("metadata") or {}).get("generation", 0)
        if status.get("observedGeneration", 0) < generation:
            return "the controller has not seen the new spec yet"
        if kind == "Deployment":
            want = (live.get("spec") or {}).get("replicas", 1)
            if status.get("updatedReplicas", 0) < want:
                return f"{status.get('updatedReplicas', 0)}/{want} pods updated"
            if status.get("availableReplicas", 0) < want:
                return f"{status.get('availableReplicas', 0)}/{want} pods available"
        else:
            want = status.get("desiredNumberScheduled", 0)
            if status.get("updatedNumberScheduled", 0) < want or status.get("numberAvailable", 0) < want:
                return f"{status.get('numberAvailable', 0)}/{want} pods available"
        return None
    return check


def _endpoints_check(ns: str, svc: str, ports: set[str]) -> Callable[[ClusterSource], str | None]:
    def check(source: ClusterSource) -> str | None:
        import httpx2
        from lightkube.core.exceptions import ApiError
        res = source.resource_for({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice"})
        try:
            slices = [dict(s) for s in source.client.list(
                res, namespace=ns, labels={"kubernetes.io/service-name": svc})]
        except (ApiError, httpx2.HTTPError) as e:
            raise source.error(e, f"LIST EndpointSlices of {ns}/{svc}") from None
        service = _get(source, source.resource_for({"apiVersion": "v1", "kind": "Service"}), svc, ns)
        if service is None:
            return "the Service does not exist"
        missing = []
        for port in sorted(ports):
            sp = nginx.resolve_service_port(_as_object(service), port)
            if sp is None:
                missing.append(f"{port} (not a port of the Service)")
                continue
            pname = sp.get("name")
            ready = any(
                any((e.get("conditions") or {}).get("ready", True) is not False
                    for e in s.get("endpoints") or [])
                and any(p.get("name") == pname or (pname is None and not p.get("name"))
                        for p in s.get("ports") or [])
                for s in slices)
            if not ready:
                missing.append(port)
        return f"no ready endpoint for port {', '.join(missing)}" if missing else None
    return check


def _as_object(obj: Mapping[str, Any]) -> Any:
    from raygate.objects import KubeObject, Origin
    return KubeObject(obj, Origin("apply"))


def wait(source: ClusterSource, targets: list[WaitTarget], timeout: float, *,
         interval: float = 1.0,
         on_update: Callable[[WaitTarget, str | None], None] | None = None) -> list[str]:
    """Poll every target until all are satisfied or ``timeout`` runs out; what is still
    missing, one line per target (empty when everything is ready)."""
    deadline = time.monotonic() + timeout
    pending = list(targets)
    last: dict[str, str | None] = {}
    while True:
        still = []
        for t in pending:
            state = t.check(source)
            last[t.description] = state
            if on_update is not None:
                on_update(t, state)
            if state is not None:
                still.append(t)
        pending = still
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
    return [f"{t.description}: {last[t.description]}" for t in pending]


def load_live(source: ClusterSource) -> Any:
    """The live cluster as an ``ObjectSet`` (render reads the controller's real args)."""
    from raygate.objects import ObjectSet
    result = source.load()
    return ObjectSet(result.objects)
