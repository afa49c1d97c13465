"""The doctor runner: gather (snapshot or live), build the runtime state, run, explain.

I/O lives in the two ``gather_*`` functions (files; a ``ClusterSource``); ``diagnose`` is a
pure function of what they gathered, so tests drive it with snapshots and the fake API alike.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from raygate import config as config_mod
from raygate import engine
from raygate.model import exposure
from raygate.doctor import lanes as lanes_mod
from raygate import runtime as rt
from raygate.errors import ClusterError, InputError, RaygateError
from raygate.findings import Result
from raygate.objects import KubeObject, ObjectSet
from raygate.sources import LoadResult, no_cyclic_gc

#: Runtime rules and the state kinds they read besides their own (any one suffices).
RUNTIME_NEEDS: dict[str, tuple[str, ...]] = {
    "RG251": ("EndpointSlice", "Endpoints", "Pod"),
    "RG252": ("EndpointSlice", "Endpoints", "Pod"),
    "RG351": ("Node",),
    "RG352": ("Node",),
    "RG353": ("Node",),
    "RG354": ("Pod", "RayCluster"),
}

DUMP_COMMAND = ("kubectl get nodes,pods,services,endpointslices,configmaps,deployments,"
                "daemonsets,ingresses,ingressclasses -A -o yaml > snapshot/cluster.yaml")
DUMP_RAY_COMMAND = "kubectl get rayclusters,rayservices -A -o yaml > snapshot/ray.yaml"


@dataclass
class Gathered:
    """Everything read from a snapshot or a cluster, before any rule runs."""

    objects: list[KubeObject]
    source: str  # "snapshot" | "live"
    where: str
    files: list[str] = field(default_factory=list)
    problems: list[Any] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    logs: dict[tuple[str, str], str] = field(default_factory=dict)
    logs_requested: bool = False
    admission: dict[tuple[str, str, str], str | None] = field(default_factory=dict)
    #: Dry runs that could not be made: key -> (HTTP status or None, why).
    dry_run_errors: dict[tuple[str, str, str], tuple[int | None, str]] = field(default_factory=dict)
    forbidden: dict[str, str] = field(default_factory=dict)
    #: Kinds the live cluster does not serve (no CRD) -> why; not listed.
    not_served: dict[str, str] = field(default_factory=dict)
    #: Custom kind -> the versions the live cluster serves (API discovery).
    served: dict[str, tuple[str, ...]] = field(default_factory=dict)
    listed: tuple[str, ...] | None = None
    request_count: int | None = None
    #: Requests of the bounded read alone (discovery + LISTs), before dry runs and logs.
    read_requests: int | None = None
    #: Seconds spent per phase ("load", "dry_runs", "logs"), for --verbose and benchmarks.
    timings: dict[str, float] = field(default_factory=dict)
    #: The indexed view of ``objects``, built once and reused by ``diagnose``.
    index: ObjectSet | None = field(default=None, repr=False)

    def object_set(self) -> ObjectSet:
        if self.index is None or len(self.index) != len(self.objects):
            self.index = ObjectSet(self.objects)
        return self.index


@dataclass
class Diagnosis:
    result: Result
    lanes: list[lanes_mod.Lane]
    runtime: rt.RuntimeState
    objects: ObjectSet


# ---------------------------------------------------------------------------------------------
# Gathering


def gather_snapshot(paths: Sequence[str], *, logs: bool = False) -> Gathered:
    """Read ``kubectl get ... -o yaml`` dumps; with ``logs``, also ``*.log`` files beside them
    (``<pod>.log``, or ``<deployment>.log`` for ``kubectl logs deploy/<name>``)."""
    from raygate.sources.files import load_paths

    loaded: LoadResult = load_paths(list(paths))
    if loaded.problems:
        raise InputError(loaded.problems[0].message, file=loaded.problems[0].file,
                         line=loaded.problems[0].line, obj=loaded.problems[0].obj)
    if not loaded.objects:
        raise InputError("no Kubernetes objects found; dump them with: " + DUMP_COMMAND,
                         file=", ".join(paths))
    g = Gathered(list(loaded.objects), "snapshot", ", ".join(paths), files=list(loaded.files),
                 notices=list(loaded.notices), logs_requested=logs)
    if logs:
        g.logs, notes = _snapshot_logs(paths, ObjectSet(g.objects))
        g.notices += notes
    return g


def _snapshot_logs(paths: Sequence[str], objects: ObjectSet) -> tuple[dict[tuple[str, str], str], list[str]]:
    found: dict[tuple[str, str], str] = {}
    notes: list[str] = []
    files = [f for p in paths for f in (sorted(Path(p).rglob("*.log")) if Path(p).is_dir() else [])]
    pods = {p.name: p for p in objects.of_kind("Pod")}
    workloads = {w.name: w for w in objects.of_kind("Deployment", "DaemonSet")}
    for f in files:
        try:
            text = f.read_text(errors="replace")
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror}", file=str(f)) from None
        pod = pods.get(f.stem)
        if pod is None and f.stem in workloads:
            owned = rt.controller_pods(objects, workloads[f.stem])
            pod = owned[0] if owned else None
        if pod is None:
            notes.append(f"{f}: matches no Pod or controller Deployment in the snapshot; "
                         "name log files <pod>.log or <deployment>.log")
            continue
        found[(pod.namespace, pod.name)] = text
    if not files:
        notes.append("--logs: no *.log files in the snapshot directory (save them with "
                     "`kubectl logs -n ingress-nginx <pod> --tail=500 > snapshot/<pod>.log`)")
    return found, notes


def gather_live(*, kubeconfig: str | None = None, context: str | None = None,
                namespace: str | None = None, logs: bool = False, tail: int = 500,
                source: Any = None) -> Gathered:
    """Read a live cluster through ``ClusterSource`` (bounded LISTs), then dry-run every Ray
    Ingress and, with ``logs``, read the controller pods' last ``tail`` lines."""
    if source is None:
        try:
            from raygate.sources.cluster import ClusterSource  # type: ignore[import-not-found]
        except ImportError:
            raise ClusterError("reading a live cluster needs raygate.sources.cluster, which this "
                               "build lacks; use --snapshot with a kubectl dump instead") from None
        try:
            source = ClusterSource(kubeconfig=kubeconfig, context=context, namespace=namespace)
        except RaygateError:
            raise
        except Exception as e:  # a broken kubeconfig must not become a traceback
            raise ClusterError(f"cannot configure the cluster client: {e}") from None
    started = time.perf_counter()
    try:
        loaded = source.load()
    except RaygateError:
        raise
    except Exception as e:
        raise ClusterError(f"cannot read the cluster: {type(e).__name__}: {e}") from None
    forbidden = dict(getattr(source, "forbidden", {}) or {})
    try:  # name the context actually used (the kubeconfig's current one when none was given)
        where = f"cluster:{context or source.context_name}"
    except Exception:
        where = f"cluster:{context}" if context else "cluster"
    g = Gathered(list(loaded.objects), "live", where, files=list(loaded.files),
                 problems=list(loaded.problems), notices=list(loaded.notices),
                 forbidden=forbidden, logs_requested=logs, listed=_listed_kinds(source),
                 not_served=dict(getattr(source, "not_served", {}) or {}),
                 served=_served_versions(source))
    g.timings["load"] = time.perf_counter() - started
    g.read_requests = getattr(source, "request_count", None)
    with no_cyclic_gc():
        objects = g.object_set()
        candidates = ray_ingresses(objects)

    def dry_run(ing: KubeObject) -> tuple[KubeObject, str | None, Any]:
        try:
            return ing, source.dry_run(_for_dry_run(ing)), None
        except Exception as e:
            return ing, None, e

    def read_logs(pod: KubeObject) -> tuple[KubeObject, str | None, str | None]:
        try:
            return pod, source.pod_logs(pod.namespace, pod.name, tail), None
        except Exception as e:
            return pod, None, str(e)

    # Dry-runs and log reads are independent round trips: run them side by side.
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for ing, denial, error in pool.map(dry_run, candidates):
            key = ("Ingress", ing.namespace, ing.name)
            if error is None:
                g.admission[key] = denial
            else:
                text = str(error) if isinstance(error, RaygateError) else \
                    f"{type(error).__name__}: {error}"
                g.dry_run_errors[key] = (getattr(error, "status_code", None),
                                         getattr(error, "status_message", None) or text)
                g.notices.append(f"dry run of Ingress {ing.namespace}/{ing.name} failed: {text}")
        if logs:
            pods = [p for p in objects.of_kind("Pod") if rt.is_controller_pod(p)]
            for pod, text, error in pool.map(read_logs, pods):
                if error is None:
                    g.logs[(pod.namespace, pod.name)] = text or ""
                else:
                    g.notices.append(f"logs of pod {pod.namespace}/{pod.name} unavailable: {error}")
    g.timings["dry_runs_and_logs"] = time.perf_counter() - started
    g.request_count = getattr(source, "request_count", None)
    return g


def _served_versions(source: Any) -> dict[str, tuple[str, ...]]:
    try:
        return dict(source.served_versions())
    except AttributeError:  # a source without discovery
        return {}


def _listed_kinds(source: Any) -> tuple[str, ...]:
    """Kinds the live read listed: what the source plans, minus kinds the cluster does not
    serve."""
    from raygate.sources.cluster import live_kinds
    missing = set(getattr(source, "not_served", ()) or ())
    return tuple(k for k in live_kinds() if k not in missing)


def _for_dry_run(ing: KubeObject) -> dict[str, Any]:
    """The Ingress as the user would apply it: no status, no server-owned metadata."""
    body = _plain(ing.raw)
    body.pop("status", None)
    meta = body.get("metadata") or {}
    for key in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"):
        meta.pop(key, None)
    return body


def ray_ingresses(objects: ObjectSet) -> list[KubeObject]:
    """Ingresses with at least one backend reaching a Ray head (the ones worth a dry run)."""
    seen: dict[int, KubeObject] = {}
    for e in exposure.ray_exposures(objects):
        # Only Ingresses go to the ingress-nginx webhook; HTTPRoutes are exposures too, but
        # their admission is the Gateway implementation's, not this dry run's subject.
        if e.channel == "http" and e.via.kind == "Ingress":
            seen.setdefault(id(e.via), e.via)
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# Diagnosing


def diagnose(gathered: Gathered, *, expect_ips: Sequence[str] = (),
             config: config_mod.Config | None = None, select: Sequence[str] = (),
             ignore: Sequence[str] = ()) -> Diagnosis:
    # Rules over tens of thousands of live objects allocate a lot; the cyclic GC rescanning
    # them all was a third of doctor's time on large clusters, and nothing here makes cycles.
    with no_cyclic_gc():
        return _diagnose(gathered, expect_ips=expect_ips, config=config, select=select,
                         ignore=ignore)


def _diagnose(gathered: Gathered, *, expect_ips: Sequence[str], config: config_mod.Config | None,
              select: Sequence[str], ignore: Sequence[str]) -> Diagnosis:
    objects = gathered.object_set()
    state = rt.runtime_from_objects(
        objects, source=gathered.source, where=gathered.where, expect_ips=expect_ips,
        logs=gathered.logs, logs_requested=gathered.logs_requested or None,
        admission=gathered.admission, forbidden=gathered.forbidden, listed=gathered.listed,
        served=gathered.served)
    result = engine.run(objects, runtime=state, config=config, select=select, ignore=ignore,
                        files=gathered.files, problems=gathered.problems,
                        notices=gathered.notices)
    result.not_checked.update(_not_checked(result, objects, state, gathered.dry_run_errors,
                                           gathered.not_served))
    lanes = lanes_mod.build_lanes(objects, result, state)
    result.lanes = lanes  # type: ignore[attr-defined]  # read by report/html.py
    return Diagnosis(result, lanes, state, objects)


def _not_checked(result: Result, objects: ObjectSet, state: rt.RuntimeState,
                 dry_run_errors: Mapping[tuple[str, str, str], tuple[int | None, str]] | None = None,
                 not_served: Mapping[str, str] | None = None) -> dict[str, str]:
    """Rules that ran blind, and why: RBAC, a snapshot missing kinds, no dry run, no logs;
    and rules about kinds the live cluster does not serve at all."""
    out: dict[str, str] = {}
    dry_run_errors = dry_run_errors or {}
    not_served = not_served or {}
    for rule in result.rules:
        if rule.code in result.not_checked:
            continue
        denied = [k for k in rule.kinds if k in state.forbidden]
        if denied:
            out[rule.code] = (f"not checked (forbidden): cannot list {denied[0]}: "
                              f"{state.forbidden[denied[0]]}")
            continue
        if rule.kinds and all(k in not_served or k not in state.listed for k in rule.kinds) \
                and any(k in not_served for k in rule.kinds):
            # Every kind the rule judges is one this cluster does not serve (RG364 without a
            # ListenerSet CRD): nothing exists for it to judge, and the report says why.
            first = next(k for k in rule.kinds if k in not_served)
            out[rule.code] = f"not checked (not served): {first}: {not_served[first]}"
            continue
        if rule.needs != "runtime":
            continue
        needs = RUNTIME_NEEDS.get(rule.code, ())
        has_subject = any(objects.has_kind(k) for k in rule.kinds)
        if needs and has_subject and not any(state.saw(k) for k in needs):
            forbidden = [k for k in needs if k in state.forbidden]
            if forbidden:
                out[rule.code] = (f"not checked (forbidden): cannot list {forbidden[0]}: "
                                  f"{state.forbidden[forbidden[0]]}")
            else:
                out[rule.code] = (f"not checked: the {state.source} has no {' or '.join(needs)} "
                                  "objects (see `raygate doctor --help` for the dump command)")
        elif rule.code == "RG151" and dry_run_errors:
            # A live cluster that refused (RBAC) or failed some dry runs: say which, and why.
            (kind, ns, name), (code, why) = sorted(dry_run_errors.items())[0]
            label = "not checked (forbidden)" if code == 403 else "not checked"
            scope = "" if not state.admission else \
                f" ({len(dry_run_errors)} of {len(dry_run_errors) + len(state.admission)} Ingresses)"
            out[rule.code] = f"{label}{scope}: dry run of {kind} {ns}/{name} refused: {why}"
        elif rule.code == "RG151" and not state.admission and ray_ingresses(objects):
            out[rule.code] = ("not checked: a server-side dry run needs a live cluster "
                              "(or a DoctorCapture from `raygate doctor --save-snapshot`)")
        elif rule.code == "RG152" and not state.logs_requested:
            out[rule.code] = "not checked: run with --logs to scan the controller's log"
    return out


def capture_document(gathered: Gathered, expect_ips: Sequence[str]) -> dict[str, Any]:
    """The ``DoctorCapture`` that makes a saved snapshot as complete as the live read."""
    return {
        "apiVersion": rt.CAPTURE_API_VERSION,
        "kind": rt.CAPTURE_KIND,
        "metadata": {"name": "doctor-capture"},
        "spec": {
            "source": gathered.where,
            "expectIPs": list(expect_ips),
            **({"servedVersions": {k: list(v) for k, v in sorted(gathered.served.items())}}
               if gathered.served else {}),
            "admission": [{"kind": k, "namespace": ns, "name": n, "denied": d}
                          for (k, ns, n), d in sorted(gathered.admission.items())],
            "logs": [{"namespace": ns, "pod": pod, "text": text}
                     for (ns, pod), text in sorted(gathered.logs.items())],
        },
    }


def snapshot_text(gathered: Gathered, expect_ips: Sequence[str]) -> str:
    """The gathered objects plus a capture as one ``v1 List`` YAML document."""
    import yaml

    items = []
    for o in gathered.objects:
        if o.kind == rt.CAPTURE_KIND:
            continue
        item = _plain(o.raw)
        (item.get("metadata") or {}).pop("managedFields", None)  # noise, often most of the bytes
        items.append(item)
    items.append(capture_document(gathered, expect_ips))
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items},
                          sort_keys=False, default_flow_style=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
