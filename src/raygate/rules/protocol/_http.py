"""The HTTP side of ingress-nginx as the protocol rules RG207-RG213 need it.

Several HTTP rules ask the same questions about an Ingress: which Ray port does each path
reach, what nginx ``location`` does the controller render for it, which location answers a given
URL on that host, and what value a ``proxy-*`` setting really ends up with (annotation, else the
controller ConfigMap, else the built-in default, with refused annotation values silently
ignored). This module answers them once per object set.

The routing model follows ``shared/facts/ingress_nginx.md`` §4.1 (controller v1.15.1):

* one nginx ``server`` per host and controller; rules without a host share the default server;
* regex enforcement is per *server*: if any location of the host needs a rewrite
  (``rewrite-target`` set and different from the path) or has ``use-regex: "true"``, every path
  of that host, from every Ingress, renders as ``location ~* "^<path>"`` (case-insensitive,
  anchored only at the start) and nginx takes the *first* regex that matches;
* locations are ordered by descending path length (ties: reverse string order), and only then
  does ``updateServerLocations`` turn a plain Prefix path ``/p`` (no rewrite, no use-regex) into
  ``/p/`` followed by an exact ``/p`` in the same position (the normalisation runs after the
  sort, in ``getConfiguration``);
* without enforcement, Exact is ``location = <path>`` and Prefix is a plain prefix location
  (nginx: exact match first, then the longest prefix).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, Mapping

from raygate.model import exposure
from raygate.backends import ingress_nginx as nginx
from raygate.model import dataplane
from raygate.objects import FieldPath, KubeObject, ObjectSet

# Validators (facts §2.2). ``fullmatch`` because Go's ``$`` never matches before a newline.
_SIZE_RE = re.compile(r"[0-9]+[bkmgBKMG]?")
_INT_RE = re.compile(r"[+-]?[0-9]+")
_PATH_WITH_CAPTURE_RE = re.compile(r"/?[\-._~a-zA-Z0-9/:$]*")
_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}

DEFAULT_SERVER = "_"


def annotation(ingress: KubeObject, name: str) -> str | None:
    """An ``nginx.ingress.kubernetes.io/<name>`` annotation as a string (None when unset)."""
    value = ingress.annotations.get(nginx.PREFIX + name)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def annotation_key(name: str) -> str:
    return nginx.PREFIX + name


def go_bool(value: str | None) -> bool:
    """``strconv.ParseBool`` truthiness; anything unparsable counts as false (as the parsers do)."""
    return value is not None and value.strip() in _GO_TRUE


def rewrite_target(ingress: KubeObject) -> str | None:
    """The rewrite target the controller applies, or None.

    A value failing ``RegexPathWithCapture`` is logged and dropped ("rewrite-target is invalid,
    defaulting to empty", facts §2.3), so it rewrites nothing.
    """
    value = annotation(ingress, "rewrite-target")
    if not value or not _PATH_WITH_CAPTURE_RE.fullmatch(value):
        return None
    return value


#: Where a redirect-only Ingress sends every request (it proxies nothing).
redirect_target = nginx.redirect_target


def host_key(host: Any) -> str:
    return host.lower() if isinstance(host, str) and host else DEFAULT_SERVER


# ---------------------------------------------------------------------------------------------
# Locations and servers


@dataclass(frozen=True)
class Location:
    """One ``location`` block the controller renders for an Ingress path."""

    ingress: KubeObject
    field: FieldPath            # the Ingress path entry (or spec.defaultBackend)
    path: str                   # as rendered (after Prefix normalisation)
    exact: bool
    rewrite: str | None         # effective rewrite-target
    use_regex: bool
    redirect: str | None
    original_path: str

    @property
    def needs_rewrite(self) -> bool:
        # needsRewrite() compares with the path as written in the Ingress.
        return bool(self.rewrite) and self.rewrite != self.original_path

    @property
    def regex(self) -> re.Pattern[str] | None:
        return _compiled(self.path)


@lru_cache(maxsize=65536)
def _compiled(path: str) -> re.Pattern[str] | None:
    # Large sets have thousands of paths, more than re's own cache keeps.
    try:
        return re.compile(path, re.IGNORECASE)
    except re.error:
        return None


@dataclass(frozen=True)
class Server:
    """All locations of one host on one controller, in the order nginx sees them."""

    controller: nginx.Controller
    host: str
    locations: tuple[Location, ...]
    regex: bool
    #: Lower-cased literal start of each regex location -> positions in ``locations``, so a
    #: lookup tests only the regexes that can match instead of every path of a big host.
    by_literal: Mapping[str, tuple[int, ...]]
    #: (id of the Ingress, path entry field) -> its first rendered location.
    by_entry: Mapping[tuple[int, FieldPath], Location]

    def match(self, uri: str) -> Location | None:
        """The location that answers ``uri`` (None: the default backend answers 404)."""
        if self.regex:
            low = uri.lower()
            candidates = sorted(i for n in range(len(low) + 1)
                                for i in self.by_literal.get(low[:n], ()))
            for i in candidates:
                loc = self.locations[i]
                pattern = loc.regex
                if pattern is not None and pattern.match(uri):
                    return loc
                if pattern is None and low.startswith(loc.path.lower()):
                    return loc  # a PCRE-only construct: treat it as a literal prefix
            return None
        for loc in self.locations:
            if loc.exact and loc.path == uri:
                return loc
        prefixes = [loc for loc in self.locations if not loc.exact and uri.startswith(loc.path)]
        return max(prefixes, key=lambda loc: len(loc.path), default=None)


_REGEX_META = set(".^$*+?()[]{}|\\")
_OPTIONAL_PREVIOUS = set("*?{")


def regex_literal(path: str) -> str:
    """The lower-cased text every URI matched by ``~* "^<path>"`` must start with.

    Conservative: stops at the first metacharacter, drops a character made optional by
    ``*``/``?``/``{``, and gives "" when the path has an alternation (``^a|b`` anchors only the
    first branch) or cannot be compiled.
    """
    if _top_level_alternation(path) or _compiled(path) is None:
        return ""
    out: list[str] = []
    for c in path:
        if c in _REGEX_META:
            if c in _OPTIONAL_PREVIOUS and out:
                out.pop()
            break
        out.append(c)
    return "".join(out).lower()


_PREFIX_STOP = set("()[]{}*+?|^$\\")


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


def rewritten_uri(loc: Location, uri: str) -> str:
    """The URI the backend receives from ``loc`` for ``uri`` (``rewrite "(?i)<path>" <target>``)."""
    if not loc.needs_rewrite or loc.rewrite is None:
        return uri
    pattern = _compiled(loc.original_path)
    m = pattern.search(uri) if pattern is not None else None
    if m is None:
        return uri
    groups = m.groups()

    def group(g: re.Match[str]) -> str:
        n = int(g.group(1))
        return (groups[n - 1] or "") if n <= len(groups) else ""

    # nginx's rewrite replaces the whole URI with the expanded target (the regex only has to
    # match somewhere); ``break`` keeps the result.
    return re.sub(r"\$([1-9])", group, loc.rewrite)


def servers(objects: ObjectSet) -> dict[tuple[int, str], Server]:
    """Every (controller, host) server, memoised per object set."""
    return objects.memo("protocol-http-servers", lambda: _build_servers(objects))


def server_for(objects: ObjectSet, ingress: KubeObject, host: Any) -> Server | None:
    controller = nginx.controller_for_ingress(objects, ingress)
    return servers(objects).get((id(controller), host_key(host)))


def _ingress_locations(ing: KubeObject) -> Iterable[tuple[str, Location]]:
    rewrite, redirect = rewrite_target(ing), redirect_target(ing)
    use_regex = go_bool(annotation(ing, "use-regex"))
    for field, entry, host in nginx.ingress_paths(ing):
        path = entry.get("path")
        if not isinstance(path, str) or not path:
            path = "/"
        exact = entry.get("pathType") == "Exact"  # ImplementationSpecific and nil mean Prefix
        yield host_key(host), Location(ing, field, path, exact, rewrite, use_regex, redirect, path)
    default = ing.spec.get("defaultBackend") or ing.spec.get("backend")
    if isinstance(default, dict):
        yield DEFAULT_SERVER, Location(ing, ("spec", "defaultBackend"), "/", False, rewrite,
                                       use_regex, redirect, "/")


def _outside_classes(pattern: str) -> Iterator[tuple[int, str]]:
    """``(index, char)`` of every character outside escapes and character classes: the only
    places where ``(``, ``)`` and ``|`` are structure. Shared by the alternation and group
    scanners so both read classes the same way."""
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            # A "]" right after "[" or "[^" is a literal member of the class.
            if pattern[i + 1:i + 2] == "^":
                i += 1
            if pattern[i + 1:i + 2] == "]":
                i += 1
        else:
            yield i, c
        i += 1


def _top_level_alternation(path: str) -> bool:
    depth = 0
    for _, c in _outside_classes(path):
        if c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif c == "|" and depth == 0:
            return True
    return False


def _build_servers(objects: ObjectSet) -> dict[tuple[int, str], Server]:
    grouped: dict[tuple[int, str], tuple[nginx.Controller, list[Location]]] = {}
    for ing in objects.of_kind("Ingress"):
        if not nginx.is_ingress(ing):
            continue
        controller = nginx.controller_for_ingress(objects, ing)
        for host, loc in _ingress_locations(ing):
            grouped.setdefault((id(controller), host), (controller, []))[1].append(loc)
    result = {}
    for (cid, host), (controller, locs) in grouped.items():
        regex = any(loc.needs_rewrite or loc.use_regex for loc in locs)
        ordered = sorted(locs, key=lambda loc: loc.path, reverse=True)
        ordered = sorted(ordered, key=lambda loc: len(loc.path), reverse=True)
        rendered = tuple(_normalise(ordered))
        index: dict[str, list[int]] = {}
        for i, loc in enumerate(rendered):
            index.setdefault(regex_literal(loc.path), []).append(i)
        entries: dict[tuple[int, FieldPath], Location] = {}
        for loc in rendered:
            entries.setdefault((id(loc.ingress), loc.field), loc)
        result[(cid, host)] = Server(controller, host, rendered, regex,
                                     {k: tuple(v) for k, v in index.items()}, entries)
    return result


def _normalise(locations: list[Location]) -> Iterable[Location]:
    """``updateServerLocations``: plain Prefix ``/p`` becomes ``/p/`` plus an exact ``/p``."""
    exact_paths = {loc.path for loc in locations if loc.exact}
    for loc in locations:
        if loc.exact or loc.path == "/" or loc.needs_rewrite or loc.use_regex:
            yield loc
            continue
        slashed = loc.path if loc.path.endswith("/") else loc.path + "/"
        yield Location(loc.ingress, loc.field, slashed, False, loc.rewrite, loc.use_regex,
                       loc.redirect, loc.original_path)
        if loc.path not in exact_paths:
            yield Location(loc.ingress, loc.field, loc.path, True, loc.rewrite, loc.use_regex,
                           loc.redirect, loc.original_path)


# ---------------------------------------------------------------------------------------------
# Which Ray port an Ingress path reaches


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


def ray_routes(objects: ObjectSet, ingress: KubeObject, *ports: str) -> list[exposure.Exposure]:
    """This Ingress's paths that reach one of the Ray ``ports`` (dashboard, serve, client...)."""
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


@dataclass(frozen=True)
class Setting:
    """What a ``proxy-*`` setting ends up as for one Ingress, and why."""

    key: str
    value: str
    source: str                 # "annotation", "ConfigMap ns/name" or "<version> default"
    annotation_value: str | None  # the annotation as written, when present
    refused: bool               # the annotation failed its validator and was ignored
    assumption: str | None      # set when the value rests on assumed controller defaults

    @property
    def field(self) -> str | None:
        """The annotation key, when the Ingress has the annotation (valid or not)."""
        return annotation_key(self.key) if self.annotation_value is not None else None

    def describe(self) -> str:
        if self.refused:
            return (f'{self.key} is {self.value}: the annotation value "{self.annotation_value}" '
                    f"fails the controller's validator and is silently ignored ({self.source})")
        return f"{self.key} is {self.value} ({self.source})"


def valid_size(value: str) -> bool:
    return bool(_SIZE_RE.fullmatch(value.replace(" ", "")))


def valid_int(value: str) -> bool:
    return bool(_INT_RE.fullmatch(value))


def effective(objects: ObjectSet, ingress: KubeObject, key: str,
              valid: Callable[[str], bool]) -> Setting:
    """Annotation if valid, else the controller ConfigMap, else the default (facts §5, §2.3:
    every proxy-* parser falls back to the ConfigMap value on any error)."""
    controller = nginx.controller_for_ingress(objects, ingress)
    raw = annotation(ingress, key)
    refused = False
    if raw is not None and raw.strip():
        if valid(raw):
            return Setting(key, raw.replace(" ", ""), "annotation", raw, False, None)
        refused = True
    value = controller.setting(key)
    from_configmap = key in controller.config and controller.configmap is not None
    if from_configmap:
        source = controller.setting_source(key)
    elif controller.workload is None:
        source = f"ingress-nginx default, {controller.assumption}"
    else:
        source = f"ingress-nginx default of {controller.workload.namespace}/{controller.workload.name}"
    assumption = controller.assumed if not from_configmap else None
    return Setting(key, value, source, raw, refused, assumption)


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
    for i, c in _outside_classes(pattern):
        if c != "(":
            continue
        rest = pattern[i + 1:i + 4]
        if rest.startswith("?"):
            named = rest.startswith(("?P<", "?'")) or (rest.startswith("?<") and rest[2:3] not in ("=", "!"))
            count += 1 if named else 0
        elif not rest.startswith("*"):
            count += 1
    return count
