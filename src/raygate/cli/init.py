"""``raygate init``: write a commented ``raygate.yaml`` to start from.

On a terminal it asks for the few answers that differ per cluster (click prompts); otherwise
(scripts, CI, ``--no-input``) it takes flags and defaults. The written file is validated by
loading it back before it replaces anything, and an existing file is only replaced with
``--force``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from raygate.errors import SpecError

EPILOG = """\b
Examples:
  raygate init                                   # asks on a terminal, writes ./raygate.yaml
  raygate init --no-input --ray-cluster my-ray -n ml --node node-33
  raygate init gateway.yaml --placement metallb --metallb-ip 192.168.1.240 --serve-path /serve
  raygate init --force                           # replace an existing raygate.yaml

\b
Then:  raygate render -f raygate.yaml --cluster-manifest ray-cluster.yaml
Exit codes: 0 written, 2 invalid answers or the file exists without --force.
"""


@click.command(epilog=EPILOG, context_settings={"max_content_width": 100})
@click.argument("path", default="raygate.yaml", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--no-input", is_flag=True, help="Never prompt, even on a terminal.")
@click.option("--ray-cluster", help="RayCluster name [ray-cluster-kuberay].")
@click.option("-n", "--namespace", help="RayCluster namespace [raycluster].")
@click.option("--auth-mode", type=click.Choice(["token", "disabled", "unknown"]),
              help="The RayCluster's auth mode, if you know it [unknown].")
@click.option("--placement", type=click.Choice(["pinned-node", "metallb"]),
              help="pinned-node (hostNetwork on a labelled node) or metallb [pinned-node].")
@click.option("--node", help="Gateway node name (pinned-node).")
@click.option("--metallb-ip", help="The gateway's MetalLB address (metallb).")
@click.option("--serve-path", help="Expose Ray Serve under this sub-path, e.g. /serve.")
@click.option("--tcp-port", "tcp_ports", multiple=True, type=int,
              help="Extra raw TCP port to forward (the guide's 9000). Repeatable.")
@click.option("--host", help="HTTP host name (needed for TLS).")
def command(path: str, force: bool, no_input: bool, **answers: Any) -> None:
    """Write a commented raygate.yaml describing the gateway for one RayCluster."""
    from raygate import spec as spec_mod
    from raygate.render.outputs import write_files

    target = Path(path)
    if target.exists() and not force:
        raise SpecError(f"{target} already exists; pass --force to overwrite it")
    if not no_input and _interactive():
        answers = _ask(answers)
    data = _data(answers)
    gateway = spec_mod.from_dict(data, "command line")
    text = spec_mod.commented(gateway)
    # Whatever we write must load back to the same spec; a mismatch is a raygate bug.
    if spec_mod.loads(text, str(target)) != gateway:
        raise SpecError(f"{target}: internal error: the written spec does not load back equal")
    write_files({target.name: text}, target.parent if str(target.parent) else ".")
    click.echo(f"raygate: wrote {target}; next: raygate render -f {target}", err=True)


def _interactive() -> bool:
    return sys.stdin.isatty()


def _valid(field: str, to_data: Any) -> Any:
    """A click ``value_proc`` that checks one answer against the spec as soon as it is typed.

    A bad answer is re-asked with the spec's own message (click prints ``Error: ...`` and
    prompts again) instead of failing after the last question and losing every answer.
    """
    from raygate import spec as spec_mod

    def check(text: str) -> Any:
        value = text.strip() if isinstance(text, str) else text
        if value in ("", None):
            return None
        try:
            data = to_data(value)
            spec_mod.from_dict(data, field)
        except (SpecError, ValueError) as e:
            # from_dict prefixes its source ("<field>: <path>: ..."); the prompt names it.
            raise click.BadParameter(str(e).removeprefix(f"{field}: ")) from None
        return value
    return check


def _ports(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.replace(" ", "").split(",") if p)
    except ValueError:
        raise ValueError(f"{text!r} is not a list of port numbers such as 9000, 9001") from None


def _ask(answers: dict[str, Any]) -> dict[str, Any]:
    """Prompt for every answer not given as a flag; each answer is validated when typed."""
    a = dict(answers)
    if a["ray_cluster"] is None:
        a["ray_cluster"] = click.prompt(
            "RayCluster name", default="ray-cluster-kuberay",
            value_proc=_valid("RayCluster name", lambda v: {"rayCluster": {"name": v}}))
    if a["namespace"] is None:
        a["namespace"] = click.prompt(
            "RayCluster namespace", default="raycluster",
            value_proc=_valid("namespace", lambda v: {"rayCluster": {"namespace": v}}))
    if a["auth_mode"] is None:
        a["auth_mode"] = click.prompt(
            "Does the RayCluster use token auth (spec.authOptions.mode: token)?",
            type=click.Choice(["token", "disabled", "unknown"]), default="unknown")
    if a["placement"] is None:
        a["placement"] = click.prompt("Placement", type=click.Choice(["pinned-node", "metallb"]),
                                      default="pinned-node")
    if a["placement"] == "pinned-node" and a["node"] is None:
        a["node"] = click.prompt(
            "Gateway node name (empty: label it yourself)", default="", show_default=False,
            value_proc=_valid("node name",
                              lambda v: {"placement": {"pinnedNode": {"nodeName": v}}}))
    if a["placement"] == "metallb" and a["metallb_ip"] is None:
        a["metallb_ip"] = click.prompt(
            "MetalLB address for the gateway",
            value_proc=_valid("MetalLB address", lambda v: {
                "placement": {"mode": "metallb", "metallb": {"ip": v}}}))
    if a["serve_path"] is None:
        a["serve_path"] = click.prompt(
            "Serve sub-path (empty: do not expose Serve)", default="", show_default=False,
            value_proc=_valid("Serve sub-path", lambda v: {"exposures": {"serve": {"path": v}}}))
    if not a["tcp_ports"]:
        extra = click.prompt(
            "Extra TCP ports, comma-separated (empty: none)", default="", show_default=False,
            value_proc=_valid("extra TCP ports",
                              lambda v: {"exposures": {"extraTcpPorts": list(_ports(v))}}))
        a["tcp_ports"] = _ports(extra or "")
    return a


def _data(a: dict[str, Any]) -> dict[str, Any]:
    ray: dict[str, Any] = {}
    for key, field in (("ray_cluster", "name"), ("namespace", "namespace"),
                       ("auth_mode", "authMode")):
        if a.get(key) is not None:
            ray[field] = a[key]
    placement: dict[str, Any] = {}
    if a.get("placement"):
        placement["mode"] = a["placement"]
    if a.get("node"):
        placement["pinnedNode"] = {"nodeName": a["node"]}
    if a.get("metallb_ip"):
        placement["metallb"] = {"ip": a["metallb_ip"]}
    exposures: dict[str, Any] = {}
    if a.get("serve_path"):
        exposures["serve"] = {"path": a["serve_path"]}
    if a.get("tcp_ports"):
        exposures["extraTcpPorts"] = list(a["tcp_ports"])
    if a.get("host"):
        exposures["host"] = a["host"]
    return {"rayCluster": ray, "placement": placement, "exposures": exposures}
