"""The HTTP side of ingress-nginx as the protocol rules RG207-RG213 need it.

Several HTTP rules ask the same questions about an Ingress: which Ray port does each path
reach, what nginx ``location`` does the controller render for it, which location answers a given
URL on that host, and what value a ``proxy-*`` setting really ends up with (annotation, else the
controller ConfigMap, else the built-in default, with refused annotation values silently
ignored). This module answers them once per object set.

The routing model (servers, locations, regex enforcement, Prefix normalisation, which location
answers a URI) is ``raygate.backends.ingress_nginx_locations``, shared with the lab's nginx.conf
renderer; this module groups the Ingresses ingress-nginx serves (``raygate.model.dataplane``)
into its servers, once per object set.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from raygate.backends import ingress_nginx as nginx
from raygate.backends import ingress_nginx_locations as locations
from raygate.backends.ingress_nginx_locations import (  # noqa: F401  (the rules' vocabulary)
    DEFAULT_SERVER, Location, Server, annotation, go_bool, host_key, redirect_target,
    regex_literal, rewrite_target, rewritten_uri)
from raygate.model import dataplane, exposure
from raygate.objects import FieldPath, KubeObject, ObjectSet
from raygate.records import record

# Validators (facts §2.2). ``fullmatch`` because Go's ``$`` never matches before a newline.
_SIZE_RE = re.compile(r"[0-9]+[bkmgBKMG]?")
_INT_RE = re.compile(r"[+-]?[0-9]+")


def annotation_key(name: str) -> str:
    return nginx.PREFIX + name


# ---------------------------------------------------------------------------------------------
# Servers of the Ingresses ingress-nginx serves


def servers(objects: ObjectSet) -> dict[tuple[int, str], Server]:
    """Every (controller, host) server of the Ingresses ingress-nginx serves, memoised."""
    def build() -> dict[tuple[int, str], Server]:
        pairs = []
        for ing in objects.of_kind("Ingress"):
            served_by = controller(objects, ing) if nginx.is_ingress(ing) else None
            if served_by is not None:  # another controller's Ingress is no nginx location
                pairs.append((served_by, ing))
        return locations.build_servers(pairs)
    return objects.memo("protocol-http-servers", build)


def controller(objects: ObjectSet, ingress: KubeObject) -> nginx.Controller | None:
    """The ingress-nginx controller serving ``ingress`` (found or assumed); None when another
    controller, or none, serves it (``raygate.model.dataplane``)."""
    return dataplane.controller_of(objects, ingress)


def server_for(objects: ObjectSet, ingress: KubeObject, host: Any) -> Server | None:
    served_by = controller(objects, ingress)
    if served_by is None:
        return None
    return servers(objects).get((id(served_by), host_key(host)))


# ---------------------------------------------------------------------------------------------
# Which Ray port an Ingress path reaches


_PREFIX_STOP = set("()[]{}*+?|^$\\")
_OPTIONAL_PREVIOUS = set("*?{")


def bare_prefix(path: object) -> str:
    """The literal URL prefix a user types for a route: ``/ray(/|$)(.*)`` -> ``/ray``."""
    if not isinstance(path, str) or not path.startswith("/"):
        return ""
    literal = []
    for c in path:
        if c in _PREFIX_STOP:
            if c in _OPTIONAL_PREVIOUS and literal:
                literal.pop()  # the character before "*" / "?" / "{n}" is optional
            break
        literal.append(c)
    return "".join(literal).rstrip("/")


def _http_exposures(objects: ObjectSet) -> dict[int, list[exposure.Exposure]]:
    def compute() -> dict[int, list[exposure.Exposure]]:
        by_ingress: dict[int, list[exposure.Exposure]] = {}
        ray = {id(e) for e in exposure.ray_exposures(objects)}
        for e in exposure.exposures(objects):
            if e.channel != "http":
                continue
            if e.via.kind == "Ingress" and redirect_target(e.via) is not None \
                    and dataplane.for_ingress(objects, e.via).is_ingress_nginx:
                continue  # every request is redirected: nothing reaches the backend
            if id(e) in ray or (e.ray_port == "serve" and _is_serve_service(e)):
                by_ingress.setdefault(id(e.via), []).append(e)
        return by_ingress
    return objects.memo("protocol-http-ray-routes", compute)


def _is_serve_service(e: exposure.Exposure) -> bool:
    """KubeRay's Serve Service (``<name>-serve-svc``, facts kuberay_ray.md §1.5)."""
    if e.service.endswith("-serve-svc"):
        return True
    svc = e.service_obj
    return svc is not None and ("ray.io/serve" in svc.labels or "ray.io/originated-from-crd" in svc.labels)


def ray_routes(objects: ObjectSet, ingress: KubeObject, *ports: str,
               any_controller: bool = False) -> list[exposure.Exposure]:
    """This Ingress's paths that reach one of the Ray ``ports`` (dashboard, serve, client...).

    Only where ingress-nginx serves the Ingress, unless ``any_controller``: the rules built on
    this module judge nginx locations and settings, which another controller does not have."""
    if not any_controller and controller(objects, ingress) is None:
        return []
    return [e for e in _http_exposures(objects).get(id(ingress), []) if e.ray_port in ports]


def path_field(e: exposure.Exposure) -> FieldPath:
    """The Ingress path entry of a route (its ``path`` key when it has one)."""
    base = entry_field(e)
    return base + ("path",) if base and base[-1] != "defaultBackend" else base


def entry_field(e: exposure.Exposure) -> FieldPath:
    """The Ingress path entry (or ``spec.defaultBackend``) an exposure came from."""
    return e.field[:-1] if e.field and e.field[-1] == "backend" else e.field


def route_location(objects: ObjectSet, ingress: KubeObject,
                   e: exposure.Exposure) -> tuple[Server, Location] | None:
    """The server and rendered location of one of ``ingress``'s routes."""
    server = server_for(objects, ingress, e.host)
    if server is None:
        return None
    loc = server.by_entry.get((id(ingress), entry_field(e)))
    return (server, loc) if loc is not None else None


def describe_route(e: exposure.Exposure) -> str:
    host = e.host if isinstance(e.host, str) and e.host else "*"
    path = e.path if isinstance(e.path, str) and e.path else "/"
    return f"{host}{path} -> {e.target}"


# ---------------------------------------------------------------------------------------------
# Effective proxy settings


@record(frozen=True)
class Setting:
    """What a ``proxy-*`` setting ends up as for one Ingress, and why."""

    key: str
    value: str
    source: str                 # "annotation", "ConfigMap ns/name" or "<version> default"
    annotation_value: str | None  # the annotation as written, when present
    refused: bool               # the annotation failed its validator and was ignored
    assumption: str | None      # set when the value rests on assumed controller defaults
    #: Why the value written in the ConfigMap or annotation did not take effect, when that is
    #: the ConfigMap decoder (``"3600s"`` is no int) or nginx.tmpl's size guard (``100Mi``).
    not_applied: str | None = None

    @property
    def field(self) -> str | None:
        """The annotation key, when the Ingress has the annotation (valid or not)."""
        return annotation_key(self.key) if self.annotation_value is not None else None

    def describe(self) -> str:
        if self.refused:
            why = f"; {self.not_applied}" if self.not_applied else ""
            return (f'{self.key} is {self.value}: the annotation value "{self.annotation_value}" '
                    f"fails the controller's validator and is silently ignored "
                    f"({self.source}{why})")
        if self.not_applied:
            return f"{self.key} is {self.value}: {self.not_applied} ({self.source})"
        return f"{self.key} is {self.value} ({self.source})"


def valid_size(value: str) -> bool:
    return bool(_SIZE_RE.fullmatch(value.replace(" ", "")))


def valid_int(value: str) -> bool:
    return bool(_INT_RE.fullmatch(value))


def effective(objects: ObjectSet, ingress: KubeObject, key: str,
              valid: Callable[[str], bool]) -> Setting:
    """Annotation if valid, else the controller ConfigMap, else the default (facts §5, §2.3:
    every proxy-* parser falls back to the ConfigMap value on any error). A ConfigMap integer
    that does not decode keeps the default (``ingress_nginx.decode_config_value``), and a body
    size nginx.tmpl will not write leaves nginx's own 1m (``ingress_nginx.body_size``)."""
    served_by = controller(objects, ingress) or nginx.controller_for_class(objects, None)
    raw = annotation(ingress, key)
    if key == "proxy-body-size":
        return _body_size(served_by, raw)
    refused = False
    if raw is not None and raw.strip():
        if valid(raw):
            return Setting(key, raw.replace(" ", ""), "annotation", raw, False, None)
        refused = True
    value = served_by.setting(key)
    from_configmap = key in served_by.config and served_by.configmap is not None
    not_applied = None
    if from_configmap:
        source = served_by.setting_source(key)
        decoded = nginx.decode_config_value(key, str(served_by.config[key]))
        if decoded.error is not None:
            not_applied = (f'the ConfigMap value "{decoded.raw}" is not an integer the '
                           f"controller can decode, so the default {value} stays")
    elif served_by.workload is None:
        source = f"ingress-nginx default, {served_by.assumption}"
    else:
        source = f"ingress-nginx default of {served_by.workload.namespace}/{served_by.workload.name}"
    assumption = served_by.assumed if not from_configmap else None
    return Setting(key, value, source, raw, refused, assumption, not_applied)


def _body_size(controller: nginx.Controller, raw: str | None) -> Setting:
    size = nginx.body_size(controller, raw)
    key = "proxy-body-size"
    if size.source == "annotation":
        source = "annotation"
    elif size.source == "configmap" and controller.configmap is not None:
        source = controller.setting_source(key)
    elif controller.workload is None:
        source = f"ingress-nginx default, {controller.assumption}"
    else:
        source = f"ingress-nginx default of {controller.workload.namespace}/{controller.workload.name}"
    not_applied = None
    if not size.written:
        not_applied = (f'nginx.tmpl writes client_max_body_size only for values like 100m '
                       f'(^\\d+[kKmMgG]?$), so "{size.configured}" leaves nginx\'s default '
                       f"{nginx.NGINX_DEFAULT_BODY_SIZE}")
    assumption = controller.assumed if size.source == "default" else None
    return Setting(key, size.effective, source, raw, size.annotation_refused, assumption,
                   not_applied)


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def size_bytes(value: str) -> int | None:
    """nginx size (``1m``, ``512k``, ``0``) in bytes; None when unparsable."""
    m = re.fullmatch(r"\s*([0-9]+)\s*([bkmgBKMG]?)\s*", value)
    if not m:
        return None
    return int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]


def seconds(value: str) -> int | None:
    """A unit-less nginx timeout in seconds (ConfigMap values may carry an ``s``)."""
    m = re.fullmatch(r"\s*([+-]?[0-9]+)\s*s?\s*", value)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------------------------------------
# Regex capture groups


def capture_groups(pattern: str) -> int:
    """How many capture groups PCRE sees in ``pattern`` (``(?:`` does not count).

    Python's ``re`` agrees with PCRE on everything Ingress paths use; constructs only PCRE knows
    (``(?<name>...)``, ``(*VERB)``) fall back to a small scanner.
    """
    try:
        return re.compile(pattern).groups
    except re.error:
        return _scan_groups(pattern)


def _scan_groups(pattern: str) -> int:
    count = 0
    for i, c in locations.outside_classes(pattern):
        if c != "(":
            continue
        rest = pattern[i + 1:i + 4]
        if rest.startswith("?"):
            named = rest.startswith(("?P<", "?'")) or (rest.startswith("?<") and rest[2:3] not in ("=", "!"))
            count += 1 if named else 0
        elif not rest.startswith("*"):
            count += 1
    return count


#: The scanners' shared pieces, under the names the tests know.
_top_level_alternation = locations.top_level_alternation
