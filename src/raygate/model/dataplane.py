"""Which data plane actually serves an entry: the question every controller-specific rule asks.

An Ingress is served by the controller that watches its class (Kubernetes: ``spec.ingressClassName``,
else the deprecated ``kubernetes.io/ingress.class`` annotation, else the IngressClass annotated
``ingressclass.kubernetes.io/is-default-class: "true"``), and that controller is the one whose
``--controller-class`` equals ``IngressClass.spec.controller``. A rule about nginx's 1m body size
means nothing on an AWS ALB; a rule about an ALB's idle timeout means nothing on nginx. So:

* ``ingress-nginx``: a controller in the inputs serves the class (``controller`` is it), or
  none is in the inputs and the class is ingress-nginx's (``assumed``: the v1.15.1 defaults);
* a known other controller (``profile``, from ``raygate.backends.ingress_classes``);
* ``unknown``: nothing in the inputs says who serves it. Only controller-neutral rules judge it.
* ``none``: the inputs contain every controller (they name the class's controller or an
  IngressClass whose controller is not running) and none watches this class; nothing serves it.

The resolution is memoised per object set and per Ingress.
"""

from __future__ import annotations

from dataclasses import dataclass

from raygate.backends import ingress_classes
from raygate.backends import ingress_nginx as nginx
from raygate.objects import KubeObject, ObjectSet

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"


@dataclass(frozen=True)
class DataPlane:
    kind: str  # "ingress-nginx" | a profile key ("aws-alb", ...) | "unknown" | "none"
    class_name: str | None
    controller: nginx.Controller | None = None        # set for ingress-nginx
    profile: ingress_classes.Profile | None = None    # set for other known controllers
    #: True when no serving controller is in the inputs and its defaults are assumed.
    assumed: bool = False
    #: How the data plane was decided, for messages ("IngressClass alb -> ingress.k8s.aws/alb").
    reason: str = ""

    @property
    def is_ingress_nginx(self) -> bool:
        return self.kind == "ingress-nginx"

    @property
    def title(self) -> str:
        if self.is_ingress_nginx:
            return "ingress-nginx"
        if self.profile is not None:
            return self.profile.title
        return "an unknown controller" if self.kind == "unknown" else "no controller"


def class_of(objects: ObjectSet, ingress: KubeObject) -> str | None:
    """The IngressClass name an Ingress asks for, the default class when it names none."""
    named = nginx.ingress_class_of(ingress)
    if named:
        return named
    for ic in objects.of_kind("IngressClass"):
        if str(ic.annotations.get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true":
            return ic.name
    return None


def for_ingress(objects: ObjectSet, ingress: KubeObject) -> DataPlane:
    cache = objects.memo("dataplane-by-ingress", dict)
    key = id(ingress)
    if key not in cache:
        cache[key] = _resolve(objects, ingress)
    return cache[key]


def _resolve(objects: ObjectSet, ingress: KubeObject) -> DataPlane:
    class_name = class_of(objects, ingress)
    controllers = nginx.find_controllers(objects)
    ic = objects.get("IngressClass", "", class_name) if class_name else None
    wanted = ic.spec.get("controller") if ic is not None else None
    wanted = wanted if isinstance(wanted, str) and wanted else None

    if wanted is not None:
        for c in controllers:
            if c.controller_class == wanted:
                return DataPlane("ingress-nginx", class_name, controller=c,
                                 reason=f"IngressClass {class_name} -> {wanted}, served by "
                                        f"{c.workload.kind if c.workload else ''} "
                                        f"{c.namespace}/{c.workload.name if c.workload else ''}")
        profile = ingress_classes.by_controller(wanted)
        if profile is not None:
            return DataPlane(profile.key, class_name, profile=profile,
                             reason=f"IngressClass {class_name} -> {wanted}")
        if wanted == ingress_classes.INGRESS_NGINX_CONTROLLER and not controllers:
            return DataPlane("ingress-nginx", class_name,
                             controller=nginx.controller_for_class(objects, class_name),
                             assumed=True, reason=f"IngressClass {class_name} -> {wanted}")
        if controllers:
            return DataPlane("none", class_name,
                             reason=f"IngressClass {class_name} names controller {wanted}, and no "
                                    "ingress-nginx controller in the inputs has that "
                                    "--controller-class")
        return DataPlane("unknown", class_name, reason=f"IngressClass {class_name} -> {wanted}")

    if class_name is not None:
        for c in controllers:
            if c.ingress_class == class_name:
                return DataPlane("ingress-nginx", class_name, controller=c,
                                 reason=f"--ingress-class={class_name}")
        profile = ingress_classes.by_class_name(class_name)
        if profile is not None:
            return DataPlane(profile.key, class_name, profile=profile, assumed=True,
                             reason=f"class name {class_name} (installed by default by "
                                    f"{profile.title})")
        if class_name == "nginx" and not controllers:
            return DataPlane("ingress-nginx", class_name,
                             controller=nginx.controller_for_class(objects, class_name),
                             assumed=True, reason="class name nginx")
        return DataPlane("unknown", class_name,
                         reason=f"no IngressClass {class_name} and no controller for it in the "
                                "inputs")

    # No class at all. Historically every ingress-nginx install served class-less Ingresses
    # (before v1.0, or with --watch-ingress-without-class); judge them as the one controller in
    # the inputs, or as the assumed default, and say so.
    if len(controllers) == 1:
        return DataPlane("ingress-nginx", None, controller=controllers[0],
                         reason="no class; the only controller in the inputs")
    if not controllers:
        return DataPlane("ingress-nginx", None,
                         controller=nginx.controller_for_class(objects, None), assumed=True,
                         reason="no class and no controller in the inputs")
    return DataPlane("unknown", None, reason="no class and several controllers in the inputs")


def ingress_nginx_controller(objects: ObjectSet, ingress: KubeObject) -> nginx.Controller | None:
    """The ingress-nginx controller that processes ``ingress`` (its webhook and its store), or
    None when another or no controller serves its class, or the controller's
    ``--watch-namespace`` excludes the Ingress's namespace (CheckIngress then admits it
    untouched and the store never sees it: controller.go@controller-v1.15.1)."""
    cache = objects.memo("ingress-nginx-controller-by-ingress", dict)
    hit = cache.get(id(ingress))
    # The entry keeps the Ingress alive, so its id cannot be reused by a later object (the
    # Ingress KubeRay would build for a CR is made on the fly).
    if hit is None or hit[0] is not ingress:
        plane = for_ingress(objects, ingress)
        controller = plane.controller if plane.is_ingress_nginx else None
        hit = (ingress, controller if controller is not None
               and controller.watches(ingress.namespace) else None)
        cache[id(ingress)] = hit
    return hit[1]
