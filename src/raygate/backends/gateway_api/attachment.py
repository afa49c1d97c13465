"""What a Gateway API controller decides about routes and listeners, from the objects alone.

Every conformant implementation reports the same status for the same objects; Gateway API's
conformance suite (kubernetes-sigs/gateway-api ``conformance/tests/*.go`` @v1.6.1) asserts it.
This module replays those decisions so lint can say *before* apply what ``kubectl get
httproute -o yaml`` would say after:

* a route's parentRef (``Accepted``): ``NoMatchingParent`` (no listener has the
  ``sectionName``/``port``), ``NotAllowedByListeners`` (no matching listener admits the route's
  kind or namespace: ``allowedRoutes``; a TCPRoute on an HTTP listener), or
  ``NoMatchingListenerHostname`` (route ``hostnames`` and listener ``hostname`` do not intersect);
* a route's backendRefs (``ResolvedRefs``): ``InvalidKind`` (not a core Service),
  ``BackendNotFound`` (the Service is not there), ``RefNotPermitted`` (another namespace, and no
  ReferenceGrant there permits it);
* listeners: ``InvalidRouteKinds`` (``allowedRoutes.kinds`` names a kind the protocol cannot
  carry), ``RefNotPermitted`` (a certificateRef to another namespace without a grant),
  ``ProtocolConflict``/``HostnameConflict`` between a Gateway's listeners and those its
  ListenerSets add (the Gateway's own win, then the oldest ListenerSet, then by namespace/name),
  and ``NotAllowed`` for a ListenerSet the Gateway's ``allowedListeners`` does not admit.

What the inputs cannot decide stays quiet: a parent Gateway or a backend namespace that is not in
the inputs, a namespace selector over labels of a Namespace that is not there.
Sources: ``apis/v1/{gateway,httproute,shared,referencegrant,listenerset}_types.go`` @v1.6.1;
facts ``gateway_api_metallb.md`` §3.2, §5.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, Iterable, Mapping

from raygate import kuberay
from raygate.backends.gateway_api import api
from raygate.objects import FieldPath, KubeObject, ObjectSet, matches_label_selector
from raygate.records import record

GROUP = api.GROUP
ROUTE_KINDS = api.ROUTE_KINDS
#: Route kinds each listener protocol carries (GEP-1911 / the Listener type docs).
PROTOCOL_KINDS = {
    "HTTP": {"HTTPRoute", "GRPCRoute"},
    "HTTPS": {"HTTPRoute", "GRPCRoute"},
    "TLS": {"TLSRoute", "TCPRoute"},  # Passthrough: TLSRoute only (supported_kinds)
    "TCP": {"TCPRoute"},
    "UDP": {"UDPRoute"},
}
#: Backend kinds besides core Service that implementations accept (their own CRDs): never
#: judged here.
OTHER_BACKENDS = {("multicluster.x-k8s.io", "ServiceImport"), ("gateway.envoyproxy.io", "Backend"),
                  ("inference.networking.k8s.io", "InferencePool"),
                  ("inference.networking.x-k8s.io", "InferencePool")}
LISTENER_SET_KINDS = ("ListenerSet", "XListenerSet")


@record(frozen=True)
class Verdict:
    """One condition the controller would set to False (or Conflicted to True)."""

    obj: KubeObject
    field: FieldPath
    condition: str  # Accepted | ResolvedRefs | Conflicted
    reason: str
    message: str


@record(frozen=True)
class Listener:
    """One listener of a Gateway or ListenerSet, with the Gateway it belongs to."""

    owner: KubeObject  # the Gateway or the ListenerSet that declares it
    gateway: KubeObject
    index: int
    raw: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.raw.get("name"))

    @property
    def port(self) -> Any:
        return self.raw.get("port")

    @property
    def protocol(self) -> str:
        return str(self.raw.get("protocol"))

    @property
    def hostname(self) -> str | None:
        h = self.raw.get("hostname")
        return h if isinstance(h, str) and h else None

    @property
    def field(self) -> FieldPath:
        return ("spec", "listeners", self.index)

    @property
    def title(self) -> str:
        return f"{self.owner.kind} {self.owner.namespace}/{self.owner.name} listener {self.name}"


# ---------------------------------------------------------------------------------------------
# Listeners, ListenerSets and their conflicts


def _raw_listeners(owner: KubeObject) -> list[tuple[int, Mapping[str, Any]]]:
    items = owner.spec.get("listeners")
    return [(i, l) for i, l in enumerate(items if isinstance(items, list) else [])
            if isinstance(l, dict)]


def gateway_of_listener_set(objects: ObjectSet, ls: KubeObject) -> KubeObject | None:
    ref = ls.spec.get("parentRef")
    if not isinstance(ref, dict) or ref.get("kind", "Gateway") != "Gateway" \
            or ref.get("group", GROUP) != GROUP or not isinstance(ref.get("name"), str):
        return None
    ns = ref.get("namespace") if isinstance(ref.get("namespace"), str) else ls.namespace
    return objects.get("Gateway", ns, ref["name"])


def namespace_labels(objects: ObjectSet, namespace: str) -> dict[str, Any] | None:
    """The labels of a namespace: those of its Namespace object, or only the
    ``kubernetes.io/metadata.name`` label every namespace carries when it is not in the inputs
    (None then means: other labels unknown)."""
    ns = objects.get("Namespace", "", namespace)
    labels = dict(ns.labels) if ns is not None else {}
    labels.setdefault("kubernetes.io/metadata.name", namespace)
    return labels if ns is not None else None


def _namespace_allowed(objects: ObjectSet, rule: Mapping[str, Any] | None, owner_ns: str,
                       namespace: str, default: str) -> bool | None:
    """``from: Same|All|Selector|None`` for ``namespace``; None: cannot tell."""
    rule = rule if isinstance(rule, dict) else {}
    frm = rule.get("from") or default
    if frm == "All":
        return True
    if frm == "Same":
        return namespace == owner_ns
    if frm == "Selector":
        selector = rule.get("selector") or {}
        labels = namespace_labels(objects, namespace)
        if labels is None:
            known = {"kubernetes.io/metadata.name": namespace}
            if set((selector.get("matchLabels") or {})) <= set(known) \
                    and not selector.get("matchExpressions"):
                return matches_label_selector(known, selector)
            return None
        return matches_label_selector(labels, selector)
    return False  # None


def listener_set_allowed(objects: ObjectSet, ls: KubeObject, gw: KubeObject) -> bool | None:
    allowed = gw.spec.get("allowedListeners") or {}
    return _namespace_allowed(objects, allowed.get("namespaces") if isinstance(allowed, dict) else None,
                              gw.namespace, ls.namespace, "None")


def listener_sets_of(objects: ObjectSet, gw: KubeObject) -> list[KubeObject]:
    """The ListenerSets attached to ``gw`` in precedence order (oldest, then namespace/name)."""
    out = [ls for ls in objects.of_kind(*LISTENER_SET_KINDS)
           if gateway_of_listener_set(objects, ls) is gw]
    return sorted(out, key=lambda o: (str(o.metadata.get("creationTimestamp") or ""),
                                      o.namespace, o.name))


def _clash(a: Listener, b: Listener) -> str | None:
    """Why two listeners on the same port are not distinct, or None when they are
    (``apis/v1/gateway_types.go`` @v1.6.1, "Distinct Listeners"): the same protocol needs
    different hostnames (HTTP/HTTPS/TLS; TCP and UDP have none); HTTPS and TLS tell requests
    apart by SNI, so they count as one family; UDP never clashes with the TCP-based protocols;
    any other pair on one port (TCP beside HTTP, HTTP beside HTTPS) cannot share it."""
    if a.port != b.port:
        return None
    pa, pb = a.protocol, b.protocol
    if (pa == "UDP") != (pb == "UDP"):
        return None
    if pa == pb or {pa, pb} == {"HTTPS", "TLS"}:
        return "HostnameConflict" if a.hostname == b.hostname else None
    return "ProtocolConflict"


def conflicts(objects: ObjectSet, gw: KubeObject) -> dict[tuple[int, int], tuple[str, Listener]]:
    """(id(owner), listener index) -> (reason, the listener it conflicts with), for every
    conflicted listener of a Gateway and its admitted ListenerSets.

    Within the Gateway no listener wins: every indistinct one is conflicted ("MUST NOT pick one
    conflicting Listener as the winner"). A ListenerSet's listeners then lose to the Gateway's
    and to those of older ListenerSets (creation time, then namespace/name; conformance
    ``listenerset-protocol-conflict``, ``listenerset-hostname-conflict`` @v1.6.1)."""
    cache = objects.memo("gateway-api-conflicts", dict)
    if id(gw) in cache:
        return cache[id(gw)]
    found: dict[tuple[int, int], tuple[str, Listener]] = {}
    own = [Listener(gw, gw, i, raw) for i, raw in _raw_listeners(gw)]
    accepted: list[Listener] = []
    for listener in own:
        clash = next(((r, o) for o in own if o is not listener
                      for r in [_clash(listener, o)] if r), None)
        if clash is not None:
            found[(id(gw), listener.index)] = clash
        else:
            accepted.append(listener)
    for owner in listener_sets_of(objects, gw):
        if listener_set_allowed(objects, owner, gw) is False:
            continue
        for i, raw in _raw_listeners(owner):
            listener = Listener(owner, gw, i, raw)
            clash = next(((r, o) for o in accepted for r in [_clash(listener, o)] if r), None)
            if clash is not None:
                found[(id(owner), i)] = clash
            else:
                accepted.append(listener)
    cache[id(gw)] = found
    return found


def listeners_of_parent(objects: ObjectSet, parent: KubeObject) -> list[Listener]:
    if parent.kind == "Gateway":
        return [Listener(parent, parent, i, raw) for i, raw in _raw_listeners(parent)]
    gw = gateway_of_listener_set(objects, parent)
    if gw is None:
        return []
    return [Listener(parent, gw, i, raw) for i, raw in _raw_listeners(parent)]


def listener_verdicts(objects: ObjectSet, owner: KubeObject) -> list[Verdict]:
    """Conditions of a Gateway's or ListenerSet's listeners (and the ListenerSet itself)."""
    out: list[Verdict] = []
    if owner.kind in LISTENER_SET_KINDS:
        gw = gateway_of_listener_set(objects, owner)
        if gw is None:
            return out
        if listener_set_allowed(objects, owner, gw) is False:
            out.append(Verdict(owner, ("spec", "parentRef"), "Accepted", "NotAllowed",
                               f"Gateway {gw.namespace}/{gw.name} does not admit ListenerSets from "
                               f"namespace {owner.namespace} (spec.allowedListeners.namespaces; "
                               "the default is from: None)"))
            return out
    else:
        gw = owner
    found = conflicts(objects, gw)
    for listener in listeners_of_parent(objects, owner):
        hit = found.get((id(owner), listener.index))
        if hit is not None:
            reason, winner = hit
            what = ("protocol " + winner.protocol) if reason == "ProtocolConflict" else \
                ("hostname " + (winner.hostname or "(none)"))
            out.append(Verdict(owner, listener.field + ("port",), "Conflicted", reason,
                               f"listener {listener.name} ({listener.protocol} {listener.port}) "
                               f"conflicts with {winner.title} on the same port with {what}, "
                               "which takes precedence: it is not programmed"))
        out.extend(_route_kind_verdicts(listener))
        out.extend(_certificate_verdicts(objects, listener))
    if owner.kind == "Gateway":
        out.extend(_gateway_tls_verdicts(objects, owner))
    return out


def _gateway_tls_verdicts(objects: ObjectSet, gw: KubeObject) -> list[Verdict]:
    """Cross-namespace references of the Gateway-level TLS settings (v1.4+): the client
    certificate presented to backends and the CA certificates that validate clients."""
    tls = gw.spec.get("tls")
    if not isinstance(tls, dict):
        return []
    refs: list[tuple[FieldPath, Any]] = []
    backend = tls.get("backend")
    if isinstance(backend, dict):
        refs.append((("spec", "tls", "backend", "clientCertificateRef"),
                     backend.get("clientCertificateRef")))
    frontend = tls.get("frontend")
    if isinstance(frontend, dict):
        default = frontend.get("default")
        if isinstance(default, dict):
            cas = (default.get("validation") or {}).get("caCertificateRefs")
            for j, ref in enumerate(cas if isinstance(cas, list) else []):
                refs.append((("spec", "tls", "frontend", "default", "validation",
                              "caCertificateRefs", j), ref))
        per_port = frontend.get("perPort")
        for i, pp in enumerate(per_port if isinstance(per_port, list) else []):
            cas = ((pp.get("tls") or {}).get("validation") or {}).get("caCertificateRefs") \
                if isinstance(pp, dict) else None
            for j, ref in enumerate(cas if isinstance(cas, list) else []):
                refs.append((("spec", "tls", "frontend", "perPort", i, "tls", "validation",
                              "caCertificateRefs", j), ref))
    out = []
    for field, ref in refs:
        if not isinstance(ref, dict):
            continue
        ns = ref.get("namespace")
        if not isinstance(ns, str) or ns == gw.namespace:
            continue
        kind = ref.get("kind", "Secret")
        if not permitted(objects, GROUP, "Gateway", gw.namespace, ref.get("group", "") or "",
                         kind, ns, ref.get("name")):
            out.append(Verdict(gw, field, "ResolvedRefs", "RefNotPermitted",
                               f"{kind} {ns}/{ref.get('name')} is in another namespace and no "
                               f"ReferenceGrant in {ns} lets Gateways from {gw.namespace} read it"))
    return out


def supported_kinds(listener: Listener) -> set[str] | None:
    """Route kinds the listener's protocol carries: a TLS listener in Passthrough mode only
    TLSRoute (conformance ``tlsroute-listener-passthrough-supported-kinds``); in Terminate mode
    (the default) TLSRoute and TCPRoute."""
    kinds = PROTOCOL_KINDS.get(listener.protocol)
    if kinds is not None and listener.protocol == "TLS":
        tls = listener.raw.get("tls")
        if isinstance(tls, dict) and tls.get("mode") == "Passthrough":
            return {"TLSRoute"}
    return kinds


def _route_kind_verdicts(listener: Listener) -> list[Verdict]:
    allowed = listener.raw.get("allowedRoutes")
    kinds = allowed.get("kinds") if isinstance(allowed, dict) else None
    supported = supported_kinds(listener)
    out = []
    for j, k in enumerate(kinds if isinstance(kinds, list) else []):
        if not isinstance(k, dict):
            continue
        group = k.get("group", GROUP)
        if supported is None or group not in (GROUP, None):
            continue  # a custom protocol or an implementation's own route kind
        if k.get("kind") not in supported:
            out.append(Verdict(listener.owner, listener.field + ("allowedRoutes", "kinds", j),
                               "ResolvedRefs", "InvalidRouteKinds",
                               f"listener {listener.name}: a {listener.protocol} listener cannot "
                               f"carry {k.get('kind')} (it carries {', '.join(sorted(supported))})"))
    return out


def _certificate_verdicts(objects: ObjectSet, listener: Listener) -> list[Verdict]:
    tls = listener.raw.get("tls")
    refs = tls.get("certificateRefs") if isinstance(tls, dict) else None
    out = []
    for j, ref in enumerate(refs if isinstance(refs, list) else []):
        if not isinstance(ref, dict):
            continue
        ns = ref.get("namespace")
        if not isinstance(ns, str) or ns == listener.owner.namespace:
            continue
        group, kind = ref.get("group", "") or "", ref.get("kind", "Secret")
        if not permitted(objects, listener.owner.group or GROUP, listener.owner.kind,
                         listener.owner.namespace, group, kind, ns, ref.get("name")):
            out.append(Verdict(listener.owner,
                               listener.field + ("tls", "certificateRefs", j), "ResolvedRefs",
                               "RefNotPermitted",
                               f"listener {listener.name}: certificateRef {ns}/{ref.get('name')} "
                               f"is in another namespace and no ReferenceGrant in {ns} lets "
                               f"{listener.owner.kind}s from {listener.owner.namespace} read it"))
    return out


# ---------------------------------------------------------------------------------------------
# ReferenceGrant


def permitted(objects: ObjectSet, from_group: str, from_kind: str, from_ns: str,
              to_group: str, to_kind: str, to_ns: str, to_name: Any) -> bool:
    """Does a ReferenceGrant in ``to_ns`` let ``from_kind`` objects of ``from_ns`` reference it?"""
    for grant in objects.in_namespace("ReferenceGrant", to_ns):
        if not grant.api_version.startswith(GROUP + "/"):
            continue
        froms = grant.spec.get("from") or []
        tos = grant.spec.get("to") or []
        if not any(isinstance(f, dict) and f.get("group", "") == from_group
                   and f.get("kind") == from_kind and f.get("namespace") == from_ns
                   for f in froms):
            continue
        if any(isinstance(t, dict) and (t.get("group") or "") == to_group
               and t.get("kind") == to_kind and t.get("name") in (None, "", to_name)
               for t in tos):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Routes


def _hostname_matches(a: str, b: str) -> bool:
    """Do two hostnames (each possibly ``*.suffix``) have a request host in common?"""
    if a == b:
        return True
    if a.startswith("*."):
        if b.startswith("*."):
            return b.endswith(a[1:]) or a.endswith(b[1:])
        return b.endswith(a[1:]) and len(b) > len(a) - 1
    if b.startswith("*."):
        return a.endswith(b[1:]) and len(a) > len(b) - 1
    return False


def _route_hostnames(route: KubeObject) -> list[str]:
    hostnames = route.spec.get("hostnames")
    return [h for h in hostnames if isinstance(h, str)] if isinstance(hostnames, list) else []


def parent_object(objects: ObjectSet, route: KubeObject, ref: Mapping[str, Any]) -> KubeObject | None:
    kind = ref.get("kind", "Gateway")
    group = ref.get("group", GROUP)
    name = ref.get("name")
    if not isinstance(name, str):
        return None
    ns = ref.get("namespace") if isinstance(ref.get("namespace"), str) else route.namespace
    if kind == "Gateway" and group == GROUP:
        return objects.get("Gateway", ns, name)
    if kind in LISTENER_SET_KINDS and group in (GROUP, api.EXPERIMENTAL_GROUP):
        return objects.get(kind, ns, name)
    return None


def _admits(objects: ObjectSet, listener: Listener, route: KubeObject) -> bool | None:
    allowed = listener.raw.get("allowedRoutes")
    allowed = allowed if isinstance(allowed, dict) else {}
    kinds = allowed.get("kinds")
    if isinstance(kinds, list) and kinds:
        ok_kinds = {k.get("kind") for k in kinds
                    if isinstance(k, dict) and k.get("group", GROUP) in (GROUP, None)}
        supported = supported_kinds(listener)
        if supported is not None:
            ok_kinds &= supported
    else:
        ok_kinds = supported_kinds(listener)
        if ok_kinds is None:
            return None  # a custom protocol: the implementation decides
    if route.kind not in ok_kinds:
        return False
    return _namespace_allowed(objects, allowed.get("namespaces"), listener.owner.namespace,
                              route.namespace, "Same")


def route_verdicts(objects: ObjectSet, route: KubeObject) -> list[Verdict]:
    """``Accepted`` per parentRef and ``ResolvedRefs`` per backendRef, False reasons only."""
    out: list[Verdict] = []
    parents = route.spec.get("parentRefs")
    for i, ref in enumerate(parents if isinstance(parents, list) else []):
        if isinstance(ref, dict):
            v = _parent_verdict(objects, route, ref, ("spec", "parentRefs", i))
            if v is not None:
                out.append(v)
    out.extend(backend_verdicts(objects, route))
    return out


def _parent_verdict(objects: ObjectSet, route: KubeObject, ref: Mapping[str, Any],
                    field: FieldPath) -> Verdict | None:
    parent = parent_object(objects, route, ref)
    if parent is None:
        return None  # not in the inputs: nothing to judge
    where = f"{parent.kind} {parent.namespace}/{parent.name}"
    listeners = listeners_of_parent(objects, parent)
    section, port = ref.get("sectionName"), ref.get("port")
    candidates = [l for l in listeners
                  if (section is None or l.name == section) and (port is None or l.port == port)]
    if not candidates:
        what = " and ".join(x for x in (f"sectionName {section}" if section is not None else "",
                                       f"port {port}" if port is not None else "") if x)
        return Verdict(route, field, "Accepted", "NoMatchingParent",
                       f"{where} has no listener with {what or 'any listener'}: the route is "
                       "attached to nothing")
    admitted = []
    unknown = False
    for l in candidates:
        ok = _admits(objects, l, route)
        if ok:
            admitted.append(l)
        elif ok is None:
            unknown = True
    if not admitted:
        if unknown:
            return None
        names = ", ".join(f"{l.name} ({l.protocol} {l.port})" for l in candidates)
        return Verdict(route, field, "Accepted", "NotAllowedByListeners",
                       f"no listener of {where} admits a {route.kind} from namespace "
                       f"{route.namespace} (allowedRoutes of {names}; a listener admits only the "
                       "route kinds of its protocol and, by default, routes of its own namespace)")
    hostnames = _route_hostnames(route)
    if hostnames and route.kind in ("HTTPRoute", "GRPCRoute", "TLSRoute"):
        if not any(l.hostname is None or any(_hostname_matches(l.hostname, h) for h in hostnames)
                   for l in admitted):
            names = ", ".join(f"{l.name} ({l.hostname})" for l in admitted)
            return Verdict(route, field, "Accepted", "NoMatchingListenerHostname",
                           f"the route's hostnames ({', '.join(hostnames)}) intersect no "
                           f"hostname of the listeners of {where} that admit it ({names})")
    return None


def backend_refs(route: KubeObject) -> Iterable[tuple[FieldPath, Mapping[str, Any]]]:
    rules = route.spec.get("rules")
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, dict):
            continue
        refs = rule.get("backendRefs")
        for j, ref in enumerate(refs if isinstance(refs, list) else []):
            if isinstance(ref, dict):
                yield ("spec", "rules", i, "backendRefs", j), ref


def backend_verdicts(objects: ObjectSet, route: KubeObject) -> list[Verdict]:
    out: list[Verdict] = []
    for field, ref in backend_refs(route):
        group = ref.get("group", "") or ""
        kind = ref.get("kind", "Service")
        name = ref.get("name")
        ns = ref.get("namespace") if isinstance(ref.get("namespace"), str) else route.namespace
        if (group, kind) != ("", "Service"):
            if (group, kind) in OTHER_BACKENDS or _crd_known(objects, group, kind):
                continue
            out.append(Verdict(route, field, "ResolvedRefs", "InvalidKind",
                               f"backendRef {kind}{'.' + group if group else ''} {name} is not a "
                               "Service: the route's rule has no backend"))
            continue
        if ns != route.namespace and not permitted(objects, GROUP, route.kind, route.namespace,
                                                   "", "Service", ns, name):
            out.append(Verdict(route, field, "ResolvedRefs", "RefNotPermitted",
                               f"backendRef {ns}/{name} is in another namespace and no "
                               f"ReferenceGrant in {ns} lets {route.kind}s from "
                               f"{route.namespace} reference it"))
            continue
        missing = _missing_service(objects, route, ns, name, ref.get("port"))
        if missing:
            out.append(Verdict(route, field, "ResolvedRefs", "BackendNotFound", missing))
    return out


def _crd_known(objects: ObjectSet, group: str, kind: str) -> bool:
    for crd in objects.of_kind("CustomResourceDefinition"):
        names = crd.spec.get("names") or {}
        if crd.spec.get("group") == group and isinstance(names, dict) and names.get("kind") == kind:
            return True
    return False


def same_source(a: KubeObject, b: KubeObject) -> bool:
    """Did two objects come in together: one directory of files, or one cluster snapshot?"""
    fa, fb = a.origin.file, b.origin.file
    if fa.startswith("cluster:") or fb.startswith("cluster:"):
        return fa == fb
    return PurePath(fa).parent == PurePath(fb).parent


def _missing_service(objects: ObjectSet, route: KubeObject, ns: str, name: Any,
                     port: Any) -> str | None:
    """Why the backend Service (or its port) does not exist, when the inputs can tell: only
    when the same source (directory or cluster snapshot) as the route holds Services of that
    namespace: a Service KubeRay creates at runtime, or one kept elsewhere, is not judged, and
    unrelated files that happen to share a namespace name do not count."""
    if not isinstance(name, str):
        return None
    svc = objects.get("Service", ns, name)
    if svc is None:
        if not any(same_source(s, route) for s in objects.in_namespace("Service", ns)):
            return None
        if kuberay.owner_of_service(objects, ns, name) is not None:
            return None  # a head Service KubeRay creates for a RayCluster in the inputs
        return (f"backendRef Service {ns}/{name} does not exist (the inputs hold other Services "
                f"of {ns}): requests to this rule get 500")
    ports = svc.spec.get("ports")
    numbers = {p.get("port") for p in ports if isinstance(p, dict)} if isinstance(ports, list) else set()
    if isinstance(port, int) and numbers and port not in numbers:
        return (f"backendRef Service {ns}/{name} has no port {port} (it has "
                f"{', '.join(str(n) for n in sorted(numbers, key=str))})")
    return None
