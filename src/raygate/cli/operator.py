"""``raygate operator``: keep every annotated Ray cluster reachable, securely.

Thin wiring over ``raygate.operator``: settings, the cluster client, the Lease elector, the
metrics server and the loop.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any

import click

EPILOG = """\b
Examples:
  kubectl annotate raycluster my-cluster raygate.io/expose=dashboard,jobs,client
  raygate operator --dry-run                       # what one pass would write, then exit
  raygate operator --config operator.yaml          # run (locally with a kubeconfig)
  raygate operator --port-range 30001-30999 --routing host --domain ray.example.com

\b
What a cluster gets: a stable Ray Client port from --port-range (one ConfigMap record per
port in --namespace, never moved while the cluster lives), its Dashboard/Jobs (and Serve)
routes from the same renderer as `raygate render`, and annotations raygate.io/dashboard-url,
raygate.io/client-address, raygate.io/status plus Events. Clusters without token auth are
not exposed unless --allow-unauthenticated. Removing the annotation or deleting the cluster
removes its routes and frees its ports (finalizer raygate.io/expose).
Exit codes: 0 stopped cleanly, 2 invalid settings or unreachable cluster.
"""


@click.command(epilog=EPILOG)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Operator settings (YAML, camelCase keys; flags override it).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
              help="Kubeconfig file (default: in-cluster, $KUBECONFIG, ~/.kube/config).")
@click.option("--context", default=None, help="Kubeconfig context to use.")
@click.option("--namespace", default=None,
              help="Where the operator keeps its port records and Lease [raygate-system].")
@click.option("--backend", type=click.Choice(["ingress-nginx", "gateway-api"]), default=None)
@click.option("--port-range", default=None, metavar="FIRST-LAST",
              help="External TCP ports to hand out [30001-30999].")
@click.option("--routing", type=click.Choice(["path", "host"]), default=None,
              help="path: /ray/<ns>/<name>/ on one host; host: <name>.<ns>.<domain>.")
@click.option("--domain", default=None, help="Parent domain for --routing host.")
@click.option("--gateway-address", default=None,
              help="Host or IP users reach the gateway at (written into the URLs).")
@click.option("--gateway", "shared_gateway", default=None, metavar="[NS/]NAME",
              help="gateway-api: the shared Gateway the routes and ListenerSets attach to "
                   "(never written; default namespace: the operator's).")
@click.option("--allow-unauthenticated", is_flag=True, default=None,
              help="Also expose clusters without token auth (refused by default).")
@click.option("--identity", default=None,
              help="This replica's name in the Lease [pod name, else hostname].")
@click.option("--metrics-address", default="127.0.0.1:8080", show_default=True,
              help="host:port for /healthz, /readyz and /metrics ('' to disable).")
@click.option("--dry-run", is_flag=True, help="Print what one pass would write, write nothing.")
@click.option("--once", is_flag=True, help="Run one pass as the leader, then exit.")
@click.option("-v", "--verbose", is_flag=True, help="Log every pass.")
def command(config_file: str | None, kubeconfig: str | None, context: str | None,
            namespace: str | None, backend: str | None, port_range: str | None,
            routing: str | None, domain: str | None, gateway_address: str | None,
            shared_gateway: str | None, allow_unauthenticated: bool | None, identity: str | None, metrics_address: str,
            dry_run: bool, once: bool, verbose: bool) -> None:
    """Watch RayClusters, RayServices and RayJobs annotated raygate.io/expose and give each a
    secure, stable entry point on the gateway (Lease-elected: one active replica)."""
    from raygate.errors import SpecError
    from raygate.operator import settings as settings_mod
    from raygate.operator.cache import WatchCache
    from raygate.operator.leader import LeaseElector, LightkubeLeaseApi
    from raygate.operator.loop import Operator, lightkube_watch
    from raygate.operator.metrics import Metrics, serve
    from raygate.operator.reconciler import Api, DryRunApi, Reconciler
    from raygate.sources.cluster import ClusterSource

    overrides: dict[str, Any] = {"namespace": namespace, "backend": backend,
                                 "gatewayAddress": gateway_address,
                                 "allowUnauthenticated": allow_unauthenticated}
    if port_range:
        first, sep, last = port_range.partition("-")
        if not sep or not first.isdigit() or not last.isdigit():
            raise SpecError(f"--port-range {port_range!r}: expected FIRST-LAST, e.g. 30001-30999")
        overrides["portRange"] = {"first": int(first), "last": int(last)}
    if shared_gateway:
        ns, _, name = shared_gateway.rpartition("/")
        try:
            base = settings_mod.load(config_file).gateway_api.model_dump(by_alias=True)
        except SpecError:
            base = {}  # e.g. backend gateway-api without a gatewayName: this flag is it
        overrides["gatewayApi"] = {**base, "gatewayName": name,
                                   **({"gatewayNamespace": ns} if ns else {})}
    if routing or domain:
        base = settings_mod.load(config_file).routing.model_dump(by_alias=True)
        overrides["routing"] = {**base, **({"mode": routing} if routing else {}),
                                **({"domain": domain} if domain else {})}
    settings = settings_mod.load(config_file, overrides)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    source = ClusterSource(kubeconfig, context)

    if dry_run:
        api = DryRunApi(source)
        try:
            report = Reconciler(api, settings).run_pass()
        except Exception as e:  # noqa: BLE001
            raise source.error(e, "read the cluster") from None
        for line in api.planned or ["nothing to do"]:
            click.echo(line)
        for line in report.errors + report.warnings:
            click.echo(f"warning: {line}", err=True)
        click.echo(f"{report.clusters} Ray cluster(s), {report.exposed} to expose; "
                   f"{len(api.planned)} write(s) planned (dry run: nothing written)", err=True)
        return

    metrics = Metrics()
    if metrics_address:
        host, _, port = metrics_address.rpartition(":")
        if not port.isdigit():
            raise SpecError(f"--metrics-address {metrics_address!r}: expected host:port")
        serve(metrics, host or "127.0.0.1", int(port))
    who = identity or os.environ.get("POD_NAME") or socket.gethostname()
    elector = LeaseElector(LightkubeLeaseApi(source.client), settings.namespace,
                           settings.lease_name, who,
                           lease_duration=settings.lease_duration_seconds,
                           renew_deadline=settings.renew_deadline_seconds,
                           retry_period=settings.retry_period_seconds)
    cache = None if once else WatchCache()  # what the watches keep: clusters, records, routes
    op = Operator(Reconciler(Api(source), settings, cache=cache), elector, metrics,
                  resync_seconds=settings.resync_seconds,
                  watch=None if once else lightkube_watch(source, cache))
    try:
        op.run(max_passes=1 if once else None)
    except KeyboardInterrupt:
        op.stop()
        elector.release()
    report = op.last_report
    if once and report is not None:
        click.echo(f"{report.clusters} Ray cluster(s), {report.exposed} exposed, "
                   f"{len(report.allocated)} port(s) allocated, {len(report.released)} "
                   f"released, {report.writes} write(s)", err=True)
