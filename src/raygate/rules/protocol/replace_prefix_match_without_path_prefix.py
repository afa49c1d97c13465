"""RG261 replace-prefix-match-without-path-prefix: a prefix rewrite without its prefix.

``ReplacePrefixMatch`` replaces the part of the path the rule's match matched, so it is only
defined for a rule with exactly one ``PathPrefix`` match; the HTTPRoute CRD enforces it with a
CEL rule, and the API server refuses the object (``config/crd/standard/
gateway.networking.k8s.io_httproutes.yaml`` @v1.6.1). The ingress-nginx habit of a regex path
plus a capture-group rewrite does not translate: Gateway API has no regex rewrite (GEP-4359).
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

MESSAGE = ("When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix "
           "match must be specified")


@rule(
    code="RG261",
    name="replace-prefix-match-without-path-prefix",
    layer="protocol",
    severity="error",
    kinds=("HTTPRoute",),
    title="HTTPRoute rule with ReplacePrefixMatch but not exactly one PathPrefix match",
    rationale="""
        A ReplacePrefixMatch rewrite (or redirect) replaces the prefix the rule matched. With an
        Exact or RegularExpression match, no match, or several matches there is no single
        prefix to replace, and the API server rejects the HTTPRoute through the CRD's CEL
        validation. Stripping /ray needs PathPrefix /ray/ with ReplacePrefixMatch /, and the
        bare /ray handled by a separate Exact rule that redirects.
    """,
    fix="Give the rule exactly one match with path type PathPrefix (e.g. /ray/), and move Exact "
        "or regex matches to their own rules.",
    references=("https://gateway-api.sigs.k8s.io/reference/spec/#httppathmodifier",
                "https://gateway-api.sigs.k8s.io/guides/http-redirect-rewrite/"),
    errors=(MESSAGE, "When using RequestRedirect filter with path.replacePrefixMatch, exactly "
                     "one PathPrefix match must be specified"),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.backends.gateway_api import attachment
    from raygate.backends.gateway_api import routing

    if not obj.api_version.startswith(attachment.GROUP + "/"):
        return
    rules = obj.spec.get("rules")
    for i, r in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(r, dict):
            continue
        for kind, key in (("URLRewrite", "urlRewrite"), ("RequestRedirect", "requestRedirect")):
            for f in routing.filters_of(r, kind):
                path = (f.get(key) or {}).get("path") or {}
                if path.get("type") != "ReplacePrefixMatch":
                    continue
                # The CRD defaults an absent matches to [PathPrefix /] before validating.
                matches = r.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]
                prefixes = [m for m in matches if isinstance(m, dict) and
                            ((m.get("path") or {}).get("type", "PathPrefix") == "PathPrefix")] \
                    if isinstance(matches, list) else []
                if isinstance(matches, list) and len(matches) == 1 and len(prefixes) == 1:
                    continue
                yield ctx.finding(obj, ("spec", "rules", i, "matches"),
                                  f"rule {i}: {kind} with ReplacePrefixMatch needs exactly one "
                                  f"PathPrefix match; the API server refuses it: "
                                  f'"{MESSAGE.replace("URLRewrite", kind)}"')
