"""``--submit``: a tiny job with a working_dir just over 1 MB, and its log tail over WebSocket.

It speaks the Jobs REST API directly (what ``ray job submit`` does, kuberay_ray.md §5.2-5.3):
``PUT api/packages/gcs/_ray_pkg_<hash>.zip`` with the zipped working_dir (a 413 here is
ingress-nginx's 1m ``proxy-body-size`` default), ``POST api/jobs/``, then the WebSocket
``api/jobs/<id>/logs/tail``. The job is silent for several seconds while its driver starts,
so a short ``proxy-read-timeout`` cuts the tail before the job ends, and a gateway that does
not pass ``Upgrade``/``Connection`` fails the handshake (feasibility.md §B).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import time
import zipfile
from typing import Any

import httpx

from raygate.probe.http import describe_error
from raygate.probe.model import CheckResult, ProbeOptions, Verdict

#: Just over ingress-nginx's 1m default, far under the Dashboard's own 100 MiB limit.
PAYLOAD_BYTES = 1_100_000
MARKER = "raygate-probe-job-ok"
#: Quiet for a few seconds on purpose: an idle timeout shorter than that cuts the log tail.
QUIET_SECONDS = 3
JOB_SCRIPT = f"""import os, time
time.sleep({QUIET_SECONDS})
print("{MARKER}", os.path.getsize("payload.bin"), flush=True)
"""
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def working_dir_zip() -> tuple[str, bytes]:
    """A zip Ray accepts as a working_dir, with incompressible payload (stays > 1 MB)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("raygate_probe_job.py", JOB_SCRIPT)
        z.writestr("payload.bin", os.urandom(PAYLOAD_BYTES))
    data = buf.getvalue()
    return f"_ray_pkg_{hashlib.sha1(data).hexdigest()[:16]}.zip", data


async def submit_and_tail(client: httpx.AsyncClient, opts: ProbeOptions) -> list[CheckResult]:
    upload = await _upload(client, opts)
    if upload.verdict is not Verdict.PASS:
        return [upload, CheckResult("job-logs", "Job log tail over WebSocket", Verdict.SKIP,
                                    detail="needs the upload to succeed")]
    return [upload, await _run_job(client, opts, upload.data["package"])]


async def _upload(client: httpx.AsyncClient, opts: ProbeOptions) -> CheckResult:
    name, title = "job-upload", "Job working_dir upload (just over 1 MB)"
    package, data = working_dir_zip()
    url = f"{opts.dashboard_url}api/packages/gcs/{package}"
    start = time.perf_counter()
    try:
        r = await client.put(url, content=data, headers=opts.auth_headers(),
                             timeout=opts.job_timeout)
    except httpx.HTTPError as e:
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           cause=f"upload failed: {describe_error(e)}")
    elapsed = time.perf_counter() - start
    size = f"{len(data) / 1e6:.2f} MB"
    if r.status_code == 200:
        return CheckResult(name, title, Verdict.PASS, elapsed, detail=f"{size} uploaded",
                           data={"package": package})
    if r.status_code == 413:
        return CheckResult(name, title, Verdict.FAIL, elapsed, detail=f"413 for {size}",
                           cause="413 Request Entity Too Large: the gateway's body limit is "
                                 "below the working_dir size (ingress-nginx proxy-body-size "
                                 "defaults to 1m); set proxy-body-size: 100m on the Dashboard "
                                 "Ingress", rule="dashboard-default-body-size")
    last = (r.text.strip().splitlines() or [""])[-1][:200]
    return CheckResult(name, title, Verdict.FAIL, elapsed, detail=f"HTTP {r.status_code}",
                       cause=f"the package upload answered {r.status_code}: {last}")


async def _run_job(client: httpx.AsyncClient, opts: ProbeOptions, package: str) -> CheckResult:
    name, title = "job-logs", "Job log tail over WebSocket"
    start = time.perf_counter()
    body = {"entrypoint": "python raygate_probe_job.py",
            "runtime_env": {"working_dir": f"gcs://{package}"},
            "metadata": {"raygate": "probe"}}
    try:
        r = await client.post(opts.dashboard_url + "api/jobs/", json=body,
                              headers=opts.auth_headers())
    except httpx.HTTPError as e:
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           cause=f"job submission failed: {describe_error(e)}")
    if r.status_code != 200:
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           cause=f"job submission answered {r.status_code}: {r.text[:200]}")
    job_id = r.json().get("submission_id") or r.json().get("job_id")
    try:
        tail = await _tail(opts, job_id)
        # The state when the tail ended tells "job finished" from "gateway cut the socket".
        tail["status_at_close"] = await _job_status(client, opts, job_id)
        # A broken tail is the verdict already; don't wait for the job, stop it in cleanup.
        broken = tail.get("handshake") or tail.get("error") or (
            MARKER not in tail.get("text", "") and tail["status_at_close"] not in TERMINAL)
        status = tail["status_at_close"] if broken else await _wait_terminal(client, opts, job_id)
    finally:
        await _cleanup(client, opts, job_id)
    elapsed = time.perf_counter() - start
    data = {"submission_id": job_id, **tail}
    if tail.get("handshake"):
        return CheckResult(name, title, Verdict.FAIL, elapsed,
                           detail=f"WebSocket handshake -> HTTP {tail['handshake']}",
                           cause="the WebSocket upgrade failed: the gateway does not pass the "
                                 "Upgrade/Connection headers (connection-proxy-header?), so "
                                 "`ray job submit` fails while tailing logs",
                           rule="websocket-upgrade-disabled", data=data)
    if tail.get("error"):
        return CheckResult(name, title, Verdict.FAIL, elapsed, detail=tail["error"],
                           cause="could not open the log WebSocket", data=data)
    if MARKER not in tail.get("text", "") and tail.get("status_at_close") not in TERMINAL:
        return CheckResult(name, title, Verdict.FAIL, elapsed,
                           detail=f"tail closed after {tail['duration']:.1f} s, job {tail.get('status_at_close')}",
                           cause=f"the log tail was cut after {tail['idle']:.1f} s without data while "
                                 "the job was still running: an idle timeout at the gateway "
                                 "(proxy-read-timeout/proxy-send-timeout) is shorter than the "
                                 "job's quiet periods", rule="dashboard-short-read-timeout", data=data)
    if status != "SUCCEEDED" or MARKER not in tail.get("text", ""):
        return CheckResult(name, title, Verdict.FAIL, elapsed, detail=f"job {status}",
                           cause="the probe job did not succeed (see the job's logs on the cluster)",
                           data=data)
    return CheckResult(name, title, Verdict.PASS, elapsed,
                       detail=f"job {job_id} {status}, logs streamed", data=data)


async def _tail(opts: ProbeOptions, job_id: str) -> dict[str, Any]:
    try:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus
    except ImportError:
        return {"error": "the websockets package is not installed"}
    url = opts.dashboard_url.replace("http", "ws", 1) + f"api/jobs/{job_id}/logs/tail"
    text, start = "", time.perf_counter()
    last = start
    closed_code = None
    try:
        # compression=None: with permessage-deflate negotiated, websockets 15-17 received no
        # messages at all from the Dashboard's aiohttp server (checked against Ray 2.60).
        async with connect(url, additional_headers=opts.auth_headers(), open_timeout=opts.timeout,
                           max_size=None, ping_interval=None, compression=None) as ws:
            try:
                while time.perf_counter() - start < opts.job_timeout:
                    message = await asyncio.wait_for(ws.recv(), opts.job_timeout)
                    text += message if isinstance(message, str) else message.decode(errors="replace")
                    last = time.perf_counter()
            except ConnectionClosed as e:
                closed_code = e.rcvd.code if e.rcvd else 1006
            except asyncio.TimeoutError:
                closed_code = -1
    except InvalidStatus as e:
        return {"handshake": e.response.status_code}
    except (OSError, asyncio.TimeoutError) as e:
        return {"error": str(e) or type(e).__name__}
    end = time.perf_counter()
    return {"text": text[-2000:], "duration": end - start, "idle": end - last,
            "close_code": closed_code}


async def _job_status(client: httpx.AsyncClient, opts: ProbeOptions, job_id: str) -> str:
    try:
        r = await client.get(opts.dashboard_url + f"api/jobs/{job_id}", headers=opts.auth_headers())
        return str(r.json().get("status")) if r.status_code == 200 else f"HTTP {r.status_code}"
    except (httpx.HTTPError, ValueError):
        return "unknown"


async def _wait_terminal(client: httpx.AsyncClient, opts: ProbeOptions, job_id: str) -> str:
    deadline = time.perf_counter() + opts.job_timeout
    status = await _job_status(client, opts, job_id)
    while status not in TERMINAL and time.perf_counter() < deadline:
        await asyncio.sleep(0.5)
        status = await _job_status(client, opts, job_id)
    return status


async def _cleanup(client: httpx.AsyncClient, opts: ProbeOptions, job_id: str) -> None:
    try:
        if await _job_status(client, opts, job_id) not in TERMINAL:
            await client.post(opts.dashboard_url + f"api/jobs/{job_id}/stop", headers=opts.auth_headers())
            await _wait_terminal(client, opts, job_id)
        await client.delete(opts.dashboard_url + f"api/jobs/{job_id}", headers=opts.auth_headers())
    except httpx.HTTPError:
        pass
