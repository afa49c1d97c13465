"""RG151 admission-denied: the API server refused a Ray Ingress in a server-side dry run.

Static rules predict what the ingress-nginx admission webhook will say; this one asks it.
Doctor sends each Ray Ingress to the API server with ``dryRun=All`` (nothing is stored) and
reports the webhook's exact denial text, then names the catalog rule whose known error text it
matches, so the chain reads: the message ``kubectl apply`` printed -> the cause -> the fix.
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import CATALOG, Context, best_error_matches, rule

GENERIC_FIX = ("Fix what the denial names, then re-apply; `raygate explain --error '<text>'` "
               "finds the rule behind the message.")


@rule(
    code="RG151",
    name="admission-denied",
    layer="security",
    severity="error",
    kinds=("Ingress",),
    needs="runtime",
    title="Ingress the API server denies in a server-side dry run",
    rationale="""
        A Ray Ingress that the admission webhook denies never reaches the controller: `kubectl
        apply` fails with `admission webhook "validate.nginx.ingress.kubernetes.io" denied the
        request: ...` and the route silently stays at its last accepted version, or does not
        exist at all. The controller's real configuration (version, ConfigMap, risk level)
        decides, so the server's own answer is the ground truth; raygate gets it with a
        server-side dry run, which stores nothing.
    """,
    fix=GENERIC_FIX,
    references=("https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run",),
    errors=('admission webhook "<name>" denied the request: <reason>',),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate import runtime as rt

    state = rt.state_of(ctx.runtime, ctx.objects)
    denial = state.admission.get((obj.kind, obj.namespace, obj.name))
    if not denial:
        return
    cause = cause_rule(denial)
    named = f" Cause: {cause.code} {cause.name} ({cause.title})." if cause else ""
    yield ctx.finding(
        obj, _field_named_in(obj, denial),
        f"a server-side dry run of Ingress {obj.name} was denied, so this version can never be "
        f"applied.{named}",
        fix=cause.fix if cause else GENERIC_FIX,
        symptom=denial.strip(),
        cause=cause.code if cause else None)


def cause_rule(text: str):
    """The catalog rule whose known error text matches ``text`` (static rules first)."""
    candidates = [r for r in CATALOG if r.code not in ("RG151", "RG152")]
    matches = best_error_matches(candidates, text)
    matches.sort(key=lambda r: (r.needs != "static", r.code))
    return matches[0] if matches else None


def _field_named_in(obj: KubeObject, text: str) -> tuple:
    for key in sorted(obj.annotations, key=len, reverse=True):
        if key in text:
            return ("metadata", "annotations", key)
    if "path" in text.lower():
        return ("spec", "rules")
    return ("metadata", "name")
