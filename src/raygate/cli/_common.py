"""Helpers every command shares: atomic output, --fail-on, selector parsing, stderr notes,
and the one flag convention of every command (kubectl's):

- ``-f, --filename FILE`` names an input (manifests, a snapshot, a spec), repeatable where
  a command reads several;
- ``-o, --output FORMAT[=FILE]`` chooses the output format, and with ``=FILE`` writes that
  format to a file; repeat it for several outputs in one run
  (``-o text -o sarif=raygate.sarif``). At most one output goes to stdout.

Old spellings keep working with a deprecation notice on stderr: ``--format FORMAT`` and
``-f FORMAT`` (when FORMAT is a format name and no such file exists) mean ``-o FORMAT``;
``-o FILE`` (not a format name) means "write the chosen format to FILE".
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

import click

from raygate.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, RaygateError
from raygate.findings import Result, Severity

FAIL_ON = ("error", "warning", "info", "never")


def split_csv(values: Iterable[str]) -> list[str]:
    """``--select a,b --select c`` -> ``[a, b, c]``."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def write_output(text: str, output: str | None) -> None:
    """Write to stdout, or atomically to ``output`` (a crash never leaves half a report).

    The file gets the mode any other tool would create (0666 less the user's umask), not
    the private 0600 of the temporary file it is renamed from.
    """
    if not output or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    import tempfile  # only when writing a file (it pulls in shutil, random, bz2, lzma)

    target = Path(output)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, 0o666 & ~current_umask())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise RaygateError(f"cannot write {output}: {e.strerror}") from None


def current_umask() -> int:
    """The process umask (reading it means setting it; the CLI is single-threaded here)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def deprecated(old: str, new: str) -> None:
    """Old flag spellings keep working; say once on stderr what replaces them."""
    note(f"raygate: deprecated: {old} -> use {new} (the old spelling will be removed)")


def resolve_outputs(outputs: Iterable[str], legacy_format: str | None,
                    formats: Sequence[str], default: str,
                    legacy_f: Iterable[str] = ()) -> list[tuple[str, str | None]]:
    """``-o FORMAT[=FILE]`` values (plus the old spellings) -> [(format, file or None)].

    ``legacy_f`` are ``-f`` values that were format names (the old ``-f/--format``).
    """
    chosen: list[tuple[str, str | None]] = []
    legacy_files: list[str] = []
    if legacy_format is not None:
        deprecated(f"--format {legacy_format}", f"-o {legacy_format}")
    for f in legacy_f:
        deprecated(f"-f {f}", f"-o {f}")
        legacy_format = legacy_format or f
    if legacy_format is not None and legacy_format not in formats:
        raise RaygateError(f"unknown format {legacy_format!r}; choose from {', '.join(formats)}")
    for value in outputs:
        name, sep, file = value.partition("=")
        if sep and name in formats:
            if not file:
                raise RaygateError(f"-o {value}: give a file after '=' (or - for stdout)")
            chosen.append((name, None if file == "-" else file))
        elif value in formats:
            chosen.append((value, None))
        elif "/" in value or "." in value:  # a report file, the old `-o FILE`
            legacy_files.append(value)
        else:
            raise RaygateError(f"-o {value}: unknown format {name!r}; choose from "
                               f"{', '.join(formats)} (write one to a file with -o FORMAT=FILE)")
    for file in legacy_files:
        fmt = legacy_format or default
        deprecated(f"-o {file}", f"-o {fmt}={file}")
        chosen.append((fmt, file))
    if legacy_format is not None and not legacy_files:
        chosen.append((legacy_format, None))
    if not chosen:
        chosen.append((default, None))
    to_stdout = [fmt for fmt, file in chosen if file is None]
    if len(to_stdout) > 1:
        raise RaygateError(f"{len(to_stdout)} outputs to stdout ({', '.join(to_stdout)}); "
                           "send all but one to files with -o FORMAT=FILE")
    return chosen


def split_format_like(values: Iterable[str], formats: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``-f`` values into (inputs, old ``-f FORMAT`` uses): a value that is a format
    name and not an existing path was meant as the old ``--format``."""
    inputs, legacy = [], []
    for v in values:
        (legacy if v in formats and not Path(v).exists() else inputs).append(v)
    return inputs, legacy


def color_wanted(flag: bool | None, stream: Any = None) -> bool:
    """``--color/--no-color`` wins; else NO_COLOR (https://no-color.org) turns colour off,
    FORCE_COLOR on, and otherwise colour only on a terminal."""
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream or sys.stdout, "isatty", lambda: False)())


def terminal_width(default: int = 100) -> int:
    """COLUMNS when set, else the terminal's width, else ``default`` (pipes and files)."""
    import shutil
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((default, 24)).columns
    return default


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


BASELINE_KIND = "raygate.io/v1alpha1 Baseline"


def read_baseline(path: str) -> list[str] | None:
    """The fingerprints a ``--baseline`` file records; None when the file does not exist."""
    import json

    p = Path(path)
    if not p.exists():
        return None
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("kind") != BASELINE_KIND:
            raise ValueError(f"not a raygate baseline (no \"kind\": \"{BASELINE_KIND}\")")
        return [str(entry["fingerprint"]) for entry in doc.get("findings", [])]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RaygateError(f"--baseline {path}: cannot read it: {e}") from None


def write_baseline(path: str, result: Result) -> None:
    """Record today's findings; one entry per finding, readable in a code review."""
    import json

    entries = [{"fingerprint": f.fingerprint, "rule": f.code, "object": str(f.object),
                "field": f.field, "file": f.file} for f in result.findings]
    doc = {"kind": BASELINE_KIND,
           "comment": "Findings recorded by `raygate lint --baseline`; only findings not "
                      "listed here fail the run. Delete an entry once it is fixed.",
           "findings": entries}
    write_output(json.dumps(doc, indent=2) + "\n", path)


class Progress:
    """Signs of life on stderr for inputs that take a while.

    Nothing is printed for a step that ends within ``after`` seconds (the common small
    file); a step still running after that is named once on stderr ("reading big.yaml
    (20.1 MB)..."), so a long read is never silent. One daemon thread watches, so the step
    itself (a single C-level YAML parse) needs no hooks and costs nothing extra.
    """

    def __init__(self, *, after: float = 1.0, enabled: bool = True, emit: Any = None,
                 clock: Any = None) -> None:
        import threading
        import time

        self.after = after
        self.enabled = enabled
        self._emit = emit or note
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._label: str | None = None
        self._started = 0.0
        self._announced = True
        self._stop = threading.Event()
        self._thread: Any = None

    def step(self, label: str) -> None:
        """A new step begins (announced only if it outlasts ``after``)."""
        if not self.enabled:
            return
        with self._lock:
            self._label, self._started, self._announced = label, self._clock(), False
        if self._thread is None:
            import threading

            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()

    def check(self) -> None:
        """Announce the current step if it has run longer than ``after`` (the watcher calls
        this; tests call it with their own clock)."""
        with self._lock:
            if self._label is None or self._announced:
                return
            if self._clock() - self._started < self.after:
                return
            self._announced = True
            label = self._label
        self._emit(f"raygate: {label}...")

    def _watch(self) -> None:
        while not self._stop.wait(min(0.2, self.after / 2 or 0.05)):
            self.check()

    def done(self) -> None:
        with self._lock:
            self._label = None
        self._stop.set()

    def on_file(self, name: str, size: int) -> None:
        self.step(f"reading {name}" + (f" ({size / 1e6:.1f} MB)" if size >= 1e6 else ""))
