"""``raygate probe``: the real path through a gateway, as a Ray user would take it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

EPILOG = """\b
Examples:
  raygate probe http://GATEWAY/ray/ --client GATEWAY:10001 --token-file ~/.ray/auth_token
  RAY_AUTH_TOKEN=... raygate probe http://GATEWAY/ray/ --serve /serve/hello --submit
  raygate probe http://GATEWAY/ray/ -o json | jq '.checks[] | select(.verdict=="fail")'
  raygate lab up    # prints the probe command for the local lab

\b
Checks: Dashboard index + every JS/CSS asset (a 200 index with 404 assets is a blank page);
/ray redirects to /ray/; Jobs API lists jobs; without a token the Jobs API is refused;
--submit: a >1 MB working_dir upload (413?) and the job's log tail over WebSocket;
--client: Ray Client connects and runs a task (needs raygate[ray]; else an HTTP/2 check);
--serve: the Serve route answers; GCS (6379) and the dashboard agent (52365) are NOT reachable.

\b
The token comes from --token, --token-file, --token-from-secret or RAY_AUTH_TOKEN and is
never printed. On KubeRay (authOptions.mode: token) it is in the Secret named after the
RayCluster (or authOptions.secretName), key auth_token:
  raygate probe http://GATEWAY/ray/ --token-from-secret raycluster/ray-cluster-kuberay
Exit codes: 0 every check passed, 1 a check failed, 2 usage error.
"""


@click.command(epilog=EPILOG)
@click.argument("url", metavar="URL")
@click.option("--client", metavar="HOST:PORT", help="Ray Client address through the TCP mapping.")
@click.option("--serve", metavar="PATH|URL", help="A Serve route to request, e.g. /serve/hello.")
@click.option("--token", envvar="RAY_AUTH_TOKEN", show_envvar=True, metavar="TOKEN",
              help="Ray auth token (prefer --token-file or the env var: argv is visible in ps).")
@click.option("--token-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Read the Ray auth token from this file.")
@click.option("--token-from-secret", metavar="NS/NAME[:KEY]",
              help="Read the Ray auth token from a Kubernetes Secret (KubeRay's: the "
                   "RayCluster's name, or authOptions.secretName; key auth_token).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), metavar="FILE",
              help="kubeconfig for --token-from-secret (default: $KUBECONFIG, ~/.kube/config).")
@click.option("--context", metavar="NAME", help="kubeconfig context for --token-from-secret.")
@click.option("--submit", is_flag=True, help="Also submit a tiny job (>1 MB working_dir) and tail its logs (~7 s).")
@click.option("--gcs-port", type=click.IntRange(1, 65535), default=6379, show_default=True,
              help="Gateway port that must NOT reach GCS.")
@click.option("--agent-port", type=click.IntRange(1, 65535), default=52365, show_default=True,
              help="Gateway port that must NOT reach the dashboard agent.")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True,
              help="Per-request timeout in seconds.")
@click.option("--client-timeout", type=click.FloatRange(1, 600), default=20.0, show_default=True,
              help="Ray Client connection timeout in seconds.")
@click.option("--allow-unauthenticated", is_flag=True,
              help="Report an open Jobs API as a warning instead of a failure.")
@click.option("--no-ray", is_flag=True, help="Do not import Ray: check the Ray Client port with HTTP/2 only.")
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default=None,
              help="Output format. [default: table]")
@click.option("-f", "--format", "legacy_format", type=click.Choice(["table", "json"]),
              default=None, hidden=True)
def command(url: str, client: str | None, serve: str | None, token: str | None,
            token_file: str | None, token_from_secret: str | None, kubeconfig: str | None,
            context: str | None, submit: bool, gcs_port: int, agent_port: int, timeout: float,
            client_timeout: float, allow_unauthenticated: bool, no_ray: bool,
            fmt: str | None, legacy_format: str | None) -> None:
    """Probe a gateway end to end: Dashboard, Jobs API, Ray Client, Serve and security."""
    from raygate.cli import _common
    from raygate.errors import EXIT_FINDINGS, ProbeError

    if legacy_format is not None:
        _common.deprecated(f"-f/--format {legacy_format}", f"-o {legacy_format}")
    fmt = fmt or legacy_format or "table"
    from raygate.probe import ProbeOptions, planned_checks, probe
    from raygate.probe.output import render_table

    if token_from_secret:
        token = token_from_cluster(token_from_secret, kubeconfig=kubeconfig, context=context)
    elif token_file:
        try:
            token = Path(token_file).expanduser().read_text().strip()
        except OSError as e:
            raise ProbeError(f"{token_file}: cannot read the token file: {e.strerror}") from None
    opts = ProbeOptions(url, client=client, serve=serve, token=token or None, submit=submit,
                        gcs_port=gcs_port, agent_port=agent_port, timeout=timeout,
                        client_timeout=client_timeout,
                        allow_unauthenticated=allow_unauthenticated, deep_client=not no_ray)
    if fmt == "json":
        report = probe(opts)
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn

        err = Console(stderr=True)
        planned = planned_checks(opts)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err,
                      transient=True, disable=not err.is_terminal) as progress:
            task = progress.add_task(f"probing {len(planned)} checks", total=len(planned))

            def done(result: object) -> None:
                progress.advance(task)
                progress.update(task, description=f"{getattr(result, 'name', '')} done")

            report = probe(opts, on_result=done)
        Console(highlight=False, soft_wrap=False).print(render_table(report))
    if not report.ok:
        sys.exit(EXIT_FINDINGS)


#: KubeRay's key in the auth Secret (operator-generated or authOptions.secretName).
KUBERAY_TOKEN_KEY = "auth_token"


def token_from_cluster(ref: str, *, kubeconfig: str | None = None,
                       context: str | None = None) -> str:
    """The token in Secret ``NS/NAME`` (key ``auth_token`` unless ``:KEY`` is given), read
    through the cluster client. Errors name the Secret and what to check; the value is never
    echoed."""
    import base64
    import binascii

    from raygate.errors import ClusterError, ProbeError
    from raygate.sources.cluster import ClusterSource

    name_part, _, key = ref.partition(":")
    namespace, sep, name = name_part.partition("/")
    if not sep or not namespace or not name:
        raise ProbeError(f"--token-from-secret {ref!r}: expected NAMESPACE/NAME[:KEY], "
                         "e.g. raycluster/ray-cluster-kuberay")
    key = key or KUBERAY_TOKEN_KEY
    with ClusterSource(kubeconfig=kubeconfig, context=context) as source:
        from lightkube.resources.core_v1 import Secret
        try:
            secret = source.client.get(Secret, name, namespace=namespace)
        except Exception as e:  # lightkube/httpx errors become one line
            err = source.error(e, f"read Secret {namespace}/{name}")
            if getattr(err, "status_code", None) == 404:
                raise ClusterError(f"Secret {namespace}/{name} not found: KubeRay creates it "
                                   "(named after the RayCluster) only with authOptions.mode: "
                                   "token; check `kubectl get secret -n "
                                   f"{namespace}`") from None
            raise err from None
    data = secret.data or {}
    if key not in data:
        keys = ", ".join(sorted(data)) or "none"
        raise ProbeError(f"Secret {namespace}/{name} has no key {key!r} (keys: {keys}); "
                         "name it with --token-from-secret NS/NAME:KEY")
    try:
        return base64.b64decode(data[key], validate=True).decode("utf-8").strip()
    except (binascii.Error, UnicodeDecodeError):
        raise ProbeError(f"Secret {namespace}/{name} key {key!r} is not base64 text") from None
