"""Which data plane actually serves an Ingress: the question every controller-specific rule asks.

Kubernetes gives an Ingress its class through ``spec.ingressClassName``, else the deprecated
``kubernetes.io/ingress.class`` annotation; an Ingress created with neither gets the one
IngressClass annotated ``ingressclass.kubernetes.io/is-default-class: "true"`` written into
``ingressClassName`` by the DefaultIngressClass admission plugin (none when several are default).

ingress-nginx (``internal/ingress/controller/store/store.go`` ``GetIngressClass`` and the
IngressClass handler, controller-v1.15.1) then serves the Ingress when

* ``ingressClassName`` names an IngressClass it keeps: one whose ``spec.controller`` equals its
  ``--controller-class`` (default ``k8s.io/ingress-nginx``), or, with ``--ingress-class-by-name``,
  one named like its ``--ingress-class``; the annotation is not consulted then;
* else the annotation equals its ``--ingress-class`` (default ``nginx``);
* else (no class at all) ``--watch-ingress-without-class`` is set;

and only when the Ingress's namespace is watched (``--watch-namespace``,
``--watch-namespace-selector``). A rule about nginx's 1m body size means nothing on an AWS ALB;
a rule about an ALB's idle timeout means nothing on nginx. So ``for_ingress`` answers:

* ``ingress-nginx``: a controller in the inputs serves it (``controller``), or none is in the
  inputs and the class is ingress-nginx's (``assumed``: the v1.15.1 defaults are judged);
* a known other controller (``profile``, from ``raygate.backends.ingress_classes``);
* ``unknown``: nothing in the inputs says who serves it; only controller-neutral rules judge it;
* ``none``: the class is ingress-nginx's (or names no controller at all) and every ingress-nginx
  controller in the inputs ignores this Ingress (``reason`` says why).

The resolution is memoised per object set and per Ingress.
"""

from __future__ import annotations

from raygate.backends import ingress_classes
from raygate.backends import ingress_nginx as nginx
from raygate.objects import KubeObject, ObjectSet
from raygate.records import record

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"


@record(frozen=True)
class DataPlane:
    """The data plane that serves an Ingress: its controller or profile, and why."""

    kind: str  # "ingress-nginx" | a profile key ("aws-alb", ...) | "unknown" | "none"
    class_name: str | None
    controller: nginx.Controller | None = None        # set for ingress-nginx
    profile: ingress_classes.Profile | None = None    # set for other known controllers
    #: True when no serving controller is in the inputs and its defaults are assumed.
    assumed: bool = False
    #: How the data plane was decided, for messages ("IngressClass alb -> ingress.k8s.aws/alb").
    reason: str = ""
    #: Where the class came from: "ingressClassName", "annotation", "default IngressClass", "".
    class_source: str = ""
    #: ingress-nginx controllers that take the class but do not watch the Ingress's namespace
    #: (``--watch-namespace``/``--watch-namespace-selector``): why it is ``none`` (RG325).
    namespace_excluded_by: tuple[nginx.Controller, ...] = ()

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

    def describe(self) -> str:
        """``served by AWS Load Balancer Controller (IngressClass alb -> ingress.k8s.aws/alb)``."""
        verb = "served by" if self.kind != "none" else "served by no controller in the inputs:"
        if self.kind == "none":
            return f"{verb} {self.reason}"
        return f"{verb} {self.title} ({self.reason})" if self.reason else f"{verb} {self.title}"


def default_classes(objects: ObjectSet) -> list[KubeObject]:
    """IngressClasses marked default (the DefaultIngressClass admission plugin's input)."""
    return objects.memo("ingress-default-classes", lambda: [
        c for c in objects.of_kind("IngressClass")
        if str(c.annotations.get(DEFAULT_CLASS_ANNOTATION, "")).strip().lower() == "true"])


def class_of(objects: ObjectSet, ingress: KubeObject) -> str | None:
    """The IngressClass name an Ingress asks for, the default class when it names none."""
    return class_and_source(objects, ingress)[0]


def class_and_source(objects: ObjectSet, ingress: KubeObject) -> tuple[str | None, str]:
    """The class an Ingress asks for and where it comes from (ingressClassName, the
    annotation, or the one default IngressClass the admission plugin would write in)."""
    name = ingress.spec.get("ingressClassName")
    if isinstance(name, str) and name:
        return name, "ingressClassName"
    legacy = ingress.annotations.get(CLASS_ANNOTATION)
    if isinstance(legacy, str) and legacy:
        return legacy, "annotation"
    defaults = default_classes(objects)
    if len(defaults) == 1:
        return defaults[0].name, "default IngressClass"
    return None, ""


def for_ingress(objects: ObjectSet, ingress: KubeObject) -> DataPlane:
    cache = objects.memo("dataplane-by-ingress", dict)
    # Keyed by identity, and the object is kept with its answer: an Ingress built on the fly
    # (KubeRay's enableIngress one) could otherwise be freed and its id reused by another.
    hit = cache.get(id(ingress))
    if hit is None or hit[0] is not ingress:
        hit = cache[id(ingress)] = (ingress, _resolve(objects, ingress))
    return hit[1]


def controller_of(objects: ObjectSet, ingress: KubeObject) -> nginx.Controller | None:
    """The ingress-nginx controller serving this Ingress (found or assumed), else None."""
    return for_ingress(objects, ingress).controller


def _workload(c: nginx.Controller) -> str:
    w = c.workload
    return f"{w.kind} {w.namespace}/{w.name}" if w is not None else "the assumed controller"


def _claims_class(c: nginx.Controller, objects: ObjectSet, class_name: str | None,
                  source: str) -> bool | None:
    """Whether controller ``c`` takes an Ingress of this class (ignoring namespaces); None
    when it rests on an IngressClass the inputs do not carry."""
    if source in ("ingressClassName", "default IngressClass"):
        ic = objects.get("IngressClass", "", class_name or "")
        if ic is None:
            # Unknown IngressClass: the installers name it like --ingress-class.
            return None if class_name == c.ingress_class else False
        if c.ingress_class_by_name and ic.name == c.ingress_class:
            return True
        return ic.spec.get("controller") == c.controller_class
    if source == "annotation":
        return class_name == c.ingress_class
    # Before v1.0.0 there was no IngressClass handling: every class-less Ingress was served.
    return c.watch_without_class or c.version < (1, 0, 0)


def _resolve(objects: ObjectSet, ingress: KubeObject) -> DataPlane:
    class_name, source = class_and_source(objects, ingress)
    controllers = nginx.find_controllers(objects)
    ic = objects.get("IngressClass", "", class_name) if class_name else None
    wanted = ic.spec.get("controller") if ic is not None else None
    wanted = wanted if isinstance(wanted, str) and wanted else None
    via = (f"IngressClass {class_name} -> {wanted}" if wanted else
           f"class {class_name} ({source})" if class_name else "no class")

    # 1. An ingress-nginx controller in the inputs that takes it.
    ignored: list[str] = []
    excluded: list[nginx.Controller] = []
    for c in controllers:
        claims = _claims_class(c, objects, class_name, source)
        if claims is False:
            continue
        watched = c.watches_namespace(objects, ingress.namespace)
        if watched is False:
            scope = (f"--watch-namespace={c.watch_namespace}" if c.watch_namespace else
                     f"--watch-namespace-selector={c.watch_namespace_selector}")
            ignored.append(f"{_workload(c)} takes {via} but namespace {ingress.namespace} is "
                           f"outside its {scope}")
            excluded.append(c)
            continue
        notes = []
        if claims is None:
            notes.append(f"IngressClass {class_name} not in the inputs; assumed to be the one "
                         f"named by --ingress-class={c.ingress_class}")
        if watched is None:
            notes.append(f"Namespace {ingress.namespace} not in the inputs; assumed to match "
                         f"--watch-namespace-selector={c.watch_namespace_selector}")
        reason = f"{via}, taken by {_workload(c)}" + (f"; {'; '.join(notes)}" if notes else "")
        return DataPlane("ingress-nginx", class_name, controller=c, reason=reason,
                         class_source=source)

    # 2. Another controller's class.
    profile = None
    if wanted is not None:
        profile = ingress_classes.by_controller(wanted)
    elif class_name is not None and (ic is None or not ic.spec.get("controller")):
        profile = ingress_classes.by_class_name(class_name)
    if profile is not None:
        if source != "annotation" and not profile.reads_ingress_class_name:
            return DataPlane("none", class_name, profile=profile, class_source=source,
                             reason=f"{profile.title} reads only the {CLASS_ANNOTATION} "
                                    f"annotation, and this Ingress names its class in "
                                    f"spec.ingressClassName ({class_name})")
        return DataPlane(profile.key, class_name, profile=profile, class_source=source,
                         assumed=ic is None,
                         reason=via if ic is not None else
                         f"{via}, a class name of {profile.title}")

    nginx_class = (wanted is not None and wanted.startswith(ingress_classes.INGRESS_NGINX_CONTROLLER)) \
        or (wanted is None and (class_name is None or "nginx" in class_name))
    # 3. ingress-nginx's class (its IngressClass names a k8s.io/ingress-nginx* controller, or
    # the name says nginx), and no controller in the inputs: judge the assumed defaults.
    if not controllers and nginx_class:
        return DataPlane("ingress-nginx", class_name,
                         controller=nginx.controller_for_class(objects, class_name),
                         assumed=True, class_source=source,
                         reason=f"{via}; no ingress-nginx controller in the inputs")

    # 4. Controllers are in the inputs and every one of them ignores it.
    if controllers and (nginx_class or ignored):
        takes = "; ".join(ignored) if ignored else "; ".join(
            f"{_workload(c)} takes IngressClasses with controller {c.controller_class}"
            + (f" and the annotation {c.ingress_class}" if c.ingress_class else "")
            + (", and class-less Ingresses" if c.watch_without_class else "")
            for c in controllers)
        return DataPlane("none", class_name, class_source=source,
                         reason=f"{via}, and {takes}", namespace_excluded_by=tuple(excluded))
    return DataPlane("unknown", class_name, class_source=source,
                     reason=f"{via}: no controller in the inputs claims it")

