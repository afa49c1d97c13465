"""What one of Ray's HTTP paths keeps when it moves from ingress-nginx to a Gateway API
implementation: the HTTPRoute ``timeouts`` raygate writes, and the verdicts ``raygate migrate``
reports (and ``raygate render`` warns about) for the idle timeouts, the body size, WebSocket,
the time allowed to read an upload, and the Ray Client's TCP idle timeout (``tcp_idle``). The facts are the profiles' (``implementations.py``, each
with its source); this module only compares them with what ingress-nginx did.

Idle, not total. ingress-nginx's ``proxy-read-timeout``/``proxy-send-timeout`` are nginx's
``proxy_read_timeout``/``proxy_send_timeout``: the longest pause *between two successive*
reads/writes. A Serve response that keeps streaming, a job upload that keeps flowing, the log
tail of ``ray job logs --follow`` live as long as bytes move. HTTPRoute ``timeouts.request`` is a
*total* for the whole transaction (``apis/v1/httproute_types.go`` HTTPRouteTimeouts @v1.6.1), so
turning the idle timeout into a request timeout cuts a stream that used to work. raygate
therefore writes ``timeouts.request: 0s`` on every rule with a backend ("0s" SHOULD disable the
timeout, and an implementation that cannot MUST read it as the longest possible value, same
file), and keeps the idle bound where the implementation has a knob for it:

* a policy raygate renders (Envoy Gateway BackendTrafficPolicy ``streamIdleTimeout``, NGINX
  Gateway Fabric ProxySettingsPolicy ``read``/``send``): converted;
* ``timeouts.backendRequest`` when the implementation turns it into idle timeouts (Kong):
  converted;
* the proxy's own fixed stream idle timeout (Istio: none; Cilium: Envoy's 300 s; Traefik: none):
  converted when it is at least the old one, approximated (a warning: nothing is cut sooner,
  the bound is gone) when there is none, and an **error** when it is shorter.

A verdict whose result is shorter, smaller or off is an error: the path is worse after the move.
"""

from __future__ import annotations

from dataclasses import dataclass
from raygate import kuberay
from raygate.backends.gateway_api import units
from raygate.backends.gateway_api.implementations import Implementation

#: Ray's job uploads (working_dir, py_modules) go up to 100 MiB through the Dashboard.
RAY_UPLOAD = kuberay.DASHBOARD_UPLOAD_MAX_BYTES


@dataclass(frozen=True)
class Verdict:
    status: str           # converted | approximated | dropped
    why: str
    severity: str = "info"  # warning | error (a Ray path is worse after the move)


def rule_timeouts(impl: Implementation, idle_seconds: int) -> dict[str, str] | None:
    """``timeouts`` for an HTTPRoute rule with a backend whose old idle timeout (the larger of
    nginx's read and send timeouts) was ``idle_seconds``; None where the implementation ignores
    the field (NGINX Gateway Fabric reports it UnsupportedField, Traefik never reads it).

    ``request: 0s`` everywhere (no total timeout, see the module's docstring). On Kong the idle
    bound travels in ``backendRequest``: KIC makes it the Kong Service's read/write/connect
    timeouts, which are nginx's idle timeouts again. The CEL rule that ``backendRequest`` may
    not exceed ``request`` does not apply when ``request`` is ``0s`` (same file).
    """
    if impl.honours_route_timeouts is False:
        return None
    timeouts = {"request": "0s"}
    if impl.idle_timeout_by == "backend-request" and idle_seconds > 0:
        timeouts["backendRequest"] = units.gep_duration(idle_seconds)
    return timeouts


def idle_timeout(impl: Implementation, read: int, send: int, knob: str | None = None) -> Verdict:
    """The verdict on nginx's read/send idle timeouts (seconds). ``knob``: what raygate
    renders for a ``policy`` implementation (names the policy in the report)."""
    idle = max(read, send)
    old = f"nginx's idle timeouts ({read}s/{send}s between two reads/writes)"
    total = ("no total timeout (timeouts.request: 0s"
             + (", which switches it off" if impl.request_zero_disables else "") + ")")
    if impl.idle_timeout_by == "policy":
        what = knob or impl.timeout_knob or "its policy"
        prefix = f"{total}; " if impl.honours_route_timeouts else ""
        return Verdict("converted", f"{prefix}{what} keeps {old}")
    if impl.idle_timeout_by == "backend-request":
        return Verdict("converted", f"{impl.title} sets no total timeout (it ignores "
                                    f"timeouts.request); timeouts.backendRequest "
                                    f"{units.gep_duration(idle)} becomes {impl.title}'s "
                                    f"read/write timeouts, nginx's idle timeouts as before")
    if impl.idle_timeout_by == "fixed" and impl.stream_idle_s is not None:
        lead = total if impl.honours_route_timeouts else f"{impl.title} sets no total timeout"
        if impl.stream_idle_s == 0:
            return Verdict("approximated",
                           f"{lead}, and {impl.title} bounds no silent stream: nothing is cut "
                           f"sooner than before, but a backend silent longer than {idle}s is "
                           "no longer cut", "warning")
        if impl.stream_idle_s >= idle:
            return Verdict("converted", f"{lead}; {impl.title} cuts a stream silent for "
                                        f"{impl.stream_idle_s}s, at least {old}")
        return Verdict("approximated",
                       f"{lead}, but {impl.title} cuts a stream silent for "
                       f"{impl.stream_idle_s}s, shorter than {old}: a Serve response or log "
                       f"tail quiet for longer breaks; set {impl.stream_idle_knob} to at "
                       f"least {idle}s", "error")
    return Verdict("approximated",
                   f"{total}; the implementation's own idle timeout is unknown: check it is "
                   f"at least {idle}s (set {impl.timeout_knob or 'its idle timeout'})", "warning")


#: A live Ray Client session is never silent for longer: its channel sends an HTTP/2 PING
#: every 30 s, with or without calls (``python/ray/util/client/common.py`` GRPC_OPTIONS:
#: ``grpc.keepalive_time_ms`` 30000 "because ELB timeout is 60 seconds",
#: ``keepalive_permit_without_calls`` 1, ``http2.max_pings_without_data`` 0; facts
#: ``kuberay_ray.md``). Through an L4 proxy the PING and its ACK are bytes both ways, so they
#: reset the proxy's idle timer. Cut anyway, the client reconnects and keeps its session
#: (``feasibility.md`` §B, measured with nginx ``proxy_timeout 5s``).
RAY_CLIENT_KEEPALIVE_S = 30


def tcp_idle(impl: Implementation, old: int | None, text: str, rendered: str | None = None,
             only_ray_client: bool = False) -> Verdict:
    """The verdict on ingress-nginx's ``proxy-stream-timeout`` (``old`` s, the stream proxy's
    ``proxy_timeout``: the longest pause between two reads or writes on a tcp-services
    connection) for the TCPRoutes. ``only_ray_client``: every TCP port is the Ray Client's,
    whose keepalive keeps a live session busy (``RAY_CLIENT_KEEPALIVE_S``); any other service
    on those ports may go silent, and a shorter cut is then an error (the issue's rule: a
    timeout under the old one). ``rendered``: the policy raygate writes to carry it, if any."""
    if rendered is not None:
        return Verdict("converted", f"{rendered} keeps {text} for the TCP ports")
    new = impl.tcp_idle_s
    if new is None:
        return Verdict("approximated",
                       f"TCP idle timeouts are {impl.title}'s own configuration: check it does not "
                       f"cut a TCP connection silent for less than {text}", "warning")
    if new == 0:
        return Verdict("approximated",
                       f"{impl.title} never cuts a silent TCPRoute connection: nothing is cut "
                       f"sooner than before, but a dead client's connection is no longer closed "
                       f"after {text}", "warning")
    if old is None:
        return Verdict("approximated", f"proxy-stream-timeout {text} is not an nginx time; "
                                       f"{impl.title} cuts a silent TCPRoute connection after "
                                       f"{units.gep_duration(new)}", "warning")
    cut = (f"{impl.title} cuts a TCPRoute connection silent for {units.gep_duration(new)}, "
           f"shorter than proxy-stream-timeout {text}")
    if 0 < old <= new:
        return Verdict("converted", f"{impl.title} cuts a TCPRoute connection silent for "
                                    f"{units.gep_duration(new)}, at least {text}")
    least = f'"{old * 1000}" (milliseconds, {text})' if impl.tcp_idle_knob_ms else text
    if only_ray_client and new > RAY_CLIENT_KEEPALIVE_S:
        keep = (f" (to keep the old bound anyway, set {impl.tcp_idle_knob} to {least})"
                if impl.tcp_idle_knob else "")
        return Verdict("approximated",
                       f"{cut}, but a live Ray Client session is never silent that long (its "
                       f"gRPC keepalive pings every {RAY_CLIENT_KEEPALIVE_S}s): only dead "
                       f"connections are closed sooner{keep}")
    fix = (f"set {impl.tcp_idle_knob} to at least {least}" if impl.tcp_idle_knob else
           f"{impl.title} has no setting for it: expose these ports through a LoadBalancer "
           "Service of their own instead of the Gateway")
    who = (f"a Ray Client session is cut between its {RAY_CLIENT_KEEPALIVE_S}s keepalives and "
           "has to reconnect" if only_ray_client else
           "a connection on a tcp-services port other than the Ray Client's (which keeps "
           f"itself busy every {RAY_CLIENT_KEEPALIVE_S}s) breaks when silent for longer")
    return Verdict("approximated", f"{cut}: {who}; {fix}", "error")


def body_size(impl: Implementation, old: int | None, text: str, uploads: bool,
              rendered: str | None = None) -> Verdict:
    """The verdict on ingress-nginx's body size (``old`` bytes, 0 = no limit, None = not
    understood). ``rendered``: the policy raygate writes to carry it, if any."""
    need = " (Ray uploads need 100 MiB)" if uploads else ""
    if rendered is not None:
        small = uploads and old is not None and 0 < old < RAY_UPLOAD
        return Verdict("converted", rendered + (f"; {text} is under the 100 MiB Ray's working_dir "
                                                "uploads need (it was already)" if small else ""),
                       "warning" if small else "info")
    limit = impl.default_body_limit
    if limit is None:
        knob = impl.body_limit_knob or "the implementation's body size"
        return Verdict("dropped", f"no Gateway API field; set {knob} to at least {text}{need}",
                       "warning")
    if limit == 0:
        buffer = (", and a requestBuffer would turn the log tail's WebSocket off"
                  if impl.request_buffer_breaks_websocket else "")
        return Verdict("converted", f"{impl.title} sets no request body limit by default"
                                    f"{buffer}: {text} becomes unlimited")
    if old is not None and 0 < old <= limit:
        return Verdict("converted", f"{impl.title}'s default limit ({limit} bytes) is at least "
                                    f"{text}")
    return Verdict("dropped", f"{impl.title} caps request bodies at {limit} bytes by default, "
                              f"under {text}: larger uploads get 413; set "
                              f"{impl.body_limit_knob} to at least {text}{need}", "error")


def websocket(impl: Implementation) -> Verdict:
    """WebSocket upgrades (the log tail of ``ray job logs --follow``)."""
    if impl.websocket_by_default:
        return Verdict("converted", f"{impl.title} proxies WebSocket upgrades by default"
                       + (" (no requestBuffer is written: it would turn the upgrade off)"
                          if impl.request_buffer_breaks_websocket else ""))
    if impl.websocket_by_default is False:
        return Verdict("dropped", f"{impl.title} does not proxy WebSocket upgrades: ray job "
                                  "logs --follow breaks", "error")
    return Verdict("approximated", "HTTPRoute has no WebSocket field: the implementation "
                                   "decides; check ray job logs --follow after the move",
                   "warning")


def request_read(impl: Implementation, body_timeout: int) -> Verdict | None:
    """The time allowed to read a whole request (an upload), against ingress-nginx's
    ``client-body-timeout`` (``body_timeout`` s between two reads of the body). None where the
    implementation sets no total read time."""
    total = impl.request_read_total_s
    if not total:
        return None
    return Verdict("approximated",
                   f"{impl.title} allows {total}s to read a whole request, body included, where "
                   f"nginx only bounded a pause of {body_timeout}s: an upload (ray job submit "
                   f"--working-dir, up to 100 MiB) still flowing after {total}s is cut; set "
                   f"{impl.request_read_knob}", "error")


def for_spec(impl: Implementation, read: int, send: int, body: int | None, body_text: str,
             body_timeout: int, body_rendered: str | None = None,
             stream: tuple[int | None, str, str | None, bool] | None = None
             ) -> list[tuple[str, Verdict]]:
    """Every verdict for one set of ingress-nginx values, as (subject, verdict). ``stream``:
    (seconds, text, rendered policy, only the Ray Client) of the stream timeout when TCP ports
    are exposed."""
    out = [("proxy timeouts", idle_timeout(impl, read, send)),
           ("body size", body_size(impl, body, body_text, True, body_rendered)),
           ("WebSocket", websocket(impl))]
    read_total = request_read(impl, body_timeout)
    if read_total is not None:
        out.append(("upload time", read_total))
    if stream is not None:
        out.append(("TCP idle timeout", tcp_idle(impl, *stream)))
    return out


__all__ = ["Verdict", "RAY_UPLOAD", "RAY_CLIENT_KEEPALIVE_S", "rule_timeouts", "idle_timeout", "tcp_idle", "body_size",
           "websocket", "request_read", "for_spec"]
