"""HTTP checks through the gateway: Dashboard (index + assets), the ``/ray`` redirect, the Jobs
API with and without a token, and a Serve route.

Why the assets matter (feasibility.md §B, kuberay_ray.md §5.1): the Dashboard's index uses
relative URLs (``./static/js/main.<hash>.js``). At ``/ray`` without the slash the index still
answers 200 but its assets resolve to ``/static/...`` outside the prefix and 404: a blank
page that a status-code-only check calls healthy. So every asset is fetched, resolved against
the *final* URL of the index.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from urllib.parse import urljoin

import httpx

from raygate.probe.model import CheckResult, ProbeOptions, Verdict

_ASSET_RE = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)
_REDIRECTS = (301, 302, 303, 307, 308)


def asset_urls(html: str, base: str) -> list[str]:
    """JS/CSS/icon URLs an index references, resolved the way a browser would."""
    urls = []
    for ref in _ASSET_RE.findall(html):
        if ref.startswith(("data:", "#")):
            continue
        full = urljoin(base, ref)
        if full not in urls:
            urls.append(full)
    return urls


def _gateway_5xx(status: int) -> str:
    return {502: "502 Bad Gateway: the gateway could not connect to the Dashboard",
            503: "503: the gateway has no endpoints for the Dashboard Service",
            504: "504: the Dashboard did not answer in time (proxy-read-timeout?)"}.get(
        status, f"HTTP {status}")


async def check_dashboard(client: httpx.AsyncClient, opts: ProbeOptions) -> CheckResult:
    start = time.perf_counter()
    name, title = "dashboard", "Dashboard index and assets"
    try:
        index = await client.get(opts.dashboard_url, follow_redirects=True)
    except httpx.HTTPError as e:
        # A connection that never opened means the gateway itself is unreachable (the
        # runner then reports the whole probe as such, not as partly healthy).
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           cause=opts.masked(f"cannot reach {opts.dashboard_url}: {_err(e)}"),
                           data={"unreachable": isinstance(e, (httpx.ConnectError,
                                                               httpx.ConnectTimeout))})
    if index.status_code != 200:
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           detail=f"GET {opts.dashboard_url} -> {index.status_code}",
                           cause=_gateway_5xx(index.status_code) if index.status_code >= 500 else
                           f"the index answered {index.status_code}: no route for the prefix")
    final = str(index.url)
    assets = asset_urls(index.text, final)
    if not any(a.endswith((".js", ".css")) or "/static/" in a for a in assets):
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           detail=f"{len(index.content)} bytes, no script/stylesheet",
                           cause="the page at the prefix is not the Ray Dashboard index")
    statuses = await asyncio.gather(*(_status(client, a) for a in assets))
    bad = [(a, s) for a, s in zip(assets, statuses) if s != 200]
    elapsed = time.perf_counter() - start
    data = {"index": final, "assets": dict(zip(assets, statuses))}
    if bad:
        listed = ", ".join(f"{a.removeprefix(opts.gateway_root)} {s}" for a, s in bad[:3])
        return CheckResult(
            name, title, Verdict.FAIL, elapsed, detail=f"index 200, {len(bad)}/{len(assets)} assets fail",
            cause=f"blank page: the index loads but its assets do not ({listed}); relative "
                  "asset URLs resolve outside the prefix or the prefix is not rewritten",
            rule="dashboard-subpath-without-slash-redirect", data=data)
    return CheckResult(name, title, Verdict.PASS, elapsed,
                       detail=f"index + {len(assets)} assets 200", data=data)


async def _status(client: httpx.AsyncClient, url: str) -> int:
    try:
        r = await client.get(url, follow_redirects=True)
        return r.status_code
    except httpx.HTTPError:
        return 0


async def check_slash_redirect(client: httpx.AsyncClient, opts: ProbeOptions) -> CheckResult:
    start = time.perf_counter()
    name, title = "slash-redirect", f"{opts.prefix or '/'} redirects to {opts.prefix}/"
    if not opts.prefix:
        return CheckResult(name, title, Verdict.SKIP, 0.0, detail="the Dashboard is at the root")
    bare = opts.gateway_root + opts.prefix
    try:
        r = await client.get(bare, follow_redirects=False)
    except httpx.HTTPError as e:
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           cause=f"cannot reach {bare}: {_err(e)}")
    elapsed = time.perf_counter() - start
    rule = "dashboard-subpath-without-slash-redirect"
    if r.status_code in _REDIRECTS:
        target = urljoin(bare, r.headers.get("location", ""))
        if target.rstrip("/") == bare and target.endswith("/"):
            return CheckResult(name, title, Verdict.PASS, elapsed, detail=f"{r.status_code} -> {target}")
        return CheckResult(name, title, Verdict.FAIL, elapsed, detail=f"{r.status_code} -> {target}",
                           cause=f"{opts.prefix} redirects elsewhere, not to {opts.prefix}/", rule=rule)
    if r.status_code == 200:
        return CheckResult(name, title, Verdict.FAIL, elapsed, detail="200 without redirect",
                           cause=f"{opts.prefix} serves the index without redirecting: its "
                                 "./static/ assets resolve to /static/ and 404 (blank page); "
                                 f"add an Exact {opts.prefix} -> {opts.prefix}/ redirect", rule=rule)
    return CheckResult(name, title, Verdict.FAIL, elapsed, detail=f"{r.status_code}",
                       cause=f"{opts.prefix} answers {r.status_code}: users who type it without "
                             f"the trailing slash get an error; add an Exact {opts.prefix} -> "
                             f"{opts.prefix}/ redirect Ingress", rule=rule)


async def check_jobs_api(client: httpx.AsyncClient, opts: ProbeOptions) -> CheckResult:
    start = time.perf_counter()
    name, title = "jobs-api", "Jobs API lists jobs"
    url = opts.dashboard_url + "api/jobs/"
    try:
        r = await client.get(url, headers=opts.auth_headers())
    except httpx.HTTPError as e:
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           cause=f"cannot reach {url}: {_err(e)}")
    elapsed = time.perf_counter() - start
    if r.status_code == 200:
        try:
            jobs = r.json()
        except ValueError:
            jobs = None
        if isinstance(jobs, list):
            return CheckResult(name, title, Verdict.PASS, elapsed, detail=f"{len(jobs)} jobs")
        return CheckResult(name, title, Verdict.FAIL, elapsed,
                           cause="200 but not a job list: the prefix does not reach the Jobs API")
    cause = {401: "401: token auth is on and no token was sent (--token, --token-file or "
                  "RAY_AUTH_TOKEN)",
             403: "403: the token was refused (wrong token for this cluster)",
             404: "404: the prefix does not reach the Ray Dashboard's /api/jobs/"}.get(
        r.status_code, _gateway_5xx(r.status_code))
    return CheckResult(name, title, Verdict.FAIL, elapsed, detail=f"GET api/jobs/ -> {r.status_code}",
                       cause=cause)


async def check_auth_required(client: httpx.AsyncClient, opts: ProbeOptions) -> CheckResult:
    start = time.perf_counter()
    name, title = "auth-required", "Jobs API refuses requests without a token"
    url = opts.dashboard_url + "api/jobs/"
    try:
        r = await client.get(url)
    except httpx.HTTPError as e:
        return CheckResult(name, title, Verdict.SKIP, time.perf_counter() - start,
                           detail=f"cannot reach {url}: {_err(e)}")
    elapsed = time.perf_counter() - start
    if r.status_code in (401, 403):
        return CheckResult(name, title, Verdict.PASS, elapsed, detail=f"{r.status_code} without a token")
    if r.status_code == 200:
        mode = await _auth_mode(client, opts)
        verdict = Verdict.WARN if opts.allow_unauthenticated else Verdict.FAIL
        return CheckResult(
            name, title, verdict, elapsed, detail=f"200 without a token (authentication_mode: {mode})",
            cause="anyone who reaches the gateway can submit jobs, i.e. run code on the cluster; "
                  "turn on Ray token auth (spec.authOptions.mode: token)",
            rule="unauthenticated-ray-exposure")
    return CheckResult(name, title, Verdict.SKIP, elapsed,
                       detail=f"unauthenticated request answered {r.status_code}")


async def _auth_mode(client: httpx.AsyncClient, opts: ProbeOptions) -> str:
    try:
        r = await client.get(opts.dashboard_url + "api/authentication_mode")
        value = r.json().get("authentication_mode") if r.status_code == 200 else None
        return str(value or "unknown")
    except (httpx.HTTPError, ValueError, AttributeError):
        return "unknown"


async def check_serve(client: httpx.AsyncClient, opts: ProbeOptions) -> CheckResult:
    start = time.perf_counter()
    name, title = "serve", "Serve route answers"
    url = opts.serve_url or ""
    try:
        r = await client.get(url, follow_redirects=True)
    except httpx.HTTPError as e:
        return CheckResult(name, title, Verdict.FAIL, time.perf_counter() - start,
                           cause=f"cannot reach {url}: {_err(e)}")
    elapsed = time.perf_counter() - start
    if 200 <= r.status_code < 300:
        return CheckResult(name, title, Verdict.PASS, elapsed, detail=f"{r.status_code} from {url}")
    return CheckResult(name, title, Verdict.FAIL, elapsed, detail=f"{r.status_code} from {url}",
                       cause=_gateway_5xx(r.status_code) if r.status_code >= 500 else
                       f"{r.status_code}: no Serve route at this path (check the Serve Ingress "
                       "and the application's route_prefix)")


def _err(e: BaseException) -> str:
    """An httpx failure in the user's terms: refused, timed out (connecting or waiting for
    the answer) or closed, since each points at a different layer. httpx says "All connection
    attempts failed" for a refusal; the ConnectionRefusedError is further down the chain."""
    if isinstance(e, httpx.ConnectTimeout):
        return "TCP connect timed out (a firewall drops the traffic or the address is wrong)"
    if isinstance(e, httpx.TimeoutException):
        return ("connected, but no answer in time (the gateway or its upstream hangs; "
                "try a larger --timeout)")
    if isinstance(e, httpx.RemoteProtocolError):
        return "the server closed the connection without an HTTP answer"
    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (nothing listens on that host and port)"
        cause = cause.__cause__ or cause.__context__
    text = str(e) or type(e).__name__
    return text.splitlines()[0][:200]


__all__: list[Any] = ["asset_urls", "describe_error", "check_dashboard", "check_slash_redirect",
                      "check_jobs_api", "check_auth_required", "check_serve"]


#: For the other probe modules (``jobs``): one wording for HTTP failures everywhere.
describe_error = _err
