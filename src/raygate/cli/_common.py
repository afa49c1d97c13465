"""Helpers every command shares: atomic output, --fail-on, selector parsing, stderr notes."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable

import click

from raygate.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, RaygateError
from raygate.findings import Result, Severity

FAIL_ON = ("error", "warning", "info", "never")


def split_csv(values: Iterable[str]) -> list[str]:
    """``--select a,b --select c`` -> ``[a, b, c]``."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def write_output(text: str, output: str | None) -> None:
    """Write to stdout, or atomically to ``output`` (a crash never leaves half a report)."""
    if not output or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(output)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as e:
        raise RaygateError(f"cannot write {output}: {e.strerror}") from None


def exit_code(result: Result, fail_on: str) -> int:
    if result.problems:
        return EXIT_USAGE
    if fail_on == "never":
        return EXIT_OK
    threshold = Severity(fail_on).rank
    return EXIT_FINDINGS if any(f.severity.rank >= threshold for f in result.findings) else EXIT_OK


def note(message: str) -> None:
    click.echo(message, err=True)


def project_config(inputs: Iterable[str], config_path: str | None, no_config: bool) -> Any:
    """The project's ``.raygate.yaml``: ``--config``, else the nearest one above the first
    input (or the working directory), else an empty config. Shared by lint and doctor so a
    project's select/ignore/suppress/fail-on mean the same to both."""
    from raygate import config as config_mod

    if no_config:
        return config_mod.Config()
    found = Path(config_path) if config_path else config_mod.find(list(inputs))
    if config_path and not found.is_file():
        raise RaygateError(f"config file {config_path} not found")
    return config_mod.load(found) if found else config_mod.Config()


def check_selectors(cfg: Any, selectors: list[str], ignores: list[str]) -> None:
    """Refuse unknown rule selectors anywhere: a typo would check or suppress the wrong rules."""
    from raygate.rules import CATALOG

    suppress_rules = [r for s in cfg.suppress for r in s.rules]
    unknown = CATALOG.unknown(selectors + ignores + list(cfg.select) + list(cfg.ignore)
                              + suppress_rules)
    if unknown:
        where = f" (in {cfg.path} or the command line)" if cfg.path else ""
        raise RaygateError(f"unknown rule selector(s): {', '.join(unknown)}{where} "
                           "(see `raygate rules` for codes, names and layers)")
