"""Prove each exposed cluster's path, as a user would: the ``raygate probe`` checks, run by
the operator after a cluster's routes change and every ``probe.intervalSeconds``.

The result goes where users look: ``raygate.io/probe`` on the cluster (``ok`` or the first
failed check and its cause) with ``raygate.io/probe-time``, an Event when the verdict changes,
and the ``raygate_operator_probe_failures_total`` metric. The Ray token comes from the Secret
KubeRay keeps for the cluster (``authOptions.secretName``, else the cluster's name; key
``auth_token``: facts kuberay_ray.md §4), read only when probing is enabled (RBAC: get
secrets). The deep Ray Client task is not run (the operator image carries no Ray); the Ray
Client port gets the TCP/HTTP-2 check instead.
"""

from __future__ import annotations

import base64
import time
from typing import Any, Callable, Mapping

from raygate import kuberay
from raygate.objects import KubeObject, Origin

PROBE_RESULT = "raygate.io/probe"
PROBE_TIME = "raygate.io/probe-time"
TOKEN_KEY = "auth_token"


def token_secret_name(cluster: Mapping[str, Any]) -> str:
    obj = KubeObject(dict(cluster), Origin("cluster"))
    options = kuberay.cluster_spec(obj).get("authOptions")
    if isinstance(options, dict) and isinstance(options.get("secretName"), str):
        return options["secretName"]
    return obj.name


def decode_token(secret: Mapping[str, Any] | None) -> str | None:
    data = (secret or {}).get("data") or {}
    raw = data.get(TOKEN_KEY)
    if not isinstance(raw, str):
        return None
    try:
        return base64.b64decode(raw).decode().strip() or None
    except (ValueError, UnicodeDecodeError):
        return None


def summarize(report: Any) -> tuple[bool, str]:
    """(ok, one line): ``ok (6 checks)`` or ``failed: <check>: <cause>``."""
    failed = [r for r in report.results if r.verdict.value == "fail"]
    if not failed:
        return True, f"ok ({len(report.results)} checks)"
    first = failed[0]
    more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
    return False, f"failed: {first.name}: {(first.cause or first.detail or '')[:300]}{more}"


def run(url: str, client: str | None, token: str | None, *, timeout: float = 10,
        probe_fn: Callable[..., Any] | None = None) -> tuple[bool, str]:
    from raygate.probe import ProbeOptions, probe
    opts = ProbeOptions(url, client=client.removeprefix("ray://") if client else None,
                        token=token, timeout=timeout, deep_client=False)
    return summarize((probe_fn or probe)(opts))


def stamp(now: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
