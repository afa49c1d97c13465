"""RG201 malformed-tcp-services-entry: a tcp-services entry the controller cannot parse.

ingress-nginx reads each ``data`` entry of its tcp-services ConfigMap as
``"<external port>": "<namespace>/<service>:<port>[:PROXY[:PROXY]]"``. An entry it cannot parse
is skipped with only a warning in the controller log, so the port is simply never opened and the
Ray Client (or GCS) connection times out with nothing in kubectl output to explain it
(facts: ingress_nginx.md §3.1 for the format and the exact log lines; §3.2 for how entries are
dropped). Some mistakes are silent even in the log: a third or fourth field that is not
``PROXY`` is ignored, and whitespace is not trimmed, so ``"ray/head-svc:10001\\n"`` from a YAML
block scalar looks for a port *named* ``10001\\n``.
"""

from __future__ import annotations

from typing import Any, Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.protocol import _tcp

# What the API server says when a ConfigMap data value is not a string.
NOT_A_STRING = ('ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot '
                'unmarshal {json_type} into Go struct field ConfigMap.data of type string')


@rule(
    code="RG201",
    name="malformed-tcp-services-entry",
    layer="protocol",
    severity="error",
    kinds=("ConfigMap",),
    title="tcp-services entry the ingress-nginx controller cannot parse",
    rationale="""
        The controller parses every tcp-services entry itself: the key must be the external
        port number and the value `<namespace>/<service>:<port>`, optionally followed by
        `:PROXY` (decode PROXY protocol) and `:PROXY` (send it upstream). An entry it cannot
        parse is dropped with a single warning in the controller log; `kubectl apply` succeeds,
        nothing is listened on, and the Ray Client only reports
        `ConnectionError: ray client connection timeout` after 30 seconds. Some mistakes are not
        even logged: a PROXY field spelled differently is ignored, and surrounding whitespace is
        not trimmed, so the port field no longer matches anything.
    """,
    fix=("Write the entry as \"<port>\": \"<namespace>/<service>:<service port or name>\", "
         "adding \":PROXY\" fields only when PROXY protocol is wanted."),
    references=(
        _tcp.TCP_DOC,
        _tcp.CLI_ARGS_DOC,
    ),
    errors=(
        '"<key>" is not a valid TCP port number',
        'Invalid Service reference "<value>" for TCP port <port>',
        "invalid format (namespace/name) found in '<value>'",
        "cannot unmarshal <type> into Go struct field ConfigMap.data of type string",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not _tcp.is_tcp_map(ctx.objects, obj):
        return
    data = obj.get("data")
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        field = ("data", str(key))
        for message, fix in problems(key, value):
            yield ctx.finding(obj, field, message, fix=fix)


def problems(key: Any, value: Any) -> list[tuple[str, str | None]]:
    """Everything wrong with one entry, as (message, precise fix or None)."""
    key_s = str(key)
    if not isinstance(value, str) and value is not None:
        json_type = ("bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float))
                     else "array" if isinstance(value, list) else "object")
        return [(NOT_A_STRING.format(json_type=json_type) + f" (the value of {key_s!r} is "
                 f"{value!r}; the API server rejects the whole ConfigMap)",
                 f'Quote the value: "{key_s}": "<namespace>/<service>:<port>".')]
    value_s = value or ""
    if not _tcp.ATOI_RE.match(key_s):
        return [(f'"{key_s}" is not a valid TCP port number: the controller skips this entry '
                 "(the key must be the external port the controller listens on)",
                 "Use the external port number as the key, e.g. \"10001\".")]
    external = int(key_s)
    if not 1 <= external <= 65535:
        return [(f"{external} is not a TCP port (1-65535), so the controller cannot listen on it",
                 None)]
    entry = nginx.parse_tcp_entry(key_s, value_s)
    if entry.error:
        return [(entry.error + ": the controller skips this entry", None)]
    found: list[tuple[str, str | None]] = []
    if not entry.port:
        found.append((f'the port field of "{value_s}" is empty: the controller looks for a '
                      "Service port with an empty name and, finding none, logs "
                      f'Service "{entry.namespace}/{entry.service}" does not have any active '
                      "Endpoint for TCP port  (and drops the entry)", None))
    if value_s != value_s.strip() or any(c.isspace() for c in value_s):
        # The controller splits the raw string; it never trims (controller.go getStreamServices).
        found.append((f"the value {value_s!r} contains whitespace, which the controller does not "
                      f"trim: it looks for namespace {entry.namespace!r}, Service "
                      f"{entry.service!r}, port {entry.port!r} literally and drops the entry",
                      f'Remove the whitespace: "{key_s}": "{"".join(value_s.split())}".'))
    fields = value_s.split(":")
    for index, ordinal, meaning in ((2, "third", "decode PROXY protocol from clients"),
                                    (3, "fourth", "send PROXY protocol to the Service")):
        if len(fields) > index and fields[index].strip() and fields[index].strip().upper() != "PROXY":
            found.append((f'the {ordinal} field "{fields[index]}" is not PROXY: the controller '
                          f"silently ignores it and does not {meaning}", None))
    if len(fields) > 4:
        found.append((f"{len(fields)} ':'-separated fields: the format is "
                      "<namespace>/<service>:<port>[:PROXY[:PROXY]], the controller ignores "
                      f"{':'.join(fields[4:])!r}", None))
    return found
