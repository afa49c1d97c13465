"""Probe outcomes as plain data: a verdict, how long it took, and the cause when it failed.

A check that could not run is a SKIP with a reason, not an exception (the probe as a whole
only raises ``ProbeError`` when it cannot start at all, e.g. a malformed URL).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from raygate.errors import ProbeError

DEFAULT_GCS_PORT = 6379
DEFAULT_AGENT_PORT = 52365


class Verdict(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


@dataclass
class CheckResult:
    """One check. ``cause`` says why it failed, in the user's terms, with the likely fix."""

    name: str
    title: str
    verdict: Verdict
    seconds: float = 0.0
    detail: str = ""
    cause: str | None = None
    #: The catalog rule this failure corresponds to, when there is one (static view).
    rule: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    #: When the check began, in seconds after the probe began (checks run concurrently, so
    #: these are all near 0; a report can show which check waited for which).
    started: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["verdict"] = self.verdict.value
        d["seconds"] = round(self.seconds, 3)
        d["started"] = round(self.started, 3)
        return d


@dataclass(frozen=True)
class ProbeOptions:
    """What to probe. ``token`` is never printed; ``masked`` hides it in any text."""

    url: str
    client: str | None = None
    serve: str | None = None
    token: str | None = field(default=None, repr=False)
    submit: bool = False
    gcs_port: int = DEFAULT_GCS_PORT
    agent_port: int = DEFAULT_AGENT_PORT
    timeout: float = 10.0
    client_timeout: float = 20.0
    job_timeout: float = 60.0
    allow_unauthenticated: bool = False
    deep_client: bool = True

    @property
    def dashboard_url(self) -> str:
        """The Dashboard URL with exactly one trailing slash (what a browser must open)."""
        return self.url.rstrip("/") + "/"

    @property
    def gateway_root(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def gateway_host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def prefix(self) -> str:
        return urlsplit(self.url).path.rstrip("/")

    @property
    def serve_url(self) -> str | None:
        if not self.serve:
            return None
        if "://" in self.serve:
            return self.serve
        return self.gateway_root + "/" + self.serve.lstrip("/")

    def client_address(self) -> tuple[str, int] | None:
        if not self.client:
            return None
        host, _, port = self.client.removeprefix("ray://").rpartition(":")
        return (host or self.gateway_host, int(port))

    def masked(self, text: str) -> str:
        if self.token and self.token in text:
            text = text.replace(self.token, "***")
        return text

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def validate(options: ProbeOptions) -> ProbeOptions:
    parts = urlsplit(options.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProbeError(f"{options.url!r} is not a gateway URL such as http://GATEWAY/ray/")
    if options.client:
        address = options.client.removeprefix("ray://")
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ProbeError(f"--client {options.client!r} must be HOST:PORT, e.g. GATEWAY:10001")
    return options


@dataclass
class ProbeReport:
    target: str
    results: list[CheckResult]
    seconds: float
    #: Set when the gateway accepted no connection at all: why (refused, timed out).
    unreachable: str | None = None

    @property
    def ok(self) -> bool:
        return not any(r.verdict is Verdict.FAIL for r in self.results)

    def result(self, name: str) -> CheckResult | None:
        return next((r for r in self.results if r.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "ok": self.ok, "seconds": round(self.seconds, 3),
                "unreachable": self.unreachable,
                "checks": [r.to_dict() for r in self.results]}
