"""``raygate render``: the spec (plus flags) in, the gateway's manifests out.

Thin by design: flags become spec overrides, ``raygate.render.build`` does the work, and
``raygate.render.outputs`` formats. Warnings and notes go to stderr so stdout stays a clean
YAML stream for ``| raygate lint -`` or ``| kubectl apply --server-side -f -``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from raygate.errors import InputError, RenderError, SpecError

EPILOG = """\b
Examples:
  raygate render -f raygate.yaml                       # YAML stream in apply order
  raygate render -f raygate.yaml --cluster-manifest ray-cluster.yaml
  raygate render -f raygate.yaml | kubectl apply --server-side --field-manager=raygate/NAMESPACE.NAME -f -
  raygate render -f raygate.yaml | raygate lint -      # prove it clean
  raygate render --auth-mode token --node node-33 --tcp-port 9000   # no file: guide defaults
  raygate render -f raygate.yaml --placement metallb --metallb-ip 192.168.1.240
  raygate render -f raygate.yaml -o kustomize=gateway/ && kubectl apply -k gateway/
  raygate render -f raygate.yaml -o helm-values > values.yaml
  raygate render -f raygate.yaml --set tuning.bodySize=500m --set exposures.host=ray.example.com
  raygate render -f raygate.yaml --backend gateway-api --gateway-class eg   # Gateway API

\b
Refused (exit 2): a RayCluster without token auth (fix: spec.authOptions.mode: token,
KubeRay >= 1.5.1) unless --allow-unauthenticated; specs with invalid fields.
Exit codes: 0 rendered, 2 invalid spec, unsafe request or unreadable input.
"""


def _tcp_port(text: str) -> dict[str, int] | int:
    gateway, sep, service = text.partition(":")
    try:
        if sep:
            return {"port": int(gateway), "servicePort": int(service)}
        return int(gateway)
    except ValueError:
        raise SpecError(f"--tcp-port {text}: expected PORT or GATEWAY_PORT:SERVICE_PORT, "
                        "e.g. 9000 or 9000:9001") from None


def _key_value(flag: str, text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SpecError(f"{flag} {text}: expected KEY=VALUE")
    return key, value


def overrides_from(options: dict[str, Any]) -> dict[str, Any]:
    """Map the flags the user gave to dotted spec paths (unset flags change nothing)."""
    o: dict[str, Any] = {}
    simple = {
        "ray_cluster": "rayCluster.name", "namespace": "rayCluster.namespace",
        "head_service": "rayCluster.headService", "auth_mode": "rayCluster.authMode",
        "placement": "placement.mode", "node": "placement.pinnedNode.nodeName",
        "metallb_ip": "placement.metallb.ip", "metallb_pool": "placement.metallb.pool",
        "host": "exposures.host",
        "dashboard_path": "exposures.dashboard.path", "client_port": "exposures.rayClient.port",
        "body_size": "tuning.bodySize", "stream_timeout": "tuning.streamTimeout",
        "ingress_class": "controller.ingressClass",
        "controller_namespace": "controller.namespace",
        "controller_deployment": "controller.deployment",
        "controller_kind": "controller.kind",
        "backend": "backend", "gateway_class": "gatewayApi.gatewayClassName",
        "gateway_name": "gatewayApi.gatewayName",
        "gateway_namespace": "gatewayApi.gatewayNamespace",
        "route_namespace": "gatewayApi.routeNamespace",
        "tcp_route_api_version": "gatewayApi.tcpRouteApiVersion",
        "http_port": "gatewayApi.httpPort", "https_port": "gatewayApi.httpsPort",
        "implementation": "gatewayApi.implementation",
        "gateway_api_version": "gatewayApi.version",
        "listener_set": "gatewayApi.listenerSet",
    }
    for option, path in simple.items():
        if options.get(option) is not None:
            o[path] = options[option]
    if options.get("node_label"):
        key, value = _key_value("--node-label", options["node_label"])
        o["placement.pinnedNode.labelKey"], o["placement.pinnedNode.labelValue"] = key, value
    if options.get("metallb_addresses"):
        o["placement.metallb.addresses"] = list(options["metallb_addresses"])
    if options.get("serve_path") is not None:
        o["exposures.serve"] = {"path": options["serve_path"]}
    if options.get("tcp_ports"):
        o["exposures.extraTcpPorts"] = [_tcp_port(p) for p in options["tcp_ports"]]
    if options.get("enable_gcs"):
        o["exposures.gcs.enabled"] = True
    if options.get("allow_cidrs"):
        o["security.allowlist"] = list(options["allow_cidrs"])
    if options.get("tls_secret") is not None:
        o["security.tls"] = {"secretName": options["tls_secret"]}
    if options.get("existing_gateway"):
        o["gatewayApi.createGateway"] = False
    if options.get("shared_gateway"):
        # --gateway NS/NAME: attach to that shared Gateway (it is not ours to create).
        ns, sep, name = options["shared_gateway"].partition("/")
        if not sep or not ns or not name:
            raise click.BadParameter(f"{options['shared_gateway']!r} is not NAMESPACE/NAME",
                                     param_hint="--gateway")
        o["gatewayApi.gatewayNamespace"], o["gatewayApi.gatewayName"] = ns, name
        o["gatewayApi.createGateway"] = False
    if options.get("timeout") is not None:
        o["tuning.readTimeout"] = o["tuning.sendTimeout"] = options["timeout"]
    for item in options.get("sets") or ():
        import yaml
        key, value = _key_value("--set", item)
        try:
            o[key] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            o[key] = value
    return o


def load_cluster(paths: list[str]) -> Any:
    """Objects from --cluster-manifest / rayCluster.manifests; unreadable input is exit 2."""
    from raygate.objects import ObjectSet
    from raygate.sources.files import load_paths
    if not paths:
        return None
    result = load_paths(paths)
    if result.problems:
        p = result.problems[0]
        raise InputError(p.message, file=p.file, line=p.line, obj=p.obj)
    return ObjectSet(result.objects)


@click.command(epilog=EPILOG, context_settings={"max_content_width": 100})
@click.option("-f", "--filename", "--file", "spec_file", type=click.Path(dir_okay=False),
              help="The gateway spec (raygate.yaml). Without it, the guide's defaults + flags.")
@click.option("--placement", type=click.Choice(["pinned-node", "metallb"]),
              help="Where the controller listens: a labelled node's host network, or a "
                   "MetalLB IP.")
@click.option("-o", "--output", "output", metavar="FORMAT[=DIR]", default=None,
              help="Output format: yaml, helm-values or kustomize; with =DIR, write files "
                   "into DIR (one per object for yaml). [default: yaml]")
@click.option("--format", "legacy_format", hidden=True, default=None)
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Write files into this directory (same as -o FORMAT=DIR).")
@click.option("--allow-unauthenticated", is_flag=True,
              help="Render even when the RayCluster has no token auth (loud warning).")
@click.option("--cluster-manifest", "cluster_manifests", multiple=True,
              type=click.Path(exists=False),
              help="RayCluster / head Service / controller manifests to resolve ports, auth and "
                   "controller args from. Repeatable.")
@click.option("--upstream", default=None, metavar="URL|PATH",
              help="kustomize: the ingress-nginx deploy.yaml to patch (default: v1.15.1 "
                   "baremetal); a local file is copied into DIR/upstream/.")
@click.option("--ray-cluster", help="RayCluster name (rayCluster.name).")
@click.option("-n", "--namespace", help="RayCluster namespace (rayCluster.namespace).")
@click.option("--head-service", help="Head Service name override (rayCluster.headService).")
@click.option("--auth-mode", type=click.Choice(["token", "disabled", "unknown"]),
              help="Assert the RayCluster's auth when its manifest is not given.")
@click.option("--node", help="Gateway node name; renders the Node label patch.")
@click.option("--node-label", metavar="KEY=VALUE", help="Node label (default ingress-ready=true).")
@click.option("--metallb-ip", help="MetalLB address for the controller Service.")
@click.option("--metallb-pool", help="MetalLB IPAddressPool name (default raygate); without "
                                     "--metallb-ip the gateway takes any address of it.")
@click.option("--metallb-addresses", multiple=True, metavar="CIDR|A-B",
              help="MetalLB pool addresses (default: just --metallb-ip). Repeatable.")
@click.option("--host", help="HTTP host name (exposures.host); required for TLS.")
@click.option("--dashboard-path", help="Dashboard sub-path (default /ray).")
@click.option("--serve-path", help="Expose Ray Serve under this sub-path, e.g. /serve.")
@click.option("--client-port", type=int, help="Ray Client port on the gateway (default 10001).")
@click.option("--tcp-port", "tcp_ports", multiple=True, metavar="PORT[:SERVICE_PORT]",
              help="Extra raw TCP port to forward, e.g. 9000. Repeatable.")
@click.option("--enable-gcs", is_flag=True, help="Also map GCS (6379). Dangerous; warns.")
@click.option("--allow-cidr", "allow_cidrs", multiple=True, metavar="CIDR",
              help="Source CIDR allowed on the HTTP routes. Repeatable.")
@click.option("--tls-secret", help="TLS Secret for the host (security.tls.secretName).")
@click.option("--body-size", help="Request body limit (default 100m).")
@click.option("--timeout", type=int, help="Proxy read/send timeout in seconds (default 3600).")
@click.option("--stream-timeout", help="TCP stream idle timeout (default 3600s).")
@click.option("--ingress-class", help="IngressClass (default nginx).")
@click.option("--controller-namespace", help="ingress-nginx namespace (default ingress-nginx).")
@click.option("--controller-deployment",
              help="ingress-nginx controller workload's name (default ingress-nginx-controller).")
@click.option("--controller-kind", type=click.Choice(["Deployment", "DaemonSet"]),
              help="The controller's kind (default: that of the controller in "
                   "--cluster-manifest, else Deployment).")
@click.option("--backend", type=click.Choice(["ingress-nginx", "gateway-api"]),
              help="Objects to render: ingress-nginx (default) or Gateway API.")
@click.option("--gateway-class", help="gateway-api: your implementation's GatewayClass "
                                      "(required unless --existing-gateway).")
@click.option("--gateway-name", help="gateway-api: Gateway name (default <name>-gateway).")
@click.option("--gateway-namespace",
              help="gateway-api: Gateway namespace (default: the RayCluster's).")
@click.option("--existing-gateway", is_flag=True,
              help="gateway-api: attach the routes to an existing Gateway, do not create it.")
@click.option("--route-namespace",
              help="gateway-api: routes' namespace (default: the RayCluster's; elsewhere a "
                   "ReferenceGrant is rendered).")
@click.option("--tcp-route-api-version", type=click.Choice(["v1alpha2", "v1"]),
              help="gateway-api: TCPRoute version (default: from the CRDs, --gateway-api-version "
                   "or the implementation; else v1alpha2).")
@click.option("--implementation",
              type=click.Choice(["envoy-gateway", "nginx-gateway-fabric", "istio", "cilium",
                                 "traefik", "kong", "generic"]),
              help="gateway-api: the implementation behind the GatewayClass; adds its policies "
                   "(body size, timeouts) and leaves out what breaks Ray there (default generic).")
@click.option("--gateway", "shared_gateway", metavar="NS/NAME",
              help="gateway-api: attach to this existing (shared) Gateway; listeners it lacks "
                   "are added through a ListenerSet when it allows them.")
@click.option("--gateway-api-version", metavar="VERSION",
              help="gateway-api: installed Gateway API release (v1.6); decides the TCPRoute "
                   "and ListenerSet versions (default: from CRDs in --cluster-manifest).")
@click.option("--listener-set/--no-listener-set", default=None,
              help="gateway-api: add missing listeners to the --gateway through a ListenerSet "
                   "(default: when the Gateway is in the inputs and allows it).")
@click.option("--http-port", type=int, help="gateway-api: HTTP listener port (default 80).")
@click.option("--https-port", type=int, help="gateway-api: HTTPS listener port (default 443).")
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE",
              help="Set any spec field, e.g. --set tuning.readTimeout=7200. Repeatable.")
def command(spec_file: str | None, output: str | None, legacy_format: str | None,
            out_dir: str | None, allow_unauthenticated: bool,
            cluster_manifests: tuple[str, ...], upstream: str | None, **options: Any) -> None:
    """Render the Pinned Gateway for a RayCluster from a raygate.yaml spec.

    Produces every step of the guide (node label, tcp-services, controller hardening as a
    patch, snippet-free Ingresses with the /ray -> /ray/ redirect), secure by default: token
    auth required, GCS unmapped, body size and timeouts sized for Ray. Warnings go to stderr.
    """
    from raygate import spec as spec_mod
    from raygate.render import build, outputs

    fmt, out_dir = _render_output(output, legacy_format, out_dir)
    if upstream and fmt != "kustomize":
        # Only the kustomization patches an upstream deploy.yaml; saying nothing would let a
        # user believe their --upstream was used.
        raise RenderError(f"--upstream only applies to -o kustomize (not {fmt})")
    overrides = overrides_from(options)
    if spec_file:
        gateway = spec_mod.load(spec_file, overrides)
        base_dir = Path(spec_file).parent
    else:
        gateway = spec_mod.from_dict({}, "command line", overrides=overrides)
        base_dir = Path.cwd()
    manifests = [str(base_dir / m) for m in gateway.ray_cluster.manifests] + list(cluster_manifests)
    # Refused before anything is read or rendered: these formats patch ingress-nginx.
    outputs.check_format(fmt, gateway.backend)
    cluster = load_cluster(manifests)
    rendered = build(gateway, cluster=cluster, allow_unauthenticated=allow_unauthenticated)

    if fmt == "kustomize" and not out_dir:
        raise RenderError("-o kustomize writes several files; use -o kustomize=DIR (or --out DIR)")
    if out_dir:
        files = outputs.files_for(fmt, gateway, rendered, upstream or outputs.UPSTREAM_DEPLOY)
        written = outputs.write_files(files, out_dir, prune=True)
        _report(rendered)
        click.echo(f"raygate: wrote {len(written)} file(s) to {out_dir}", err=True)
        return
    if fmt == "helm-values":
        text = outputs.helm_files(gateway, rendered)["values.yaml"]
        rendered.notes.append("the Ingresses, node label and MetalLB objects are not chart "
                              "values: --out DIR also writes them to gateway.yaml")
    else:
        text = outputs.yaml_stream(rendered)
    click.echo(text, nl=False)
    _report(rendered)


RENDER_FORMATS = ("yaml", "helm-values", "kustomize")


def _render_output(output: str | None, legacy_format: str | None,
                   out_dir: str | None) -> tuple[str, str | None]:
    """``-o FORMAT[=DIR]`` (and the old ``--format FORMAT``) -> (format, directory or None)."""
    from raygate.cli import _common

    if legacy_format is not None:
        _common.deprecated(f"--format {legacy_format}", f"-o {legacy_format}")
        if output is None:
            output = legacy_format
    fmt, sep, target = (output or "yaml").partition("=")
    if fmt not in RENDER_FORMATS:
        raise RenderError(f"-o {output}: unknown format {fmt!r}; choose from "
                          f"{', '.join(RENDER_FORMATS)}")
    if sep:
        if out_dir and out_dir != target:
            raise RenderError(f"-o {output} and --out {out_dir} name two directories")
        out_dir = target
    return fmt, out_dir


def _report(rendered: Any) -> None:
    for w in rendered.warnings:
        click.echo(click.style(f"raygate: WARNING: {w}", fg="yellow", bold=True), err=True)
    for n in rendered.notes:
        click.echo(f"raygate: note: {n}", err=True)
