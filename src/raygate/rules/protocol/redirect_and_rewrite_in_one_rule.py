"""RG262 redirect-and-rewrite-in-one-rule: a RequestRedirect and a URLRewrite on one rule.

The HTTPRoute API forbids the two filters on the same rule ("MUST NOT be used on the same Route
rule as a HTTPURLRewrite filter", ``apis/v1/httproute_types.go`` @v1.6.1) and the CRD's CEL
validation rejects it. The Dashboard needs both, so they go on two rules: Exact ``/ray`` ->
redirect to ``/ray/``, and PathPrefix ``/ray/`` -> ReplacePrefixMatch ``/`` (facts
``gateway_api_metallb.md`` §2).
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

MESSAGE = "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both"


@rule(
    code="RG262",
    name="redirect-and-rewrite-in-one-rule",
    layer="protocol",
    severity="error",
    kinds=("HTTPRoute",),
    title="HTTPRoute rule with both a RequestRedirect and a URLRewrite filter",
    rationale="""
        A redirect answers the client; a rewrite changes what the backend sees. One rule cannot
        do both, and the API server refuses an HTTPRoute that asks for it. The usual cause is
        folding the Dashboard's /ray -> /ray/ redirect and its prefix strip into one rule.
    """,
    fix="Split the rule: an Exact match with the RequestRedirect, and a PathPrefix match with "
        "the URLRewrite.",
    references=("https://gateway-api.sigs.k8s.io/reference/spec/#httprouterule",),
    errors=(MESSAGE,),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.backends.gateway_api import attachment
    from raygate.backends.gateway_api import routing

    if not obj.api_version.startswith(attachment.GROUP + "/"):
        return
    rules = obj.spec.get("rules")
    for i, r in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(r, dict) and routing.filters_of(r, "RequestRedirect") \
                and routing.filters_of(r, "URLRewrite"):
            yield ctx.finding(obj, ("spec", "rules", i, "filters"),
                              f'rule {i} has a RequestRedirect and a URLRewrite filter; the API '
                              f'server refuses it: "{MESSAGE}"')
