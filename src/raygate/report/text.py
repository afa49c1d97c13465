"""The human report: findings grouped by the guide's three layers, each with where and fix.

Rich renders it (colours only on a terminal); the plain text stays readable when piped.
"""

from __future__ import annotations

import io
import textwrap

from raygate.findings import Layer, Result, Severity

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
LAYER_TITLE = {
    Layer.SECURITY: "Security layer: what the admission webhook and attackers see",
    Layer.PROTOCOL: "Protocol layer: HTTP routes and raw TCP for Ray",
    Layer.INFRASTRUCTURE: "Infrastructure layer: where the gateway runs and how it is reached",
}


INDENT = " " * 10


def _wrapped(text: str, width: int, first: str = "") -> str:
    """Indent and wrap one field; Rich markup in the text is escaped by the caller."""
    return textwrap.fill(text, width=width, initial_indent=INDENT + first,
                         subsequent_indent=INDENT + " " * len(first), break_on_hyphens=False,
                         break_long_words=False)


def format(result: Result, *, color: bool = False, width: int = 100) -> str:  # noqa: A001
    from rich.console import Console
    from rich.markup import escape

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, width=10_000,
                      highlight=False, soft_wrap=True)
    if not result.findings:
        console.print(f"[green]No findings[/] in {result.objects} objects "
                      f"({len(result.rules)} rules).")
    for layer in Layer:
        found = [f for f in result.findings if f.layer is layer]
        if not found:
            continue
        console.print(f"\n[bold]{LAYER_TITLE[layer]}[/] ({len(found)})")
        for f in found:
            sev = f.severity.value
            console.print(f"  [{STYLE[f.severity]}]{sev:<7}[/] [bold]{f.code}[/] {f.name}  "
                          f"[dim]{escape(_where(f.file, f.line))}[/]")
            console.print(f"{INDENT}{escape(str(f.object))}  [dim]{escape(f.field)}[/]")
            if f.symptom:
                console.print(escape(_wrapped(f.symptom, width, "symptom: ")))
            console.print(escape(_wrapped(f.message, width)))
            console.print("[green]" + escape(_wrapped(f.fix, width, "fix: ")) + "[/]")
            if f.assumption:
                console.print("[dim]" + escape(_wrapped(f"({f.assumption})", width)) + "[/]")
    if result.problems:
        # Also in the report itself, so a report written with --output never reads as clean
        # when an input was not checked at all.
        console.print(f"\n[bold red]Inputs not checked[/] ({len(result.problems)})")
        for p in result.problems:
            console.print(f"  {escape(str(p))}")
    if result.not_checked:
        console.print("\n[bold]Not checked[/]")
        for code, why in sorted(result.not_checked.items()):
            console.print(f"  {code}: {escape(why)}")
    return buf.getvalue()


def _where(file: str, line: int) -> str:
    """``file:line``; a live object (``cluster:<context>``) has no line to point at."""
    return file if file.startswith("cluster:") else f"{file}:{line}"
