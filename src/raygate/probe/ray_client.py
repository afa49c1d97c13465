"""Ray Client through the gateway's TCP mapping: a real ``ray.init("ray://...")`` and a task.

It runs in a subprocess: ``ray.init`` is process-global and slow to give up (30 s), and the
client needs ``RAY_AUTH_MODE=token`` *and* the token in its environment (feasibility.md §A5),
with a private HOME so a stray ``~/.ray/auth_token`` cannot make a wrong setup pass.

What can be told apart (feasibility.md §A5, §B): *refused* (nothing listens: no tcp-services
entry or the controller Service lacks the port) and *closed* (the stream proxy has no
upstream) come from the TCP/HTTP/2 pre-check; a wrong or missing token is NOT distinguishable
from an unreachable server: Ray Client reports a generic ``ray client connection timeout``,
and the result says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from importlib.util import find_spec

from raygate.probe.model import CheckResult, ProbeOptions, Verdict
from raygate.probe.tcp import http2_preface

CLIENT_SCRIPT = r'''
import json, os, sys, time
t0 = time.perf_counter()
import ray
t1 = time.perf_counter()
try:
    ray.init(os.environ["RAYGATE_PROBE_ADDRESS"], logging_level="ERROR", log_to_driver=False)
    t2 = time.perf_counter()

    @ray.remote(num_cpus=0)
    def double(x):
        return 2 * x

    value = ray.get(double.remote(21), timeout=float(os.environ["RAYGATE_PROBE_TASK_TIMEOUT"]))
    t3 = time.perf_counter()
except BaseException:
    # Report and leave at once: a graceful exit would wait for the server to close the data
    # stream, which a Ray proxier that failed the session holds open for its 30 s grace period.
    import traceback
    traceback.print_exc()
    sys.stderr.flush()
    os._exit(1)
print("RAYGATE-RESULT " + json.dumps({"value": value, "import": t1 - t0, "connect": t2 - t1,
                                      "task": t3 - t2, "ray_version": ray.__version__}), flush=True)
# The probe has its verdict and stops reading: close our end of its pipe, then disconnect
# cleanly (so the server frees the session at once) and remove the private HOME ourselves.
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
ray.shutdown()
import shutil
shutil.rmtree(os.environ["HOME"], ignore_errors=True)
'''


def ray_available() -> bool:
    return find_spec("ray") is not None


def client_env(opts: ProbeOptions, home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RAY_") or k in ("RAY_CLIENT_RECONNECT_GRACE_PERIOD",)}
    env.update({"HOME": home, "RAY_USAGE_STATS_ENABLED": "0",
                "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
                "RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S": str(int(max(opts.client_timeout, 5))),
                "RAY_AUTH_MODE": "token" if opts.token else "disabled",
                "RAYGATE_PROBE_TASK_TIMEOUT": str(opts.client_timeout)})
    # A proxier that failed the session holds the data stream open for the client's reconnect
    # grace period before it lets go, and ``ray.init`` waits for that to raise: 30 s by default.
    env.setdefault("RAY_CLIENT_RECONNECT_GRACE_PERIOD", str(PROBE_RECONNECT_GRACE_S))
    if opts.token:
        env["RAY_AUTH_TOKEN"] = opts.token
    return env


#: Seconds the probe's client may take to reconnect after a blip (Ray's default is 30): a
#: probe that needs longer is reporting a real problem, and a failed session ends this soon.
PROBE_RECONNECT_GRACE_S = 3


async def check_ray_client(opts: ProbeOptions) -> CheckResult:
    name, title = "ray-client", "Ray Client connects and runs a task"
    start = time.perf_counter()
    address = opts.client_address()
    assert address is not None
    host, port = address
    pre = await http2_preface(host, port, min(opts.timeout, 3.0))
    rule = "ray-client-not-exposed"
    if pre == "refused":
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           detail=f"{host}:{port} refused",
                           cause=f"connection refused on {host}:{port}: nothing listens there "
                                 "(no tcp-services entry for the port, the controller does not "
                                 "read the ConfigMap, or its Service lacks the port)", rule=rule)
    if pre == "timeout":
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           detail=f"{host}:{port} timed out",
                           cause="TCP connect timed out: a firewall drops the traffic or the "
                                 "gateway address is wrong")
    if pre == "closed":
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           detail=f"{host}:{port} accepted then closed",
                           cause="the gateway accepted the connection but closed it: the stream "
                                 "proxy could not reach the Ray Client server (no endpoints)")
    if pre == "silent":
        # Connected, but no SETTINGS frame: a gRPC server answers the preface at once.
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           detail=f"{host}:{port} connected, no HTTP/2 answer",
                           cause="connected, but nothing answered the HTTP/2 preface in time: "
                                 "timed out (a stream proxy waiting on an unreachable upstream, "
                                 "or a service that is not the Ray Client server)")
    if pre.startswith("error"):
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           cause=f"cannot connect to {host}:{port}: {pre[7:]}")
    if pre != "grpc":
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           detail=f"HTTP/2 preface: {pre}",
                           cause=f"{host}:{port} does not speak HTTP/2 (gRPC): it is not the Ray "
                                 "Client server (an HTTP port, or TLS where plain text is expected)")
    if not (opts.deep_client and ray_available()):
        return CheckResult(name, title, Verdict.PASS, time.perf_counter() - start,
                           detail="gRPC answers (install raygate[ray] for a real connection + task)")
    result = await _ray_task(opts, host, port, start)
    failures: list[str] = []
    while (result.verdict is Verdict.FAIL and _server_start_failed(result)
           and len(failures) < SERVER_START_ATTEMPTS - 1):
        # The per-client server the head spawns sometimes dies at start (a gRPC "Check failed:
        # next_worker->state == KICKED" abort, seen with Ray 2.60, more often on a loaded
        # machine); a new connection gets a fresh server. Try again, and say so.
        failures.append(result.detail)
        await asyncio.sleep(SERVER_START_PAUSE_S)
        result = await _ray_task(opts, host, port, start)
    if failures:
        result.data["retried_after"] = failures[0] if len(failures) == 1 else failures
        if result.verdict is Verdict.PASS:
            result.detail += (f" (after {len(failures)} retr{'y' if len(failures) == 1 else 'ies'}: "
                              "the head's per-client server failed to start)")
    if result.verdict is Verdict.FAIL and _server_start_failed(result):
        # The error came *from* the Ray Client server: the gateway carried the session to the
        # head and the head accepted the token. What failed is on the head, not the gateway.
        result.verdict = Verdict.WARN
        result.cause = ("the gateway reached the head's Ray Client server (it answered, and "
                        "accepted the token), but the head failed to start the per-client server "
                        f"{SERVER_START_ATTEMPTS} times: a head-side problem, not the gateway's; "
                        "see ray_client_server_*.err in the head's logs "
                        "(/tmp/ray/session_latest/logs)")
    return result


#: Ray Client errors that mean "the head's per-client server failed to start".
SERVER_START_FAILURES = ("Starting Ray client server failed", "Initialization failure from server")
#: Connections tried before a per-client server failure is reported (each is a fresh server).
SERVER_START_ATTEMPTS = 3
SERVER_START_PAUSE_S = 1.0


def _server_start_failed(result: CheckResult) -> bool:
    return any(s in (result.detail or "") for s in SERVER_START_FAILURES)


async def _ray_task(opts: ProbeOptions, host: str, port: int, start: float) -> CheckResult:
    name, title = "ray-client", "Ray Client connects and runs a task"
    home = tempfile.mkdtemp(prefix="raygate-probe-")
    env = client_env(opts, home)
    env["RAYGATE_PROBE_ADDRESS"] = f"ray://{host}:{port}"
    limit = opts.client_timeout * 2 + 15
    line, stderr, timed_out = await asyncio.to_thread(_run_client, env, home, limit)
    elapsed = time.perf_counter() - start
    if timed_out:
        return CheckResult(name, title, Verdict.FAIL, elapsed, cause=f"no answer within {limit:.0f} s")
    if line is not None:
        data = json.loads(line.split(" ", 1)[1])
        if data.get("value") == 42:
            return CheckResult(name, title, Verdict.PASS, elapsed,
                               detail=f"connect {data['connect']:.2f} s, task {data['task']:.2f} s "
                                      f"(Ray {data['ray_version']})", data=data)
    stderr = opts.masked(stderr)
    return CheckResult(name, title, Verdict.FAIL, elapsed, detail=_last_error(stderr),
                       cause=_client_cause(stderr, opts))


#: Clients still disconnecting after they reported; kept referenced so they are never reaped
#: (or warned about) while the probe runs. They end on their own.
_DISCONNECTING: list[subprocess.Popen[bytes]] = []


def _run_client(env: dict[str, str], home: str, limit: float) -> tuple[str | None, str, bool]:
    """Run the client script; ``(result line or None, stderr, timed out)``.

    The verdict is known as soon as the result line arrives; the client's clean
    ``ray.shutdown()`` (~0.4 s) then continues on its own. It runs in its own session with
    plain ``Popen``, not an asyncio subprocess: asyncio kills children it still tracks when
    the event loop closes, which would cut the disconnect short and leave the session on the
    cluster for the 30 s reconnect grace period.
    """
    err_path = os.path.join(home, "client-stderr.log")
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", CLIENT_SCRIPT], env=env, cwd=home,
                                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass

    timer = threading.Timer(limit, kill)
    timer.start()
    result = None
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:  # EOF when the client reported (it closes stdout) or exited
            text = raw.decode(errors="replace")
            if text.startswith("RAYGATE-RESULT "):
                result = text.strip()
                break
    finally:
        timer.cancel()
        if proc.stdout is not None:
            proc.stdout.close()
    if result is not None and not timed_out.is_set():
        # Keep it referenced while it disconnects (it removes its HOME itself); forget the ones
        # that finished, so a long-lived caller probing repeatedly does not accumulate them.
        _DISCONNECTING[:] = [p for p in _DISCONNECTING if p.poll() is None]
        _DISCONNECTING.append(proc)
        return result, "", False
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        kill()
        proc.wait()
    try:
        with open(err_path, encoding="utf-8", errors="replace") as f:
            stderr = f.read()
    except OSError:
        stderr = ""
    shutil.rmtree(home, ignore_errors=True)
    return None, stderr, timed_out.is_set()


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error" in line:
            return line[:300]
    return lines[-1][:300] if lines else "the client exited without a result"


def _client_cause(stderr: str, opts: ProbeOptions) -> str:
    if "connection timeout" in stderr:
        return ("Ray Client timed out while connecting. With token auth on, a missing or wrong "
                "token looks exactly like this (Ray Client reports no auth error), as does a "
                "gRPC stream cut by the gateway; check the token and the tcp-services mapping")
    if "Version mismatch" in stderr or "version mismatch" in stderr:
        return "Ray or Python version mismatch between this machine and the cluster"
    if "INVALID_ARGUMENT" in stderr:
        return ("the gateway dropped gRPC metadata (underscored headers): use a TCP mapping, "
                "not an HTTP Ingress, for the Ray Client")
    return "Ray Client failed: " + _last_error(stderr)
