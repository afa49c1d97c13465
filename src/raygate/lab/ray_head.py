"""A real Ray head for the lab, bound to loopback, owned by exactly one process group.

Facts (shared/facts/feasibility.md §A): Ray binds to the routable IP unless
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``; ``RAY_AUTH_MODE`` must always be explicit and HOME
private, or a stray ``~/.ray/auth_token`` turns auth on (or leaks between labs).

We never call ``ray stop``: it kills every Ray process of the user on the machine (another
lab, a test session, a colleague's head). Instead the head runs as ``ray start --head
--block`` in its own session: SIGTERM makes it tear down the processes it spawned, and what
is left of that process group (same pgid) is killed afterwards. Only that group is touched.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from raygate.lab.errors import LabError
from raygate.lab.ports import pick_port

# Ray's unix socket paths live under the temp dir (session_<date>/sockets/plasma_store);
# AF_UNIX paths are limited to 107 bytes, so a long temp dir breaks Ray at start.
MAX_TEMP_DIR_LEN = 40
START_TIMEOUT_S = 60.0

SERVE_APP = '''
import os, sys
from ray import serve
import ray
ray.init(address=os.environ["RAYGATE_LAB_GCS"], logging_level="ERROR", log_to_driver=False)

@serve.deployment(ray_actor_options={"num_cpus": 0})
class Hello:
    def __init__(self):
        # Runs in the replica's worker before its gRPC server starts (see lab/_loopback.py).
        from raygate.lab._loopback import bind_serve_replicas_to_loopback
        bind_serve_replicas_to_loopback()

    async def __call__(self, request):
        return {"hello": "world", "path": request.url.path}

try:
    serve.start(http_options={"host": "127.0.0.1",
                              "port": int(os.environ["RAYGATE_LAB_SERVE_PORT"])})
    serve.run(Hello.bind(), name="hello", route_prefix="/hello")
except BaseException:
    # Serve's controller outlives this script and keeps its HTTP options: shut it down so a
    # retry on another port starts afresh instead of retrying the taken one.
    try:
        serve.shutdown()
    except Exception:
        pass
    raise
print("serve-ready", flush=True)
'''


@dataclass
class RayHead:
    """What the lab needs to know about a running head (persisted in state.json)."""

    pid: int
    gcs_port: int
    dashboard_port: int
    client_port: int
    serve_port: int
    agent_port: int
    temp_dir: str
    home: str
    auth: bool
    token_file: str | None = None
    serve_ready: bool = False
    #: The head process's start time (``proc_start_time``), so a pid the kernel has reused
    #: for someone else's process after a reboot or crash is never mistaken for ours.
    start_time: int | None = None

    @property
    def token(self) -> str | None:
        if not self.token_file:
            return None
        return Path(self.token_file).read_text().strip()

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    def local_ports(self) -> dict[str, int]:
        return {"gcs": self.gcs_port, "dashboard": self.dashboard_port,
                "client": self.client_port, "serve": self.serve_port, "agent": self.agent_port}

    def env(self) -> dict[str, str]:
        """Environment for a process that talks to this head (driver, Ray Client, job CLI)."""
        return ray_env(self.home, self.token)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RayHead":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def ray_env(home: str, token: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "HOME": home,
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
        "RAY_AUTH_MODE": "token" if token else "disabled",
    })
    env.pop("RAY_ADDRESS", None)
    env.pop("RAY_AUTH_TOKEN_PATH", None)
    if token:
        env["RAY_AUTH_TOKEN"] = token
    else:
        env.pop("RAY_AUTH_TOKEN", None)
    return env


def ray_executable() -> str:
    candidate = Path(sys.executable).with_name("ray")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("ray")
    if not found:
        raise LabError("the lab needs Ray: pip install 'raygate[ray]' (ray[default,client,serve])")
    return found


def new_token() -> str:
    # Same shape as Ray's own generator: 32 random bytes as 64 hex characters.
    return secrets.token_hex(32)


def _temp_dir(state_dir: Path) -> str:
    wanted = state_dir / "ray"
    if len(str(wanted.resolve())) <= MAX_TEMP_DIR_LEN:
        wanted.mkdir(parents=True, exist_ok=True)
        return str(wanted.resolve())
    return tempfile.mkdtemp(prefix="rglab-")


def start_ray_head(state_dir: Path, *, auth: bool = True, token: str | None = None,
                   serve: bool = True, timeout: float = START_TIMEOUT_S) -> RayHead:
    """Start a head (token auth unless ``auth=False``) and, by default, the Serve app."""
    state_dir.mkdir(parents=True, exist_ok=True)
    home = state_dir / "home"
    home.mkdir(exist_ok=True)
    token_file = None
    if auth:
        token_path = state_dir / "token"
        token_path.unlink(missing_ok=True)
        # Created 0600, never readable by others, not even between a write and a chmod.
        fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write((token or new_token()) + "\n")
        token_file = str(token_path.resolve())
    taken: set[int] = set()
    ports = {name: pick_port(taken) for name in ("gcs", "dashboard", "client", "serve", "agent")}
    temp_dir = _temp_dir(state_dir)
    log = open(state_dir / "ray-head.log", "wb")
    tok = Path(token_file).read_text().strip() if token_file else None
    cmd = [ray_executable(), "start", "--head", "--block",
           f"--port={ports['gcs']}", "--node-ip-address=127.0.0.1",
           "--dashboard-host=127.0.0.1", f"--dashboard-port={ports['dashboard']}",
           f"--ray-client-server-port={ports['client']}",
           f"--dashboard-agent-listen-port={ports['agent']}",
           "--num-cpus=1", "--include-dashboard=true", f"--temp-dir={temp_dir}"]
    proc = subprocess.Popen(cmd, env=ray_env(str(home.resolve()), tok), stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=str(state_dir))
    log.close()
    head = RayHead(proc.pid, ports["gcs"], ports["dashboard"], ports["client"], ports["serve"],
                   ports["agent"], temp_dir, str(home.resolve()), auth, token_file,
                   start_time=proc_start_time(proc.pid))
    try:
        _wait_dashboard(head, proc, timeout, state_dir / "ray-head.log")
        if serve:
            deploy_serve(head, state_dir)
    except BaseException:
        stop_ray_head(head)
        raise
    return head


def _wait_dashboard(head: RayHead, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {head.token}"} if head.token else {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise LabError("the Ray head exited while starting: " + " | ".join(tail))
        try:
            # /api/jobs/ needs the job agent too, so the head is ready for the probe's calls.
            r = httpx.get(f"{head.dashboard_url}/api/jobs/", headers=headers, timeout=2)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise LabError(f"the Ray head did not answer on {head.dashboard_url} within {timeout:.0f} s "
                   f"(see {log})")


#: Serve binds its HTTP port when the app deploys, seconds after the port was picked; another
#: lab picking at the same moment can take it in between. A new port, then, not a failure.
SERVE_BIND_ATTEMPTS = 3


def deploy_serve(head: RayHead, state_dir: Path, timeout: float = 90.0) -> None:
    for attempt in range(1, SERVE_BIND_ATTEMPTS + 1):
        env = head.env()
        env["RAYGATE_LAB_GCS"] = head.gcs_address
        env["RAYGATE_LAB_SERVE_PORT"] = str(head.serve_port)
        try:
            done = subprocess.run([sys.executable, "-c", SERVE_APP], env=env, cwd=str(state_dir),
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise LabError(f"deploying the Serve app took longer than {timeout:.0f} s") from e
        if done.returncode == 0 and "serve-ready" in done.stdout:
            head.serve_ready = True
            return
        output = done.stderr or done.stdout
        if "Failed to bind to address" in output and attempt < SERVE_BIND_ATTEMPTS:
            head.serve_port = pick_port(set(head.local_ports().values()))
            continue
        tail = output.strip().splitlines()[-3:]
        raise LabError("deploying the Serve app failed: " + " | ".join(tail))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def proc_start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, /proc/<pid>/stat field 22), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def is_ours(pid: int | None, start_time: int | None) -> bool:
    """``pid`` is alive and still the process the lab started (same start time). State
    written before start times were recorded (``start_time`` None) trusts the pid alone."""
    if not pid or not pid_alive(pid):
        return False
    return start_time is None or proc_start_time(pid) in (None, start_time)


def _group_members(pgid: int) -> list[int]:
    """Live processes in the head's process group *or session*: the head is started as a
    session leader, and Ray puts some workers (Serve's controller, proxy and replicas) in
    process groups of their own within that session."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if pgid in (int(fields[2]), int(fields[3])) and fields[0] != "Z":
                members.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return members


def stop_ray_head(head: RayHead, timeout: float = 20.0) -> None:
    """Stop the head's process group and session (and nothing else); idempotent."""
    pgid = head.pid
    if pid_alive(head.pid) and not is_ours(head.pid, head.start_time):
        # The pid was reused by another process: the kernel never reuses a pid while it
        # still names a group or session, so nothing of ours is left to stop.
        return
    if pid_alive(head.pid):
        try:
            os.kill(head.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_members(pgid):
        _reap(head.pid)
        time.sleep(0.1)
    for pid in _group_members(pgid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _reap(head.pid)
    if head.temp_dir.startswith(tempfile.gettempdir() + "/rglab-"):
        shutil.rmtree(head.temp_dir, ignore_errors=True)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


