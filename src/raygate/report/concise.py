"""One line per finding, as compilers and ruff print them: ``file:line:col: RG101 [error] msg``.

Editors and terminals turn ``file:line:col`` into a jump; ``grep``/``wc -l`` count findings.
Unreadable inputs are lines too (code ``input``), so a concise report is never clean by
omission.
"""

from __future__ import annotations

from raygate.findings import Result


def format(result: Result) -> str:  # noqa: A001 - the formatter protocol's name
    lines = []
    for f in result.findings:
        where = f.file if f.file.startswith("cluster:") else f"{f.file}:{f.line}:{max(1, f.column)}"
        lines.append(f"{where}: {f.code} [{f.severity.value}] {f.object}: {_one_line(f.message)}")
    for p in result.problems:
        where = f"{p.file}:{p.line or 1}:1"
        lines.append(f"{where}: input [error] {_one_line(p.message)}")
    return "".join(line + "\n" for line in lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())
