"""RG225 dashboard-prefix-not-stripped: a Dashboard route under ``/<prefix>/`` that keeps the prefix.

The Ray Dashboard serves its index at ``/``, its assets under ``/static/`` and its REST API
under ``/api/``; it has no setting for a URL prefix (ray ``python/ray/dashboard/
http_server_head.py`` at Ray 2.60.0: ``@routes.get("/")``, ``routes.static("/static", ...)``, and
nothing reads a prefix or ``X-Forwarded-Prefix``). So a route that serves it under ``/ray/``
works only if something removes ``/ray`` before the request reaches it (facts: kuberay_ray.md
§5.1, Ray's "Running behind a reverse proxy": the Traefik example strips the prefix). When
nothing does, every request arrives as ``/ray/...`` and aiohttp answers ``404 Not Found`` (with
token auth on, ``401`` first for a caller without a token, since only ``/``, ``/static/`` and a
few health paths are public).

The rule judges what happens to the request, not the pathType:

* ingress-nginx: it replays the location that answers ``<prefix>/api/version`` on the route's
  host (``rules/protocol/_http.py``: regex enforcement per host, longest path first) and the URI
  its ``rewrite`` hands the backend; a location that redirects is not a Dashboard route;
* controllers that cannot rewrite an Ingress's path at all (GKE, Contour, Istio's Ingress
  support: ``backends/ingress_classes.Profile.can_rewrite``) always pass the prefix on;
* Traefik, Kong, HAProxy and the AWS Load Balancer Controller rewrite only when their own knob
  is on the Ingress (a ``router.middlewares`` reference, ``konghq.com/strip-path: "true"``,
  ``haproxy.org/path-rewrite``, ``alb.ingress.kubernetes.io/transforms.<service>`` since
  v2.14.1);
* the Ingress KubeRay before v1.7 builds for ``enableIngress`` (``/<cluster>/(.*)``, pathType
  Exact, no rewrite: 404 unless the RayCluster carries a rewrite-target KubeRay copies over):
  an error when the kuberay-operator Deployment in the inputs is older than v1.7, a warning for
  a ``ray.io/v1alpha1`` manifest, information otherwise;
* KubeRay v1.7's built-in Ingress (``headGroupSpec.enableIngress`` with
  ``ingressOptions.path``; ``common/ingress.go: BuildIngressForHeadService`` copies every
  RayCluster annotation onto it and takes the class from ``kubernetes.io/ingress.class``) is
  judged from the RayCluster when the Ingress itself is not in the inputs;
* a Gateway API HTTPRoute rule forwards the path unchanged unless it has a ``URLRewrite``
  filter (Gateway API HTTPRoute spec), whatever implementation serves it.

An Ingress whose controller is unknown is left alone.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from raygate import kuberay
from raygate.backends import ingress_classes
from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane, heads
from raygate.model import exposure as exp
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import Context, rule
from raygate.rules.protocol import _http

#: A Dashboard URL whose answer tells whether the prefix was removed.
PROBE = "/api/version"
#: Annotations with which controllers rewrite on an Ingress (``{service}``: the backend
#: Service's name); without them the path reaches the backend unchanged. Kong's strip-path
#: defaults to false; the AWS Load Balancer Controller rewrites through
#: ``transforms.<service-name>`` since v2.14.1 (its annotations guide, "transforms").
REWRITE_ANNOTATIONS: Mapping[str, tuple[str, str | None, str]] = {
    "traefik": ("traefik.ingress.kubernetes.io/router.middlewares", None,
                "a StripPrefix Middleware referenced by "
                "traefik.ingress.kubernetes.io/router.middlewares"),
    "kong": ("konghq.com/strip-path", "true", 'konghq.com/strip-path: "true"'),
    "haproxy": ("haproxy.org/path-rewrite", None, "haproxy.org/path-rewrite"),
    "aws-alb": ("alb.ingress.kubernetes.io/transforms.{service}", None,
                "alb.ingress.kubernetes.io/transforms.{service} with a url-rewrite transform "
                "(AWS Load Balancer Controller v2.14.1 or later)"),
}
SYMPTOM = ("404 Not Found on every request (401 first when token auth is on and no token is "
           "sent)")


@rule(
    code="RG225",
    name="dashboard-prefix-not-stripped",
    layer="protocol",
    severity="error",
    kinds=("Ingress", "HTTPRoute", "RayCluster", "RayService", "RayJob"),
    title="Dashboard served under a path prefix that nothing removes",
    rationale="""
        The Ray Dashboard answers at `/`, `/static/...` and `/api/...` and has no option for a
        URL prefix. Routing it under `/ray/` only works when the gateway removes `/ray` before
        the request reaches the head: ingress-nginx with a regex path and `rewrite-target`,
        Gateway API with a `URLRewrite` filter, Traefik with a StripPrefix middleware. Without
        that the Dashboard receives `/ray/`, `/ray/static/...` and `/ray/api/jobs/`, none of
        which it serves, and answers 404 Not Found to the browser, to `ray job submit` and to
        every health probe, while the route itself looks valid to Kubernetes and to the
        controller. Some controllers cannot rewrite an Ingress's path at all (GKE Ingress,
        Contour): there the Dashboard needs a host of its own, served at `/`. Changing `pathType` alone does not
        help: what matters is the URI the Dashboard receives.
    """,
    fix=("Strip the prefix before the Dashboard: with ingress-nginx use path /ray/(.*), "
         "pathType ImplementationSpecific and rewrite-target /$1 (plus an Exact /ray redirect to "
         "/ray/); with Gateway API add a URLRewrite filter with ReplacePrefixMatch /; with a "
         "controller that cannot rewrite, serve the Dashboard at / on a host of its own."),
    references=(
        "https://docs.ray.io/en/latest/cluster/configure-manage-dashboard.html",
        "https://kubernetes.github.io/ingress-nginx/examples/rewrite/",
        "https://gateway-api.sigs.k8s.io/guides/http-redirect-rewrite/",
        "https://github.com/ray-project/ray/blob/master/python/ray/dashboard/http_server_head.py",
    ),
    errors=("404: Not Found",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if obj.kind == "HTTPRoute":
        yield from _check_route(obj, ctx)
        return
    if obj.kind in ("RayCluster", "RayService", "RayJob"):
        finding = _check_built_in(obj, ctx)
        if finding is not None:
            yield finding
        return
    plane = dataplane.for_ingress(ctx.objects, obj)
    seen: set[tuple[str, str]] = set()
    for route in _dashboard_routes(ctx.objects).get(id(obj), ()):
        prefix = _http.bare_prefix(route.path)
        if not prefix or (str(route.host), prefix) in seen:
            continue
        seen.add((str(route.host), prefix))
        if plane.is_ingress_nginx:
            finding = _judge_nginx(ctx, obj, route, prefix)
        elif plane.profile is not None:
            finding = _judge_profile(ctx, obj, route, prefix, plane)
        else:
            finding = None  # who serves it is unknown: its rewriting cannot be judged
        if finding is not None:
            yield finding


def _dashboard_routes(objects: ObjectSet) -> dict[int, list[exp.Exposure]]:
    """Dashboard routes of every Ingress, whatever controller serves it (``_http.ray_routes``
    is about ingress-nginx's locations); an Ingress that only redirects proxies nothing."""
    def compute() -> dict[int, list[exp.Exposure]]:
        found: dict[int, list[exp.Exposure]] = {}
        for e in exp.ray_exposures(objects):
            if e.via.kind != "Ingress" or e.channel != "http" or e.ray_port != "dashboard":
                continue
            if _http.redirect_target(e.via) is not None and \
                    dataplane.for_ingress(objects, e.via).is_ingress_nginx:
                continue
            found.setdefault(id(e.via), []).append(e)
        return found
    return objects.memo("rg225-dashboard-routes", compute)


def _judge_nginx(ctx: Context, obj: KubeObject, route: exp.Exposure,
                 prefix: str) -> Finding | None:
    found = _http.route_location(ctx.objects, obj, route)
    if found is None:
        return None
    server, own = found
    url = prefix + PROBE
    if own.redirect:
        return None
    hit = server.match(url)
    if hit is None and not server.regex and prefix != own.original_path.rstrip("/"):
        # A regex path on a host without use-regex or rewrite-target is a literal prefix that
        # no URL starts with: the webhook admits it, nothing ever reaches the Dashboard.
        return ctx.finding(
            obj, _http.path_field(route),
            f"the Dashboard route {_http.describe_route(route)} is a regex, but nothing on this "
            f"host sets use-regex or rewrite-target, so nginx matches it as a literal prefix: "
            f"{url} matches no location and the default backend answers 404 Not Found",
            fix=(f"Add nginx.ingress.kubernetes.io/rewrite-target: /$"
                 f"{max(_http.capture_groups(own.original_path), 1)} (capturing the rest of the "
                 f"path after {prefix}/) so the path is matched as a regex and the Dashboard "
                 f"receives paths without {prefix}."),
            symptom="404 Not Found from the default backend", assumption=server.controller.assumed)
    if hit is not own:
        return None  # another location (or a redirect) answers it: not this route's request
    received = _http.rewritten_uri(own, url)
    if not received.lower().startswith(prefix.lower() + "/"):
        return None
    why = ("no rewrite-target" if not own.rewrite else
           f"rewrite-target {own.rewrite} keeps it")
    return ctx.finding(
        obj, _http.path_field(route),
        f"the Dashboard route {_http.describe_route(route)} passes the prefix on ({why}): a "
        f"request for {url} reaches the Dashboard as {received}, and the Dashboard only serves "
        f"/, /static/ and /api/, so every page, asset and Jobs API call gets {SYMPTOM}",
        fix=(f"Use path {prefix}/(.*) with pathType ImplementationSpecific and "
             f"nginx.ingress.kubernetes.io/rewrite-target: /$1, and redirect {prefix} to "
             f"{prefix}/ with an Exact {prefix} Ingress carrying "
             f"nginx.ingress.kubernetes.io/permanent-redirect: {prefix}/."),
        symptom=SYMPTOM, assumption=server.controller.assumed)


def _judge_profile(ctx: Context, obj: KubeObject, route: exp.Exposure, prefix: str,
                   plane: dataplane.DataPlane) -> Finding | None:
    profile = plane.profile
    assert profile is not None
    knob = REWRITE_ANNOTATIONS.get(profile.key)
    if knob is not None:
        template, wanted, how_to = knob
        key = template.format(service=route.service)
        value = obj.annotations.get(key)
        if value is not None and (wanted is None or str(value).strip().lower() == wanted):
            return None  # the controller's own rewrite is configured; its details are its own
        how = f"no {key}" + (f': "{wanted}"' if wanted else "") + " on this Ingress"
        fix = (f"Strip {prefix} with {how_to.format(service=route.service)}, or serve the "
               "Dashboard at / on a host of its own.")
    elif profile.can_rewrite:
        return None  # a rewriting controller whose knob raygate does not know
    else:
        how = f"{profile.title} cannot rewrite paths"
        fix = (f"Serve the Dashboard at / on a host of its own (for example "
               f"dashboard.<domain> with path /), since {profile.title} cannot remove {prefix}.")
    return ctx.finding(
        obj, _http.path_field(route),
        f"the Dashboard route {_http.describe_route(route)} is served by {profile.title} "
        f"({plane.reason}) and {how}: requests reach the Dashboard as {prefix}/..., which it "
        f"does not serve, so every request gets {SYMPTOM}",
        fix=fix, symptom=SYMPTOM, assumption=plane.reason if plane.assumed else None)


def _check_route(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    seen: set[int] = set()
    for e in exp.ray_exposures(ctx.objects):
        if e.via is not obj or e.ray_port != "dashboard" or len(e.field) < 3:
            continue
        index = e.field[2]
        rules = obj.spec.get("rules")
        if not isinstance(index, int) or not isinstance(rules, list) or index in seen:
            continue
        seen.add(index)
        prefix = (e.path or "/").rstrip("/")
        if not prefix:
            continue
        r = rules[index] if isinstance(rules[index], dict) else {}
        if _rewrites(r.get("filters")) or any(
                isinstance(ref, dict) and _rewrites(ref.get("filters"))
                for ref in (r.get("backendRefs") or [])):
            continue
        yield ctx.finding(
            obj, ("spec", "rules", index),
            f"HTTPRoute rule {index} matches {prefix} and forwards to the Dashboard "
            f"{e.target} without a URLRewrite filter: the Dashboard receives {prefix}/..., "
            f"which it does not serve, so every request gets {SYMPTOM}",
            fix=(f"Add to rule {index} filters: [{{type: URLRewrite, urlRewrite: {{path: "
                 "{type: ReplacePrefixMatch, replacePrefixMatch: /}}}], and a rule matching "
                 f"Exact {prefix} with a RequestRedirect to {prefix}/."),
            symptom=SYMPTOM)


def _rewrites(filters: Any) -> bool:
    """Whether a filter list rewrites the path (a RequestRedirect answers without proxying,
    which also means the Dashboard never sees the prefix)."""
    for f in filters if isinstance(filters, list) else []:
        if not isinstance(f, dict):
            continue
        if f.get("type") == "RequestRedirect":
            return True
        rewrite = f.get("urlRewrite")
        if f.get("type") == "URLRewrite" and isinstance(rewrite, dict) and \
                isinstance(rewrite.get("path"), dict):
            return True
    return False


def _check_built_in(rc: KubeObject, ctx: Context) -> Finding | None:
    """The Ingress KubeRay v1.7 builds for ``enableIngress`` (``heads.generated_ingress``: the
    CR's annotations, class, ``ingressOptions`` path and pathType), judged from the CR."""
    ingress = heads.generated_ingress(rc)
    if ingress is None or ctx.objects.get("Ingress", ingress.namespace, ingress.name) is not None:
        return None  # no built-in Ingress, or the real one is in the inputs and judged as such
    head = kuberay.cluster_spec(rc).get("headGroupSpec")
    if rc.kind == "RayCluster" and isinstance(head, dict) \
            and not isinstance(head.get("ingressOptions"), dict):
        legacy = _legacy_built_in(ctx, rc, ingress)
        if legacy is not None:
            return legacy
    entries = list(nginx.ingress_paths(ingress))
    if not entries:
        return None
    _field, entry, _host = entries[0]
    path = entry.get("path") if isinstance(entry.get("path"), str) else "/"
    options_path = heads.head_group_path(rc) + ("ingressOptions",)
    prefix = _http.bare_prefix(path)
    if not prefix:
        return None
    field = options_path + ("path",)
    where = ".".join(map(str, options_path))
    class_name = ingress.spec.get("ingressClassName")
    profile = ingress_classes.by_class_name(class_name) if isinstance(class_name, str) else None
    service, _port = nginx.backend_service(entry)
    what = f"the Ingress KubeRay builds for {rc.namespace}/{rc.name} (ingressOptions.path {path})"
    if profile is not None:
        knob = REWRITE_ANNOTATIONS.get(profile.key)
        if knob is not None:
            template, wanted, _how = knob
            value = ingress.annotations.get(template.format(service=service))
            if value is not None and (wanted is None or str(value).strip().lower() == wanted):
                return None  # the copied annotations configure the controller's own rewrite
        elif profile.can_rewrite:
            return None  # a rewriting controller whose knob raygate does not know
        return ctx.finding(
            rc, field,
            f"{what} is served by {profile.title}, and nothing among the {rc.kind}'s "
            f"annotations (KubeRay copies them onto the Ingress) makes it remove {prefix}: the "
            f"Dashboard receives {prefix}/..., which it does not serve, so every request gets "
            f"{SYMPTOM}",
            fix=f"Set {where}.path: / and give the Dashboard a host of its own "
                f"({where}.host).", symptom=SYMPTOM)
    exact = entry.get("pathType") == "Exact"
    loc = _http.Location(ingress, field, path, exact, _http.rewrite_target(ingress),
                         _http.go_bool(_http.annotation(ingress, "use-regex")),
                         _http.redirect_target(ingress), path)
    if loc.redirect:
        return None
    url = prefix + PROBE
    if loc.needs_rewrite or loc.use_regex:
        pattern = loc.regex
        if pattern is None or not pattern.match(url):
            return None
        received = _http.rewritten_uri(loc, url)
    elif prefix != path.rstrip("/") or exact:
        return None  # a literal regex or an Exact path: nothing reaches the Dashboard at all
    else:
        received = url
    if not received.lower().startswith(prefix.lower() + "/"):
        return None
    return ctx.finding(
        rc, field,
        f"{what} forwards {url} to the Dashboard as {received}: no rewrite-target among the "
        f"{rc.kind}'s annotations (KubeRay copies them onto the Ingress) removes {prefix}, "
        f"and the Dashboard only serves /, /static/ and /api/, so every request gets {SYMPTOM}",
        fix=(f"Set {where}.path: {prefix}/(.*) with pathType "
             f"ImplementationSpecific and annotate the {rc.kind} with "
             "nginx.ingress.kubernetes.io/rewrite-target: /$1, or keep path / on a host of its "
             "own."), symptom=SYMPTOM)


#: KubeRay releases before v1.7.0 generate ``/<cluster>/(.*)`` with pathType Exact and no
#: rewrite (``common/ingress.go: BuildIngressForHeadService`` from v0.4 to v1.6.2); v1.7.0
#: generates ``ingressOptions.path``, default ``/``.
INGRESS_OPTIONS_SINCE = (1, 7, 0)
_operator_version = kuberay.operator_version


def _legacy_built_in(ctx: Context, rc: KubeObject, v17: KubeObject) -> Finding | None:
    """The Ingress a KubeRay operator older than v1.7 builds: ``/<cluster>/(.*)``, Exact."""
    version = _operator_version(ctx.objects)
    if version is not None and version >= INGRESS_OPTIONS_SINCE:
        return None  # v1.7 semantics: judged by the caller
    path = f"/{rc.name}/(.*)"
    loc = _http.Location(v17, ("spec",), path, True, _http.rewrite_target(v17),
                         _http.go_bool(_http.annotation(v17, "use-regex")),
                         _http.redirect_target(v17), path)
    class_name = v17.spec.get("ingressClassName")
    profile = ingress_classes.by_class_name(class_name) if isinstance(class_name, str) else None
    if loc.redirect or (isinstance(class_name, str) and class_name != "nginx" and profile is None):
        return None  # an unknown controller: its matching cannot be judged
    url = f"/{rc.name}{PROBE}"
    if profile is not None:
        what = (f"{profile.title} matches an Exact path literally, so no URL equals {path} and "
                "every request gets the load balancer's 404; a prefix path would still reach "
                f"the Dashboard as /{rc.name}/..., which it does not serve")
    elif loc.needs_rewrite or loc.use_regex:
        pattern = loc.regex
        received = _http.rewritten_uri(loc, url) if pattern and pattern.match(url) else None
        if received is None or not received.lower().startswith(f"/{rc.name}/".lower()):
            return None  # the copied rewrite-target strips the prefix (the documented fix)
        what = (f"it reaches the Dashboard as {received}, which the Dashboard does not serve: "
                f"{SYMPTOM}")
    else:
        what = (f"nginx renders the Exact path as location = {path}, which no URL equals, so "
                "every request gets 404 Not Found from the default backend (and a controller "
                ">= v1.12 with strict-validate-path-type denies the regex in an Exact path "
                "outright)")
    if version is not None:
        era, severity = f"the KubeRay operator in the inputs is v{'.'.join(map(str, version))}", \
            "error"
    elif rc.api_version == "ray.io/v1alpha1":
        era, severity = ("no KubeRay operator is in the inputs and this ray.io/v1alpha1 manifest "
                         "dates from KubeRay before v1.0"), "warning"
    else:
        era, severity = ("no KubeRay operator is in the inputs; KubeRay v1.7 generates path / "
                         "instead, which works"), "info"
    return ctx.finding(
        rc, heads.head_group_path(rc) + ("enableIngress",),
        f"KubeRay before v1.7 builds the Dashboard Ingress for {rc.namespace}/{rc.name} with "
        f"path {path} (pathType Exact) and no rewrite: {what} ({era})",
        severity=severity, symptom=SYMPTOM,
        fix=("Upgrade the KubeRay operator to v1.7 (path / by default, or "
             "headGroupSpec.ingressOptions), or annotate the RayCluster with "
             "nginx.ingress.kubernetes.io/rewrite-target: /$1 so the generated path is a regex "
             "that strips the prefix (KubeRay copies the annotation onto the Ingress)."))
