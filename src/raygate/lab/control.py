"""``raygate lab up|down|status``: wire the Ray head, the rendered objects and nginx together.

State lives in one directory (``.raygate-lab/`` by default): ``state.json`` records the pids
the lab started (the Ray head's ``ray start --block`` process, whose process group is the head,
and the nginx master), so ``down`` stops exactly those and nothing else. ``objects.yaml`` holds
the objects nginx runs from, so ``raygate lint <state-dir>/objects.yaml`` sees the same objects.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from raygate.lab import gateway as gw
from raygate.lab import nginx as nginx_proc
from raygate.lab.ports import pick_port
from raygate.lab.ray_head import (LabError, RayHead, is_ours, proc_start_time, start_ray_head,
                                  stop_ray_head)
from raygate.render.nginx_conf import NginxConf, render_nginx_conf
from raygate.render.nginx_conf_gateway_api import render_gateway_api_conf

DEFAULT_STATE_DIR = ".raygate-lab"
#: The gateway ports the lab always maps, so the probe can check them even when unexposed.
WELL_KNOWN = {"client": 10001, "gcs": 6379, "agent": 52365}
# Gateway-side ports are picked from here: below Linux's ephemeral range (where Ray's own
# random ports land) and above Ray's worker (10002-19999) and client-server (23000-24000) ports.


class LabRefused(LabError):
    """The objects would be refused by the admission webhook; nothing was changed."""

    exit_code = 1


@dataclass
class LabState:
    ray: RayHead | None = None
    nginx_pid: int | None = None
    fault: str | None = None
    http_port: int | None = None
    #: gateway (external) port -> local listen port
    gateway_ports: dict[int, int] = field(default_factory=dict)
    #: The nginx master's start time: a reused pid is not our nginx (see ``is_ours``).
    nginx_start_time: int | None = None
    #: What the data plane is rendered from (``lab.gateway.BACKENDS``).
    backend: str = "ingress-nginx"

    def nginx_running(self) -> bool:
        return is_ours(self.nginx_pid, self.nginx_start_time)

    def ray_running(self) -> bool:
        return bool(self.ray and is_ours(self.ray.pid, self.ray.start_time))

    def to_json(self) -> str:
        return json.dumps({"ray": self.ray.to_dict() if self.ray else None,
                           "nginx_pid": self.nginx_pid, "fault": self.fault,
                           "http_port": self.http_port,
                           "gateway_ports": {str(k): v for k, v in self.gateway_ports.items()},
                           "nginx_start_time": self.nginx_start_time,
                           "backend": self.backend}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "LabState":
        data = json.loads(text)
        return cls(RayHead.from_dict(data["ray"]) if data.get("ray") else None,
                   data.get("nginx_pid"), data.get("fault"), data.get("http_port"),
                   {int(k): int(v) for k, v in (data.get("gateway_ports") or {}).items()},
                   data.get("nginx_start_time"), data.get("backend") or "ingress-nginx")


@dataclass
class LabInfo:
    """What ``lab up`` and ``lab status`` report."""

    state_dir: Path
    state: LabState
    ray_running: bool
    nginx_running: bool
    log: list[str] = field(default_factory=list)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.state.http_port}"

    @property
    def dashboard_url(self) -> str:
        return f"{self.gateway_url}{gw.PREFIX}/"

    @property
    def serve_url(self) -> str:
        return f"{self.gateway_url}{gw.SERVE_PREFIX}{gw.SERVE_ROUTE}"

    def client_address(self) -> str:
        return f"127.0.0.1:{self.state.gateway_ports.get(WELL_KNOWN['client'])}"

    def probe_command(self) -> str:
        ports = self.state.gateway_ports
        parts = ["raygate probe", self.dashboard_url, "--client", self.client_address(),
                 "--serve", f"{gw.SERVE_PREFIX}{gw.SERVE_ROUTE}",
                 "--gcs-port", str(ports.get(WELL_KNOWN["gcs"])),
                 "--agent-port", str(ports.get(WELL_KNOWN["agent"]))]
        if self.state.ray and self.state.ray.token_file:
            parts += ["--token-file", self.state.ray.token_file]
        return " ".join(parts)


def state_path(state_dir: Path) -> Path:
    return state_dir / "state.json"


def load_state(state_dir: Path) -> LabState:
    path = state_path(state_dir)
    if not path.exists():
        return LabState()
    try:
        return LabState.from_json(path.read_text())
    except (ValueError, KeyError, TypeError) as e:
        # Removing the directory alone would orphan a running Ray head and nginx: say how to
        # find them first (their command lines carry the state dir, or the temp dir under it).
        where = state_dir.resolve()
        raise LabError(
            f"{path}: unreadable lab state ({e}). Stop what the lab may still run first "
            f"(`pgrep -af {where}` lists its nginx and Ray processes; stop nginx with "
            f"`kill -QUIT <pid>` and the Ray head's process group with `kill -TERM -<pgid>`), "
            f"then remove {where} to start over") from e


def save_state(state_dir: Path, state: LabState) -> None:
    atomic_write(state_path(state_dir), state.to_json())


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def objects_yaml(objects: list[dict[str, Any]], fault: str | None) -> str:
    header = (f"# raygate lab objects (rendered by raygate render; fault: {fault or 'none'}).\n"
              "# Lint them with: raygate lint <this file>\n")
    return header + yaml.dump_all(objects, Dumper=_NoAliasDumper, sort_keys=False)


class _NoAliasDumper(yaml.SafeDumper):
    """Shared sub-dicts (the renderer reuses one labels dict) must not become YAML anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def refusal(objects_file: Path) -> str | None:
    """The admission webhook's denial for these objects, computed by the rule catalog so the
    lab and ``raygate lint`` cannot disagree (None when the webhook would accept them)."""
    from raygate import engine
    from raygate.rules import CATALOG
    from raygate.sources.files import load_paths

    if CATALOG.find("snippet-annotation") is None:
        return None
    loaded = load_paths([str(objects_file)])
    result = engine.run(loaded.objects, select=["snippet-annotation"])
    for f in result.findings:
        return f"{f.file}:{f.line}: {f.message}"
    return None


@dataclass
class Gateway:
    """The gateway half of a lab: objects, the rendered config and where nginx listens."""

    objects: list[dict[str, Any]]
    conf: NginxConf
    http_port: int
    gateway_ports: dict[int, int]


def worker_user() -> str | None:
    """Started as root, nginx workers would drop to ``nobody`` and could not write request
    bodies under a private state dir (pytest's are 0700): keep the lab's own identity."""
    if os.geteuid() != 0:
        return None
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def build_gateway(head: RayHead, fault: str | None, prefix: Path, *, http_port: int | None = None,
                  gateway_ports: dict[int, int] | None = None,
                  spec: gw.LabSpec = gw.LabSpec(),
                  objects: list[dict[str, Any]] | None = None,
                  backend: str = "ingress-nginx") -> Gateway:
    """Objects for ``fault`` (or the given ``objects``, already built for it) rendered into
    nginx.conf for ``head`` (pure apart from port picks). ``backend`` other than ingress-nginx
    renders the data plane from the Gateway API objects, as NGINX Gateway Fabric does."""
    if backend != "ingress-nginx" and fault is not None:
        raise LabError(f"faults mutate the ingress-nginx objects; run --backend {backend} "
                       "without --fault")
    if objects is None:
        objects = (gw.lab_objects(spec, fault) if backend == "ingress-nginx"
                   else gw.gateway_api_objects(spec, backend))
    ports = dict(gateway_ports or {})
    taken = set(ports.values()) | ({http_port} if http_port else set())
    http = http_port or pick_port(taken)
    for external in WELL_KNOWN.values():
        ports.setdefault(external, ports.get(external) or pick_port(taken))
    for cm in (o for o in objects if o.get("kind") == "ConfigMap"):
        for key in (cm.get("data") or {}):
            if str(key).isdigit() and int(key) not in ports:
                ports[int(key)] = pick_port(taken)
    upstreams = gw.upstream_map(objects, spec, head.local_ports())
    if backend == "ingress-nginx":
        conf = render_nginx_conf(objects, upstreams, http_port=http, tcp_ports=ports,
                                 prefix=str(prefix.resolve()), user=worker_user())
    else:
        for g in (o for o in objects if o.get("kind") == "Gateway"):
            for listener in (g.get("spec") or {}).get("listeners") or []:
                if listener.get("protocol") == "TCP" and listener.get("port") not in ports:
                    ports[listener["port"]] = pick_port(taken)
        conf = render_gateway_api_conf(objects, upstreams, http_port=http, tcp_ports=ports,
                                       prefix=str(prefix.resolve()), user=worker_user())
    return Gateway(objects, conf, http, ports)


def up(state_dir: Path, fault: str | None = None, backend: str = "ingress-nginx") -> LabInfo:
    if fault is not None and fault not in gw.FAULTS:
        raise LabError(f"unknown fault {fault!r}; choose one of: {', '.join(gw.FAULTS)}")
    if backend not in gw.BACKENDS:
        raise LabError(f"unknown backend {backend!r}; choose one of: {', '.join(gw.BACKENDS)}")
    if backend != "ingress-nginx" and fault is not None:
        raise LabError(f"faults mutate the ingress-nginx objects; run --backend {backend} "
                       "without --fault")
    state_dir.mkdir(parents=True, exist_ok=True)
    state = load_state(state_dir)
    nginx_proc.nginx_binary()  # fail early, before Ray costs 10 s
    if not nginx_proc.stream_module_available():
        raise LabError("the lab needs the nginx stream module: apt-get install -y libnginx-mod-stream")
    want_auth = fault != "no-auth"

    # Objects first: a refused fault must change nothing that runs.
    objects = (gw.lab_objects(gw.LabSpec(), fault) if backend == "ingress-nginx"
               else gw.gateway_api_objects(gw.LabSpec(), backend))
    objects_file = state_dir / "objects.yaml"
    atomic_write(objects_file, objects_yaml(objects, fault))
    denial = refusal(objects_file)
    if denial:
        raise LabRefused(denial + "\nThe lab refuses to load these objects, as the admission "
                         f"webhook would; the running lab is unchanged. Try: raygate lint {objects_file}")

    head = state.ray
    if head is not None and (not state.ray_running() or head.auth != want_auth):
        stop_ray_head(head)
        head = None
    if head is None:
        head = start_ray_head(state_dir, auth=want_auth)
        state.ray = head
        save_state(state_dir, state)

    prefix = state_dir / "nginx"
    built = build_gateway(head, fault, prefix, http_port=state.http_port,
                          gateway_ports=state.gateway_ports, objects=objects, backend=backend)
    wait = [built.http_port, *built.conf.stream_ports.values()]
    if state.nginx_running():
        nginx_proc.reload_nginx(state.nginx_pid, prefix, built.conf.text, wait)
    else:
        state.nginx_pid = nginx_proc.start_nginx(prefix, built.conf.text, wait)
        state.nginx_start_time = proc_start_time(state.nginx_pid)
    state.fault, state.http_port, state.gateway_ports = fault, built.http_port, built.gateway_ports
    state.backend = backend
    save_state(state_dir, state)
    return LabInfo(state_dir, state, True, True, built.conf.log)


def down(state_dir: Path) -> list[str]:
    """Stop what the lab started; return what was stopped."""
    state = load_state(state_dir)
    stopped = []
    if state.nginx_running():
        nginx_proc.stop_nginx(state.nginx_pid)
        stopped.append(f"nginx (pid {state.nginx_pid})")
    if state.ray is not None:
        was_running = state.ray_running()
        # Also when the head's own process died: what is left of its session is still ours
        # (stop_ray_head leaves a pid alone once the kernel has given it to someone else).
        stop_ray_head(state.ray)
        if was_running:
            stopped.append(f"Ray head (pid {state.ray.pid} and its process group)")
    state.nginx_pid, state.nginx_start_time, state.ray = None, None, None
    if state_path(state_dir).exists():
        save_state(state_dir, state)
    return stopped


def status(state_dir: Path) -> LabInfo:
    state = load_state(state_dir)
    ray_ok, nginx_ok = state.ray_running(), state.nginx_running()
    return LabInfo(state_dir, state, ray_ok, nginx_ok)
