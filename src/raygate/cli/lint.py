"""``raygate lint``: the static view. Files in, findings out, exit code for CI."""

from __future__ import annotations

import sys

import click

from raygate.cli import _common
from raygate.sources import no_cyclic_gc

#: Report formats of lint and doctor (``-o FORMAT[=FILE]``).
FORMATS = ("text", "concise", "json", "sarif", "github", "junit")

EPILOG = """\b
Examples:
  raygate lint examples/seed-broken/                 # directories are read recursively
  kubectl get ingress,svc,cm,deploy -A -o yaml | raygate lint -
  helm template ray kuberay/ray-cluster | raygate lint -
  raygate lint manifests/ -o concise                 # file:line:col: RG101 [error] ...
  raygate lint manifests/ -o text -o sarif=raygate.sarif   # terminal + code scanning
  raygate lint manifests/ -o github                  # annotations in a GitHub Actions step
  raygate lint manifests/ --baseline .raygate-baseline.json --update-baseline  # adopt
  raygate lint manifests/ --baseline .raygate-baseline.json  # then fail only on new ones
  raygate lint manifests/ --select security --fail-on warning
  raygate lint manifests/ --ignore RG106,service-external-ips

\b
Formats (-o FORMAT, or -o FORMAT=FILE, repeatable): text, concise, json, sarif, github, junit.
Helm chart and kustomize directories are rendered with helm / kustomize (or kubectl
kustomize) when installed, else skipped with the command to pipe instead.

\b
Suppress one object's finding with an annotation:
  metadata.annotations: {raygate.io/ignore: "RG101,service-external-ips"}
or for the project in .raygate.yaml (found upward from the inputs); see docs/rules.md.

\b
Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or input error, including
"no Kubernetes objects were read" (checked nothing; --allow-empty makes that 0).
"""


@click.command(epilog=EPILOG)
@click.argument("paths", nargs=-1, metavar="PATH...")
@click.option("-f", "--filename", "filenames", multiple=True, metavar="PATH",
              help="An input file or directory (repeatable; same as a PATH argument).")
@click.option("-o", "--output", "outputs", multiple=True, metavar="FORMAT[=FILE]",
              shell_complete=lambda ctx, param, incomplete: [
                  f for f in FORMATS if f.startswith(incomplete)],
              help=f"Report format ({', '.join(FORMATS)}), optionally written to FILE; "
                   "repeatable. [default: text]")
@click.option("--format", "legacy_format", hidden=True, default=None)
@click.option("--fail-on", type=click.Choice(_common.FAIL_ON), default=None,
              help="Lowest severity that makes the exit code 1. [default: error]")
@click.option("--select", multiple=True, metavar="RULES",
              help="Only these rules: codes, code prefixes (RG2), names or layers; comma-separated.")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (same forms).")
@click.option("--baseline", "baseline_path", metavar="FILE",
              help="Findings recorded in FILE (see --update-baseline) do not fail the run; "
                   "only new ones do.")
@click.option("--update-baseline", is_flag=True,
              help="Record today's findings in --baseline FILE (create or rewrite it).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Project config (default: the nearest .raygate.yaml above the inputs).")
@click.option("--no-config", is_flag=True, help="Ignore any .raygate.yaml.")
@click.option("--allow-empty", is_flag=True,
              help="Exit 0 when no Kubernetes objects were read (default: exit 2).")
@click.option("--max-file-size", type=int, default=64 * 1024 * 1024, show_default=True,
              metavar="BYTES", help="Refuse input files larger than this.")
@click.option("-q", "--quiet", is_flag=True, help="No notices or summary on stderr.")
@click.option("--color/--no-color", default=None,
              help="Colour the text report (default: on a terminal, unless NO_COLOR is set).")
# A lint is one pass whose objects live until exit, and decoded YAML, findings, views and
# reports hold no reference cycles: every automatic collection would only rescan them (~10% of
# lint at 10k objects; 4% of a small file's start-up, in the imports of the YAML parser and the
# catalog). The cyclic GC is paused for the whole command and resumed when it ends.
@no_cyclic_gc()
def command(paths: tuple[str, ...], filenames: tuple[str, ...], outputs: tuple[str, ...],
            legacy_format: str | None, fail_on: str | None, select: tuple[str, ...],
            ignore: tuple[str, ...], baseline_path: str | None, update_baseline: bool,
            config_path: str | None, no_config: bool, allow_empty: bool, max_file_size: int,
            quiet: bool, color: bool | None) -> None:
    """Check Kubernetes manifests (files, directories, or - for stdin) against the catalog.

    Findings are grouped by the guide's three layers (security, protocol, infrastructure),
    each with file:line, the object, the field, what the real system will say, and the fix.
    """
    from raygate.errors import RaygateError
    from raygate.sources.files import STDIN, load_paths, missing_paths

    inputs, legacy_f = _common.split_format_like(filenames, FORMATS)
    all_paths = tuple(paths) + tuple(inputs)
    if not all_paths:
        raise RaygateError("give files, directories, or - to read manifests from stdin "
                           "(see `raygate lint --help`)")
    targets = _common.resolve_outputs(outputs, legacy_format, FORMATS, "text", legacy_f)
    if update_baseline and not baseline_path:
        raise RaygateError("--update-baseline needs --baseline FILE")
    cfg = _common.project_config(all_paths, config_path, no_config)
    selectors = _common.split_csv(select)
    ignores = _common.split_csv(ignore)
    _common.check_selectors(cfg, selectors, ignores)
    missing = missing_paths(all_paths)
    if missing:  # one error, before anything is read or reported
        raise RaygateError("; ".join(_missing_message(p) for p in missing))
    if STDIN in all_paths and sys.stdin.isatty() and not quiet:
        _common.note("raygate: reading manifests from stdin (end with Ctrl-D; "
                     "pipe them in, e.g. `kubectl get ing,svc,cm -A -o yaml | raygate lint -`)")
    progress = _common.Progress(enabled=not quiet)
    loaded = load_paths(all_paths, max_bytes=max_file_size, on_file=progress.on_file)
    progress.step(f"checking {len(loaded.objects):,} objects")
    # The loaded objects live until exit: once the GC resumes (at exit, or in a process that
    # called this), it does not rescan them.
    import gc
    gc.freeze()
    from raygate import engine, report
    from raygate.sources import schema
    # What the API server would refuse to decode is an input error (file:line, field).
    refused = schema.check(loaded.objects)
    result = engine.run(loaded.objects, config=cfg, select=selectors, ignore=ignores,
                        files=loaded.files, problems=loaded.problems, notices=loaded.notices)
    result.problems.extend(schema.without_overlap(refused, result.findings))
    progress.done()
    if not quiet:
        for n in result.notices:  # the loader's, plus the engine's (unknown ignore keys)
            _common.note(f"raygate: notice: {n}")
    if not result.objects and not result.problems and not allow_empty:
        raise RaygateError(
            f"no Kubernetes objects read from {', '.join(all_paths)}, so nothing was checked"
            + ("" if result.notices or quiet else " (every input was empty)")
            + "; see the notices above for what was skipped and why "
            "(--allow-empty exits 0 instead)")
    if baseline_path:
        if update_baseline:
            _common.write_baseline(baseline_path, result)
            if not quiet:
                _common.note(f"raygate: recorded {len(result.findings)} findings in "
                             f"{baseline_path}; runs with --baseline fail only on new ones")
            recorded = [f.fingerprint for f in result.findings]
        else:
            recorded = _common.read_baseline(baseline_path)
            if recorded is None:
                # A missing baseline must not silently accept everything (a CI job that
                # lost its file would pass on any finding): create it on purpose.
                raise RaygateError(f"--baseline {baseline_path} does not exist; record "
                                   "today's findings with --update-baseline first")
        result = engine.apply_baseline(result, recorded)
    _write_reports(result, targets, color)
    for p in result.problems:
        _common.note(f"raygate: error: {p}")
    if not quiet:
        _common.note(f"raygate: {report.summary(result)}"
                     + (f" (config {cfg.path})" if cfg.path else ""))
    sys.exit(_common.exit_code(result, fail_on or cfg.fail_on or "error"))


def _write_reports(result: object, targets: list[tuple[str, str | None]],
                   color: bool | None, **extra: object) -> None:
    from raygate import report

    for fmt, file in targets:
        if fmt == "text":
            text = report.formatter("text")(
                result, color=file is None and _common.color_wanted(color),
                width=_common.terminal_width() if file is None else 100, **extra)
        elif fmt == "html":
            text = report.formatter("html")(result, **extra)
        else:
            text = report.formatter(fmt)(result)
        _common.write_output(text, file)


def _missing_message(path: str) -> str:
    """``path: no such file or directory``, with the nearest existing name when one is close."""
    import difflib
    from pathlib import Path

    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    hint = ""
    if parent.is_dir():
        try:
            names = [c.name for c in parent.iterdir()]
        except OSError:
            names = []
        close = difflib.get_close_matches(p.name, names, n=1)
        if close:
            hint = f" (did you mean {parent / close[0] if str(parent) != '.' else close[0]}?)"
    return f"{path}: no such file or directory{hint}"
