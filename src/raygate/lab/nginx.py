"""Run Debian's nginx from a rendered config under a private prefix, and only that nginx.

Facts (feasibility.md §B): Debian builds the stream module as a dynamic module
(``libnginx-mod-stream``), so the config loads it itself; nginx runs in the foreground
(``daemon off``) so the pid we record is the master's; reload is SIGHUP, stop is SIGQUIT.
The config is tested with ``nginx -t`` before it is started or reloaded, and written through a
temp file + rename so a failed render never leaves a half-written config behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from raygate.lab.ray_head import LabError, pid_alive
from raygate.render.nginx_conf import DEFAULT_STREAM_MODULE


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise LabError("the lab needs nginx: apt-get install -y nginx libnginx-mod-stream")
    return found


def stream_module_available(path: str = DEFAULT_STREAM_MODULE) -> bool:
    return Path(path).exists()


def prepare_prefix(prefix: Path) -> None:
    for sub in ("logs", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)


def write_config(prefix: Path, text: str) -> Path:
    """Write and ``nginx -t`` the config; on failure the previous config stays in place."""
    # nginx resolves a relative -c against -p, so a relative state dir (the default
    # ``.raygate-lab``) would point it at <prefix>/<prefix>/nginx.conf: use absolute paths.
    prefix = prefix.resolve()
    prepare_prefix(prefix)
    candidate = prefix / "nginx.conf.new"
    candidate.write_text(text)
    test = subprocess.run([nginx_binary(), "-t", "-q", "-c", str(candidate), "-p", str(prefix) + "/"],
                          capture_output=True, text=True)
    if test.returncode != 0:
        candidate.unlink(missing_ok=True)
        detail = " | ".join(line for line in test.stderr.strip().splitlines() if line)[:500]
        raise LabError(f"nginx refused the rendered config: {detail}")
    final = prefix / "nginx.conf"
    os.replace(candidate, final)
    return final


def start_nginx(prefix: Path, text: str, wait_ports: list[int], timeout: float = 10.0) -> int:
    """Start nginx with ``text`` as its config; return the master pid once it listens."""
    prefix = prefix.resolve()
    conf = write_config(prefix, text)
    log = open(prefix / "logs" / "nginx.stderr", "ab")
    proc = subprocess.Popen([nginx_binary(), "-c", str(conf), "-p", str(prefix) + "/"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError("nginx exited at start: " +
                           (prefix / "logs" / "error.log").read_text(errors="replace")[-400:])
        if all(_listening(p) for p in wait_ports):
            return proc.pid
        time.sleep(0.02)
    stop_nginx(proc.pid)
    raise LabError(f"nginx did not listen on {wait_ports} within {timeout:.0f} s")


def reload_nginx(pid: int, prefix: Path, text: str, wait_ports: list[int], timeout: float = 10.0) -> None:
    write_config(prefix, text)
    os.kill(pid, signal.SIGHUP)
    # New workers take the listeners over; wait until the ports the new config needs answer.
    deadline = time.monotonic() + timeout
    time.sleep(0.1)
    while time.monotonic() < deadline:
        if all(_listening(p) for p in wait_ports):
            return
        time.sleep(0.02)
    raise LabError(f"nginx did not listen on {wait_ports} after reload")


def stop_nginx(pid: int, timeout: float = 10.0) -> None:
    if not pid_alive(pid):
        _reap(pid)
        return
    try:
        os.kill(pid, signal.SIGQUIT)  # graceful: let in-flight requests finish
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0
