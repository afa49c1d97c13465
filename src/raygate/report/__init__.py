"""Reports: pure formatters over one ``Result`` (``format(result) -> str``), chosen by name.

The CLI writes the report to stdout or ``--output`` and a one-line summary to stderr, so a
report file never mixes with progress or notices.
"""

from __future__ import annotations

import enum
import importlib
from typing import Callable

from raygate.findings import Result


class Format(str, enum.Enum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    HTML = "html"
    CONCISE = "concise"
    GITHUB = "github"
    JUNIT = "junit"


def formatter(fmt: Format | str) -> Callable[..., str]:
    """The ``format`` function of a report module (imported only when chosen)."""
    module = importlib.import_module(f"raygate.report.{Format(fmt).value}")
    return module.format  # type: ignore[no-any-return]


def summary(result: Result) -> str:
    counts = result.counts()
    parts = [f"{result.objects} objects", f"{len(result.rules)} rules",
             f"{counts['error']} errors", f"{counts['warning']} warnings", f"{counts['info']} info"]
    if result.suppressed:
        parts.append(f"{result.suppressed} suppressed")
    if result.baselined:
        parts.append(f"{result.baselined} in the baseline")
    if result.problems:
        parts.append(f"{len(result.problems)} input problems")
    return ", ".join(parts)
