"""The probe report as a Rich table (the JSON form is ``ProbeReport.to_dict``)."""

from __future__ import annotations

from typing import Any

from raygate.probe.model import ProbeReport, Verdict

_STYLE = {Verdict.PASS: "green", Verdict.FAIL: "bold red", Verdict.WARN: "yellow",
          Verdict.SKIP: "dim"}


def render_table(report: ProbeReport) -> Any:
    from rich.markup import escape
    from rich.table import Table

    failed = sum(r.verdict is Verdict.FAIL for r in report.results)
    caption = (f"{'all checks passed' if report.ok else f'{failed} check(s) failed'} "
               f"in {report.seconds:.2f} s")
    if report.unreachable:
        caption = (f"[bold red]gateway unreachable[/]: {escape(report.unreachable)}; "
                   "no check got through (is the address right, is the controller up?)")
    table = Table(title=f"raygate probe {escape(report.target)}", caption=caption, expand=False)
    table.add_column("check")
    table.add_column("verdict")
    table.add_column("time", justify="right")
    table.add_column("detail / cause", overflow="fold")
    for r in report.results:
        # Details and causes quote servers and Ray's stderr ("[repeated 2x across cluster]",
        # "[/ray]"): escape them, or Rich reads them as markup and crashes or hides text.
        text = escape(r.detail)
        if r.cause:
            cause = f"[red]cause:[/red] {escape(r.cause)}"
            text = f"{text}\n{cause}" if text else cause
        if r.rule and r.verdict is Verdict.FAIL:
            text += f"\n[dim]static rule: {r.rule} (raygate explain {r.rule})[/dim]"
        table.add_row(escape(r.title), f"[{_STYLE[r.verdict]}]{r.verdict.value.upper()}[/]",
                      f"{r.seconds:.2f}s", text)
    return table
