"""The operator's writes and watches: HTTP/1.1 connections of its own to the API server
lightkube resolved.

A burst of 500 new Ray clusters is ~1,500 writes before the last one is routed (its port
record, two Ingresses) and ~1,000 more to tell users, and the operator's one Python process is
CPU-bound while it makes them. Through httpx (lightkube's client) a write cost the operator
0.8-0.96 ms of CPU, most of it in httpx's, httpcore's and h11's pure-Python request and
response machinery; through ``http.client`` on a connection kept per thread it costs about
half (docs/benchmarks.md, "Operator at scale"). A watch event read through them costs
0.08 ms where httpx's stream cost 0.12 ms (``Transport.stream``, ``loop.watch_stream``;
bench/watch_decode.py).

Nothing about *where* or *as whom* is decided here: the server, TLS context (CA, client
certificate) and authentication are the ones lightkube built from the kubeconfig or the
in-cluster config (lightkube 1.0 ``Client._client._client``, an ``httpx2.Client``;
pyproject bounds lightkube to 1.0.x for that). The ``Authorization`` header of each request
comes from that client's own auth flow (a static token, a token file the kubelet rotates, an
exec plugin). What this cannot do exactly as httpx does, it leaves to httpx:

- a client with proxies or another transport mounted (``usable`` is False: every write goes
  through httpx);
- a 401 (an expired token: httpx's auth flow refreshes and retries, as it does for lightkube).

Connections are pooled, not kept per thread: a pass writes from threads of its own. A
connection the server closed while it was idle (keep-alive timeout) fails on its next use
before any response arrives; that request is sent once more on a new connection. Should the
server have acted on it anyway, a create answers 409 AlreadyExists the second time: a port
claim then moves to the next port and the repair pass frees the duplicate, keeping the lowest
(``allocations.repair``), so a port users were told never moves.
"""

from __future__ import annotations

import http.client
import threading
from typing import Any, Iterator

#: The failures of a reused keep-alive connection the server had closed: nothing was answered.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
          ConnectionAbortedError)


class Reply:
    """An answer read whole: status, headers (lower-case names) and body."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        import json
        return json.loads(self.content)


class Transport:
    """Writes over keep-alive connections of its own to ``http``'s base URL: a pool any
    thread takes one from and gives it back to (a pass's writers are new threads each time,
    and a TLS handshake per thread per pass would cost more than the writes save)."""

    #: Idle connections kept at most (a pass writes with 16 threads).
    max_idle = 32

    def __init__(self, http: Any) -> None:
        import httpx2
        self.http = http
        base = http.base_url
        self.origin = f"{base.scheme}://{base.netloc.decode('ascii')}"
        self._https = base.scheme == "https"
        self._host = base.host
        self._port = base.port or (443 if self._https else 80)
        pool = getattr(http._transport, "_pool", None)
        self._ssl = getattr(pool, "_ssl_context", None) if self._https else None
        timeout = http.timeout
        # http.client has one timeout for connecting and for each read and write: the
        # longest httpx was given (None: none, as httpx's None is).
        given = [t for t in (timeout.connect, timeout.read, timeout.write) if t is not None]
        self._timeout = max(given) if given else None
        self._user_agent = http.headers.get("user-agent", "raygate-operator")
        #: Only a plain client: its own default transport, nothing mounted (a proxy is a
        #: mount), over http(s), with the TLS context found when the server wants TLS, and
        #: no hook that wants httpx's responses. Request hooks (``ClusterSource`` counts
        #: every request with one) are called with each request, as httpx calls them.
        hooks = http.event_hooks
        self._request_hooks = list(hooks.get("request") or [])
        self.usable = (type(http._transport) is httpx2.HTTPTransport and not http._mounts
                       and base.scheme in ("http", "https") and not hooks.get("response")
                       and (self._ssl is not None or not self._https))
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _take(self, fresh: bool) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection (``True``: it was used before), or a new one."""
        if not fresh:
            with self._lock:
                if self._idle:
                    return self._idle.pop(), True
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                               context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        return conn, False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def _announce(self, method: str, url: str) -> str | None:
        """Call the client's request hooks with this request, as httpx would, and return
        the Authorization header its auth flow gives it."""
        import httpx2
        request = httpx2.Request(method, url)
        for hook in self._request_hooks:
            hook(request)
        auth = self.http.auth
        if auth is None:
            return None
        return next(auth.sync_auth_flow(request)).headers.get("authorization")

    def send(self, method: str, url: str, body: bytes, content_type: str) -> Reply:
        """Send one request to ``url`` (absolute, under ``origin``); the answer read whole."""
        if not url.startswith(self.origin):
            raise ValueError(f"{url} is not on {self.origin}")
        headers = {"Content-Type": content_type, "Accept": "application/json",
                   "User-Agent": self._user_agent}
        authorization = self._announce(method, url)
        if authorization:
            headers["Authorization"] = authorization
        path = url[len(self.origin):] or "/"
        conn, reused = self._take(fresh=False)
        while True:
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                content = response.read()
            except _STALE:
                conn.close()
                if not reused:
                    raise
                conn, reused = self._take(fresh=True)
                continue
            except BaseException:
                conn.close()  # half a request or answer on it: never reuse
                raise
            self._give_back(conn)
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                         content)

    def stream(self, url: str, *, timeout: float | None) -> "Stream":
        """GET ``url`` on a connection of its own and hand its answer over as it arrives (a
        watch: ``timeout`` is how long a read may wait, longer than the watch's own
        ``timeoutSeconds``)."""
        if not url.startswith(self.origin):
            raise ValueError(f"{url} is not on {self.origin}")
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        authorization = self._announce("GET", url)
        if authorization:
            headers["Authorization"] = authorization
        if self._https:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            conn.request("GET", url[len(self.origin):] or "/", headers=headers)
            return Stream(conn, conn.getresponse())
        except BaseException:
            conn.close()
            raise


class Stream:
    """An answer read as it arrives (``chunks``), on a connection closed with it."""

    def __init__(self, conn: http.client.HTTPConnection,
                 response: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._response = response
        self.status_code = response.status
        self.headers = {k.lower(): v for k, v in response.getheaders()}

    def read(self) -> bytes:
        return self._response.read()

    def chunks(self, size: int = 65536) -> Iterator[bytes]:
        """What has arrived, as it arrives (a watch event is usually one chunk), until the
        server ends the answer."""
        while True:
            data = self._response.read1(size)
            if not data:
                return
            yield data

    def close(self) -> None:
        self._conn.close()
