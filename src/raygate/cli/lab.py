"""``raygate lab up|down|status``: a real local data plane to rehearse a gateway and its faults."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from raygate.lab.gateway import FAULT_PROBE, FAULTS

EPILOG = """\b
Examples:
  raygate lab up                          # Ray head (token auth) + nginx rendered from our objects
  raygate lab up --fault missing-slash-redirect   # re-render and reload; the Ray head is kept
  raygate lint .raygate-lab/objects.yaml  # the static view of the same objects
  raygate lab status
  raygate lab down                        # stops exactly the processes the lab started

\b
Faults (what a user gets wrong -> the rule lint reports):
""" + "\n".join(f"  {name:<24}{desc} -> {rule}" for name, (rule, desc) in FAULTS.items()) + """

\b
Everything binds to 127.0.0.1. State (pids, token, logs, objects.yaml) lives in --state-dir.
Needs: ray[default,client,serve] (raygate[ray]), nginx and libnginx-mod-stream.
"""

STATE_DIR = click.option("--state-dir", type=click.Path(file_okay=False), default=".raygate-lab",
                         show_default=True, help="Where the lab keeps pids, token, logs and objects.")


@click.group(epilog=EPILOG)
def command() -> None:
    """Run a real local data plane (Ray head + nginx) to rehearse a gateway and its faults."""


@command.command(epilog=EPILOG)
@STATE_DIR
@click.option("--fault", type=click.Choice(sorted(FAULTS)), default=None,
              help="Inject a user mistake into the rendered objects.")
@click.option("--backend", type=click.Choice(["ingress-nginx", "gateway-api", "migrated"]),
              default="ingress-nginx", show_default=True,
              help="Render the data plane from the ingress-nginx objects, from the Gateway API "
                   "objects (as NGINX Gateway Fabric does), or from the ingress-nginx objects "
                   "after raygate migrate.")
def up(state_dir: str, fault: str | None, backend: str) -> None:
    """Start (or re-render) the lab, optionally with a fault."""
    from raygate import lab

    click.echo("starting the lab (the first start takes ~10 s for Ray) ...", err=True)
    info = lab.up(Path(state_dir), fault, backend)
    st = info.state
    click.echo(f"lab up{' with fault ' + fault if fault else ''} "
               f"(objects from raygate render, {backend}; Ray auth "
               f"{'token' if st.ray and st.ray.auth else 'disabled'})")
    click.echo(f"  Dashboard   {info.dashboard_url}")
    click.echo(f"  Jobs API    {info.dashboard_url}api/jobs/")
    click.echo(f"  Ray Client  ray://{info.client_address()}")
    click.echo(f"  Serve       {info.serve_url}")
    if st.ray and st.ray.token_file:
        click.echo(f"  token file  {st.ray.token_file}")
    for line in info.log:
        click.echo(f"  controller log: {line}", err=True)
    command = info.probe_command()
    if fault in FAULT_PROBE:
        check, needs_submit = FAULT_PROBE[fault]
        if needs_submit:
            command += " --submit"
        click.echo(f"\nProbe it: check {check} fails on this fault"
                   + (" (--submit: it needs a real job)" if needs_submit else "")
                   + f"\n  {command}")
    else:
        click.echo(f"\nProbe it:\n  {command}")
    click.echo(f"Lint the same objects:\n  raygate lint {Path(state_dir) / 'objects.yaml'}")


@command.command(epilog=EPILOG)
@STATE_DIR
def down(state_dir: str) -> None:
    """Stop exactly the processes the lab started."""
    from raygate import lab

    stopped = lab.down(Path(state_dir))
    click.echo("stopped: " + ", ".join(stopped) if stopped else "nothing was running")


@command.command(epilog=EPILOG)
@STATE_DIR
def status(state_dir: str) -> None:
    """Tell what runs (exit 1 when the lab is not fully up)."""
    from raygate import lab

    info = lab.status(Path(state_dir))
    st = info.state
    ray = (f"running (pid {st.ray.pid}, auth {'token' if st.ray.auth else 'disabled'}, "
           f"dashboard {st.ray.dashboard_url})" if info.ray_running and st.ray else "stopped")
    nginx = f"running (pid {st.nginx_pid})" if info.nginx_running else "stopped"
    click.echo(f"Ray head  {ray}")
    click.echo(f"nginx     {nginx}")
    # A fault lives in the running nginx; once the lab is down there is none to report.
    running = info.ray_running or info.nginx_running
    click.echo(f"fault     {(st.fault or 'none') if running else 'none (the lab is down)'}")
    if info.ray_running and info.nginx_running:
        click.echo(f"gateway   {info.dashboard_url}")
        click.echo(f"probe     {info.probe_command()}")
    else:
        sys.exit(1)
