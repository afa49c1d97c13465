"""``raygate migrate``: an ingress-nginx setup for Ray, as Gateway API objects for one
implementation, with a report of what was converted, approximated or dropped."""

from __future__ import annotations

import click

from raygate.cli import _common

EPILOG = """\b
Examples:
  raygate migrate manifests/ --to gateway-api --implementation envoy-gateway --gateway-class eg
  kubectl get ingress,svc,cm,deploy,raycluster -A -o yaml > snap.yaml
  raygate migrate snap.yaml --implementation nginx-gateway-fabric --gateway-class nginx \\
      --out gateway-api.yaml --report report.json --report-format json

\b
The objects go to stdout (or --out), the report to stderr (or --report).
Exit codes: 0 migrated, 1 the report has errors (a Ray path would be worse after the move:
a lost TCP port, a smaller body limit, a shorter timeout, a lost allowlist or auth),
2 usage or input error.
"""


@click.command(epilog=EPILOG)
@click.argument("paths", nargs=-1, metavar="PATH...")
@click.option("--to", "target", type=click.Choice(["gateway-api"]), default="gateway-api",
              show_default=True, help="What to migrate to.")
@click.option("--implementation",
              type=click.Choice(["envoy-gateway", "nginx-gateway-fabric", "istio", "cilium",
                                 "traefik", "kong", "generic"]),
              default="generic", show_default=True,
              help="The Gateway API implementation: decides the policies written.")
@click.option("--gateway-class", help="GatewayClass of the new Gateway (required unless --gateway).")
@click.option("--gateway", "shared_gateway", metavar="NS/NAME",
              help="Attach the routes to this existing Gateway instead of creating one.")
@click.option("--gateway-name", default="ray-gateway", show_default=True)
@click.option("--gateway-namespace", help="Default: the first Ray Ingress's namespace.")
@click.option("--gateway-api-version", metavar="VERSION",
              help="The target cluster's Gateway API release (v1.6): TCPRoute's version "
                   "(default: from CRDs in the inputs, else the implementation's).")
@click.option("--context", metavar="NAME",
              help="Read a live cluster (no PATH): kubeconfig context (default: the current one).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), metavar="FILE",
              help="Read a live cluster (no PATH): kubeconfig file.")
@click.option("-n", "--namespace", metavar="NS", help="Read a live cluster: only this namespace.")
@click.option("--out", "out_file", metavar="FILE", help="Write the objects here (default stdout).")
@click.option("--report", "report_file", metavar="FILE", help="Write the report here (default stderr).")
@click.option("--report-format", type=click.Choice(["text", "json", "html"]), default="text",
              show_default=True)
def command(paths: tuple[str, ...], target: str, implementation: str, gateway_class: str | None,
            shared_gateway: str | None, gateway_name: str, gateway_namespace: str | None,
            gateway_api_version: str | None, context: str | None, kubeconfig: str | None,
            namespace: str | None, out_file: str | None, report_file: str | None,
            report_format: str) -> None:
    """Convert the Ray clusters' ingress-nginx Ingresses, tcp-services entries and controller
    settings (files, a snapshot, or with no PATH the live cluster) into Gateway API objects for
    one implementation."""
    import sys

    import yaml

    from raygate import migrate as migrate_mod
    from raygate.errors import InputError, RaygateError
    from raygate.objects import ObjectSet
    from raygate.sources.files import load_paths

    if paths and (context or kubeconfig or namespace):
        raise RaygateError("give PATHs or --context/--kubeconfig/--namespace (a live cluster), "
                           "not both")
    existing = False
    if shared_gateway:
        ns, sep, name = shared_gateway.partition("/")
        if not sep or not ns or not name:
            raise RaygateError(f"--gateway {shared_gateway!r} is not NAMESPACE/NAME")
        gateway_namespace, gateway_name, existing = ns, name, True
    elif not gateway_class:
        raise RaygateError("--gateway-class is required to create a Gateway (kubectl get "
                           "gatewayclass), or attach to an existing one with --gateway NS/NAME")
    served = None
    if paths:
        loaded = load_paths(list(paths))
    else:
        from raygate.errors import ClusterError
        from raygate.sources.cluster import ClusterSource
        try:
            source = ClusterSource(kubeconfig=kubeconfig, context=context, namespace=namespace)
        except RaygateError:
            raise
        except Exception as e:  # a broken kubeconfig must not become a traceback
            raise ClusterError(f"cannot configure the cluster client: {e}") from None
        loaded = source.load()
        served = source.served_versions()
        for notice in loaded.notices:
            _common.note(f"raygate: {notice}")
    if loaded.problems:
        p = loaded.problems[0]
        raise InputError(p.message, file=p.file, line=p.line, obj=p.obj)
    options = migrate_mod.Options(implementation=implementation, gateway_class=gateway_class,
                                  gateway_name=gateway_name, gateway_namespace=gateway_namespace,
                                  existing_gateway=existing, version=gateway_api_version,
                                  served=served)
    result = migrate_mod.migrate(ObjectSet(loaded.objects), options)
    text = yaml.safe_dump_all(result.objects, sort_keys=False) if result.objects else ""
    _common.write_output(text, out_file)
    formatter = {"text": migrate_mod.report_text, "json": migrate_mod.report_json,
                 "html": migrate_mod.report_html}[report_format]
    report = formatter(result)
    if report_file:
        _common.write_output(report, report_file)
    else:
        sys.stderr.write(report)
    from raygate.errors import EXIT_FINDINGS, EXIT_OK
    sys.exit(EXIT_FINDINGS if result.errors else EXIT_OK)
