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
  raygate init --cluster-manifest ray-cluster.yaml   # name, namespace, auth from the manifest

\b
Then:  raygate render -f raygate.yaml   (the exact command is printed when the file is written)
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
@click.option("--controller-kind", type=click.Choice(["Deployment", "DaemonSet"]),
              help="How ingress-nginx runs: Deployment (deploy.yaml, the chart's default) or "
                   "DaemonSet (chart controller.kind: DaemonSet) [read from the cluster at "
                   "apply, else Deployment].")
@click.option("--cluster-manifest", "cluster_manifests", multiple=True,
              type=click.Path(exists=True, dir_okay=True), metavar="FILE|DIR",
              help="The RayCluster manifest: its name, namespace and auth are read from it and "
                   "it is recorded in rayCluster.manifests for render. Repeatable.")
def command(path: str, force: bool, no_input: bool, cluster_manifests: tuple[str, ...],
            **answers: Any) -> None:
    """Write a commented raygate.yaml describing the gateway for one RayCluster."""
    from raygate import spec as spec_mod
    from raygate.render.outputs import write_files

    target = Path(path)
    if target.exists() and not force:
        raise SpecError(f"{target} already exists; pass --force to overwrite it")
    interactive = not no_input and _interactive()
    if interactive and not cluster_manifests:
        given = click.prompt("RayCluster manifest file (empty: none; raygate reads its name, "
                             "namespace and auth)", default="", show_default=False,
                             value_proc=_existing_path)
        cluster_manifests = (given,) if given else ()
    answers = _from_manifests(answers, cluster_manifests)
    if interactive:
        answers = _ask(answers)
    answers["manifests"] = [_relative(m, target) for m in cluster_manifests]
    data = _data(answers)
    gateway = spec_mod.from_dict(data, "command line")
    text = spec_mod.commented(gateway)
    # Whatever we write must load back to the same spec; a mismatch is a raygate bug.
    if spec_mod.loads(text, str(target)) != gateway:
        raise SpecError(f"{target}: internal error: the written spec does not load back equal")
    write_files({target.name: text}, target.parent if str(target.parent) else ".")
    click.echo(f"raygate: wrote {target}; next: {next_command(gateway, target)}", err=True)


def next_command(gateway: Any, target: Path) -> str:
    """The render command that this spec leads to, and that render accepts.

    render refuses to expose a RayCluster whose token auth it cannot see, so a spec with
    ``authMode: unknown`` and no manifest leads on to giving the RayCluster's manifest.
    """
    command = f"raygate render -f {target}"
    rc = gateway.ray_cluster
    if rc.auth_mode == "unknown" and not rc.manifests:
        return (f"kubectl get raycluster {rc.name} -n {rc.namespace} -o yaml > ray-cluster.yaml"
                f" && {command} --cluster-manifest ray-cluster.yaml\n"
                "  (render must see the RayCluster's token auth: give its manifest, or set "
                "rayCluster.authMode: token once spec.authOptions.mode is token)")
    return command


def _existing_path(text: str) -> str:
    value = text.strip()
    if value and not Path(value).expanduser().exists():
        raise click.BadParameter(f"{value}: no such file or directory")
    return str(Path(value).expanduser()) if value else ""


def _relative(manifest: str, target: Path) -> str:
    """A manifest path as the spec records it: relative to the spec file's directory."""
    import os
    return os.path.relpath(Path(manifest).resolve(), target.resolve().parent)


def _from_manifests(answers: dict[str, Any], manifests: tuple[str, ...]) -> dict[str, Any]:
    """Name, namespace and auth mode of the (single) RayCluster in the given manifests."""
    if not manifests:
        return answers
    from raygate.cli.render import load_cluster

    objects = load_cluster(list(manifests))
    clusters = objects.of_kind("RayCluster") if objects is not None else ()
    if len(clusters) != 1:
        raise SpecError(f"{', '.join(manifests)}: expected one RayCluster, found {len(clusters)}")
    rc = clusters[0]
    a = dict(answers)
    a["ray_cluster"] = a.get("ray_cluster") or rc.name
    a["namespace"] = a.get("namespace") or rc.namespace or "default"
    a["manifests_given"] = True  # render reads the auth mode from the manifest itself
    return a


def _interactive() -> bool:
    return sys.stdin.isatty()


YES = ("y", "yes", "true")
NO = ("n", "no", "false", "none")


def _auth_answer(text: str) -> str:
    """token/disabled/unknown, or the yes/no the question invites."""
    value = text.strip().lower()
    if value in YES or value == "token":
        return "token"
    if value in NO or value == "disabled":
        return "disabled"
    if value in ("", "unknown", "?", "not sure"):
        return "unknown"
    raise click.BadParameter(f"{text!r}: answer yes (token), no (disabled) or unknown")


def _serve_answer(text: str) -> str:
    """A Serve sub-path: "/serve", or "serve"/"yes" (-> /serve), "no" (not exposed)."""
    value = text.strip()
    if value.lower() in YES:
        return "/serve"
    if value.lower() in NO:
        return ""
    if value and not value.startswith("/") and "://" not in value:
        return "/" + value
    return value


def _valid(field: str, to_data: Any, normalise: Any = None) -> Any:
    """A click ``value_proc`` that checks one answer against the spec as soon as it is typed.

    A bad answer is re-asked with the spec's own message (click prints ``Error: ...`` and
    prompts again) instead of failing after the last question and losing every answer.
    """
    from raygate import spec as spec_mod

    def check(text: str) -> Any:
        value = text.strip() if isinstance(text, str) else text
        if normalise is not None and isinstance(value, str):
            value = normalise(value)
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
    if a["auth_mode"] is None and not a.get("manifests_given"):
        a["auth_mode"] = click.prompt(
            "Does the RayCluster use token auth (spec.authOptions.mode: token)? "
            "[yes/no/unknown]", default="unknown", show_default=False, value_proc=_auth_answer)
    if a["placement"] is None and a["metallb_ip"]:
        a["placement"] = "metallb"
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
            value_proc=_valid("Serve sub-path", lambda v: {"exposures": {"serve": {"path": v}}},
                              normalise=_serve_answer))
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
    if a.get("manifests"):
        ray["manifests"] = list(a["manifests"])
    placement: dict[str, Any] = {}
    if a.get("placement"):
        placement["mode"] = a["placement"]
    elif a.get("metallb_ip"):  # a MetalLB address only means something in metallb mode
        placement["mode"] = "metallb"
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
    data = {"rayCluster": ray, "placement": placement, "exposures": exposures}
    if a.get("controller_kind"):
        data["controller"] = {"kind": a["controller_kind"]}
    return data
