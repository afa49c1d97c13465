"""The human report: findings grouped by the guide's three layers, each with where and fix.

Colours are plain ANSI SGR codes, only when asked (a terminal without NO_COLOR); the plain
text stays readable when piped. No Rich here: importing it cost lint's start-up more than the
report itself. Every line is wrapped to ``width`` (the terminal's, or COLUMNS) between words,
so an 80-column terminal never breaks a word in two.
"""

from __future__ import annotations

import textwrap
from typing import Any, Sequence

from raygate.catalog_docs import docs_url
from raygate.findings import Finding, Layer, Result, Severity

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
_SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


class _Out:
    """Collects lines; ``style`` wraps text in ANSI codes when colour is on."""

    def __init__(self, color: bool) -> None:
        self.color = color
        self.lines: list[str] = []
        self.is_terminal = color

    def print(self, text: str = "") -> None:
        self.lines.append(text)

    def style(self, text: str, style: str) -> str:
        if not self.color or not text:
            return text
        codes = ";".join(_SGR[w] for w in style.split())
        # Style each line on its own so a wrapped block never bleeds colour into the next.
        return "\n".join(f"\x1b[{codes}m{line}\x1b[0m" for line in text.split("\n"))

    def link(self, text: str, url: str) -> str:
        """An OSC 8 hyperlink (the terminal shows ``text``, a click opens ``url``)."""
        return f"\x1b]8;;{url}\x1b\\{text}\x1b]8;;\x1b\\" if self.color else text

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)
LAYER_TITLE = {
    Layer.SECURITY: "Security layer: what the admission webhook and attackers see",
    Layer.PROTOCOL: "Protocol layer: HTTP routes and raw TCP for Ray",
    Layer.INFRASTRUCTURE: "Infrastructure layer: where the gateway runs and how it is reached",
}

INDENT = " " * 10
#: Below this the layout cannot indent sensibly; wrap as if the terminal were this wide.
MIN_WIDTH = 40


def _wrapped(text: str, width: int, first: str = "", indent: str = INDENT) -> str:
    """Indent and wrap one field between words."""
    return textwrap.fill(text, width=width, initial_indent=indent + first,
                         subsequent_indent=indent + " " * len(first), break_on_hyphens=False,
                         break_long_words=False)


def format(result: Result, *, color: bool = False, width: int = 100,  # noqa: A001
           lanes: Sequence[Any] | None = None) -> str:
    """The report. ``lanes`` (doctor's routes) put each route's root cause first."""
    width = max(width, MIN_WIDTH)
    out = _Out(color)
    if not result.findings:
        out.print(f"{out.style('No findings', 'green')} in {result.objects} objects "
                  f"({len(result.rules)} rules).")
    if lanes:
        _routes(out, lanes, width)
    for layer in Layer:
        found = [f for f in result.findings if f.layer is layer]
        if not found:
            continue
        out.print()
        out.print(out.style(_wrapped(f"{LAYER_TITLE[layer]} ({len(found)})", width, indent=""),
                            "bold"))
        for f in found:
            _finding(out, f, width)
    if result.problems:
        # Also in the report itself, so a report written to a file never reads as clean
        # when an input was not checked at all.
        out.print()
        out.print(f"{out.style('Inputs not checked', 'bold red')} ({len(result.problems)})")
        for p in result.problems:
            out.print(_wrapped(str(p), width, indent="  "))
    if result.not_checked:
        out.print()
        out.print(out.style("Not checked", "bold"))
        for code, why in sorted(result.not_checked.items()):
            out.print(_wrapped(f"{code}: {why}", width, indent="  "))
    return out.text()


def _finding(out: _Out, f: Finding, width: int) -> None:
    sev = f.severity.value
    head = f"  {sev:<7} {f.code} {f.name}"
    where = _where(f.file, f.line)
    styled_head = f"  {out.style(f'{sev:<7}', STYLE[f.severity])} {out.style(f.code, 'bold')} {f.name}"
    # The location goes on the heading line when it fits, else on a line of its own.
    if len(head) + 2 + len(where) <= width:
        out.print(f"{styled_head}  {out.style(where, 'dim')}")
    else:
        out.print(styled_head)
        out.print(f"{INDENT}{out.style(where, 'dim')}")
    obj = str(f.object)
    if len(INDENT) + len(obj) + 2 + len(f.field) <= width:
        out.print(f"{INDENT}{obj}  {out.style(f.field, 'dim')}")
    else:
        out.print(f"{INDENT}{obj}")
        out.print(f"{INDENT}{out.style(f.field, 'dim')}")
    if f.symptom:
        out.print(_wrapped(f.symptom, width, "symptom: "))
    out.print(_wrapped(f.message, width))
    out.print(out.style(_wrapped(f.fix, width, "fix: "), "green"))
    if f.assumption:
        out.print(out.style(_wrapped(f"({f.assumption})", width), "dim"))
    url = docs_url(f.rule)
    if out.is_terminal:  # a clickable link (OSC 8) keeps the line short
        label = out.link(f"{f.code} {f.name} in docs/rules.md", url)
        out.print(f"{INDENT}{out.style('docs:', 'dim')} {label}")
    elif len(INDENT) + 6 + len(url) <= width:
        out.print(f"{INDENT}docs: {url}")
    else:  # a URL cannot be wrapped: give it the whole line
        out.print(url)


def _routes(out: _Out, lanes: Sequence[Any], width: int) -> None:
    """Doctor: where to start. One root cause per broken route (the first broken hop on the
    way in, client -> head), the route's other findings grouped under it, and routes that
    share the same root cause told once."""
    broken = [lane for lane in lanes if lane.status == "fail"]
    if not broken:
        return
    out.print()
    out.print(out.style(_wrapped(f"Where to start: {len(broken)} of {len(lanes)} routes broken",
                                 width, indent=""), "bold"))
    # Routes broken by the same rule share one cause (two Ingresses behind a drifted node
    # IP are one problem): each cause is told once, with every route it breaks.
    by_cause: dict[str, list[tuple[Any, Finding]]] = {}
    others: dict[str, list[Finding]] = {}
    for lane in broken:
        found = [f for hop in lane.hops for f in hop.findings]
        root = next((f for hop in lane.hops if hop.status == "fail" for f in hop.findings
                     if f.severity is Severity.ERROR), found[0] if found else None)
        if root is None:
            continue
        by_cause.setdefault(root.code, []).append((lane, root))
        seen = others.setdefault(root.code, [])
        seen.extend(f for f in found if f.code != root.code and f not in seen)
    for code, entries in by_cause.items():
        root = entries[0][1]
        objects = sorted({str(r.object) for _, r in entries})
        out.print(f"  {out.style('root cause', STYLE[root.severity])} "
                  f"{out.style(root.code, 'bold')} {root.name}")
        out.print(out.style(_wrapped(", ".join(objects), width), "dim"))
        routes = ", ".join(f"{lane.role} {lane.route}" for lane, _ in entries)
        out.print(_wrapped(routes, width, "breaks: "))
        out.print(_wrapped(root.message, width))
        out.print(out.style(_wrapped(root.fix, width, "fix: "), "green"))
        rest = others[code]
        if rest:
            also = ", ".join(sorted({f"{f.code} {f.name}" for f in rest}))
            out.print(out.style(_wrapped(f"then, once fixed: {also} (details below)", width),
                                "dim"))


def _where(file: str, line: int) -> str:
    """``file:line``; a live object (``cluster:<context>``) has no line to point at."""
    return file if file.startswith("cluster:") else f"{file}:{line}"
