"""``raygate apply``: server-side apply the rendered gateway, wait for it, then verify.

Why server-side apply, and why one field manager per gateway: the gateway shares objects with
other tools and with other gateways. The tcp-services ConfigMap carries entries of every Ray
cluster behind the controller (and of other services), the controller Deployment (or
DaemonSet, the chart's ``controller.kind: DaemonSet``) was installed by Helm or the upstream
``deploy.yaml``, the Node belongs to the kubelet. Each
gateway applies as ``raygate/<namespace>.<name>`` (``Gateway.manager``), so it owns exactly
the fields it renders: its tcp-services keys are merged entry by entry, entries owned by
other gateways or tools stay, and keys it stops rendering are removed by the API server
itself. With one manager for every gateway (raygate 0.1), applying gateway B removed gateway
A's entries: the API server drops what a manager owned and no longer sends.

- **Ownership marks.** Objects only this gateway renders carry ``app.kubernetes.io/managed-by:
  raygate`` and ``raygate.io/gateway: <id>``. Every object a gateway writes (shared ones too)
  carries its own label key ``gateway.raygate.io/<id>``: one key per gateway, so co-owners never
  fight over a value and ``--prune`` can find what it wrote. Objects whose live managed-by
  names another tool (Helm) keep that label.
- **Refused before anything is written.** A server-side dry run of every object runs first; a
  conflict with another gateway's manager (the same external port in tcp-services, another
  ``add-headers``, another value of a controller flag) refuses the whole apply with a message
  naming the owner. Conflicts with other tools are reported per object (or taken over with
  ``--force-conflicts``); conflicts with another gateway are never forced.
- **The controller's args are not applied.** ``args`` is an atomic list under server-side
  apply: applying it would take the whole list from Helm (or whoever installed the
  controller). raygate applies the rest of its controller patch, then changes only its own
  flags in the live list with a JSON patch guarded by ``test`` operations (a concurrent change
  makes it fail and retry), and records the flags it needs in the annotation
  ``flags.raygate.io/<id>``. The change report says which flags changed.
- **Prune** (``--prune``) looks at the objects carrying this gateway's marks that are no longer
  rendered: one only this gateway's manager writes is deleted; one others also write is
  *released* (an empty apply by this gateway's manager: the API server removes exactly the
  fields only this gateway owned, e.g. its tcp-services entries).
- **Migration from 0.1** (single manager ``raygate``): an object whose ``raygate.io/gateway``
  label names this gateway has its ``raygate`` managedFields entry handed to this gateway's
  manager (restricted to the fields this gateway still renders; the rest become unowned and
  stay), in one JSON patch guarded by the resourceVersion, as client-go's ``csaupgrade`` does.
  A ``raygate`` entry on an object labelled for another gateway is that gateway's until it is
  applied again; its fields are never removed meanwhile.

Objects that raygate only patches (the Node label, the controller workload) must already
exist: applying a partial Deployment would create a broken one, so a missing one is reported
("install ingress-nginx first") instead of created. The workload's kind is the live one (the
renderer reads it, ``ingress_nginx_manifests.controller_workload``); a spec whose
``controller.kind`` the cluster contradicts is refused before anything is written, so raygate
never creates a second controller beside the user's.

Re-running is a no-op: the API server does not write an object whose applied fields did not
change, so its resourceVersion stays and the report counts it as unchanged.

When the API server fails mid-apply (500, timeout, a 403 on one kind), ``ApplyInterrupted``
names the objects already written and the command that finishes (re-run) or undoes
(``--prune`` with the previous spec) the apply.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import yaml

from raygate import ownership
from raygate.backends import ingress_nginx as nginx
from raygate.backends.gateway_api import api as gateway_api
from raygate.ownership import MANAGER_PREFIX
from raygate.errors import ClusterError
from raygate.render.ingress_nginx_manifests import WORKLOAD_KINDS, flag_name, merge_flags
from raygate.sources.cluster import ClusterSource

MANAGED_BY = "app.kubernetes.io/managed-by"
GATEWAY_LABEL = "raygate.io/gateway"
#: One label key per gateway on every object it writes (``gateway.raygate.io/<id>``).
PRESENCE_PREFIX = "gateway.raygate.io/"
#: The controller flags a gateway needs, on the controller workload (``flags.raygate.io/<id>``).
FLAGS_PREFIX = "flags.raygate.io/"
#: The field manager every gateway used in raygate 0.1.
LEGACY_MANAGER = "raygate"
#: Kinds raygate patches but never creates: a partial one would be a broken object.
MUST_EXIST = frozenset({"Node", *WORKLOAD_KINDS})
#: Kinds ``--prune`` looks at (what the renderers produce). Workloads are only ever released.
PRUNE_KINDS = (("v1", "ConfigMap"), ("v1", "Service"), ("networking.k8s.io/v1", "Ingress"),
               ("metallb.io/v1beta1", "IPAddressPool"), ("metallb.io/v1beta1", "L2Advertisement"),
               ("gateway.networking.k8s.io/v1", "Gateway"),
               ("gateway.networking.k8s.io/v1", "HTTPRoute"),
               ("gateway.networking.k8s.io/v1alpha2", "TCPRoute"),
               ("gateway.networking.k8s.io/v1", "TCPRoute"),
               ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
               ("gateway.networking.k8s.io/v1", "ListenerSet"),
               ("gateway.networking.x-k8s.io/v1alpha1", "XListenerSet"),
               ("apps/v1", "Deployment"), ("apps/v1", "DaemonSet"))
_VOLATILE_META = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation",
                  "selfLink")
#: How often the guarded args patch is retried when the list changed under it.
ARGS_RETRIES = 3

CREATED, CONFIGURED, UNCHANGED, PRUNED, RELEASED = "created", "configured", "unchanged", "pruned", "released"
CONFLICT, DENIED, MISSING = "conflict", "denied", "missing"
CHANGED_ACTIONS = (CREATED, CONFIGURED, PRUNED, RELEASED)
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


class ApplyRefused(ClusterError):
    """The apply would take something another gateway owns; nothing was written."""


class ApplyInterrupted(ClusterError):
    """The API server failed mid-apply; the message names what was written and how to go on."""

    def __init__(self, message: str, written: list[str]) -> None:
        super().__init__(message)
        self.written = written


# --------------------------------------------------------------------------- identity

@dataclass(frozen=True)
class Gateway:
    """Who is applying: the label value, the field manager and the objects it shares."""

    id: str
    manager: str
    #: (kind, namespace, name) of objects other gateways may render too (controller objects).
    shared: frozenset[tuple[str, str, str]] = frozenset()
    #: The controller flags this gateway needs (None: the rendered args' raygate flags).
    flags: tuple[str, ...] | None = None

    @classmethod
    def named(cls, gateway_id: str, shared: Iterable[tuple[str, str, str]] = (),
              flags: Iterable[str] | None = None) -> "Gateway":
        return cls(gateway_id, ownership.field_manager(gateway_id),
                   frozenset(shared), None if flags is None else tuple(flags))

    @property
    def presence_label(self) -> str:
        return PRESENCE_PREFIX + self.id

    @property
    def flags_annotation(self) -> str:
        return FLAGS_PREFIX + self.id

    def is_shared(self, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        key = (str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))
        if self.shared:
            return key in self.shared or obj.get("kind") in MUST_EXIST
        # Without a spec: what the renderer marks as another tool's (no managed-by label)
        # and the patched kinds are shared; so is a tcp-services map (every key a port).
        labels = meta.get("labels") or {}
        data = obj.get("data")
        return obj.get("kind") in MUST_EXIST or MANAGED_BY not in labels or (
            obj.get("kind") == "ConfigMap" and isinstance(data, dict) and bool(data)
            and all(str(k).isdigit() for k in data))


def gateway_id(spec: Any) -> str:
    """A label value naming this gateway: ``<namespace>.<prefix>`` (<= 63 chars)."""
    return ownership.gateway_id(spec.ray_cluster.namespace, spec.prefix)


def gateway_for(spec: Any) -> Gateway:
    """The gateway of a spec: its id, manager ``raygate/<namespace>.<name>`` and the
    controller objects it shares with every other gateway behind the same controller."""
    ctl = spec.controller
    # The controller workload is shared as a patched kind (MUST_EXIST); these are the rest.
    shared = {("ConfigMap", ctl.namespace, ctl.config_map),
              ("ConfigMap", ctl.namespace, ctl.tcp_services_config_map),
              ("Service", ctl.namespace, ctl.service)}
    from raygate.render import ingress_nginx_manifests as manifests
    return Gateway.named(gateway_id(spec), shared, manifests.added_args(spec))


def _gateway(gateway: "Gateway | str") -> Gateway:
    return gateway if isinstance(gateway, Gateway) else Gateway.named(gateway)


def ref_of(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')}/{ns}/{meta.get('name')}" if ns else f"{obj.get('kind')}/{meta.get('name')}"


def _key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def label(objects: Iterable[Mapping[str, Any]], gateway: "Gateway | str") -> list[dict[str, Any]]:
    """Copies of ``objects`` carrying this gateway's marks. Nodes get none: a Node is the
    kubelet's, raygate only owns its one placement label. Shared objects get the per-gateway
    key only (``raygate.io/gateway`` has one value, two gateways would fight over it); the
    managed-by label stays where the renderer set it. (``_claim`` drops managed-by again where
    the live object is another tool's.)"""
    gw = _gateway(gateway)
    out = []
    for obj in objects:
        new = _deep(obj)
        if new.get("kind") != "Node":
            labels = new.setdefault("metadata", {}).setdefault("labels", {})
            labels[gw.presence_label] = ""
            if not gw.is_shared(obj):
                labels[MANAGED_BY] = "raygate"
                labels[GATEWAY_LABEL] = gw.id
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


# --------------------------------------------------------------------------- managed fields

def fields_paths(tree: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The field paths of a ``fieldsV1`` document (``{"f:data": {"f:1": {}}}`` ->
    ``{("f:data", "f:1")}``); ``"."`` marks a list item itself."""
    out: set[tuple[str, ...]] = set()
    if isinstance(tree, dict):
        for seg, sub in tree.items():
            if isinstance(sub, dict) and sub:
                out |= fields_paths(sub, prefix + (seg,))
            else:
                out.add(prefix + (seg,))
    return out


def fields_tree(paths: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for p in sorted(paths):
        node = tree
        for seg in p:
            node = node.setdefault(seg, {})
    return tree


def _managers(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [m for m in ((obj.get("metadata") or {}).get("managedFields") or []) if isinstance(m, dict)]


def _writers(obj: Mapping[str, Any]) -> set[str]:
    """Managers owning fields of the object itself (status writers do not count)."""
    return {str(m.get("manager")) for m in _managers(obj)
            if m.get("subresource") != "status" and fields_paths(m.get("fieldsV1"))}


def owner_of(obj: Mapping[str, Any], manager: str) -> str:
    """A manager, in words: ``gateway raycluster.ray (raygate/raycluster.ray)``."""
    if manager.startswith(MANAGER_PREFIX):
        return f"gateway {manager[len(MANAGER_PREFIX):]} ({manager})"
    if manager == LEGACY_MANAGER:
        owner = ((obj.get("metadata") or {}).get("labels") or {}).get(GATEWAY_LABEL)
        return f"gateway {owner} (applied by raygate 0.1)" if owner else "raygate 0.1"
    return manager


# --------------------------------------------------------------------------- apply

def apply_objects(source: ClusterSource, objects: list[dict[str, Any]], *,
                  gateway: "Gateway | str", dry_run: bool = False, force_conflicts: bool = False,
                  diff: bool = False, prune: bool = False,
                  command: str | None = None) -> ApplyReport:
    """Server-side apply each object in order, as this gateway's field manager.

    Raises ``ApplyRefused`` (nothing written) when the objects would take what another gateway
    owns, and ``ApplyInterrupted`` (naming what was written) when the API server fails on the
    way. ``command`` is the command line to repeat, for those messages."""
    gw = _gateway(gateway)
    report = ApplyReport(dry_run=dry_run)
    wanted = label(objects, gw)
    written: list[str] = []
    plans = [_plan(source, gw, obj) for obj in wanted]
    _refuse_cross_gateway(source, gw, plans)
    try:
        for plan in plans:
            change = _apply_one(source, gw, plan, dry_run=dry_run, force=force_conflicts,
                                want_diff=diff)
            report.changes.append(change)
            if change.action in CHANGED_ACTIONS and not dry_run:
                written.append(change.ref)
        if prune:
            for change in _prune(source, gw, wanted, dry_run=dry_run, want_diff=diff):
                report.changes.append(change)
                if change.action in CHANGED_ACTIONS and not dry_run:
                    written.append(change.ref)
    except ClusterError as e:
        raise _interrupted(e, written, command) from None
    return report


def _interrupted(e: ClusterError, written: list[str], command: str | None) -> ClusterError:
    if not written:
        return e
    again = command or "raygate apply -f <spec>"
    return ApplyInterrupted(
        f"{e} -- apply stopped after writing {len(written)} object(s): {', '.join(written)}; "
        f"to finish, re-run `{again}`; to undo, re-apply the previous spec with --prune "
        "(objects this gateway created are then deleted, shared ones released)", written)


@dataclass
class _Plan:
    """One object to apply, with what was read about it before anything was written."""

    obj: dict[str, Any]
    res: Any
    live: dict[str, Any] | None
    #: The flags this gateway needs in the controller's args (workloads only).
    flags: list[str] = field(default_factory=list)
    container: str | None = None


def _plan(source: ClusterSource, gw: Gateway, obj: dict[str, Any]) -> _Plan:
    res = source.resource_for(obj)
    meta = obj.get("metadata") or {}
    live = _get(source, res, meta.get("name"), meta.get("namespace"))
    obj = _claim(obj, live)
    plan = _Plan(obj, res, live)
    if obj.get("kind") in WORKLOAD_KINDS:
        _split_args(plan, gw)
    return plan


def _split_args(plan: _Plan, gw: Gateway) -> None:
    """Take ``args`` out of the workload patch (it is applied flag by flag, see
    ``_apply_flags``) and record the flags in this gateway's annotation."""
    pod = ((plan.obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or []
    for c in containers:
        if isinstance(c, dict) and isinstance(c.get("args"), list):
            rendered = [str(a) for a in c.pop("args")]
            plan.flags = list(gw.flags) if gw.flags is not None else _ours(rendered)
            plan.container = str(c.get("name"))
    pod["containers"] = [c for c in containers if not (isinstance(c, dict) and set(c) == {"name"})]
    if not pod["containers"]:
        pod.pop("containers")
    if plan.flags:
        annotations = plan.obj.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[gw.flags_annotation] = " ".join(plan.flags)


def _ours(rendered: list[str]) -> list[str]:
    from raygate.render import ingress_nginx_manifests as manifests
    return [a for a in rendered if flag_name(a) in manifests.RAYGATE_FLAG_NAMES]


def _refuse_cross_gateway(source: ClusterSource, gw: Gateway, plans: list[_Plan]) -> None:
    """Dry-run every apply and check every flag; refuse (``ApplyRefused``) when any would
    take what another gateway owns. Runs before anything is written."""
    problems: list[str] = []
    for plan in plans:
        if plan.live is None and plan.obj.get("kind") in MUST_EXIST:
            continue
        ref = ref_of(plan.obj)
        mine = _legacy_is_mine(plan.live, gw)
        _, refusal = _ssa(source, gw, plan.res, plan.obj, dry_run=True, force=False)
        if refusal is not None and refusal.action == CONFLICT:
            for manager, path in _conflicts(refusal.message):
                if plan.live is not None and _is_gateway(manager) and manager != gw.manager and not (
                        manager == LEGACY_MANAGER and mine):
                    value = _value_at(plan.live, path)
                    shown = f" (= {value})" if value is not None else ""
                    what = (f"external port {path.rsplit('.', 1)[-1]}"
                            if path.startswith(".data.") and path.rsplit(".", 1)[-1].isdigit()
                            else path)
                    problems.append(f"{ref}: {what}{shown} is owned by "
                                    f"{owner_of(plan.live, manager)}")
        for flag in plan.flags:
            for other, value in _claimed_flags(plan.live or {}, gw).items():
                if flag_name(flag) in value and value[flag_name(flag)] != flag:
                    problems.append(f"{ref}: controller flag {value[flag_name(flag)]} is needed "
                                    f"by gateway {other}; this gateway needs {flag}")
    if problems:
        raise ApplyRefused(f"refused, nothing was written: {'; '.join(problems)} (give this "
                           "gateway another port or value, or remove the other gateway first)")


def _is_gateway(manager: str) -> bool:
    return manager == LEGACY_MANAGER or manager.startswith(MANAGER_PREFIX)


def _claimed_flags(live: Mapping[str, Any], gw: Gateway) -> dict[str, dict[str, str]]:
    """Other gateways' flag annotations on a workload: gateway -> {flag name: flag}."""
    out: dict[str, dict[str, str]] = {}
    for key, value in (((live.get("metadata") or {}).get("annotations")) or {}).items():
        if key.startswith(FLAGS_PREFIX) and key != gw.flags_annotation:
            out[key[len(FLAGS_PREFIX):]] = {flag_name(f): f for f in str(value).split()}
    return out


_CONFLICT_RE = re.compile(r'conflict with "([^"]+)"(?: using [^:]+)?: (\S+)')


def _conflicts(message: str) -> list[tuple[str, str]]:
    """(manager, field path) pairs of an SSA conflict message."""
    return _CONFLICT_RE.findall(message)


def _value_at(obj: Mapping[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in [p for p in path.split(".") if p]:
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur if isinstance(cur, (str, int, float, bool)) else None


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


def _ssa(source: ClusterSource, gw: Gateway, res: Any, obj: dict[str, Any], *, dry_run: bool,
         force: bool) -> tuple[dict[str, Any] | None, Change | None]:
    """Apply one object: ``(result, None)`` or ``(None, Change)`` for a refusal."""
    import httpx2
    from lightkube.core.exceptions import ApiError
    ref = ref_of(obj)
    try:
        # lightkube's apply takes the name and namespace from the object's metadata.
        result = source.client.apply(res(obj), field_manager=gw.manager, force=force,
                                     dry_run=dry_run)
        return dict(result), None
    except ApiError as e:
        code, message = e.status.code, str(e.status.message)
        if code == 409 and message.startswith("Apply failed with"):
            return None, Change(ref, CONFLICT, message + " (fields owned by another manager; "
                                "re-run with --force-conflicts to take them over)")
        if code in (400, 422):
            return None, Change(ref, DENIED, message)
        # Anything else (403, a 409 that is not a field conflict, 5xx) stops the apply: the
        # caller reports what was written so far and how to finish or undo.
        raise source.error(e, f"apply {ref}") from None
    except httpx2.HTTPError as e:
        raise source.error(e, f"apply {ref}") from None


def _legacy_is_mine(live: Mapping[str, Any] | None, gw: Gateway) -> bool:
    """raygate 0.1's single manager wrote this object for this gateway (its label says so)."""
    labels = ((live or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(GATEWAY_LABEL) == gw.id and any(
        m.get("manager") == LEGACY_MANAGER for m in _managers(live or {}))


#: Atomic lists raygate no longer applies (it sets flags in them instead): never handed over,
#: so no later apply of this gateway can remove them.
_NEVER_MOVED = ("f:args", "f:command")


def _migrate(source: ClusterSource, gw: Gateway, plan: _Plan, *,
             releasing: bool = False) -> dict[str, Any] | None:
    """Hand raygate 0.1's ``raygate`` entry to this gateway's manager (see the module doc):
    the fields this gateway still renders, or, when ``releasing`` the object, every field of
    that entry (so the release removes what only this gateway had). Returns the object after
    the move (or None when there was nothing to move)."""
    live = plan.live
    if live is None or not _legacy_is_mine(live, gw):
        return None
    mine: set[tuple[str, ...]] | None = None
    if not releasing:
        preview, _ = _ssa(source, gw, plan.res, plan.obj, dry_run=True, force=True)
        if preview is None:
            return None
        mine = set()
        for m in _managers(preview):
            if m.get("manager") == gw.manager and m.get("operation") == "Apply":
                mine = fields_paths(m.get("fieldsV1"))
    entries: list[dict[str, Any]] = []
    moved: set[tuple[str, ...]] = set()
    for m in _managers(live):
        if m.get("manager") == LEGACY_MANAGER and m.get("operation") == "Apply" \
                and not m.get("subresource"):
            legacy = {p for p in fields_paths(m.get("fieldsV1")) if not set(p) & set(_NEVER_MOVED)}
            moved |= legacy if mine is None else legacy & mine
            continue
        entries.append(m)
    for m in entries:
        if m.get("manager") == gw.manager and m.get("operation") == "Apply" and not m.get("subresource"):
            moved |= fields_paths(m.get("fieldsV1"))
            entries.remove(m)
            break
    if moved:
        entries.append({"manager": gw.manager, "operation": "Apply",
                        "apiVersion": str(live.get("apiVersion") or plan.obj.get("apiVersion")),
                        "fieldsType": "FieldsV1", "fieldsV1": fields_tree(moved)})
    if not entries:
        # An empty list would keep the old entries; one empty entry clears them (API docs).
        entries = [{}]
    ops = [{"op": "test", "path": "/metadata/resourceVersion",
            "value": (live.get("metadata") or {}).get("resourceVersion")},
           {"op": "replace", "path": "/metadata/managedFields", "value": entries}]
    labels = (live.get("metadata") or {}).get("labels") or {}
    if gw.is_shared(plan.obj) and labels.get(GATEWAY_LABEL) == gw.id:
        # 0.1 labelled shared objects with the last gateway applied: misleading once several
        # gateways co-own them; this gateway's own key replaces it.
        ops.append({"op": "remove", "path": "/metadata/labels/" + GATEWAY_LABEL.replace("/", "~1")})
    return _json_patch(source, gw, plan.res, live, ops, dry_run=False, what="hand over 0.1 ownership")


def _json_patch(source: ClusterSource, gw: Gateway, res: Any, live: Mapping[str, Any],
                ops: list[dict[str, Any]], *, dry_run: bool, what: str) -> dict[str, Any] | None:
    """A guarded JSON patch; None when a ``test`` failed (the object changed meanwhile)."""
    import httpx2
    from lightkube.core.exceptions import ApiError
    from lightkube.types import PatchType
    meta = live.get("metadata") or {}
    kwargs = {"namespace": meta.get("namespace")} if meta.get("namespace") else {}
    try:
        return dict(source.client.patch(res, meta.get("name"), ops, patch_type=PatchType.JSON,
                                        field_manager=gw.manager, dry_run=dry_run, **kwargs))
    except ApiError as e:
        # A failed ``test`` (422) or resourceVersion (409): the object changed meanwhile.
        if e.status.code == 409 or (e.status.code == 422 and "test" in str(e.status.message).lower()):
            return None
        raise source.error(e, f"{what} of {ref_of(live)}") from None
    except httpx2.HTTPError as e:
        raise source.error(e, f"{what} of {ref_of(live)}") from None


def _apply_one(source: ClusterSource, gw: Gateway, plan: _Plan, *, dry_run: bool, force: bool,
               want_diff: bool) -> Change:
    obj, res, live = plan.obj, plan.res, plan.live
    ref = ref_of(obj)
    if live is None and obj.get("kind") in MUST_EXIST:
        # The renderer took the live kind when there was a controller of that name, so a
        # missing workload means none was found under controller.deployment.
        what = ("label the node" if obj.get("kind") == "Node" else
                "install ingress-nginx first, or name the installed controller with "
                "controller.deployment in the spec")
        return Change(ref, MISSING, f"{ref} does not exist; raygate only patches it ({what})")
    if not dry_run:
        moved = _migrate(source, gw, plan)
        if moved is not None:
            live = plan.live = moved
    text = ""
    if want_diff and not dry_run:
        preview, refusal = _ssa(source, gw, res, obj, dry_run=True, force=force)
        if refusal is not None:
            return refusal
        text = unified_diff(ref, live, _with_flags(preview or {}, plan))
    result, refusal = _ssa(source, gw, res, obj, dry_run=dry_run, force=force)
    if refusal is not None:
        return refusal
    assert result is not None
    flag_note = ""
    if plan.flags and plan.container:
        result, flag_note = _apply_flags(source, gw, res, result, plan, dry_run=dry_run)
        if result is None:
            return Change(ref, CONFLICT, flag_note)
    if want_diff and dry_run:
        text = unified_diff(ref, live, result)
    if live is None:
        return Change(ref, CREATED, flag_note, diff=text)
    same_version = (result.get("metadata") or {}).get("resourceVersion") == \
        (live.get("metadata") or {}).get("resourceVersion")
    unchanged = same_version if not dry_run else normalized(result) == normalized(live)
    return Change(ref, UNCHANGED if unchanged else CONFIGURED, flag_note, diff=text)


def _with_flags(obj: dict[str, Any], plan: _Plan) -> dict[str, Any]:
    """``obj`` with this gateway's flags merged into its args (for the --diff preview)."""
    out = _deep(obj)
    for c in (((out.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
        if isinstance(c, dict) and c.get("name") == plan.container and isinstance(c.get("args"), list):
            c["args"] = merge_flags(c["args"], plan.flags)[0]
    return out


def _apply_flags(source: ClusterSource, gw: Gateway, res: Any, current: dict[str, Any],
                 plan: _Plan, *, dry_run: bool) -> tuple[dict[str, Any] | None, str]:
    """Set this gateway's flags in the live args with a JSON patch guarded by ``test``: the
    container still at that index with that name, the args still the list we read. Other
    flags keep their place and value. Returns the object and what changed, in words."""
    for _ in range(ARGS_RETRIES):
        pod = ((current.get("spec") or {}).get("template") or {}).get("spec") or {}
        containers = pod.get("containers") or []
        index = next((i for i, c in enumerate(containers)
                      if isinstance(c, dict) and c.get("name") == plan.container), None)
        if index is None:
            return None, (f"the controller has no container {plan.container!r}; set "
                          "controller.container in the spec")
        args = containers[index].get("args")
        new, changes = merge_flags(args if isinstance(args, list) else [], plan.flags)
        if not changes:
            return current, ""
        base = f"/spec/template/spec/containers/{index}"
        ops: list[dict[str, Any]] = [{"op": "test", "path": f"{base}/name", "value": plan.container}]
        if isinstance(args, list):
            ops += [{"op": "test", "path": f"{base}/args", "value": args},
                    {"op": "replace", "path": f"{base}/args", "value": new}]
        else:
            ops.append({"op": "add", "path": f"{base}/args", "value": new})
        patched = _json_patch(source, gw, res, current, ops, dry_run=dry_run, what="set flags")
        if patched is not None:
            if dry_run:
                # A dry-run patch is applied to the stored object, not to the dry-run apply's
                # result in ``current``: the preview is that result with the new args.
                patched = _deep(current)
                patched["spec"]["template"]["spec"]["containers"][index]["args"] = new
            return patched, "controller args: " + "; ".join(changes)
        meta = current.get("metadata") or {}
        current = _get(source, res, meta.get("name"), meta.get("namespace")) or current
    return None, (f"the controller's args kept changing while raygate set its flags "
                  f"({', '.join(plan.flags)}); re-run apply")


def _claim(obj: dict[str, Any], live: Mapping[str, Any] | None) -> dict[str, Any]:
    """``obj`` without the managed-by label when the object is not raygate's to claim: a
    workload raygate only patches, or one whose live managed-by names another tool (Helm
    labels the controller, its ConfigMap and a tcp-services it created). Applying our value
    would be a conflict on every run, and forcing it would break ``helm upgrade``; without
    the label ``--prune`` never deletes the object, which is what it should do."""
    live_labels = ((live or {}).get("metadata") or {}).get("labels") or {}
    theirs = live_labels.get(MANAGED_BY) if isinstance(live_labels, Mapping) else None
    if obj.get("kind") not in MUST_EXIST and (not theirs or theirs == "raygate"):
        return obj
    out = _deep(obj)
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(MANAGED_BY, None)
    return out


# --------------------------------------------------------------------------- prune

def _prune(source: ClusterSource, gw: Gateway, wanted: list[dict[str, Any]], *,
           dry_run: bool, want_diff: bool) -> list[Change]:
    """Objects with this gateway's marks that are no longer rendered: deleted when only this
    gateway writes them, released (an empty apply) when others write them too."""
    import httpx2
    from lightkube.core.exceptions import ApiError
    keep = {_key(o) for o in wanted}
    groups = source.discover()
    changes: list[Change] = []
    for api_version, kind in PRUNE_KINDS:
        group, _, version = api_version.rpartition("/")
        if version not in groups.get(group, []) or source.serves(api_version, kind) is False:
            continue  # not served here (TCPRoute v1 before Gateway API v1.6, XListenerSet after)
        res = source.resource_for({"apiVersion": api_version, "kind": kind})
        found: dict[tuple[str, str, str], dict[str, Any]] = {}
        kwargs = {"namespace": "*"} if _namespaced(res) else {}
        # This gateway's key, and (for objects raygate 0.1 wrote) the old single label.
        from lightkube.operators import exists
        for selector in ({gw.presence_label: exists()}, {GATEWAY_LABEL: gw.id}):
            try:
                for o in source.client.list(res, labels=selector, **kwargs):
                    obj = dict(o)
                    obj.setdefault("kind", kind)
                    obj.setdefault("apiVersion", api_version)
                    found[_key(obj)] = obj
            except ApiError as e:
                if e.status.code == 404:
                    break  # this version of the kind is not served (TCPRoute v1 before v1.6)
                raise source.error(e, f"LIST {kind} for --prune") from None
            except httpx2.HTTPError as e:
                if getattr(getattr(e, "response", None), "status_code", None) == 404:
                    break  # not served, answered by a plain 404 page
                raise source.error(e, f"LIST {kind} for --prune") from None
        for key, obj in sorted(found.items()):
            if key in keep:
                continue
            changes.append(_prune_one(source, gw, res, obj, dry_run=dry_run, want_diff=want_diff))
    return changes


def _prune_one(source: ClusterSource, gw: Gateway, res: Any, obj: dict[str, Any], *,
               dry_run: bool, want_diff: bool) -> Change:
    import httpx2
    from lightkube.core.exceptions import ApiError
    ref = ref_of(obj)
    meta = obj.get("metadata") or {}
    mine = {gw.manager} | ({LEGACY_MANAGER} if _legacy_is_mine(obj, gw) else set())
    others = sorted(_writers(obj) - mine)
    kwargs = {"namespace": meta.get("namespace")} if meta.get("namespace") else {}
    if others or obj.get("kind") in MUST_EXIST:
        if gw.manager not in _writers(obj) and not _legacy_is_mine(obj, gw):
            return Change(ref, UNCHANGED, "not pruned: also managed by "
                          + ", ".join(owner_of(obj, o) for o in others))
        # Release: apply nothing as this gateway; the API server drops the fields only this
        # gateway owned (its tcp-services entries, its label key), the rest stays.
        body = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                "metadata": {"name": meta.get("name"), **({"namespace": meta["namespace"]}
                                                         if meta.get("namespace") else {})}}
        plan = _Plan(body, res, obj)
        if not dry_run:
            moved = _migrate(source, gw, plan, releasing=True)
            if moved is not None:
                obj = moved
        result, refusal = _ssa(source, gw, res, body, dry_run=dry_run, force=False)
        if refusal is not None:
            return refusal
        text = unified_diff(ref, obj, result or {}) if want_diff else ""
        kept = ("kept for " + ", ".join(owner_of(obj, o) for o in others) if others
                else f"kept: raygate only patches a {obj.get('kind')}")
        return Change(ref, RELEASED, f"no longer rendered; {kept}", diff=text)
    try:
        if not dry_run:
            source.client.delete(res, meta.get("name"), **kwargs)
    except (ApiError, httpx2.HTTPError) as e:
        raise source.error(e, f"delete {ref}") from None
    text = unified_diff(ref, obj, {}) if want_diff else ""
    return Change(ref, PRUNED, "no longer rendered", diff=text)


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
        if kind in WORKLOAD_KINDS:
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
        elif kind in gateway_api.ROUTE_KINDS and \
                str(obj.get("apiVersion", "")).startswith(gateway_api.GROUP + "/"):
            # Gateway API routes of every kind (HTTPRoute, GRPCRoute, TCPRoute, TLSRoute,
            # UDPRoute): every Service backendRef (its namespace, else the route's).
            for rule in (obj.get("spec") or {}).get("rules") or []:
                for ref in (rule or {}).get("backendRefs") or []:
                    if not isinstance(ref, dict) or ref.get("kind", "Service") != "Service" \
                            or ref.get("group", "") not in ("", None):
                        continue
                    if ref.get("name") and ref.get("port") is not None:
                        backends.setdefault((ref.get("namespace") or ns, str(ref["name"])),
                                            set()).add(str(ref["port"]))
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
            # As kubectl rollout status (kubectl/pkg/polymorphichelpers/rollout_status.go,
            # DaemonSetStatusViewer): first every pod updated, then every one available.
            want = status.get("desiredNumberScheduled", 0)
            if status.get("updatedNumberScheduled", 0) < want:
                return f"{status.get('updatedNumberScheduled', 0)}/{want} pods updated"
            if status.get("numberAvailable", 0) < want:
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
