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
import sys
import tempfile
import time
from importlib.util import find_spec

from raygate.probe.model import CheckResult, ProbeOptions, Verdict
from raygate.probe.tcp import http2_preface

CLIENT_SCRIPT = r'''
import json, os, sys, time
t0 = time.perf_counter()
import ray
t1 = time.perf_counter()
ray.init(os.environ["RAYGATE_PROBE_ADDRESS"], logging_level="ERROR", log_to_driver=False)
t2 = time.perf_counter()

@ray.remote(num_cpus=0)
def double(x):
    return 2 * x

value = ray.get(double.remote(21), timeout=float(os.environ["RAYGATE_PROBE_TASK_TIMEOUT"]))
t3 = time.perf_counter()
print("RAYGATE-RESULT " + json.dumps({"value": value, "import": t1 - t0, "connect": t2 - t1,
                                      "task": t3 - t2, "ray_version": ray.__version__}), flush=True)
ray.shutdown()
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
    if opts.token:
        env["RAY_AUTH_TOKEN"] = opts.token
    return env


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
    if result.verdict is Verdict.FAIL and any(s in (result.detail or "") for s in SERVER_START_FAILURES):
        # The per-client server the head spawns sometimes dies at start (a gRPC "Check failed:
        # next_worker->state == KICKED" abort, seen with Ray 2.60); that is the head's hiccup,
        # not the gateway's, and a new connection gets a fresh server. Retry once, and say so.
        first = result.detail
        result = await _ray_task(opts, host, port, start)
        result.data["retried_after"] = first
        if result.verdict is Verdict.PASS:
            result.detail += " (retried once: the head's per-client server failed to start)"
    return result


#: Ray Client errors that mean "the head's per-client server failed to start".
SERVER_START_FAILURES = ("Starting Ray client server failed", "Initialization failure from server")


async def _ray_task(opts: ProbeOptions, host: str, port: int, start: float) -> CheckResult:
    name, title = "ray-client", "Ray Client connects and runs a task"
    with tempfile.TemporaryDirectory(prefix="raygate-probe-") as home:
        env = client_env(opts, home)
        env["RAYGATE_PROBE_ADDRESS"] = f"ray://{host}:{port}"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLIENT_SCRIPT, env=env, cwd=home,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL)
        limit = opts.client_timeout * 2 + 15
        try:
            out, err = await asyncio.wait_for(proc.communicate(), limit)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                               cause=f"no answer within {limit:.0f} s")
    elapsed = time.perf_counter() - start
    stdout = out.decode(errors="replace")
    stderr = opts.masked(err.decode(errors="replace"))
    for line in stdout.splitlines():
        if line.startswith("RAYGATE-RESULT "):
            data = json.loads(line.split(" ", 1)[1])
            if data.get("value") == 42:
                return CheckResult(name, title, Verdict.PASS, elapsed,
                                   detail=f"connect {data['connect']:.2f} s, task {data['task']:.2f} s "
                                          f"(Ray {data['ray_version']})", data=data)
    return CheckResult(name, title, Verdict.FAIL, elapsed, detail=_last_error(stderr),
                       cause=_client_cause(stderr, opts))


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
