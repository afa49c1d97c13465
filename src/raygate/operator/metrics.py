"""Health and Prometheus metrics for the operator, on a small HTTP server.

``/healthz`` answers 200 while the loop is alive; ``/readyz`` 200 once the first pass finished
(on the leader) or while standing by; ``/metrics`` is the Prometheus text format (0.0.4).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_HELP = {
    "raygate_operator_reconciles_total": ("counter", "Reconcile passes run."),
    "raygate_operator_reconcile_errors_total": ("counter", "Reconcile passes that failed."),
    "raygate_operator_allocated_ports": ("gauge", "External TCP ports held by exposed clusters."),
    "raygate_operator_allocations_total": ("counter", "Ports allocated."),
    "raygate_operator_releases_total": ("counter", "Ports released (leaks, duplicates, deletions)."),
    "raygate_operator_exposed_clusters": ("gauge", "Ray clusters currently exposed."),
    "raygate_operator_drift_events_total": ("counter", "Gateway placement drift events."),
    "raygate_operator_probes_total": ("counter", "Probes run (after changes and periodically)."),
    "raygate_operator_probe_failures_total": ("counter", "Probes that failed."),
    "raygate_operator_is_leader": ("gauge", "1 on the replica that holds the Lease."),
    "raygate_operator_api_writes_total": ("counter", "API writes made by reconcile passes."),
}
#: Per exposed cluster (labels namespace, name): its last probe, as the raygate.io/probe and
#: raygate.io/probe-time annotations say it.
_LABELLED_HELP = {
    "raygate_operator_probe_success": (
        "gauge", "1 if the cluster's last probe passed, 0 if it failed."),
    "raygate_operator_probe_timestamp_seconds": (
        "gauge", "When the cluster's last probe ran (Unix time)."),
}


def _label_value(value: str) -> str:
    # The text format's escapes for label values: backslash, double quote, line feed.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, float] = {name: 0.0 for name in _HELP}
        #: family -> ((label, value) pairs) -> value.
        self._labelled: dict[str, dict[tuple[tuple[str, str], ...], float]] = {
            name: {} for name in _LABELLED_HELP}
        self.ready = False
        self.alive = True

    def inc(self, name: str, by: float = 1) -> None:
        with self._lock:
            self._values[name] = self._values.get(name, 0.0) + by

    def set(self, name: str, value: float) -> None:
        with self._lock:
            self._values[name] = value

    def get(self, name: str) -> float:
        with self._lock:
            return self._values.get(name, 0.0)

    def replace_family(self, name: str,
                       series: dict[tuple[tuple[str, str], ...], float]) -> None:
        """All series of a labelled family at once (clusters gone lose theirs)."""
        with self._lock:
            self._labelled[name] = dict(series)

    def labelled(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        with self._lock:
            return dict(self._labelled.get(name, {}))

    def render(self) -> str:
        lines = []
        with self._lock:
            for name, value in sorted(self._values.items()):
                kind, text = _HELP.get(name, ("gauge", name))
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}",
                          f"{name} {value:g}"]
            for name, series in sorted(self._labelled.items()):
                kind, text = _LABELLED_HELP[name]
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                for labels, value in sorted(series.items()):
                    inner = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels)
                    lines.append(f"{name}{{{inner}}} {value:.17g}")
        return "\n".join(lines) + "\n"


def serve(metrics: Metrics, host: str, port: int) -> ThreadingHTTPServer:
    """Start the health/metrics server in a daemon thread; returns it (``.server_port``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/metrics":
                body, code, ctype = metrics.render().encode(), 200, "text/plain; version=0.0.4"
            elif self.path == "/healthz":
                body, code, ctype = b"ok\n", 200 if metrics.alive else 500, "text/plain"
            elif self.path == "/readyz":
                body, code, ctype = b"ready\n" if metrics.ready else b"starting\n", \
                    200 if metrics.ready else 503, "text/plain"
            else:
                body, code, ctype = b"not found\n", 404, "text/plain"
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()
    return server
