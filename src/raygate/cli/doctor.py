"""``raygate doctor``: diagnose a live cluster or a snapshot down to the root cause."""

from __future__ import annotations

import sys

import click

from raygate.cli import _common

EPILOG = """\b
Examples:
  raygate doctor                                   # current kube context
  kubectl raygate doctor --context prod -n ray --logs --tail 1000
  raygate doctor --expect-ip 192.168.1.33          # the address users were given
  raygate doctor -o html=doctor.html               # a picture of every exposed route
  raygate doctor -f snapshot/                      # offline, from kubectl dumps
  raygate doctor -o text -o sarif=doctor.sarif     # terminal + code scanning
  raygate doctor --save-snapshot bug-report.yaml   # live read + dry runs + logs, to attach

\b
Snapshot: dump what doctor reads (never Secrets) into a directory, then point --snapshot at it:
  mkdir -p snapshot
  kubectl get nodes,pods,services,endpointslices,configmaps,deployments,daemonsets,ingresses,ingressclasses -A -o yaml > snapshot/cluster.yaml
  kubectl get rayclusters,rayservices -A -o yaml > snapshot/ray.yaml
  kubectl logs -n ingress-nginx deploy/ingress-nginx-controller --tail=500 > snapshot/ingress-nginx-controller.log
(the .log file is read with --logs; name it <pod>.log or <deployment>.log).

\b
Each runtime finding is a chain: the symptom you saw -> its cause -> the fix.
Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage, input or cluster error.
"""


@click.command(epilog=EPILOG)
@click.option("--context", metavar="NAME", help="kubeconfig context (default: the current one).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), metavar="FILE",
              help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
@click.option("-n", "--namespace", metavar="NS", help="Only read this namespace (default: all).")
@click.option("--snapshot", "snapshots", multiple=True, type=click.Path(exists=False),
              metavar="FILE|DIR", help="Diagnose `kubectl get -o yaml` dumps instead of a live cluster.")
@click.option("--expect-ip", "expect_ips", multiple=True, metavar="IP",
              help="The gateway address users were given (repeatable); drift is reported.")
@click.option("--logs", is_flag=True, help="Scan the controller pods' recent log for known signatures.")
@click.option("--tail", type=click.IntRange(1, 100_000), default=500, show_default=True,
              help="Log lines per controller pod with --logs.")
@click.option("-f", "--filename", "filenames", multiple=True, metavar="FILE|DIR",
              help="A snapshot to diagnose (same as --snapshot; kubectl's -f for inputs).")
@click.option("-o", "--output", "outputs", multiple=True, metavar="FORMAT[=FILE]",
              help="Report format (text, concise, json, sarif, github, junit, html), "
                   "optionally written to FILE; repeatable. [default: text]")
@click.option("--format", "legacy_format", hidden=True, default=None)
@click.option("--fail-on", type=click.Choice(_common.FAIL_ON), default=None,
              help="Lowest severity that makes the exit code 1. [default: error]")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Project config (default: the nearest .raygate.yaml above the snapshot, "
                   "or the working directory).")
@click.option("--no-config", is_flag=True, help="Ignore any .raygate.yaml.")
@click.option("--select", multiple=True, metavar="RULES", help="Only these rules (codes, prefixes, names, layers).")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (same forms).")
@click.option("--save-snapshot", metavar="FILE",
              help="Also write what was read (objects + dry runs + logs) as one YAML file.")
@click.option("-q", "--quiet", is_flag=True, help="No notices or summary on stderr.")
@click.option("--color/--no-color", default=None, help="Colour the text report (default: on a TTY).")
def command(context: str | None, kubeconfig: str | None, namespace: str | None,
            snapshots: tuple[str, ...], expect_ips: tuple[str, ...], logs: bool, tail: int,
            filenames: tuple[str, ...], outputs: tuple[str, ...], legacy_format: str | None,
            fail_on: str | None, config_path: str | None,
            no_config: bool, select: tuple[str, ...], ignore: tuple[str, ...],
            save_snapshot: str | None, quiet: bool, color: bool | None) -> None:
    """Run the whole catalog plus the runtime rules on a live cluster (or a snapshot) and
    report by the guide's three layers, each runtime finding as symptom -> cause -> fix:
    endpoints behind every tcp-services entry and Ray Ingress backend, controller placement
    on the gateway node, node IP drift, the controller's version and config, a server-side
    dry run of every Ray Ingress, controller log signatures (--logs), and RayCluster heads."""
    import ipaddress

    from raygate import doctor, report
    from raygate.errors import RaygateError

    from raygate.cli.lint import FORMATS, _write_reports

    formats = FORMATS + ("html",)
    inputs, legacy_f = _common.split_format_like(filenames, formats)
    snapshots = tuple(snapshots) + tuple(inputs)
    targets = _common.resolve_outputs(outputs, legacy_format, formats, "text", legacy_f)
    for ip in expect_ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise RaygateError(f"--expect-ip {ip!r} is not an IP address") from None
    if snapshots and (context or kubeconfig or namespace):
        raise RaygateError("--snapshot reads files; it cannot be combined with "
                           "--context/--kubeconfig/--namespace (dump one namespace with "
                           "`kubectl get ... -n NS` instead of -A)")
    selectors, ignores = _common.split_csv(select), _common.split_csv(ignore)
    # The project's .raygate.yaml means the same to doctor as to lint (select, ignore,
    # suppress, fail-on).
    cfg = _common.project_config(snapshots, config_path, no_config)
    _common.check_selectors(cfg, selectors, ignores)

    if snapshots:
        gathered = doctor.gather_snapshot(snapshots, logs=logs)
    else:
        gathered = doctor.gather_live(kubeconfig=kubeconfig, context=context,
                                      namespace=namespace, logs=logs, tail=tail)
    if save_snapshot:
        from raygate.doctor.core import snapshot_text
        _common.write_output(snapshot_text(gathered, expect_ips), save_snapshot)
    diagnosis = doctor.diagnose(gathered, expect_ips=expect_ips, config=cfg, select=selectors,
                                ignore=ignores)
    result = diagnosis.result
    for fmt, file in targets:
        if fmt == "text":
            _write_reports(result, [(fmt, file)], color, lanes=diagnosis.lanes)
        elif fmt == "html":
            _common.write_output(report.formatter("html")(
                result, lanes=diagnosis.lanes, title=f"raygate doctor: {gathered.where}"), file)
        else:
            _write_reports(result, [(fmt, file)], color)
    if not quiet:
        for n in result.notices:
            _common.note(f"raygate: notice: {n}")
        broken = [lane for lane in diagnosis.lanes if lane.status == "fail"]
        routes = f", {len(broken)}/{len(diagnosis.lanes)} routes broken" if diagnosis.lanes else ""
        # The read is what is bounded (<= 20); dry runs and log reads grow with the number of
        # Ray Ingresses and controller pods, so they are counted apart.
        requests = ""
        if gathered.read_requests is not None:
            requests = f", {gathered.read_requests} API requests to read"
            extra = (gathered.request_count or 0) - gathered.read_requests
            if extra > 0:
                requests += f" (+{extra} for dry runs and logs)"
        _common.note(f"raygate: doctor ({gathered.where}): {report.summary(result)}{routes}{requests}")
    for p in result.problems:
        _common.note(f"raygate: error: {p}")
    sys.exit(_common.exit_code(result, fail_on or cfg.fail_on or "error"))
