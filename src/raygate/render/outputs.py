"""Output formats for a rendered gateway: a YAML stream, one file per object, Helm values for
the ingress-nginx chart, or a kustomization over the upstream ``deploy.yaml``.

Everything here is a pure function from ``Rendered`` to text, except ``write_files``, which
writes each file to a temporary name beside it and renames it into place, so an interrupted or
failed run never leaves a half-written manifest. Formatting is deterministic (insertion-ordered
dicts, fixed dumper settings): the same spec always gives byte-identical output.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Mapping

import yaml

from raygate.errors import RenderError
from raygate.render import STEPS, Rendered, RenderedObject
from raygate.render import ingress_nginx_manifests as nginx
from raygate.render import metallb
from raygate.spec import GatewaySpec

FORMATS = ("yaml", "helm-values", "kustomize")
#: The upstream manifest the kustomization patches (controller v1.15.1, the last release).
UPSTREAM_DEPLOY = ("https://raw.githubusercontent.com/kubernetes/ingress-nginx/"
                   "controller-v1.15.1/deploy/static/provider/baremetal/deploy.yaml")
def apply_hint(rendered: "Rendered") -> str:
    """How to apply the output by hand: server-side, under this gateway's own field manager
    (one manager per gateway keeps each gateway's tcp-services entries; raygate.ownership)."""
    return f"kubectl apply --server-side --field-manager={rendered.field_manager} -f <this file>"


class _Dumper(yaml.SafeDumper):
    """Kubernetes-style YAML: nested lists indented, multi-line strings as literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        # Renderers may share a dict between two fields (selector and pod labels); anchors
        # would be valid YAML but unreadable in a manifest.
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> Any:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     width=100, allow_unicode=True)


# ---------------------------------------------------------------------------------------------
# YAML stream


def _comment(item: RenderedObject) -> str:
    lines = [STEPS[item.step]] + list(item.comment)
    return "".join(f"# {line}\n" if line else "#\n" for line in lines)


def yaml_stream(rendered: Rendered) -> str:
    """All objects, in apply order, each preceded by the step it implements."""
    if rendered.backend == "gateway-api":
        header = ("# The Ray gateway as Gateway API objects, rendered by raygate. Apply in this "
                  f"order:\n#   {apply_hint(rendered)}\n")
    else:
        header = ("# The Pinned Gateway, rendered by raygate. Apply in this order with server-side\n"
                  f"# apply (several objects are partial and rely on it):\n#   {apply_hint(rendered)}\n")
    docs = [_comment(i) + dump(i.obj) for i in rendered.items]
    return header + "".join("---\n" + d for d in docs)


def object_filename(index: int, obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{index:02d}-{str(obj.get('kind')).lower()}-{meta.get('name')}.yaml"


#: First line of every file ``--out`` writes: how a later render knows the file is its own
#: (patches over other tools' objects carry no managed-by label to tell by).
FILE_MARK = "# Rendered by raygate: re-rendering into this directory replaces this file.\n"


def split_files(rendered: Rendered) -> dict[str, str]:
    """``--out DIR``: one file per object, numbered in apply order."""
    return {object_filename(i, item.obj): FILE_MARK + _comment(item) + dump(item.obj)
            for i, item in enumerate(rendered.items, start=1)}


# ---------------------------------------------------------------------------------------------
# Helm values for the ingress-nginx chart (facts: ingress_nginx.md §3.4, §8)

def _chart_role(spec: GatewaySpec, obj: Mapping[str, Any]) -> tuple[str, str] | None:
    kind, name = obj.get("kind"), (obj.get("metadata") or {}).get("name")
    ctl = spec.controller
    if kind == "ConfigMap" and name == ctl.tcp_services_config_map:
        return ("ConfigMap", "tcp")
    if kind == "ConfigMap" and name == ctl.config_map:
        return ("ConfigMap", "controller")
    if kind in nginx.WORKLOAD_KINDS and name == ctl.deployment:
        return ("workload", "controller")
    if kind == "Service" and name == ctl.service:
        return ("Service", "controller")
    return None


def helm_values(spec: GatewaySpec, rendered: Rendered) -> dict[str, Any]:
    """Values for the ingress-nginx chart that reproduce steps 2 and 3.

    The chart then creates the tcp ConfigMap, adds ``--tcp-services-configmap`` and the ports
    itself; nodeSelector is merged by Helm with the chart's ``kubernetes.io/os: linux``.
    A DaemonSet controller is ``controller.kind: DaemonSet`` (the chart then renders
    controller-daemonset.yaml instead of controller-deployment.yaml, chart 4.15.1); a
    Deployment is the chart's default and is not written.
    """
    controller: dict[str, Any] = {}
    kind = _workload_kind(spec, rendered)
    if kind == "DaemonSet":
        controller["kind"] = kind
    if spec.placement.mode == "pinned-node":
        pinned = spec.placement.pinned_node
        controller.update({
            "hostNetwork": True,
            "dnsPolicy": "ClusterFirstWithHostNet",
            "nodeSelector": {"kubernetes.io/os": "linux", pinned.label_key: pinned.label_value},
            # Rendered by the chart only together with hostNetwork: Ingress status gets the
            # node's address instead of staying blank.
            "reportNodeInternalIp": True,
        })
        if kind == "Deployment":
            # The chart puts updateStrategy into a DaemonSet's updateStrategy too, whose
            # default is already this (nginx.PINNED_ROLLOUT says why).
            controller["updateStrategy"] = nginx.PINNED_ROLLOUT
        controller.update({
            # No Service in front of a hostNetwork controller (upstream baremetal docs: delete
            # it). The chart's default LoadBalancer Service would stay Pending, its
            # --publish-service would win over reportNodeInternalIp and blank the Ingress
            # status, and it would open every tcp-services port as a NodePort on every node.
            "service": {"enabled": False},
        })
    else:
        m = spec.placement.metallb
        controller["service"] = {
            "type": "LoadBalancer",
            "externalTrafficPolicy": m.external_traffic_policy,
            "annotations": metallb.service_annotations(spec),
        }
    if spec.controller.ingress_class != "nginx":
        # The rendered Ingresses name this class; the chart must create it under that name.
        controller["ingressClass"] = spec.controller.ingress_class
        controller["ingressClassResource"] = {"name": spec.controller.ingress_class}
    settings = nginx.controller_settings(spec)
    if settings:
        controller["config"] = dict(sorted(settings.items()))
    values: dict[str, Any] = {"controller": controller}
    tcp = next((i.obj for i in rendered.items if _chart_role(spec, i.obj) == ("ConfigMap", "tcp")),
               None)
    if tcp is not None:
        values["tcp"] = dict(tcp["data"])
    return values


def _workload_kind(spec: GatewaySpec, rendered: Rendered) -> str:
    """The kind of the rendered controller workload (Deployment when there is none)."""
    return next((str(i.obj["kind"]) for i in rendered.items
                 if _chart_role(spec, i.obj) == ("workload", "controller")), "Deployment")


def helm_files(spec: GatewaySpec, rendered: Rendered) -> dict[str, str]:
    """``values.yaml`` for the chart, ``gateway.yaml`` for what the chart does not create."""
    rest = Rendered([i for i in rendered.items if _chart_role(spec, i.obj) is None],
                    field_manager=rendered.field_manager)
    values = ("# Values for the ingress-nginx Helm chart, rendered by raygate:\n"
              "#   helm upgrade --install ingress-nginx ingress-nginx/ingress-nginx \\\n"
              f"#     --namespace {spec.controller.namespace} -f values.yaml\n"
              "# Apply gateway.yaml (Ingresses, node label, MetalLB pool) beside the chart.\n"
              + dump(helm_values(spec, rendered)))
    return {"values.yaml": values, "gateway.yaml": yaml_stream(rest)}


# ---------------------------------------------------------------------------------------------
# Kustomize over the upstream deploy.yaml


def kustomize_files(spec: GatewaySpec, rendered: Rendered,
                    upstream: str = UPSTREAM_DEPLOY) -> dict[str, str]:
    """A kustomization that patches the upstream controller instead of copying it.

    Strategic-merge patches set hostNetwork/dnsPolicy/nodeSelector, the ConfigMap keys and
    (MetalLB) the Service; they keep every upstream field and merge nodeSelector and Service
    ports by key. The controller args are a list of strings, which a strategic merge would
    replace whole, so each flag is appended with a JSON6902 ``add`` to
    ``/spec/template/spec/containers/0/args/-`` (container 0 is the controller upstream).

    The patches target the controller's kind. The upstream deploy.yaml only has a Deployment,
    so a DaemonSet controller needs ``upstream`` to be the user's own manifest holding it.
    """
    ctl = spec.controller
    kind = _workload_kind(spec, rendered)
    if kind == "DaemonSet" and upstream == UPSTREAM_DEPLOY:
        raise RenderError(
            f"the controller is a DaemonSet but the upstream deploy.yaml installs a Deployment: "
            f"the kustomization's patches would match nothing; pass the manifest that holds "
            f"DaemonSet {ctl.namespace}/{ctl.deployment} with --upstream FILE|URL (or render "
            "-o yaml or -o helm-values)")
    new_objects: list[RenderedObject] = []
    patches: dict[str, Any] = {}
    for item in rendered.items:
        role = _chart_role(spec, item.obj)
        if role == ("workload", "controller"):
            patch = _workload_smp(item.obj)
            if patch is not None:
                patches[f"patches/controller-{kind.lower()}.yaml"] = patch
        elif role == ("ConfigMap", "controller"):
            patches["patches/controller-configmap.yaml"] = item.obj
        elif role == ("Service", "controller"):
            patches["patches/controller-service.yaml"] = item.obj
        else:
            new_objects.append(item)

    args_patch = [{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": a}
                  for a in nginx.added_args(spec)]
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [upstream, "gateway.yaml"],
        "patches": [{"path": p} for p in patches] + [{
            "target": {"group": "apps", "version": "v1", "kind": kind,
                       "name": ctl.deployment, "namespace": ctl.namespace},
            "patch": dump(args_patch),
        }],
    }
    files = {
        "kustomization.yaml": ("# Pinned Gateway as patches over the upstream ingress-nginx "
                               "deploy.yaml, rendered by raygate.\n#   kubectl apply -k .\n"
                               + dump(kustomization)),
        "gateway.yaml": yaml_stream(Rendered(new_objects, field_manager=rendered.field_manager)),
    }
    for path, obj in patches.items():
        files[path] = FILE_MARK + dump(obj)
    return files


def _workload_smp(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The partial Deployment or DaemonSet minus what a strategic merge must not touch
    (selector, args)."""
    pod_spec = {k: v for k, v in obj["spec"]["template"]["spec"].items() if k != "containers"}
    if not pod_spec:
        return None
    spec: dict[str, Any] = {}
    if "strategy" in obj["spec"]:
        spec["strategy"] = obj["spec"]["strategy"]
    spec["template"] = {"spec": pod_spec}
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": obj["metadata"],
            "spec": spec}


# ---------------------------------------------------------------------------------------------
# Writing


def write_files(files: Mapping[str, str], out_dir: str | Path, *, prune: bool = False) -> list[Path]:
    """Write every file under ``out_dir``, all or nothing as far as a file system allows.

    Every file is first written to a temporary name beside its target; only when all of them
    are complete are they renamed into place, so a failure (disk full, permissions) leaves the
    previous output untouched instead of a mix of old and new files. With ``prune``, files a
    previous render wrote that this one does not (see ``_stale_files``) are removed afterwards:
    re-rendering into the same directory must not leave, say, a Serve Ingress or an old node's
    label behind for ``kubectl apply -f DIR`` to re-create.
    """
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise RenderError(f"--out {root}: exists and is not a directory")
    staged: list[tuple[str, Path]] = []
    rel = ""
    try:
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((rel, Path(tmp)))
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            # mkstemp creates 0600; manifests are ordinary files (0666 minus umask).
            os.chmod(tmp, 0o666 & ~_umask())
    except BaseException as e:
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise RenderError(f"--out {root}: cannot write {rel}: {e.strerror or e}") from None
        raise
    written = []
    try:
        for rel, tmp in staged:
            os.replace(tmp, root / rel)
            written.append(root / rel)
    except OSError as e:
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)
        raise RenderError(f"--out {root}: cannot write {rel}: {e.strerror or e}") from None
    if prune:
        for stale in _stale_files(root, set(files)):
            stale.unlink(missing_ok=True)
    return written


#: File names only raygate's outputs use: ``NN-kind-name.yaml`` (yaml --out) and the
#: kustomize patches. A file is only pruned when it also starts with ``FILE_MARK`` (or, as
#: written by earlier versions, carries our managed-by label).
_OWNED_NAME = re.compile(r"^(\d{2}-[a-z0-9]+-[a-z0-9.-]+\.yaml"
                         r"|patches/controller-(deployment|daemonset|configmap|service)\.yaml)$")
_OWNED_MARK = "app.kubernetes.io/managed-by: raygate"


def _stale_files(root: Path, keep: set[str]) -> list[Path]:
    """Files under ``root`` that an earlier raygate render wrote and this one did not."""
    stale = []
    for path in sorted([*root.glob("*.yaml"), *root.glob("patches/*.yaml")]):
        rel = path.relative_to(root).as_posix()
        if rel in keep or not _OWNED_NAME.match(rel) or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            if text.startswith(FILE_MARK) or _OWNED_MARK in text:
                stale.append(path)
        except (OSError, UnicodeDecodeError):
            continue  # not ours to judge: leave it
    return stale


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def check_format(fmt: str, backend: str) -> None:
    """Helm values and the kustomization patch the ingress-nginx controller; Gateway API
    objects have neither a chart nor an upstream manifest to patch."""
    if backend == "gateway-api" and fmt in ("helm-values", "kustomize"):
        raise RenderError(f"--format {fmt} is for the ingress-nginx controller; with backend "
                          "gateway-api use the YAML stream (the default) or --out DIR")


def _check_upstream_workload(spec: GatewaySpec, rendered: Rendered, upstream: str,
                             text: str) -> None:
    """A local ``--upstream`` for a DaemonSet controller must hold that DaemonSet: a patch
    target that matches nothing fails the whole ``kubectl apply -k`` only later."""
    ctl = spec.controller
    if _workload_kind(spec, rendered) != "DaemonSet":
        return
    try:
        docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError as e:
        raise RenderError(f"--upstream {upstream}: not YAML: {e}") from None
    held = {(d.get("kind"), (d.get("metadata") or {}).get("namespace"),
             (d.get("metadata") or {}).get("name")) for d in docs}
    if ("DaemonSet", ctl.namespace, ctl.deployment) not in held:
        raise RenderError(f"--upstream {upstream}: has no DaemonSet {ctl.namespace}/"
                          f"{ctl.deployment} for the kustomization to patch")


def files_for(fmt: str, spec: GatewaySpec, rendered: Rendered,
              upstream: str = UPSTREAM_DEPLOY) -> dict[str, str]:
    """The files ``--out DIR`` writes for ``fmt``."""
    check_format(fmt, rendered.backend)
    if fmt == "yaml":
        return split_files(rendered)
    if fmt == "helm-values":
        return helm_files(spec, rendered)
    if fmt == "kustomize":
        if "://" in upstream:
            return kustomize_files(spec, rendered, upstream)
        # A local deploy.yaml: kustomize resolves resources relative to the kustomization and
        # refuses files outside its directory, so the path as typed would not load. Copy it in.
        path = Path(upstream)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise RenderError(f"--upstream {upstream}: cannot read: "
                              f"{getattr(e, 'strerror', None) or e}") from None
        ref = f"upstream/{path.name}"
        _check_upstream_workload(spec, rendered, upstream, text)
        return {**kustomize_files(spec, rendered, ref), ref: text}
    raise RenderError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
