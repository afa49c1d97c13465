"""Which ingress-nginx ``location`` answers a request: the one model of nginx routing.

The rules (RG209, RG212, ...), the lab's nginx.conf renderer and the renderer's routing checks
all ask how the controller turns Ingress paths into nginx ``server``/``location`` blocks and
which block answers a URI. This module is that model, after controller-v1.15.1
(``shared/facts/ingress_nginx.md`` §4.1):

* one nginx ``server`` per host and controller; rules without a host share the default server
  ``_`` (so does ``spec.defaultBackend``);
* ``pathType`` nil and ImplementationSpecific are Prefix (``k8s.SetDefaultNGINXPathType``);
* regex enforcement is per *server*: if any location of the host needs a rewrite
  (``rewrite-target`` set and different from the path) or has ``use-regex: "true"``, every path
  of that host, from every Ingress, renders as ``location ~* "^<path>"`` (case-insensitive,
  anchored only at the start) and nginx takes the *first* regex that matches;
* locations are sorted by descending path length (ties: reverse string order,
  ``getBackendServers``), and only then ``updateServerLocations`` (``location.go``, run from
  ``getConfiguration``) turns each Prefix path ``/p`` without rewrite or use-regex into ``/p/``
  followed by an exact ``/p`` in the same position (no exact when an Exact ``/p`` exists;
  ``/`` is left alone), whether or not the server enforces regexes;
* without enforcement, Exact is ``location = <path>`` and Prefix a plain prefix location
  (nginx: exact match first, then the longest prefix).

Pure: no I/O. ``build_servers`` takes the (controller, Ingress) pairs to group, so the caller
decides which Ingresses ingress-nginx serves (``raygate.model.dataplane``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping

from raygate.backends import ingress_nginx as nginx
from raygate.objects import FieldPath, KubeObject
from raygate.records import record, replace

DEFAULT_SERVER = "_"
# RegexPathWithCapture (parser/validators.go); ``fullmatch`` because Go's ``$`` never matches
# before a trailing newline.
_PATH_WITH_CAPTURE_RE = re.compile(r"/?[\-._~a-zA-Z0-9/:$]*")
_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}


def annotation(ingress: KubeObject, name: str) -> str | None:
    """An ``nginx.ingress.kubernetes.io/<name>`` annotation as a string (None when unset)."""
    value = ingress.annotations.get(nginx.PREFIX + name)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


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


#: Where a redirect-only Ingress sends every request (it proxies nothing): the controller's
#: knowledge, in ``backends/ingress_nginx``.
redirect_target = nginx.redirect_target


def host_key(host: Any) -> str:
    return host.lower() if isinstance(host, str) and host else DEFAULT_SERVER


@record(frozen=True)
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
    #: The backend Service name and port (as written) of the path entry.
    service: str | None = None
    port: str | None = None

    @property
    def needs_rewrite(self) -> bool:
        # needsRewrite() compares with the path as written in the Ingress.
        return bool(self.rewrite) and self.rewrite != self.original_path

    @property
    def is_default_backend(self) -> bool:
        return bool(self.field) and self.field[-1] == "defaultBackend"

    @property
    def regex(self) -> re.Pattern[str] | None:
        return compiled(self.path)


@lru_cache(maxsize=65536)
def compiled(path: str) -> re.Pattern[str] | None:
    """``path`` as nginx's ``~*`` sees it (case-insensitive); None when PCRE-only syntax.
    Cached: large sets have thousands of paths, more than re's own cache keeps."""
    try:
        return re.compile(path, re.IGNORECASE)
    except re.error:
        return None


@record(frozen=True)
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
    if top_level_alternation(path) or compiled(path) is None:
        return ""
    out: list[str] = []
    for c in path:
        if c in _REGEX_META:
            if c in _OPTIONAL_PREVIOUS and out:
                out.pop()
            break
        out.append(c)
    return "".join(out).lower()


def rewrite_uri(path: str, target: str, uri: str) -> str:
    """The URI the backend receives after ``rewrite "(?i)<path>" <target> break;``: nginx's
    rewrite replaces the whole URI with the expanded target (the regex only has to match
    somewhere); a ``$n`` beyond the path's groups expands to nothing."""
    pattern = compiled(path)
    m = pattern.search(uri) if pattern is not None else None
    if m is None:
        return uri
    groups = m.groups()

    def group(g: re.Match[str]) -> str:
        n = int(g.group(1))
        return (groups[n - 1] or "") if n <= len(groups) else ""

    return re.sub(r"\$([1-9])", group, target)


def rewritten_uri(loc: Location, uri: str) -> str:
    """The URI the backend receives from ``loc`` for ``uri``."""
    if not loc.needs_rewrite or loc.rewrite is None:
        return uri
    return rewrite_uri(loc.original_path, loc.rewrite, uri)


def first_regex_match(paths: Iterable[str], uri: str) -> str | None:
    """On a regex-enforced host with only these paths: which one answers ``uri`` (None: 404)."""
    ordered = sorted(paths, reverse=True)
    ordered = sorted(ordered, key=len, reverse=True)
    for path in ordered:
        pattern = compiled(path)
        if pattern is not None and pattern.match(uri):
            return path
    return None


def ingress_locations(ing: KubeObject) -> Iterable[tuple[str, Location]]:
    """``(host key, location)`` for every path of an Ingress, before sorting and normalising."""
    rewrite, redirect = rewrite_target(ing), redirect_target(ing)
    use_regex = go_bool(annotation(ing, "use-regex"))
    for field, entry, host in nginx.ingress_paths(ing):
        path = entry.get("path")
        if not isinstance(path, str) or not path:
            path = "/"
        exact = entry.get("pathType") == "Exact"  # ImplementationSpecific and nil mean Prefix
        service, port = nginx.backend_service(entry)
        yield host_key(host), Location(ing, field, path, exact, rewrite, use_regex, redirect,
                                       path, service, port)
    default = ing.spec.get("defaultBackend") or ing.spec.get("backend")
    if isinstance(default, dict):
        service, port = nginx.backend_service({"backend": default})
        yield DEFAULT_SERVER, Location(ing, ("spec", "defaultBackend"), "/", False, rewrite,
                                       use_regex, redirect, "/", service, port)


def build_servers(pairs: Iterable[tuple[nginx.Controller, KubeObject]]
                  ) -> dict[tuple[int, str], Server]:
    """Every (controller, host) server for these (controller, Ingress) pairs, keyed by
    ``(id(controller), host key)``. Ingresses keep the order given (ties between equal
    paths are decided by it, like the controller's stable sorts)."""
    grouped: dict[tuple[int, str], tuple[nginx.Controller, list[Location]]] = {}
    for controller, ing in pairs:
        for host, loc in ingress_locations(ing):
            grouped.setdefault((id(controller), host), (controller, []))[1].append(loc)
    return {key: build_server(controller, key[1], locs)
            for key, (controller, locs) in grouped.items()}


def build_server(controller: nginx.Controller, host: str, locs: list[Location]) -> Server:
    regex = any(loc.needs_rewrite or loc.use_regex for loc in locs)
    ordered = sorted(locs, key=lambda loc: loc.path, reverse=True)
    ordered = sorted(ordered, key=lambda loc: len(loc.path), reverse=True)
    rendered = tuple(normalise(ordered))
    index: dict[str, list[int]] = {}
    for i, loc in enumerate(rendered):
        index.setdefault(regex_literal(loc.path), []).append(i)
    entries: dict[tuple[int, FieldPath], Location] = {}
    for loc in rendered:
        entries.setdefault((id(loc.ingress), loc.field), loc)
    return Server(controller, host, rendered, regex, {k: tuple(v) for k, v in index.items()},
                  entries)


def normalise(locations: list[Location]) -> Iterable[Location]:
    """``updateServerLocations``: plain Prefix ``/p`` becomes ``/p/`` plus an exact ``/p``."""
    exact_paths = {loc.path for loc in locations if loc.exact}
    for loc in locations:
        if loc.exact or loc.path == "/" or loc.needs_rewrite or loc.use_regex:
            yield loc
            continue
        slashed = loc.path if loc.path.endswith("/") else loc.path + "/"
        yield replace(loc, path=slashed)
        if loc.path not in exact_paths:
            yield replace(loc, exact=True)


def outside_classes(pattern: str) -> Iterator[tuple[int, str]]:
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


def top_level_alternation(path: str) -> bool:
    depth = 0
    for _, c in outside_classes(path):
        if c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif c == "|" and depth == 0:
            return True
    return False
