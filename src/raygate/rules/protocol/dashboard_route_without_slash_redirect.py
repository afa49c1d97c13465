"""RG263 dashboard-route-without-slash-redirect: an HTTPRoute strips a Dashboard sub-path but
nothing redirects the bare prefix to the trailing-slash URL.

The Dashboard loads its assets by relative URL, so behind ``/ray`` it only works at ``/ray/``
(facts ``kuberay_ray.md`` §5.1, Ray's "Running behind a reverse proxy"). ``PathPrefix`` ignores a
trailing slash (``apis/v1/httproute_types.go`` @v1.6.1: ``/ray/`` matches ``/ray``), so a rule
``PathPrefix /ray/`` + ``ReplacePrefixMatch /`` also answers the bare ``/ray`` with the index
page rewritten to ``/``; its assets then resolve to ``/static/...`` outside the prefix: a blank
page with HTTP 200. Gateway API's precedence puts an ``Exact /ray`` rule first, so an Exact rule
with a RequestRedirect to ``/ray/`` on the same hostnames fixes it (what ``raygate render``
emits). The rule replays the spec's matching over every HTTPRoute rule of the same parent and
hostname (``raygate.backends.gateway_api.routing``).
"""

from __future__ import annotations

from typing import Any, Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import Context, rule


def _parents(route: KubeObject) -> set[tuple[str, str]]:
    refs = route.spec.get("parentRefs")
    return {(r.get("namespace") or route.namespace, str(r.get("name")))
            for r in refs if isinstance(r, dict)} if isinstance(refs, list) else set()


def _hosts(route: KubeObject) -> set[str]:
    hosts = route.spec.get("hostnames")
    return set(h for h in hosts if isinstance(h, str)) if isinstance(hosts, list) and hosts else {"*"}


def _siblings(objects: ObjectSet, route: KubeObject) -> list[tuple[KubeObject, int, Any]]:
    """Every (route, rule index, rule) served on the same parent and hostnames as ``route``."""
    out = []
    parents, hosts = _parents(route), _hosts(route)
    for other in objects.of_kind("HTTPRoute"):
        if other is not route and (not (_parents(other) & parents)
                                   or not (_hosts(other) & hosts or "*" in _hosts(other))):
            continue
        rules = other.spec.get("rules")
        for i, r in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(r, dict):
                out.append((other, i, r))
    return out


@rule(
    code="RG263",
    name="dashboard-route-without-slash-redirect",
    layer="protocol",
    severity="warning",
    kinds=("HTTPRoute",),
    title="HTTPRoute serving the Dashboard under a sub-path without an Exact redirect to the trailing slash",
    rationale="""
        The Ray Dashboard requests its assets and APIs with relative URLs, so under a sub-path
        it only works at /ray/. PathPrefix matching ignores a trailing slash, so the
        Dashboard's PathPrefix /ray/ rule with ReplacePrefixMatch / also serves the bare /ray:
        the index page loads with status 200 and every asset 404s outside the prefix, a blank
        page that status probes report as healthy. An Exact /ray rule with a RequestRedirect
        to /ray/ always wins over the prefix rule and fixes it.
    """,
    fix="Add a rule with an Exact /ray match and a RequestRedirect filter (ReplaceFullPath /ray/, "
        "status 301) for the same parent and hostnames.",
    references=("https://docs.ray.io/en/latest/cluster/configure-manage-dashboard.html",
                "https://gateway-api.sigs.k8s.io/guides/http-redirect-rewrite/"),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.backends.gateway_api import attachment
    from raygate.backends.gateway_api import routing
    from raygate.rules.protocol import _gateway_routes

    if not obj.api_version.startswith(attachment.GROUP + "/"):
        return
    rules = obj.spec.get("rules") or []
    for i in _gateway_routes.ray_rule_indices(ctx.objects, obj):
        r = rules[i]
        if routing.prefix_replacement(r) is None:
            continue  # no prefix strip: a different (and louder) problem
        for m in r.get("matches") or []:
            path = (m.get("path") or {}) if isinstance(m, dict) else {}
            value = path.get("value")
            if path.get("type", "PathPrefix") != "PathPrefix" or not isinstance(value, str):
                continue
            bare = value.rstrip("/")
            if not bare:
                continue
            siblings = _siblings(ctx.objects, obj)
            hit = routing.route([s[2] for s in siblings], bare)
            if hit is None:
                continue
            route_obj, index, served = siblings[hit]
            if routing.filters_of(served, "RequestRedirect"):
                continue
            if route_obj is obj and index == i:
                yield ctx.finding(
                    obj, ("spec", "rules", i, "matches"),
                    f"{bare} (no trailing slash) is matched by this rule's PathPrefix {value} "
                    f"(a trailing slash is ignored) and rewritten to \"/\": the Dashboard's "
                    f"index loads with 200, its relative assets resolve outside {bare}/ and get "
                    "404, a blank page. No Exact rule redirects it to the trailing slash.")
