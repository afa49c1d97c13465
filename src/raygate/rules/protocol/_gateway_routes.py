"""Gateway API routes as the protocol rules see them: which rules of an HTTPRoute reach a Ray
head's Dashboard, from the exposure model."""

from __future__ import annotations

from raygate.model.exposure import ray_exposures
from raygate.objects import KubeObject, ObjectSet


def ray_rule_indices(objects: ObjectSet, route: KubeObject, ray_port: str = "dashboard") -> list[int]:
    """Indices of ``route``'s rules whose backendRefs reach a Ray head's ``ray_port``."""
    found = set()
    for e in ray_exposures(objects):
        if e.via is route and e.ray_port == ray_port and len(e.field) > 2:
            found.add(e.field[2])
    return sorted(found)


def policies_targeting(objects: ObjectSet, kind: str, route: KubeObject) -> list[KubeObject]:
    """Policies of ``kind`` in the route's namespace whose targetRef(s) name the route or one of
    its parent Gateways (a policy on a Gateway applies to every route on it)."""
    from raygate.backends.gateway_api import attachment

    parents = set()
    refs = route.spec.get("parentRefs")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict):
            p = attachment.parent_object(objects, route, ref)
            if p is not None and p.kind != "Gateway":
                p = attachment.gateway_of_listener_set(objects, p)
            if p is not None:
                parents.add((p.namespace, p.name))
    out = []
    for policy in objects.of_kind(kind):
        targets = policy.spec.get("targetRefs")
        targets = list(targets) if isinstance(targets, list) else []
        if isinstance(policy.spec.get("targetRef"), dict):
            targets.append(policy.spec["targetRef"])
        for t in targets:
            if not isinstance(t, dict):
                continue
            if t.get("kind") == route.kind and t.get("name") == route.name \
                    and policy.namespace == route.namespace:
                out.append(policy)
                break
            if t.get("kind") == "Gateway" and (policy.namespace, t.get("name")) in parents:
                out.append(policy)
                break
    return out
