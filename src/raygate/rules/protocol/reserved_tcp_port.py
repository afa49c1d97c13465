"""RG203 reserved-tcp-port: a tcp-services entry on a port the controller keeps for itself.

Before it even parses the Service reference, the controller drops any entry whose external port
is one of its own: HTTP 80, HTTPS 443, SSL-passthrough 442, healthz 10254, default server 8181,
profiler 10245, status 10246 and stream 10247, each movable by its flag (facts:
ingress_nginx.md §3.1, the list and the log line
``Port <n> cannot be used for TCP stream services. It is reserved for the Ingress controller.``).
The admission webhook's 8443 in the same pod is a derived, unverified conflict (same section),
so it is only a warning.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import Context, rule
from raygate.rules.protocol import _tcp

RESERVED = ("Port {port} cannot be used for TCP stream services. It is reserved for the "
            "Ingress controller.")
#: Chart default for controller.admissionWebhooks.port (facts: ingress_nginx.md §3.4).
DEFAULT_WEBHOOK_PORT = 8443


@rule(
    code="RG203",
    name="reserved-tcp-port",
    layer="protocol",
    severity="error",
    kinds=("ConfigMap",),
    title="tcp-services entry uses a port the ingress-nginx controller reserves",
    rationale="""
        The controller listens on several ports of its own: 80 and 443 for HTTP(S), 442 for
        SSL passthrough, 10254 for health checks and metrics, 8181 for the default server,
        10245-10247 for the profiler, status and stream servers (each movable by a flag). A
        tcp-services entry on one of them is dropped with the log line `Port <n> cannot be
        used for TCP stream services. It is reserved for the Ingress controller.`, so the Ray
        port behind it is never exposed. The admission webhook listens on 8443 in the same pod,
        so a stream listener there would most likely fail to bind when nginx reloads.
    """,
    fix="Move the entry to an external port the controller does not reserve.",
    references=(_tcp.TCP_DOC, _tcp.CLI_ARGS_DOC),
    errors=(
        "Port <n> cannot be used for TCP stream services. It is reserved for the Ingress controller.",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not _tcp.is_tcp_map(ctx.objects, obj):
        return
    controllers = _controllers(ctx.objects, obj)
    data = obj.get("data")
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        key_s = str(key)
        if not _tcp.ATOI_RE.match(key_s):
            continue  # RG201
        port = int(key_s)
        field = ("data", key_s)
        reserved = _reserved_by(controllers, port)
        if reserved is not None:
            controller, why = reserved
            fix = _fix(port, value, controllers, data)
            yield ctx.finding(obj, field, RESERVED.format(port=port) + f" ({why})", fix=fix,
                              assumption=controller.assumption if controller.workload is None else None)
            continue
        webhook = _webhook_at(controllers, port)
        if webhook is not None:
            controller, why = webhook
            fix = _fix(port, value, controllers, data)
            yield ctx.finding(
                obj, field,
                f"port {port} is where the admission webhook listens ({why}) in the controller "
                "pod, so nginx would most likely fail to bind it when it reloads (derived, not "
                "verified upstream)",
                severity="warning", fix=fix,
                assumption=controller.assumption if controller.workload is None else None)


def _controllers(objects: ObjectSet, cm: KubeObject) -> list[nginx.Controller]:
    """The controllers whose ports matter: those reading the map, else all in the inputs
    (one may be meant to read it; RG204 says so), else the assumed default controller."""
    return (_tcp.readers(objects, cm) or list(nginx.find_controllers(objects))
            or [nginx.controller_for_class(objects, None)])


def _reserved_by(controllers: list[nginx.Controller], port: int) -> tuple[nginx.Controller, str] | None:
    for c in controllers:
        flag = c.reserved_ports.get(port)
        if flag is None:
            continue
        if flag in c.flags:
            return c, f"{flag}={c.flags[flag]} on {_tcp.workload_ref(c)}"
        return c, f"{flag} defaults to {port}"
    return None


def _webhook_port(c: nginx.Controller) -> int | None:
    if c.workload is None:
        return DEFAULT_WEBHOOK_PORT  # the chart enables the webhook by default
    value = c.flags.get("--validating-webhook")
    if not value:
        return None  # no webhook server in this pod
    return _tcp.as_int(value.rpartition(":")[2])


def _webhook_at(controllers: list[nginx.Controller], port: int) -> tuple[nginx.Controller, str] | None:
    for c in controllers:
        if _webhook_port(c) == port:
            if c.workload is None:
                return c, f"the Helm chart's default controller.admissionWebhooks.port {port}"
            return c, f"--validating-webhook={c.flags['--validating-webhook']} on {_tcp.workload_ref(c)}"
    return None


def _fix(port: int, value: object, controllers: list[nginx.Controller],
         data: dict) -> str | None:
    """Suggest the backend's own port number as the external port when that one is free."""
    if not isinstance(value, str):
        return None
    entry = nginx.parse_tcp_entry(str(port), value)
    candidate = _tcp.as_int(entry.port) if entry.port else None
    taken = {p for c in controllers for p in c.reserved_ports} | {
        p for c in controllers for p in [_webhook_port(c)] if p is not None} | {
        int(k) for k in map(str, data) if _tcp.ATOI_RE.match(k)}
    if candidate is not None and candidate != port and candidate not in taken and 1 <= candidate <= 65535:
        return f'Use the backend port as the external port: "{candidate}": "{value}".'
    return None
