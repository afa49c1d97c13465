"""The rule catalog: a registry of small, pure rules with their own metadata.

Each rule lives in one module under ``security/``, ``protocol/`` or ``infrastructure/`` (the
seed guide's three layers) and registers itself with the ``@rule`` decorator::

    @rule(code="RG101", name="snippet-annotation", layer="security", severity="error",
          kinds=("Ingress",), title=..., rationale=..., fix=..., references=(...),
          errors=("... denied the request: ...",))
    def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
        yield ctx.finding(obj, ("metadata", "annotations", key), "message")

Docs (``docs/rules.md``), ``raygate explain`` and the SARIF rule table are all generated from
this metadata, and ``tests/rules/fixtures/<name>.yaml`` holds each rule's fires/dont-fire
objects. Codes are never reused: RG1xx security, RG2xx protocol, RG3xx infrastructure.

Every rule module is imported when the catalog loads, so a rule imports what only its own
kinds need (Gateway API knowledge, runtime state, node placement) inside ``check``: a lint of
one Ingress then does not pay for them at start-up (``tests/test_startup_imports.py``).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from typing import Any, Callable, Iterable, Iterator, Sequence

from raygate.findings import Finding, Layer, ObjectRef, Severity
from raygate.objects import FieldPath, KubeObject, ObjectSet, format_path
from raygate.records import record

CheckFn = Callable[[KubeObject, "Context"], Iterable[Finding]]
LAYER_PACKAGES = ("security", "protocol", "infrastructure")


@record(frozen=True)
class Rule:
    """A catalog entry: the rule's metadata and its ``check(obj, ctx)`` function."""

    code: str
    name: str
    layer: Layer
    severity: Severity
    title: str
    #: The rationale as written in the rule module (indented); ``rationale`` is the text.
    rationale_source: str
    fix: str
    kinds: tuple[str, ...]
    check: CheckFn
    references: tuple[str, ...] = ()
    #: Messages the real system prints for this problem (webhook, controller log, Ray client).
    #: ``<placeholders>`` match anything in ``raygate explain --error``.
    errors: tuple[str, ...] = ()
    #: "static" rules need only manifests; "runtime" rules need snapshot or live state.
    needs: str = "static"
    enabled_by_default: bool = True

    @property
    def rationale(self) -> str:
        """Why the rule matters, dedented on first use (not for every rule at start-up)."""
        return _dedent(self.rationale_source)

    @property
    def module(self) -> str:
        return self.check.__module__

    def matches_error(self, text: str) -> bool:
        return self.error_score(text) > 0

    def error_score(self, text: str) -> int:
        """How much of ``text`` this rule's known messages account for: the fixed characters
        of the longest template that matches, or the length of a pasted fragment; 0 when none
        matches. ``explain --error`` shows the best-scoring rules, so Ray's own 413 ("Request
        failed with status code 413: Maximum request body size ...") names Ray's limit and not
        the gateway's generic "Request failed with status code 413"."""
        norm = _normalise(text)
        best = max((_specific_chars(e) for e in self.errors if _error_regex(e).search(norm)),
                   default=0)
        if best:
            return best
        # Users paste part of a message ("ray client connection timeout" without its
        # "ConnectionError:" prefix, "Request Entity Too Large"): a fragment of a few words
        # that appears verbatim in a template's fixed text identifies the rule too.
        fragment = norm.strip(" .:;,'\"")
        if len(fragment) < _MIN_FRAGMENT or " " not in fragment:
            return 0
        found = any(fragment in part for e in self.errors for part in _literal_parts(e))
        return len(fragment) if found else 0


#: Shorter pasted fragments ("timeout", "not found") would match half the catalog.
_MIN_FRAGMENT = 12
#: A placeholder, quoted or not, with the space before it: ``Service "<ns/svc>"``, ``<ns>/<name>``.
_PLACEHOLDER = re.compile(r'( ?"?<[^<>]+>(?:[^\s<>"]*<[^<>]+>)*"?)')


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _literal_parts(template: str) -> list[str]:
    return [p for i, p in enumerate(_PLACEHOLDER.split(_normalise(template))) if i % 2 == 0]


#: Text every admission denial carries (kubectl's and the API server's wrapper): it says that
#: something was denied, not why, so it does not make a template more specific.
_WRAPPER_TEXT = ("error from server (badrequest):", "admission webhook", "denied the request:")


def _specific_chars(template: str) -> int:
    literal = sum(map(len, _literal_parts(template)))
    norm = _normalise(template)
    wrapper = sum(len(w) for w in _WRAPPER_TEXT if w in norm)
    return max(literal - wrapper, 1)


def _error_regex(template: str) -> re.Pattern[str]:
    # A placeholder matches anything, and may be missing altogether with the space before it:
    # the seed guide quotes the controller's `Service "<ns>/<svc>" does not have any active
    # Endpoint for TCP port 9000` as "Service does not have any active Endpoint ...".
    pieces = _PLACEHOLDER.split(_normalise(template))
    regex = "".join(re.escape(p) if i % 2 == 0 else
                    (r"(?: .{0,200}?)?" if p.startswith(" ") else r".{0,200}?")
                    for i, p in enumerate(pieces))
    return re.compile(regex)


class Registry:
    """An injectable rule registry (tests build their own; the CLI uses ``CATALOG``)."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}
        self._by_name: dict[str, Rule] = {}
        self._loaded = False
        self._autoload = False

    def add(self, r: Rule) -> Rule:
        if r.code in self._rules or r.name in self._by_name:
            raise ValueError(f"duplicate rule {r.code} {r.name}")
        self._rules[r.code] = r
        self._by_name[r.name] = r
        return r

    def _ensure_loaded(self) -> None:
        if self._autoload and not self._loaded:
            self._loaded = True
            for layer in LAYER_PACKAGES:
                pkg = importlib.import_module(f"raygate.rules.{layer}")
                for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
                    if not info.name.startswith("_"):
                        importlib.import_module(f"{pkg.__name__}.{info.name}")

    def __iter__(self) -> Iterator[Rule]:
        self._ensure_loaded()
        return iter(sorted(self._rules.values(), key=lambda r: r.code))

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._rules)

    def find(self, key: str) -> Rule | None:
        """A rule by code (case-insensitive) or name."""
        self._ensure_loaded()
        return self._rules.get(key.upper()) or self._by_name.get(key.lower())

    def select(self, select: Sequence[str] = (), ignore: Sequence[str] = (),
               needs: Sequence[str] = ("static",)) -> list[Rule]:
        """Rules matching ``select`` (all enabled when empty) minus ``ignore``.

        Each selector is a code (``RG101``), a code prefix (``RG1``), a name or a layer.
        """
        chosen = [r for r in self if r.needs in needs and
                  (matches_any(r, select) if select else r.enabled_by_default)]
        return [r for r in chosen if not matches_any(r, ignore)]

    def unknown(self, selectors: Sequence[str]) -> list[str]:
        """Selectors that match no rule at all (typos the CLI should refuse)."""
        if not selectors:  # nothing to check: do not load the catalog for it
            return []
        rules = list(self)
        return [s for s in selectors if not any(matches_any(r, [s]) for r in rules)]


def best_error_matches(rules: Iterable[Rule], text: str) -> list[Rule]:
    """The rules whose known messages explain ``text`` best (ties all kept), by code."""
    scored = [(r.error_score(text), r) for r in rules]
    top = max((score for score, _ in scored), default=0)
    return [r for score, r in scored if score and score == top]


def matches_any(r: Rule, selectors: Iterable[str]) -> bool:
    """Whether any selector names ``r``: ``all``, its code, a code prefix (``RG2``), its name or
    its layer. The one definition behind --select/--ignore, .raygate.yaml and the
    ``raygate.io/ignore`` annotation, so they all mean the same thing."""
    for s in selectors:
        s = s.strip()
        if not s:
            continue
        upper = s.upper()
        # A prefix must look like a code: "R" or "2" would otherwise select every rule.
        if s.lower() in ("all", r.name, r.layer.value) or (
                upper.startswith("RG") and r.code.startswith(upper)):
            return True
    return False


CATALOG = Registry()
CATALOG._autoload = True


def rule(*, code: str, name: str, layer: str, severity: str, kinds: Sequence[str], title: str,
         rationale: str, fix: str, references: Sequence[str] = (), errors: Sequence[str] = (),
         needs: str = "static", enabled_by_default: bool = True,
         registry: Registry | None = None) -> Callable[[CheckFn], CheckFn]:
    """Register the decorated ``check(obj, ctx)`` function as a rule."""

    def decorate(fn: CheckFn) -> CheckFn:
        r = Rule(code=code, name=name, layer=Layer(layer), severity=Severity(severity),
                 title=title, rationale_source=rationale, fix=fix, kinds=tuple(kinds),
                 check=fn, references=tuple(references), errors=tuple(errors), needs=needs,
                 enabled_by_default=enabled_by_default)
        (registry or CATALOG).add(r)
        fn.rule = r  # type: ignore[attr-defined]
        return fn

    return decorate


@functools.cache
def _dedent(text: str) -> str:
    import textwrap
    return textwrap.dedent(text).strip()


class Context:
    """What a rule sees besides its object: the whole set, and a way to make findings."""

    def __init__(self, objects: ObjectSet, rule: Rule | None = None, *,
                 runtime: Any = None) -> None:
        self.objects = objects
        self.rule = rule
        #: Runtime state (live cluster or snapshot) for runtime rules; None for static lint.
        self.runtime = runtime

    def finding(self, obj: KubeObject, field: FieldPath | Sequence[Any], message: str, *,
                fix: str | None = None, severity: Severity | str | None = None,
                assumption: str | None = None, symptom: str | None = None,
                **extra: Any) -> Finding:
        assert self.rule is not None, "Context.finding() outside a rule run"
        path = tuple(field)
        line, column = obj.position_of(path)
        return Finding(
            rule=self.rule,
            object=ObjectRef(obj.api_version, obj.kind, obj.namespace, obj.name),
            file=obj.origin.file,
            line=line,
            column=column,
            field=format_path(path),
            message=message,
            fix=fix or self.rule.fix,
            severity=Severity(severity) if severity else self.rule.severity,
            assumption=assumption,
            symptom=symptom,
            extra=dict(extra),
        )
