"""RG325 ingress-outside-watch-namespace: an Ingress of a controller that does not watch its
namespace.

``--watch-namespace`` (pkg/flags/flags.go) scopes every informer of the controller to one
namespace. The webhook admits an Ingress elsewhere without a look (controller.go CheckIngress
at controller-v1.15.1: ``ignoring ingress <name> in namespace <ns> different from the namespace
watched <watched>``) and the store never sees it: the route does not exist, though the Ingress
has the controller's class and ``kubectl apply`` succeeded. (``--watch-namespace-selector``
needs Namespace labels and is not judged.)
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG325",
    name="ingress-outside-watch-namespace",
    layer="infrastructure",
    severity="error",
    kinds=("Ingress",),
    title="Ingress in a namespace its ingress-nginx controller does not watch",
    rationale="""
        Controllers installed per team or per tenant often run with `--watch-namespace`. A Ray
        Ingress created in the RayCluster's namespace, with the right class, is then invisible
        to that controller: the admission webhook lets it through unchecked and nginx never
        gets a route, so the Dashboard answers 404 from the default backend.
    """,
    fix="Create the Ingress in the controller's watched namespace, or widen --watch-namespace.",
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/cli-arguments/",
        "https://github.com/kubernetes/ingress-nginx/blob/controller-v1.15.1/internal/ingress/controller/controller.go",
    ),
    errors=(
        "ignoring ingress <name> in namespace <ns> different from the namespace watched <watched>",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not nginx.is_ingress(obj):
        return
    plane = dataplane.for_ingress(ctx.objects, obj)
    for controller in plane.namespace_excluded_by[:1]:
        if controller.watch_namespace is not None:
            scope = f"only watches namespace {controller.watch_namespace!r} (--watch-namespace)"
            log = (f" (\"ignoring ingress {obj.name} in namespace {obj.namespace} different from "
                   f"the namespace watched {controller.watch_namespace}\")")
        else:
            scope = (f"only watches namespaces labelled {controller.watch_namespace_selector} "
                     "(--watch-namespace-selector)")
            log = ""
        yield ctx.finding(
            obj, ("metadata", "namespace"),
            f"{controller.ref} {scope}: it admits this Ingress without checks{log} and never "
            "serves it")
