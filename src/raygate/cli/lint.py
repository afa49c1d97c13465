"""``raygate lint``: the static view. Files in, findings out, exit code for CI."""

from __future__ import annotations

import sys

import click

from raygate.cli import _common

EPILOG = """\b
Examples:
  raygate lint examples/seed-broken/                 # directories are read recursively
  kubectl get ingress,svc,cm,deploy -A -o yaml | raygate lint -
  helm template ray kuberay/ray-cluster | raygate lint - --format sarif -o ray.sarif
  raygate lint manifests/ --select security --fail-on warning
  raygate lint manifests/ --ignore RG106,service-external-ips

\b
Suppress one object's finding with an annotation:
  metadata.annotations: {raygate.io/ignore: "RG101,service-external-ips"}
or for the project in .raygate.yaml (found upward from the inputs); see docs/rules.md.

\b
Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or input error
(an unreadable input is reported and the others are still checked).
"""


@click.command(epilog=EPILOG)
@click.argument("paths", nargs=-1, metavar="PATH...")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json", "sarif"]),
              default="text", show_default=True, help="Report format.")
@click.option("-o", "--output", metavar="FILE", help="Write the report here (default stdout).")
@click.option("--fail-on", type=click.Choice(_common.FAIL_ON), default=None,
              help="Lowest severity that makes the exit code 1. [default: error]")
@click.option("--select", multiple=True, metavar="RULES",
              help="Only these rules: codes, code prefixes (RG2), names or layers; comma-separated.")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (same forms).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Project config (default: the nearest .raygate.yaml above the inputs).")
@click.option("--no-config", is_flag=True, help="Ignore any .raygate.yaml.")
@click.option("--max-file-size", type=int, default=64 * 1024 * 1024, show_default=True,
              metavar="BYTES", help="Refuse input files larger than this.")
@click.option("-q", "--quiet", is_flag=True, help="No notices or summary on stderr.")
@click.option("--color/--no-color", default=None, help="Colour the text report (default: on a TTY).")
def command(paths: tuple[str, ...], fmt: str, output: str | None, fail_on: str | None,
            select: tuple[str, ...], ignore: tuple[str, ...], config_path: str | None,
            no_config: bool, max_file_size: int, quiet: bool, color: bool | None) -> None:
    """Check Kubernetes manifests (files, directories, or - for stdin) against the catalog.

    Findings are grouped by the guide's three layers (security, protocol, infrastructure),
    each with file:line, the object, the field, what the real system will say, and the fix.
    """
    from raygate import engine, report
    from raygate.errors import RaygateError
    from raygate.sources.files import load_paths

    if not paths:
        raise RaygateError("give files, directories, or - to read manifests from stdin "
                           "(see `raygate lint --help`)")
    cfg = _common.project_config(paths, config_path, no_config)
    selectors = _common.split_csv(select)
    ignores = _common.split_csv(ignore)
    _common.check_selectors(cfg, selectors, ignores)
    loaded = load_paths(paths, max_bytes=max_file_size)
    # The loaded objects live until exit; keep the cyclic GC from rescanning them (speed).
    import gc
    gc.freeze()
    result = engine.run(loaded.objects, config=cfg, select=selectors, ignore=ignores,
                        files=loaded.files, problems=loaded.problems, notices=loaded.notices)
    use_color = sys.stdout.isatty() if color is None else color
    text = (report.formatter(fmt)(result, color=use_color and not output) if fmt == "text"
            else report.formatter(fmt)(result))
    _common.write_output(text, output)
    if not quiet:
        for n in result.notices:  # the loader's, plus the engine's (unknown ignore keys)
            _common.note(f"raygate: notice: {n}")
    for p in loaded.problems:
        _common.note(f"raygate: error: {p}")
    if not quiet:
        _common.note(f"raygate: {report.summary(result)}"
                     + (f" (config {cfg.path})" if cfg.path else ""))
    sys.exit(_common.exit_code(result, fail_on or cfg.fail_on or "error"))
