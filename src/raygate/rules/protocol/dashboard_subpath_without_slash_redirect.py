"""RG209 dashboard-subpath-without-slash-redirect: ``/ray`` serves a blank Dashboard.

The Dashboard's ``index.html`` loads its JavaScript, CSS and API calls by *relative* URL, so it
only works when the page URL ends in ``/`` (facts: kuberay_ray.md §5.1, Ray's "Running behind a
reverse proxy"). Under a sub-path, ``https://host/ray`` must therefore redirect to ``/ray/``.
With the seed guide's path ``/ray(/|$)(.*)`` it does not: the location ``~* "^/ray(/|$)(.*)"``
also matches the bare ``/ray`` and rewrites it to ``/``, the index answers 200, and its assets
resolve to ``/static/...`` outside the prefix: 404, a blank page (observed through real nginx
and Chromium, feasibility.md §B). An extra Exact ``/ray`` Ingress with ``permanent-redirect``
does not help on that host: once any location of a host uses rewrite-target or use-regex,
every path of the host renders as ``~* "^<path>"`` and the longer ``/ray(/|$)(.*)`` is tried
first (ingress_nginx.md §4.1). The rule replays nginx's location choice for the bare prefix on
the route's host, so whatever layout the user picked, it reports what a browser would get.
"""

from __future__ import annotations

from typing import Iterable

from raygate.model.exposure import Exposure
from raygate.findings import Finding
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import Context, rule
from raygate.rules.protocol import _http

@rule(
    code="RG209",
    name="dashboard-subpath-without-slash-redirect",
    layer="protocol",
    severity="warning",
    kinds=("Ingress",),
    title="Dashboard sub-path whose bare prefix is not redirected to the trailing-slash URL",
    rationale="""
        The Ray Dashboard requests its assets and APIs with relative URLs, so behind a
        sub-path it only works at `/ray/`, never at `/ray`. Ray's documentation asks the
        reverse proxy to redirect `/ray` to `/ray/`. With the common ingress-nginx layout
        `path: /ray(/|$)(.*)` plus `rewrite-target: /$2`, the bare `/ray` is matched by the
        same regex location and rewritten to `/`: the index page loads with HTTP 200, then
        `static/js/...` resolves to `/static/js/...` outside the prefix and fails with 404.
        The user sees a blank page and every status-code probe says the route is healthy.
        Because regex enforcement applies to every path of the host and the longest path is
        tried first, a separate Exact `/ray` redirect Ingress is shadowed by the Dashboard's
        longer regex; the Dashboard path itself must stop matching the bare prefix.
        `app-root` does not help either: it only redirects `/`.
    """,
    fix=("Route the Dashboard with path /ray/(.*) and rewrite-target /$1, and add an Ingress for "
         "the same host with path /ray, pathType Exact and "
         "nginx.ingress.kubernetes.io/permanent-redirect: /ray/."),
    references=(
        "https://docs.ray.io/en/latest/cluster/configure-manage-dashboard.html",
        "https://kubernetes.github.io/ingress-nginx/user-guide/ingress-path-matching/",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#permanent-redirect",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    seen: set[tuple[str, str]] = set()
    for route in _http.ray_routes(ctx.objects, obj, "dashboard"):
        prefix = _http.bare_prefix(route.path)
        if not prefix or (str(route.host), prefix) in seen:
            continue
        found = _http.route_location(ctx.objects, obj, route)
        if found is None or not found[1].needs_rewrite:
            # Without a rewrite the Dashboard gets "/ray/..." and 404s everything: a broken
            # route, but not the blank page this rule is about.
            continue
        server, own = found
        # Only the route that actually serves "<prefix>/" is responsible for "<prefix>".
        if server.match(prefix + "/") is not own:
            continue
        seen.add((str(route.host), prefix))
        finding = _judge(ctx, obj, route, server, own, prefix)
        if finding is not None:
            yield finding


def _is_dashboard(objects: ObjectSet, loc: _http.Location) -> bool:
    return any(_http.entry_field(r) == loc.field
               for r in _http.ray_routes(objects, loc.ingress, "dashboard"))


def _describe(loc: _http.Location, regex: bool) -> str:
    if regex:
        return f'location ~* "^{loc.path}"'
    return f"location = {loc.path}" if loc.exact else f"location {loc.path}"


def _judge(ctx: Context, obj: KubeObject, route: Exposure, server: _http.Server,
           own: _http.Location, prefix: str) -> Finding | None:
    field = _http.path_field(route)
    default = server.host == _http.DEFAULT_SERVER
    host = "<gateway>" if default else server.host
    same_host = "without a host (like this one)" if default else f"for host {host}"
    hit = server.match(prefix)
    if hit is not None and hit.redirect:
        return None
    fix = (f"Route the Dashboard with path {prefix}/(.*) and rewrite-target /$1, and add an "
           f"Ingress {same_host} with path {prefix}, pathType Exact and "
           f"nginx.ingress.kubernetes.io/permanent-redirect: {prefix}/.")
    if hit is not None and _is_dashboard(ctx.objects, hit) and _http.rewritten_uri(hit, prefix) in ("", "/"):
        shadowed = [loc for loc in server.locations
                    if loc.redirect and loc.regex is not None and loc.regex.match(prefix)]
        why = f" Nothing redirects {prefix} to {prefix}/."
        if shadowed:
            s = shadowed[0]
            why = (f" The redirect on Ingress {s.ingress.namespace}/{s.ingress.name} (path "
                   f"{s.original_path}) never runs: every path of this host renders as a regex "
                   f"location and the longer {_describe(hit, True)} is tried first.")
        return ctx.finding(
            obj, field,
            f"http://{host}{prefix} (no trailing slash) is answered by {_describe(hit, server.regex)}"
            f' and rewritten to "/": the Dashboard\'s index.html loads with status 200, but its '
            f"relative assets resolve to /static/... outside {prefix}/ and get 404, so the "
            f"browser shows a blank page.{why}",
            fix=fix)
    where = ("no location matches it, so the default backend answers 404" if hit is None else
             f"it is answered by Ingress {hit.ingress.namespace}/{hit.ingress.name} (path "
             f"{hit.original_path}) instead of the Dashboard")
    return ctx.finding(
        obj, field,
        f"http://{host}{prefix} (no trailing slash) does not reach the Dashboard: {where}. "
        f"Only {prefix}/ works; Ray's docs ask the proxy to redirect {prefix} to {prefix}/.",
        fix=(f"Add an Ingress {same_host} with path {prefix}, pathType Exact and "
             f"nginx.ingress.kubernetes.io/permanent-redirect: {prefix}/."),
        severity="info")
