"""What a set of Gateway API objects does, independent of object names: listeners, what each
probe path gets on each host, where each TCP port goes, and the policies' values per backend.
Two object sets with the same semantics behave the same for a Ray user."""

from __future__ import annotations

from typing import Any

from raygate.backends.gateway_api import routing

PROBES = ("/", "/ray", "/ray/", "/ray/api/jobs/", "/ray/static/x.js", "/rayfoo", "/dash",
          "/dash/", "/dash/api/version", "/serve", "/serve/", "/serve/app", "/apps", "/apps/x")


def _kinds(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def _answer(rule: dict[str, Any] | None, path: str) -> Any:
    if rule is None:
        return None
    for f in rule.get("filters") or []:
        if f["type"] == "RequestRedirect":
            r = f["requestRedirect"]
            return ("redirect", r.get("scheme"), r.get("port"),
                    (r.get("path") or {}).get("replaceFullPath"), r.get("statusCode"))
    ref = rule["backendRefs"][0]
    prefix = rule["matches"][0]["path"]["value"]
    replacement = routing.prefix_replacement(rule)
    seen = routing.rewrite_prefix(prefix, replacement, path) if replacement is not None else path
    return ("backend", ref["name"], ref["port"], seen, sorted((rule.get("timeouts") or {}).items()))


def semantics(objs: list[dict[str, Any]]) -> dict[str, Any]:
    gateways = _kinds(objs, "Gateway")
    assert len(gateways) == 1
    listeners = {l["name"]: l for l in gateways[0]["spec"]["listeners"]}
    http: dict[tuple[str, str | None, str], Any] = {}
    by_section: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for route in _kinds(objs, "HTTPRoute"):
        section = listeners[route["spec"]["parentRefs"][0]["sectionName"]]
        for host in route["spec"].get("hostnames") or [None]:
            by_section.setdefault((section["protocol"], host), []).extend(route["spec"]["rules"])
    for (protocol, host), rules in sorted(by_section.items(), key=str):
        for path in PROBES:
            i = routing.route(rules, path)
            http[(protocol, host, path)] = _answer(rules[i] if i is not None else None, path)
    tcp = {}
    for route in _kinds(objs, "TCPRoute"):
        port = listeners[route["spec"]["parentRefs"][0]["sectionName"]]["port"]
        ref = route["spec"]["rules"][0]["backendRefs"][0]
        tcp[port] = (route["apiVersion"], route["metadata"]["namespace"], ref["name"], ref["port"])
    policies: dict[str, Any] = {}
    ports_of = {r["metadata"]["name"]: sorted({b["port"] for rule in r["spec"]["rules"]
                                              for b in rule.get("backendRefs") or []})
                for r in _kinds(objs, "HTTPRoute")}
    for p in objs:
        spec = p["spec"]
        targets = spec.get("targetRefs") or ([spec["targetRef"]] if "targetRef" in spec else [])
        for t in targets:
            if t["kind"] != "HTTPRoute":
                key = (p["kind"], t["kind"], listeners[t["sectionName"]]["protocol"])
            else:
                key = (p["kind"], "HTTPRoute", tuple(ports_of[t["name"]]))
            value = {k: v for k, v in spec.items() if k not in ("targetRef", "targetRefs")}
            policies[str(key)] = value
    return {
        "listeners": sorted((l["protocol"], l["port"]) for l in listeners.values()),
        "infrastructure": gateways[0]["spec"].get("infrastructure"),
        "tls": sorted((l.get("hostname"), l["tls"]["certificateRefs"][0]["name"])
                      for l in listeners.values() if l.get("tls")),
        "http": http, "tcp": tcp, "policies": policies,
    }
