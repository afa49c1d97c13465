"""RG204 unread-tcp-services: a tcp-services ConfigMap that no controller reads.

The controller only reads the ConfigMap its ``--tcp-services-configmap=<namespace>/<name>`` flag
names; the flag defaults to empty, and the static install manifests do not set it (facts:
ingress_nginx.md §3.3 for the flag, §3.4 for "static manifests have no tcp ConfigMap or flag").
The seed guide creates ``ingress-nginx/tcp-services`` *and* adds the flag; forgetting the flag,
or writing the map into another namespace, leaves every entry dead without a single log line
about the map itself. A controller restricted by ``--watch-namespace`` cannot see a map outside
that namespace either and logs
``Error getting ConfigMap "<ns/name>": no object matching key "<ns/name>" in local store`` (§3.2).

Decision: when no controller is in the inputs raygate cannot tell who reads the map (it may be
installed by another team or chart), so the rule stays silent rather than guess.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import Context, rule
from raygate.rules.protocol import _tcp

NOT_FOUND = 'Error getting ConfigMap "{ref}": no object matching key "{ref}" in local store'
BAD_REF = 'Error parsing ConfigMap reference "{ref}"'


@rule(
    code="RG204",
    name="unread-tcp-services",
    layer="protocol",
    severity="error",
    kinds=("ConfigMap",),
    title="tcp-services ConfigMap that no ingress-nginx controller reads",
    rationale="""
        ingress-nginx reads exactly one tcp-services ConfigMap, the one named by its
        `--tcp-services-configmap=<namespace>/<name>` flag. The flag is empty by default and the
        static install manifests do not set it; only the Helm chart adds it (for the map it
        creates itself). A map the flag does not name, because the flag is missing or points at
        another namespace or name, is never read: no port is opened, and the controller logs
        nothing about this map. With `--watch-namespace`, a map outside the watched namespace is
        invisible too.
    """,
    fix="Add --tcp-services-configmap=<namespace>/<name> for this ConfigMap to the controller's args.",
    references=(_tcp.CLI_ARGS_DOC, _tcp.TCP_DOC),
    errors=(
        'Error getting ConfigMap "<ns/name>": no object matching key "<ns/name>" in local store',
        'Error parsing ConfigMap reference "<ref>"',
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not _tcp.is_tcp_map(ctx.objects, obj):
        return
    controllers = nginx.find_controllers(ctx.objects)
    if not controllers:
        return  # nobody to ask: see the module docstring
    ref = f"{obj.namespace}/{obj.name}"
    readers = _tcp.readers(ctx.objects, obj)
    if readers:
        blind = [c for c in readers if _tcp.watch_namespace(c) not in (None, obj.namespace)]
        if len(blind) == len(readers):
            c = blind[0]
            yield ctx.finding(
                obj, ("metadata", "namespace"),
                NOT_FOUND.format(ref=ref) + f": {_tcp.workload_ref(c)} reads this map but only "
                f"watches namespace {_tcp.watch_namespace(c)!r} (--watch-namespace), so it never "
                "sees it",
                fix=(f"Create the map in namespace {_tcp.watch_namespace(c)!r} and point "
                     "--tcp-services-configmap at it, or drop --watch-namespace."))
        return
    if any("$(" in (c.tcp_services_ref or "") for c in controllers):
        return  # a variable we cannot expand may well name this map
    reasons = [_reason(c, obj, ctx.objects) for c in controllers]
    field = ("metadata", "name")
    if any(c.tcp_services_ref and "/" in c.tcp_services_ref
           and c.tcp_services_ref.partition("/")[2] == obj.name for c in controllers):
        field = ("metadata", "namespace")
    yield ctx.finding(obj, field, f"no ingress-nginx controller reads {ref}: " + "; ".join(reasons),
                      fix=_fix(controllers, obj))


def _reason(c: nginx.Controller, cm: KubeObject, objects: ObjectSet) -> str:
    flagged = c.tcp_services_ref
    who = _tcp.workload_ref(c)
    if not flagged:
        return (f"{who} has no --tcp-services-configmap flag (the static install manifests do "
                "not set one)")
    if "/" not in flagged:
        return (f"{who} has --tcp-services-configmap={flagged}, which is not namespace/name, so it "
                f"logs {BAD_REF.format(ref=flagged)}")
    ns, _, name = flagged.partition("/")
    diffs = []
    if ns != cm.namespace:
        diffs.append(f"namespace {ns!r}, not {cm.namespace!r}")
    if name != cm.name:
        diffs.append(f"name {name!r}, not {cm.name!r}")
    text = f"{who} reads --tcp-services-configmap={flagged} ({' and '.join(diffs)})"
    if objects.get("ConfigMap", ns, name) is None:
        text += f" and logs {NOT_FOUND.format(ref=flagged)}"
    return text


def _fix(controllers: Iterable[nginx.Controller], cm: KubeObject) -> str:
    ref = f"{cm.namespace}/{cm.name}"
    targets = [c for c in controllers if c.workload is not None]
    without = [c for c in targets if not c.tcp_services_ref]
    if without:
        return f"Add --tcp-services-configmap={ref} to the args of {_tcp.workload_ref(without[0])}."
    c = targets[0]
    return (f"Set --tcp-services-configmap={ref} on {_tcp.workload_ref(c)} (it can read only one "
            f"map), or move these entries into {c.tcp_services_ref}.")
