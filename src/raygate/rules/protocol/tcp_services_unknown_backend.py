"""RG202 tcp-services-unknown-backend: a tcp-services entry whose Service or port does not exist.

This is the seed guide's "Service does not have any active Endpoint for TCP port 9000": the map
pointed at port 9000 of the Ray head Service, which has no such port. The controller resolves
the port field itself (facts: ingress_nginx.md §3.1): a number must equal a Service
``spec.ports[].port`` (the targetPort does not count), a name must equal ``spec.ports[].name``,
and the port's protocol must be TCP. Anything else ends in the warning
``Service "<ns/svc>" does not have any active Endpoint for TCP port <port>`` and the entry is
dropped, so nothing listens on the external port (§3.2). A Service the controller cannot see
logs ``Error getting Service "<ns/svc>": no object matching key "<ns/svc>" in local store``.

When a Service is not in the inputs, raygate only reports it as missing if the inputs describe
that namespace (some Service or Ray CR lives there); otherwise the Service was most likely just
not handed to raygate. A Service that KubeRay will create for a Ray CR in the inputs counts as
present, with the ports KubeRay gives it (facts: kuberay_ray.md §1.2).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from raygate.backends import ingress_nginx as nginx
from raygate import kuberay
from raygate.model.exposure import WELL_KNOWN
from raygate.findings import Finding
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import Context, rule
from raygate.rules.protocol import _tcp

NO_ENDPOINT = 'Service "{ns}/{svc}" does not have any active Endpoint for TCP port {port}'
NOT_FOUND = 'Error getting Service "{ns}/{svc}": no object matching key "{ns}/{svc}" in local store'


@rule(
    code="RG202",
    name="tcp-services-unknown-backend",
    layer="protocol",
    severity="error",
    kinds=("ConfigMap",),
    title="tcp-services entry names a Service or port that does not exist",
    rationale="""
        ingress-nginx resolves each tcp-services entry against the Service it names: a number
        must equal one of the Service's `port` values (not a `targetPort`), a name must equal a
        port `name`, and that port must be TCP. When the Service or the port is missing, the
        controller logs `Service "<ns/svc>" does not have any active Endpoint for TCP port
        <port>` and drops the entry, so nginx never listens on the external port and clients
        get connection refused or a timeout. This is the seed guide's port 9000 problem: a
        KubeRay head Service only has the ports of the head container (gcs-server, dashboard,
        client, serve, metrics by default).
    """,
    fix="Point the entry at a TCP port the Service really has, by its port number or its name.",
    references=(
        _tcp.TCP_DOC,
        "https://docs.ray.io/en/latest/cluster/kubernetes/user-guides/config.html",
    ),
    errors=(
        'Service "<ns/svc>" does not have any active Endpoint for TCP port <port>',
        'Error getting Service "<ns/svc>": no object matching key "<ns/svc>" in local store',
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not _tcp.is_tcp_map(ctx.objects, obj):
        return
    readers = _tcp.readers(ctx.objects, obj)
    for entry in _tcp.entries(ctx.objects, obj):
        if not _tcp.usable(entry):
            continue  # RG201 reports entries the controller cannot parse
        assert entry.namespace is not None and entry.service is not None and entry.port
        hidden = _unwatched(readers, entry.namespace)
        if hidden:
            yield ctx.finding(
                obj, entry.field,
                NOT_FOUND.format(ns=entry.namespace, svc=entry.service)
                + f": {hidden}, so it never sees Services in namespace {entry.namespace!r}",
                fix=("Move the Service into the watched namespace or widen --watch-namespace "
                     "on the controller."))
            continue
        backend = _tcp.backend_ports(ctx.objects, entry.namespace, entry.service)
        if backend is None:
            if _tcp.namespace_known(ctx.objects, entry.namespace):
                yield ctx.finding(
                    obj, entry.field,
                    NOT_FOUND.format(ns=entry.namespace, svc=entry.service)
                    + f": no Service {entry.service!r} in namespace {entry.namespace!r} in the "
                    "inputs, and no Ray CR there that would create it",
                    fix=_missing_service_fix(ctx.objects, entry))
            continue
        if backend.service is not None and backend.service.spec.get("type") == "ExternalName":
            continue  # no ports to match; the controller resolves ExternalName differently
        if _tcp.match_port(backend.ports, entry.port) is not None:
            continue
        reason, suggestion = _explain(backend.ports, entry)
        message = (NO_ENDPOINT.format(ns=entry.namespace, svc=entry.service, port=entry.port)
                   + f": {reason} ({backend.source} has {_tcp.describe_ports(backend.ports)})")
        fix = None
        if suggestion is not None:
            fix = (f'Change the entry to "{entry.key}": '
                   f'"{entry.namespace}/{entry.service}:{suggestion}{_proxy_suffix(entry)}".')
        elif _tcp_only(backend.ports):
            fix = (f"Point the entry at one of the TCP ports of Service "
                   f"{entry.namespace}/{entry.service} "
                   f"({_tcp.describe_ports(_tcp_only(backend.ports))}), or remove it.")
        elif backend.ports:
            fix = ("Expose UDP ports through the udp-services ConfigMap "
                   "(--udp-services-configmap) instead.")
        else:
            fix = f"Add the port to Service {entry.namespace}/{entry.service}, or remove the entry."
        yield ctx.finding(obj, entry.field, message, fix=fix)


def _unwatched(readers: Sequence[nginx.Controller], namespace: str) -> str | None:
    """Why every controller reading the map is blind to ``namespace``, or None.

    The controller's informers are scoped to --watch-namespace (facts: ingress_nginx.md §3.2,
    derived from store.go), so a Service elsewhere is "not in local store".
    """
    if not readers:
        return None
    blind = []
    for c in readers:
        watched = _tcp.watch_namespace(c)
        if watched is None or watched == namespace:
            return None
        blind.append(f"{_tcp.workload_ref(c)} only watches namespace {watched!r} (--watch-namespace)")
    return "; ".join(blind)


def _explain(ports: Sequence[Mapping[str, Any]], entry: nginx.TcpEntry) -> tuple[str, str | None]:
    """Why no port matched, and the port (number or name) the entry most likely meant."""
    assert entry.port is not None
    wanted = entry.port
    number = int(wanted) if _tcp.ATOI_RE.match(wanted) else None
    tcp = _tcp_only(ports)
    if number is not None:
        for p in ports:
            if _tcp.as_int(p.get("port")) == number and _tcp.port_protocol(p) != "TCP":
                return (f"port {number} is {_tcp.port_protocol(p)}, and a tcp-services entry only "
                        "matches TCP ports", None)
        for p in tcp:
            if _tcp.as_int(p.get("targetPort")) == number and _tcp.as_int(p.get("port")) != number:
                return (f"{number} is the targetPort of port {_label(p)}; the controller matches a "
                        "number against spec.ports[].port, not targetPort", str(p.get("port")))
    else:
        for p in ports:
            if p.get("name") == wanted and _tcp.port_protocol(p) != "TCP":
                return (f"port {wanted!r} is {_tcp.port_protocol(p)}, and a tcp-services entry "
                        "only matches TCP ports", None)
        for p in tcp:
            name = p.get("name")
            if isinstance(name, str) and name.lower() == wanted.lower():
                return f"port names are case-sensitive: the Service calls it {name!r}", name
        for p in tcp:
            if p.get("targetPort") == wanted:
                return (f"{wanted!r} is the targetPort of port {_label(p)}; the controller matches "
                        "a name against spec.ports[].name", _name_or_number(p))
    # No near miss: guess from the external port (the usual "10001": "...:10001" pattern) or
    # from the Ray port the number conventionally means.
    what = f"no port numbered {number}" if number is not None else f"no port named {wanted!r}"
    for guess in _guesses(entry, number):
        for p in tcp:
            if _tcp.as_int(p.get("port")) == guess or p.get("name") == guess:
                return what, _name_or_number(p)
    return what, None


def _guesses(entry: nginx.TcpEntry, number: int | None) -> list[Any]:
    guesses: list[Any] = []
    for n in (number, entry.external_port):
        if n is not None and n in WELL_KNOWN:
            guesses.append(WELL_KNOWN[n])
    if entry.external_port is not None:
        guesses.append(entry.external_port)
    return guesses


def _tcp_only(ports: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [p for p in ports if _tcp.port_protocol(p) == "TCP"]


def _label(p: Mapping[str, Any]) -> str:
    name = p.get("name")
    return f"{name!r} ({p.get('port')})" if isinstance(name, str) and name else str(p.get("port"))


def _name_or_number(p: Mapping[str, Any]) -> str:
    name = p.get("name")
    return name if isinstance(name, str) and name else str(p.get("port"))


def _proxy_suffix(entry: nginx.TcpEntry) -> str:
    fields = entry.value.split(":")
    return ":" + ":".join(fields[2:]) if len(fields) > 2 else ""


def _missing_service_fix(objects: ObjectSet, entry: nginx.TcpEntry) -> str:
    heads = sorted(kuberay.head_service_name(rc) for rc in kuberay.ray_clusters(objects)
                   if rc.namespace == entry.namespace)
    if heads:
        return (f"Name the Ray head Service KubeRay creates in {entry.namespace!r}: "
                f"{', '.join(repr(h) for h in heads)}.")
    elsewhere = sorted(s.namespace for s in objects.of_kind("Service") if s.name == entry.service)
    if elsewhere:
        return (f"Use the namespace the Service lives in: "
                f'"{elsewhere[0]}/{entry.service}:{entry.port}".')
    return f"Create the Service {entry.namespace}/{entry.service} or fix the name in the entry."
