"""Which implementation serves a Gateway API route: the question every implementation-aware
rule asks (a rule about Envoy's 15 s route timeout means nothing on NGINX Gateway Fabric).

A route is served through its parents: each ``parentRefs`` entry names a Gateway (or a
ListenerSet, whose ``parentRef`` names the Gateway); the Gateway's ``spec.gatewayClassName``
names a GatewayClass, whose ``spec.controllerName`` names the controller
(``apis/v1/gatewayclass_types.go``). The controller name selects a profile of
``implementations``. When the GatewayClass is not in the inputs, a class name that an
implementation's installer creates by default (``eg``, ``nginx``, ``istio``...) is taken as that
implementation, and the result says it was assumed.
"""

from __future__ import annotations

from raygate.backends.gateway_api import attachment, implementations
from raygate.backends.gateway_api.implementations import Implementation
from raygate.objects import KubeObject, ObjectSet
from raygate.records import record


@record(frozen=True)
class RouteDataPlane:
    """The Gateway API implementation that serves a Gateway, and why."""

    gateway: KubeObject
    class_name: str | None
    controller_name: str | None
    implementation: Implementation | None
    #: True when the GatewayClass is not in the inputs and its name decided the implementation.
    assumed: bool
    reason: str


def for_gateway(objects: ObjectSet, gw: KubeObject) -> RouteDataPlane:
    cache = objects.memo("gateway-api-dataplane", dict)
    if id(gw) in cache:
        return cache[id(gw)]
    class_name = gw.spec.get("gatewayClassName")
    class_name = class_name if isinstance(class_name, str) and class_name else None
    gc = objects.get("GatewayClass", "", class_name) if class_name else None
    controller = gc.spec.get("controllerName") if gc is not None else None
    controller = controller if isinstance(controller, str) and controller else None
    if controller is not None:
        impl = implementations.by_controller(controller)
        result = RouteDataPlane(gw, class_name, controller, impl, False,
                                f"Gateway {gw.namespace}/{gw.name} -> GatewayClass {class_name} "
                                f"-> {controller}")
    else:
        impl = implementations.by_class_name(class_name)
        result = RouteDataPlane(gw, class_name, None, impl, impl is not None,
                                f"Gateway {gw.namespace}/{gw.name} -> class {class_name} (the "
                                "class its installer creates; GatewayClass not in the inputs)")
    cache[id(gw)] = result
    return result


def for_route(objects: ObjectSet, route: KubeObject) -> tuple[RouteDataPlane, ...]:
    """One data plane per parent Gateway of the route that is in the inputs."""
    out: list[RouteDataPlane] = []
    seen: set[int] = set()
    parents = route.spec.get("parentRefs")
    for ref in parents if isinstance(parents, list) else []:
        if not isinstance(ref, dict):
            continue
        parent = attachment.parent_object(objects, route, ref)
        if parent is not None and parent.kind != "Gateway":
            parent = attachment.gateway_of_listener_set(objects, parent)
        if parent is None or id(parent) in seen:
            continue
        seen.add(id(parent))
        out.append(for_gateway(objects, parent))
    return tuple(out)


def served_by(objects: ObjectSet, route: KubeObject, key: str) -> RouteDataPlane | None:
    """The first parent whose implementation is ``key`` ("envoy-gateway", ...), if any."""
    for dp in for_route(objects, route):
        if dp.implementation is not None and dp.implementation.key == key:
            return dp
    return None
