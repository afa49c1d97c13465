"""Run every applicable check concurrently and collect a ``ProbeReport``.

Checks are independent, so they run at once (the Ray Client subprocess, ~2 s, overlaps the
HTTP checks); a healthy gateway is probed in about the time of its slowest check.
``on_result`` lets the CLI update a progress display as each check finishes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

import httpx

from raygate.probe import http, jobs, ray_client, tcp
from raygate.probe.model import CheckResult, ProbeOptions, ProbeReport, Verdict, validate

OnResult = Callable[[CheckResult], None]


def planned_checks(opts: ProbeOptions) -> list[str]:
    names = ["dashboard", "slash-redirect", "jobs-api", "auth-required"]
    if opts.submit:
        names += ["job-upload", "job-logs"]
    if opts.client:
        names.append("ray-client")
    if opts.serve:
        names.append("serve")
    names += ["gcs-closed", "agent-closed"]
    return names


async def probe_async(opts: ProbeOptions, on_result: OnResult | None = None) -> ProbeReport:
    validate(opts)
    start = time.perf_counter()
    results: list[CheckResult] = []

    def record(items: CheckResult | list[CheckResult], began: float = 0.0) -> None:
        for r in items if isinstance(items, list) else [items]:
            r.started = began
            r.detail, r.cause = opts.masked(r.detail), (opts.masked(r.cause) if r.cause else None)
            r.data = _masked(r.data, opts)  # job log text, stderr lines: JSON prints them too
            results.append(r)
            if on_result:
                on_result(r)

    limits = httpx.Limits(max_connections=20, max_keepalive_connections=10)
    async with httpx.AsyncClient(timeout=opts.timeout, limits=limits, trust_env=False) as client:
        tasks: list[Awaitable[CheckResult | list[CheckResult]]] = [
            http.check_dashboard(client, opts), http.check_slash_redirect(client, opts),
            http.check_jobs_api(client, opts), http.check_auth_required(client, opts),
            tcp.check_port_closed(opts, opts.gcs_port, "gcs-closed", f"GCS ({opts.gcs_port})",
                                  "gcs-port-exposed"),
            tcp.check_port_closed(opts, opts.agent_port, "agent-closed",
                                  # RG105 flags the agent port as it flags GCS.
                                  f"dashboard agent ({opts.agent_port})", "gcs-port-exposed"),
        ]
        if opts.client:
            tasks.append(ray_client.check_ray_client(opts))
        if opts.serve:
            tasks.append(http.check_serve(client, opts))
        if opts.submit:
            tasks.append(jobs.submit_and_tail(client, opts))

        async def run(task: Awaitable[CheckResult | list[CheckResult]]) -> None:
            began = time.perf_counter() - start
            try:
                record(await task, began)
            except Exception as e:  # a bug in one check must not hide the others
                record(CheckResult("internal", "probe internals", Verdict.FAIL,
                                   cause=f"{type(e).__name__}: {e}"), began)

        await asyncio.gather(*(run(t) for t in tasks))
    order = {name: i for i, name in enumerate(planned_checks(opts))}
    results.sort(key=lambda r: order.get(r.name, len(order)))
    return ProbeReport(opts.url, results, time.perf_counter() - start,
                       unreachable=_unreachable(results))


#: Checks that pass when a port is closed: on a host that answers nothing they prove nothing.
CLOSED_PORT_CHECKS = ("gcs-closed", "agent-closed")


def _unreachable(results: list[CheckResult]) -> str | None:
    """When the gateway accepted no connection, say so once and do not count "port closed"
    as healthy: every port of an unreachable host is closed."""
    dashboard = next((r for r in results if r.name == "dashboard"), None)
    if dashboard is None or not dashboard.data.get("unreachable"):
        return None
    for r in results:
        if r.name in CLOSED_PORT_CHECKS and r.verdict is Verdict.PASS:
            r.verdict = Verdict.SKIP
            r.detail = ("not meaningful: the gateway accepts no connection at all, so a "
                        "closed port proves nothing")
    return dashboard.cause


def _masked(value: Any, opts: ProbeOptions) -> Any:
    if isinstance(value, str):
        return opts.masked(value)
    if isinstance(value, dict):
        return {_masked(k, opts): _masked(v, opts) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(v, opts) for v in value]
    return value


def probe(opts: ProbeOptions, on_result: OnResult | None = None) -> ProbeReport:
    return asyncio.run(probe_async(opts, on_result))
