"""How KubeRay names and wires a Ray head, as pure functions over objects.

Facts from ``shared/facts/kuberay_ray.md`` (KubeRay v1.7.0): the head Service is
``status.head.serviceName`` when the operator reported it, else
``spec.headGroupSpec.headService.metadata.name``, else ``<raycluster>-head-svc``; its ports are
the head container's named ports (or the defaults when it lists none).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from raygate.objects import KubeObject, ObjectSet

RAY_KINDS = ("RayCluster", "RayService", "RayJob")
DEFAULT_PORTS = {"gcs-server": 6379, "dashboard": 8265, "client": 10001, "serve": 8000,
                 "metrics": 8080}
DASHBOARD_AGENT_PORT = 52365
#: The Dashboard's own request size cap (aiohttp ``client_max_size``, Ray's
#: ``DASHBOARD_CLIENT_MAX_SIZE``): the largest job ``working_dir`` upload Ray accepts, 100 MiB.
DASHBOARD_UPLOAD_MAX_BYTES = 100 * 1024 ** 2
#: KubeRay >= 1.5.1 supports spec.authOptions; Ray >= 2.52 supports token auth.
AUTH_FIX = "set spec.authOptions.mode: token on the RayCluster (KubeRay >= 1.5.1, Ray >= 2.52)"


_OPERATOR_IMAGE = re.compile(r"kuberay/operator:v?(\d+)\.(\d+)\.(\d+)")


def operator_version(objects: ObjectSet) -> tuple[int, int, int] | None:
    """The KubeRay operator's version, when its Deployment is in the inputs (its image tag)."""
    def find() -> tuple[int, int, int] | None:
        for d in objects.of_kind("Deployment"):
            containers = d.get("spec", "template", "spec", "containers")
            for c in containers if isinstance(containers, list) else []:
                m = _OPERATOR_IMAGE.search(str(c.get("image", ""))) if isinstance(c, dict) else None
                if m:
                    return (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return None
    return objects.memo("kuberay-operator-version", find)


def is_ray(obj: KubeObject) -> bool:
    return obj.kind in RAY_KINDS and obj.group == "ray.io"


def cluster_spec(obj: KubeObject) -> Mapping[str, Any]:
    """The RayCluster spec of a RayCluster, RayService or RayJob."""
    if obj.kind == "RayCluster":
        return obj.spec
    key = "rayClusterConfig" if obj.kind == "RayService" else "rayClusterSpec"
    spec = obj.spec.get(key)
    return spec if isinstance(spec, dict) else {}


def head_container(obj: KubeObject) -> Mapping[str, Any]:
    # Every level may be the wrong type in hand-written input: never assume a dict.
    head = cluster_spec(obj).get("headGroupSpec")
    template = head.get("template") if isinstance(head, dict) else None
    pod_spec = template.get("spec") if isinstance(template, dict) else None
    containers = pod_spec.get("containers") if isinstance(pod_spec, dict) else None
    if isinstance(containers, list) and containers and isinstance(containers[0], dict):
        return containers[0]
    return {}


def head_service_name(obj: KubeObject) -> str:
    status = obj.status.get("head")
    if isinstance(status, dict) and isinstance(status.get("serviceName"), str):
        return status["serviceName"]
    head = cluster_spec(obj).get("headGroupSpec")
    service = head.get("headService") if isinstance(head, dict) else None
    meta = service.get("metadata") if isinstance(service, dict) else None
    custom = meta.get("name") if isinstance(meta, dict) else None
    if isinstance(custom, str) and custom and obj.kind == "RayCluster":
        return custom
    return f"{obj.name}-head-svc"


def head_ports(obj: KubeObject) -> dict[str, int]:
    """Port name -> port on the head Service KubeRay creates for ``obj``."""
    ports = head_container(obj).get("ports")
    if not isinstance(ports, list) or not ports:
        return dict(DEFAULT_PORTS)
    result: dict[str, int] = {}
    for p in ports:
        if isinstance(p, dict) and isinstance(p.get("containerPort"), int):
            name = p.get("name") or f"{p['containerPort']}-port"
            result[str(name)] = p["containerPort"]
    result.setdefault("metrics", 8080)
    return result


def auth_mode(obj: KubeObject) -> str:
    """``token`` or ``disabled``: spec.authOptions first, then RAY_AUTH_MODE on the head."""
    spec = cluster_spec(obj)
    options = spec.get("authOptions")
    if isinstance(options, dict):
        return str(options.get("mode") or "token").lower()
    envs = head_container(obj).get("env")
    for env in envs if isinstance(envs, list) else []:
        if isinstance(env, dict) and env.get("name") == "RAY_AUTH_MODE":
            return str(env.get("value") or "").lower() or "disabled"
    return "disabled"


def ray_clusters(objects: ObjectSet) -> tuple[KubeObject, ...]:
    return tuple(o for o in objects.of_kind(*RAY_KINDS) if o.group == "ray.io")


def owner_of_service(objects: ObjectSet, namespace: str, service: str) -> KubeObject | None:
    """The Ray CR whose head (or Serve) Service is ``namespace/service``: its own head Service,
    a RayService's ``-serve-svc`` and child clusters' Services, a RayJob's cluster. The
    recognition lives in ``raygate.model.heads``; this keeps the KubeRay-only question."""
    from raygate.model import heads  # heads builds on this module's per-CR functions

    return heads.ray_of_service(objects, namespace, service)


def is_head_service(objects: ObjectSet, svc: KubeObject) -> bool:
    """A Service that certainly reaches a Ray head: owned by a Ray CR, or labelled/selecting
    ``ray.io/node-type: head`` (``raygate.model.heads`` also knows likelier-than-not heads)."""
    from raygate.model import heads

    found = heads.for_service(objects, svc.namespace, svc.name)
    return found is not None and found.certain and not found.serve


def looks_like_head_service_name(name: str) -> bool:
    return name.endswith("-head-svc")
