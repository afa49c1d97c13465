"""``raygate apply``: render the spec, server-side apply it, wait, then run doctor.

Thin wiring: ``raygate.render`` renders, ``raygate.apply`` applies and waits,
``raygate.doctor`` verifies. Progress and the summary go to stderr; ``--diff`` prints the
unified diff on stdout so it can be piped or saved.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from raygate.errors import EXIT_FINDINGS, EXIT_OK, RaygateError

EPILOG = """\b
Examples:
  raygate apply -f raygate.yaml --dry-run --diff   # what would change (server dry-run)
  raygate apply -f raygate.yaml                    # apply, wait for rollout + endpoints, doctor
  raygate apply -f raygate.yaml --context prod --timeout 300
  raygate apply -f raygate.yaml --prune            # also delete gateway objects no longer rendered
  raygate apply -f raygate.yaml --force-conflicts  # take over fields another manager owns

\b
Field manager: raygate/<namespace>.<name>, one per gateway (server-side apply). Only the
fields this gateway renders are owned: tcp-services entries of other gateways and tools are
kept; a port another gateway owns is refused before anything is written; the controller's
args are never replaced, only raygate's flags are added or changed (and reported); --prune
deletes what only this gateway writes and releases its entries in shared objects.
Exit codes: 0 applied and verified, 1 conflicts, denials, missing objects, a wait that
timed out or doctor errors, 2 invalid spec, unsafe request, a port or flag another gateway
owns, or a cluster that is unreachable or fails mid-apply (the message names what was
written and how to finish or undo).
"""


@click.command(epilog=EPILOG)
@click.option("-f", "--filename", "--file", "spec_file", required=True,
              type=click.Path(dir_okay=False), help="The gateway spec (raygate.yaml).")
@click.option("--cluster-manifest", "cluster_manifests", multiple=True,
              type=click.Path(exists=False), metavar="FILE|DIR",
              help="RayCluster / head Service / controller manifests to render from, as "
                   "render takes them; they win over the live objects of the same name. "
                   "Repeatable.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
              help="Kubeconfig file (default: in-cluster, $KUBECONFIG, ~/.kube/config).")
@click.option("--context", default=None, help="Kubeconfig context to use.")
@click.option("--dry-run", is_flag=True, help="Server-side dry run: admission and validation "
              "run, nothing is stored.")
@click.option("--diff", is_flag=True, help="Print a unified diff of live vs. applied objects.")
@click.option("--force-conflicts", is_flag=True,
              help="Take over fields another field manager owns (default: report conflicts).")
@click.option("--prune", is_flag=True, help="Delete this gateway's raygate-managed objects that "
              "are no longer rendered.")
@click.option("--timeout", type=click.FloatRange(min=0), default=120.0, show_default=True,
              help="Seconds to wait for the controller rollout and the endpoints.")
@click.option("--no-wait", is_flag=True, help="Do not wait or run doctor after applying.")
@click.option("--allow-unauthenticated", is_flag=True,
              help="Expose a RayCluster without token auth (refused by default).")
def command(spec_file: str, kubeconfig: str | None, context: str | None, dry_run: bool,
            diff: bool, force_conflicts: bool, prune: bool, timeout: float, no_wait: bool,
            allow_unauthenticated: bool, cluster_manifests: tuple[str, ...]) -> None:
    """Server-side apply the rendered gateway (field manager raygate/<ns>.<name>), wait for the
    controller rollout and the endpoints, then run doctor on the live cluster."""
    from raygate import apply as apply_mod
    from raygate import render, spec as spec_mod
    from raygate.sources.cluster import ClusterSource

    spec = spec_mod.load(spec_file)
    with ClusterSource(kubeconfig=kubeconfig, context=context) as source:
        live = _with_manifests(apply_mod.load_live(source), spec, spec_file, cluster_manifests)
        # What the cluster serves (discovery) picks the Gateway API versions to write when no
        # CRD is among the manifests (TCPRoute v1 from v1.6, XListenerSet before v1.5).
        objects = render.render(spec, cluster=live, allow_unauthenticated=allow_unauthenticated,
                                served=source.served_versions())
        report = apply_mod.apply_objects(
            source, objects, gateway=apply_mod.gateway_for(spec), dry_run=dry_run,
            force_conflicts=force_conflicts, diff=diff, prune=prune,
            command=_command_line(spec_file, kubeconfig, context, force_conflicts, prune,
                                  cluster_manifests))
        _print_changes(report, diff)
        failed = bool(report.failed)
        if not dry_run and not no_wait and not failed:
            report.waiting = _wait(source, objects, timeout)
            # Doctor runs even when the wait timed out: that is when the user needs the root
            # cause (a head pod not ready, a selector mismatch), not just "not ready".
            doctor_errors = _doctor(source)
            failed = bool(report.waiting) or doctor_errors
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


def _with_manifests(live: Any, spec: Any, spec_file: str,
                    cluster_manifests: tuple[str, ...]) -> Any:
    """The live objects, with the spec's ``rayCluster.manifests`` and ``--cluster-manifest``
    files laid over them (same kind/namespace/name: the file wins), as render reads them."""
    from pathlib import Path

    from raygate.cli.render import load_cluster
    from raygate.objects import ObjectSet

    base = Path(spec_file).parent
    paths = [str(base / m) for m in spec.ray_cluster.manifests] + list(cluster_manifests)
    given = load_cluster(paths)
    if given is None:
        return live
    names = {(o.kind, o.namespace, o.name) for o in given}
    return ObjectSet([o for o in live if (o.kind, o.namespace, o.name) not in names]
                     + list(given))


def _command_line(spec_file: str, kubeconfig: str | None, context: str | None,
                  force_conflicts: bool, prune: bool,
                  cluster_manifests: tuple[str, ...] = ()) -> str:
    """The command that repeats this apply (for "apply stopped after ..." messages)."""
    import shlex
    parts = ["raygate", "apply", "-f", spec_file]
    for manifest in cluster_manifests:
        parts += ["--cluster-manifest", manifest]
    if kubeconfig:
        parts += ["--kubeconfig", kubeconfig]
    if context:
        parts += ["--context", context]
    parts += ["--force-conflicts"] if force_conflicts else []
    parts += ["--prune"] if prune else []
    return " ".join(shlex.quote(p) for p in parts)


def _print_changes(report: Any, diff: bool) -> None:
    suffix = " (server dry run)" if report.dry_run else ""
    for change in report.changes:
        if diff and change.diff:
            click.echo(change.diff, nl=False)
        line = f"{change.ref} {change.action}{suffix}"
        if change.message:
            line += f": {change.message}"
        click.echo(line, err=True)
    counts = report.counts()
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing to apply"
    click.echo(f"raygate apply: {summary}{suffix}", err=True)


def _wait(source: Any, objects: list[dict], timeout: float) -> list[str]:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from raygate import apply as apply_mod

    targets = apply_mod.wait_targets(objects)
    if not targets:
        return []
    console = Console(stderr=True)
    # Off a terminal the live display is disabled (it would only leave a blank line); the
    # state changes are printed as plain lines instead (see update()).
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, disable=not console.is_terminal) as progress:
        tasks = {t.description: progress.add_task(f"waiting: {t.description}", total=1)
                 for t in targets}

        shown: dict[str, str | None] = {}

        def update(target: Any, state: str | None) -> None:
            task = tasks[target.description]
            if state is None:
                progress.update(task, completed=1, description=f"ready: {target.description}")
            else:
                progress.update(task, description=f"waiting: {target.description} ({state})")
            # Not a terminal (CI logs, a pipe): no live display, so print each change once.
            if not console.is_terminal and shown.get(target.description, "") != state:
                shown[target.description] = state
                word = "ready" if state is None else "waiting"
                click.echo(f"raygate apply: {word}: {target.description}"
                           + ("" if state is None else f" ({state})"), err=True)

        missing = apply_mod.wait(source, targets, timeout, on_update=update)
    for line in missing:
        click.echo(f"raygate apply: not ready after {timeout:g}s: {line}", err=True)
    return missing


def _doctor(source: Any) -> bool:
    """Run doctor on the live cluster; True when it found errors."""
    try:
        from raygate.doctor import diagnose, gather_live
    except ImportError:
        click.echo("raygate apply: doctor is not available in this build; skipped", err=True)
        return False
    diagnosis = diagnose(gather_live(source=source))
    errors = [f for f in diagnosis.result.findings if f.severity.value == "error"]
    for f in errors:
        click.echo(f"doctor: {f.code} {f.name} {f.object}: {f.message}", err=True)
    counts = diagnosis.result.counts()
    click.echo(f"raygate apply: doctor: {counts['error']} errors, {counts['warning']} warnings"
               + ("" if not errors else " (run `raygate doctor` for the full report)"), err=True)
    return bool(errors)
