"""The human report: findings grouped by the guide's three layers, each with where and fix.

Rich renders it (colours only when asked: a terminal without NO_COLOR); the plain text stays
readable when piped. Every line is wrapped to ``width`` (the terminal's, or COLUMNS) between
words, so an 80-column terminal never breaks a word in two.
"""

from __future__ import annotations

import io
import textwrap
from typing import Any, Sequence

from raygate.catalog_docs import docs_url
from raygate.findings import Finding, Layer, Result, Severity

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
LAYER_TITLE = {
    Layer.SECURITY: "Security layer: what the admission webhook and attackers see",
    Layer.PROTOCOL: "Protocol layer: HTTP routes and raw TCP for Ray",
    Layer.INFRASTRUCTURE: "Infrastructure layer: where the gateway runs and how it is reached",
}

INDENT = " " * 10
#: Below this the layout cannot indent sensibly; wrap as if the terminal were this wide.
MIN_WIDTH = 40


def _wrapped(text: str, width: int, first: str = "", indent: str = INDENT) -> str:
    """Indent and wrap one field between words; Rich markup is escaped by the caller."""
    return textwrap.fill(text, width=width, initial_indent=indent + first,
                         subsequent_indent=indent + " " * len(first), break_on_hyphens=False,
                         break_long_words=False)


def format(result: Result, *, color: bool = False, width: int = 100,  # noqa: A001
           lanes: Sequence[Any] | None = None) -> str:
    """The report. ``lanes`` (doctor's routes) put each route's root cause first."""
    from rich.console import Console
    from rich.markup import escape

    width = max(width, MIN_WIDTH)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, width=10_000,
                      highlight=False, soft_wrap=True)
    if not result.findings:
        console.print(f"[green]No findings[/] in {result.objects} objects "
                      f"({len(result.rules)} rules).")
    if lanes:
        _routes(console, lanes, width)
    for layer in Layer:
        found = [f for f in result.findings if f.layer is layer]
        if not found:
            continue
        console.print("\n[bold]" + escape(_wrapped(f"{LAYER_TITLE[layer]} ({len(found)})",
                                                    width, indent="")) + "[/]")
        for f in found:
            _finding(console, f, width)
    if result.problems:
        # Also in the report itself, so a report written to a file never reads as clean
        # when an input was not checked at all.
        console.print(f"\n[bold red]Inputs not checked[/] ({len(result.problems)})")
        for p in result.problems:
            console.print(escape(_wrapped(str(p), width, indent="  ")))
    if result.not_checked:
        console.print("\n[bold]Not checked[/]")
        for code, why in sorted(result.not_checked.items()):
            console.print(escape(_wrapped(f"{code}: {why}", width, indent="  ")))
    return buf.getvalue()


def _finding(console: Any, f: Finding, width: int) -> None:
    from rich.markup import escape

    sev = f.severity.value
    head = f"  {sev:<7} {f.code} {f.name}"
    where = _where(f.file, f.line)
    # The location goes on the heading line when it fits, else on a line of its own.
    if len(head) + 2 + len(where) <= width:
        console.print(f"  [{STYLE[f.severity]}]{sev:<7}[/] [bold]{f.code}[/] {f.name}  "
                      f"[dim]{escape(where)}[/]")
    else:
        console.print(f"  [{STYLE[f.severity]}]{sev:<7}[/] [bold]{f.code}[/] {f.name}")
        console.print(f"{INDENT}[dim]{escape(where)}[/]")
    obj = str(f.object)
    if len(INDENT) + len(obj) + 2 + len(f.field) <= width:
        console.print(f"{INDENT}{escape(obj)}  [dim]{escape(f.field)}[/]")
    else:
        console.print(f"{INDENT}{escape(obj)}")
        console.print(f"{INDENT}[dim]{escape(f.field)}[/]")
    if f.symptom:
        console.print(escape(_wrapped(f.symptom, width, "symptom: ")))
    console.print(escape(_wrapped(f.message, width)))
    console.print("[green]" + escape(_wrapped(f.fix, width, "fix: ")) + "[/]")
    if f.assumption:
        console.print("[dim]" + escape(_wrapped(f"({f.assumption})", width)) + "[/]")
    url = docs_url(f.rule)
    if console.is_terminal:  # a clickable link (OSC 8) keeps the line short
        console.print(f"{INDENT}[dim]docs: [link={url}]{f.code} {f.name} in docs/rules.md[/link][/]")
    elif len(INDENT) + 6 + len(url) <= width:
        console.print(f"{INDENT}[dim]docs: {escape(url)}[/]")
    else:  # a URL cannot be wrapped: give it the whole line
        console.print(f"[dim]{escape(url)}[/]")


def _routes(console: Any, lanes: Sequence[Any], width: int) -> None:
    """Doctor: where to start. One root cause per broken route (the first broken hop on the
    way in, client -> head), the route's other findings grouped under it, and routes that
    share the same root cause told once."""
    from rich.markup import escape

    broken = [lane for lane in lanes if lane.status == "fail"]
    if not broken:
        return
    console.print("\n[bold]" + escape(_wrapped(
        f"Where to start: {len(broken)} of {len(lanes)} routes broken", width, indent="")) + "[/]")
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
        console.print(f"  [{STYLE[root.severity]}]root cause[/] [bold]{root.code}[/] {root.name}")
        console.print("[dim]" + escape(_wrapped(", ".join(objects), width)) + "[/]")
        routes = ", ".join(f"{lane.role} {lane.route}" for lane, _ in entries)
        console.print(escape(_wrapped(routes, width, "breaks: ")))
        console.print(escape(_wrapped(root.message, width)))
        console.print("[green]" + escape(_wrapped(root.fix, width, "fix: ")) + "[/]")
        rest = others[code]
        if rest:
            also = ", ".join(sorted({f"{f.code} {f.name}" for f in rest}))
            console.print("[dim]" + escape(_wrapped(
                f"then, once fixed: {also} (details below)", width)) + "[/]")


def _where(file: str, line: int) -> str:
    """``file:line``; a live object (``cluster:<context>``) has no line to point at."""
    return file if file.startswith("cluster:") else f"{file}:{line}"
