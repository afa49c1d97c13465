"""RG208 rewrite-target-missing-capture-group: ``$N`` in rewrite-target with no group N in the path.

ingress-nginx renders ``rewrite-target`` as ``rewrite "(?i)<path>" <target> break;`` in every
location of the Ingress: the annotation has *ingress* scope, so each path of the object gets
the same target (facts: ingress_nginx.md §4.1). nginx substitutes an empty string for a capture
that the regex does not have, so ``/$2`` with path ``/ray/(.*)`` sends every request to ``/``
and the Dashboard answers its index page for every asset and API call. Nothing reports it: the
webhook accepts the Ingress and nginx loads the config. A path that equals the target is not
rewritten at all (``needsRewrite``), and a target with no ``$N`` (``/``) is a deliberate static
rewrite. Targets that fail the annotation's validator are dropped by the controller and belong
to RG103.
"""

from __future__ import annotations

import re
from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.protocol import _http

# nginx reads a numbered capture as "$" plus ONE digit 1-9 ("$10" is $1 followed by "0").
CAPTURE_REF = re.compile(r"\$([1-9])")


@rule(
    code="RG208",
    name="rewrite-target-missing-capture-group",
    layer="protocol",
    severity="error",
    kinds=("Ingress",),
    title="rewrite-target references a capture group the path does not have",
    rationale="""
        `nginx.ingress.kubernetes.io/rewrite-target: /$2` only strips a sub-path prefix when
        the path regex has at least two capture groups, as in `/ray(/|$)(.*)`. The annotation
        applies to every path of the Ingress, and nginx silently replaces a missing capture
        with an empty string: with `/ray/(.*)` every request, including `/ray/static/...` and
        `/ray/api/jobs/`, reaches the Dashboard as `/`. The page loads but assets and API
        calls all get the index HTML, and `ray job submit` fails on the unexpected response.
        No webhook or nginx error reports it. Non-capturing groups `(?:...)` do not count.
    """,
    fix="Make the rewrite-target's $N match the path's capture groups (e.g. path /ray(/|$)(.*) with rewrite-target /$2).",
    references=(
        "https://kubernetes.github.io/ingress-nginx/examples/rewrite/",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#rewrite",
        "https://kubernetes.github.io/ingress-nginx/user-guide/ingress-path-matching/",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    target = _http.rewrite_target(obj)
    if target is None or _http.controller(ctx.objects, obj) is None:
        return
    refs = sorted({int(n) for n in CAPTURE_REF.findall(target)})
    if not refs:
        return
    needed = refs[-1]
    for field, entry, _host in nginx.ingress_paths(obj):
        path = entry.get("path")
        if not isinstance(path, str) or not path or path == target:
            continue
        groups = _http.capture_groups(path)
        if groups >= needed:
            continue
        missing = [f"${n}" for n in refs if n > groups]
        had = f"{groups} capture group" + ("" if groups == 1 else "s")
        suggestion = _suggest(path, target)
        yield ctx.finding(
            obj, field + ("path",),
            f'rewrite-target "{target}" uses {", ".join(missing)} but path "{path}" has {had}: '
            f'the controller renders rewrite "(?i){path}" {target} break; and nginx replaces '
            f"{', '.join(missing)} with an empty string, so every request under this path "
            f'reaches the backend as "{_empty_expansion(target, groups)}"',
            fix=suggestion)


def _empty_expansion(target: str, groups: int) -> str:
    # What the target becomes when the path's own groups match empty strings (the bare prefix):
    # the missing ones are always empty, which is the point of the message.
    return CAPTURE_REF.sub(lambda m: "" if int(m.group(1)) > groups else f"${m.group(1)}", target)


def _suggest(path: str, target: str) -> str | None:
    """A precise fix for the common sub-path shapes; None keeps the rule's generic fix."""
    m = re.fullmatch(r"(/[A-Za-z0-9._~\-/]*?)/?(?:\(\.\*\)|\(/\|\$\)\(\.\*\))?", path)
    if m and m.group(1) not in ("", "/"):
        prefix = m.group(1)
        return (f"Use path {prefix}(/|$)(.*) with rewrite-target /$2 "
                f"(or path {prefix}/(.*) with rewrite-target /$1).")
    return None
