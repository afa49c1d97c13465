"""What protects each way into a Ray head: the other half of the exposure model.

An exposure (``raygate.model.exposure``) says which Ray port outsiders can reach and through
what. Whether that is remote code execution for anyone depends on what stands in the way, and
each protection guards only some ports:

``ray-token``
    Ray token authentication (Ray >= 2.52): KubeRay ``spec.authOptions`` (mode defaults to
    ``token`` when the block is present, KubeRay >= 1.5.1; it refuses a ``rayVersion`` below 2.52)
    or ``RAY_AUTH_MODE=token`` on the head container (ignored by a head image older than 2.52). Guards the Dashboard/Jobs API, the Ray Client and GCS (facts: kuberay_ray.md
    §4.1-§4.3, §7). Serve is the data plane and is never guarded by it.
``k8s-token``
    The same token check delegated to Kubernetes RBAC (Ray >= 2.55): KubeRay v1.6+
    ``authOptions.enableK8sTokenAuth: true`` or ``RAY_ENABLE_K8S_TOKEN_AUTH=true`` together with
    token mode (facts §4.4; KubeRay sample ``ray-cluster.kubernetes.auth-manual.yaml``). It
    guards what ``ray-token`` guards; it is reported instead of it so messages say which.
``ray-tls``
    Ray's own mutual TLS: ``RAY_USE_TLS`` ``1``/``true`` on the head with ``RAY_TLS_SERVER_CERT``,
    ``RAY_TLS_SERVER_KEY`` and ``RAY_TLS_CA_CERT`` (KubeRay sample ``ray-cluster.tls.yaml``), or
    KubeRay v1.7's alpha ``spec.tlsOptions.enabled`` (cert-manager PKI; facts §1.6;
    without the ``RayClusterMTLS`` gate KubeRay refuses the spec, ``utils/validation.go``, so the
    cluster never runs unprotected). Ray puts it
    on its gRPC servers only, with ``require_client_auth`` whenever a CA is configured (ray
    ``python/ray/_common/tls_utils.py: add_port_to_grpc_server``, Ray 2.60.0): it guards the Ray
    Client and GCS, never the Dashboard's HTTP port (aiohttp in ``dashboard/http_server_head.py``
    is plain HTTP). It stops guarding when a proxy terminates the client's TLS and opens its
    own TLS to Ray with a client certificate Ray trusts (ingress-nginx ``proxy-ssl-secret``
    without an effective ``ssl-passthrough``): then the proxy's certificate is the one checked.
``gateway-auth``
    Authentication at the gateway, on the HTTP route it is configured on: ingress-nginx
    ``auth-url`` (oauth2-proxy), the controller-wide ``global-auth-url`` (unless the Ingress sets
    ``enable-global-auth: "false"``), ``auth-type: basic|digest``, client certificates
    (``auth-tls-secret``, ``auth-tls-verify-client`` defaulting to ``on``, over TLS only:
    ``ssl_verify_client`` is a server TLS setting); AWS ALB ``auth-type: cognito|oidc`` (on HTTPS
    listeners only; ``auth-on-unauthenticated-request: allow`` lets everyone through); Envoy
    Gateway ``SecurityPolicy`` with basicAuth/jwt/oidc/extAuth/apiKeyAuth targeting the
    HTTPRoute or its Gateway.
``allowlist``
    A source restriction: ingress-nginx ``allowlist-source-range`` (alias
    ``whitelist-source-range``) or the ConfigMap default ``whitelist-source-range``; ALB
    ``inbound-cidrs`` and an internal ALB (``scheme: internal``, the controller's default);
    ``spec.loadBalancerSourceRanges`` on a LoadBalancer Service (applied by the cloud provider;
    a NodePort stays open on every node);
    Envoy Gateway ``authorization`` whose rules admit client CIDRs. It limits who, not what.
``tls``
    The gateway serves the host over TLS (``spec.tls`` covering it). It guards no port; it keeps
    tokens and cookies off the wire and is listed for completeness.

With ingress-nginx ``ssl-passthrough`` effective (annotation plus the controller's
``--enable-ssl-passthrough``), nginx only forwards the TLS stream, and "using SSL Passthrough
invalidates all the other annotations" (facts: ingress_nginx.md, KubeRay Ray Client section), so
no gateway authentication of that Ingress applies.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from raygate import kuberay
from raygate.backends import ingress_nginx as nginx
from raygate.model import dataplane, heads
from raygate.model.exposure import Exposure
from raygate.objects import KubeObject, ObjectSet
from raygate.records import record

#: Ray roles each kind of protection guards. Gateway-side kinds guard the role of the route
#: they sit on, whatever it is; ``tls`` guards nothing by itself.
RAY_GUARDED = ("dashboard", "client", "gcs-server")
GRPC_ROLES = ("client", "gcs-server")

ALB_PREFIX = "alb.ingress.kubernetes.io/"
_TRUE = {"1", "t", "true"}


@record(frozen=True)
class Protection:
    """One protection in front of an exposure (token, TLS, external auth, allowlist)."""

    kind: str            # ray-token | k8s-token | ray-tls | gateway-auth | allowlist | tls
    #: Ray roles it guards on this exposure ("*" = whatever the route reaches).
    guards: frozenset[str]
    #: Where it is configured, for messages: "RayCluster ray/x spec.authOptions".
    source: str
    #: What it is, in a few words: "oauth2-proxy style external auth (auth-url)".
    detail: str

    def guards_role(self, role: str | None) -> bool:
        return role is not None and ("*" in self.guards or role in self.guards)

    def describe(self) -> str:
        return f"{self.detail} ({self.source})"


@record(frozen=True)
class Protections:
    """Everything standing between outsiders and one exposure."""

    items: tuple[Protection, ...]

    def guarding(self, role: str | None) -> tuple[Protection, ...]:
        return tuple(p for p in self.items if p.guards_role(role))

    def of_kind(self, *kinds: str) -> tuple[Protection, ...]:
        return tuple(p for p in self.items if p.kind in kinds)

    def authenticates(self, role: str | None) -> bool:
        """Whether something checks *who* calls ``role`` (not just from where)."""
        return any(p.kind != "allowlist" for p in self.guarding(role))

    def __bool__(self) -> bool:
        return bool(self.items)


# ---------------------------------------------------------------------------------------------
# Ray side


def _env(container: Mapping[str, Any]) -> dict[str, str]:
    """Literal env values of a container (``valueFrom`` entries count as set, value unknown)."""
    out: dict[str, str] = {}
    envs = container.get("env")
    for env in envs if isinstance(envs, list) else []:
        if isinstance(env, dict) and isinstance(env.get("name"), str):
            value = env.get("value")
            out[env["name"]] = str(value) if value is not None else (
                "<from " + ("secret" if "valueFrom" in env else "nothing") + ">")
    return out


def _head_path(ray: KubeObject) -> str:
    if ray.kind == "RayCluster":
        return "spec.headGroupSpec"
    key = "rayClusterConfig" if ray.kind == "RayService" else "rayClusterSpec"
    return f"spec.{key}.headGroupSpec"


def _spec_path(ray: KubeObject) -> str:
    if ray.kind == "RayCluster":
        return "spec"
    return "spec." + ("rayClusterConfig" if ray.kind == "RayService" else "rayClusterSpec")


def cluster_protections(ray: KubeObject) -> tuple[Protection, ...]:
    """What the Ray cluster itself enforces, whatever the way in (computed once per Ray object:
    every exposure of the cluster and RG104 ask again)."""
    cached = ray.__dict__.get("_raygate_cluster_protections")
    if cached is None:
        cached = ray.__dict__["_raygate_cluster_protections"] = _cluster_protections(ray)
    return cached


def _cluster_protections(ray: KubeObject) -> tuple[Protection, ...]:
    found: list[Protection] = []
    name = f"{ray.kind} {ray.namespace}/{ray.name}"
    spec = kuberay.cluster_spec(ray)
    env = _env(kuberay.head_container(ray))
    options = spec.get("authOptions")
    token = kuberay.auth_mode(ray) == "token"
    version = heads.ray_version(kuberay.head_container(ray).get("image"))
    if token and not isinstance(options, dict) and version is not None \
            and version < heads.TOKEN_AUTH_SINCE:
        token = False  # RAY_AUTH_MODE means nothing to a Ray older than token auth (2.52)
    if token:
        k8s = False
        if isinstance(options, dict):
            k8s = options.get("enableK8sTokenAuth") is True
            where = f"{name} {_spec_path(ray)}.authOptions"
        else:
            where = f"{name} head env RAY_AUTH_MODE=token"
        k8s = k8s or env.get("RAY_ENABLE_K8S_TOKEN_AUTH", "").strip().lower() in _TRUE
        if k8s:
            found.append(Protection("k8s-token", frozenset(RAY_GUARDED), where,
                                    "Ray token auth delegated to Kubernetes RBAC (ray:write)"))
        else:
            found.append(Protection("ray-token", frozenset(RAY_GUARDED), where,
                                    "Ray token authentication"))
    tls_options = spec.get("tlsOptions")
    if isinstance(tls_options, dict) and tls_options.get("enabled") is True:
        found.append(Protection("ray-tls", frozenset(GRPC_ROLES),
                                f"{name} {_spec_path(ray)}.tlsOptions.enabled",
                                "Ray mutual TLS (KubeRay-managed certificates)"))
    elif env.get("RAY_USE_TLS", "").strip().lower() in ("1", "true") and \
            all(k in env for k in ("RAY_TLS_SERVER_CERT", "RAY_TLS_SERVER_KEY", "RAY_TLS_CA_CERT")):
        found.append(Protection("ray-tls", frozenset(GRPC_ROLES),
                                f"{name} {_head_path(ray)} env RAY_USE_TLS",
                                "Ray mutual TLS with client certificates"))
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# Gateway side


def nginx_prefix(controller: nginx.Controller) -> str:
    """The annotation prefix the controller reads (``--annotations-prefix``)."""
    return nginx.annotation_prefix(controller)


def tls_covers(tls: Any, host: str | None) -> bool:
    """Whether an Ingress ``spec.tls`` list serves ``host`` over TLS."""
    if not isinstance(tls, list):
        return False
    for entry in tls:
        if not isinstance(entry, dict):
            continue
        hosts = entry.get("hosts")
        if not isinstance(hosts, list) or not hosts or host is None:
            return True  # no hosts: the controller's default certificate serves every host
        for h in hosts:
            if not isinstance(h, str):
                continue
            if h == host or (h.startswith("*.") and host.endswith(h[1:])
                             and "." not in host[: -len(h) + 1]):
                return True
    return False


def ssl_passthrough(objects: ObjectSet, ingress: KubeObject) -> bool | None:
    """Whether ingress-nginx passes this Ingress's TLS through untouched: True, False, or None
    when the annotation is set but no controller in the inputs says whether
    ``--enable-ssl-passthrough`` is on."""
    plane = dataplane.for_ingress(objects, ingress)
    if not plane.is_ingress_nginx or plane.controller is None:
        return False
    value = ingress.annotations.get(nginx_prefix(plane.controller) + "ssl-passthrough")
    if str(value).strip().lower() not in _TRUE:
        return False
    if plane.controller.workload is None:
        return None
    return plane.controller.flags.get("--enable-ssl-passthrough", "false").strip().lower() in \
        _TRUE | {""}


def _nginx_protections(objects: ObjectSet, ing: KubeObject, controller: nginx.Controller,
                       host: str | None) -> list[Protection]:
    prefix = nginx_prefix(controller)
    ann = ing.annotations
    where = f"Ingress {ing.namespace}/{ing.name}"

    def get(name: str) -> str:
        value = ann.get(prefix + name)
        return value.strip() if isinstance(value, str) else ("" if value is None else str(value))

    found: list[Protection] = []
    anyone = frozenset({"*"})
    if get("auth-url"):
        found.append(Protection("gateway-auth", anyone, f"{where} {prefix}auth-url",
                                f"external authentication at {get('auth-url')}"))
    elif controller.setting("global-auth-url").strip() and \
            get("enable-global-auth").lower() not in ("false", "f", "0"):
        found.append(Protection("gateway-auth", anyone,
                                f"{controller.setting_source('global-auth-url')} global-auth-url",
                                "controller-wide external authentication (global-auth-url)"))
    auth_type = get("auth-type").lower()
    if auth_type in ("basic", "digest"):
        secret = get("auth-secret")
        detail = f"HTTP {auth_type} authentication" + (
            f" (auth-secret {secret})" if secret else
            " without auth-secret: the location is denied, every request gets 503")
        found.append(Protection("gateway-auth", anyone, f"{where} {prefix}auth-type", detail))
    if get("auth-tls-secret"):
        verify = get("auth-tls-verify-client") or "on"
        if verify not in ("on", "off", "optional", "optional_no_ca"):
            verify = "on"  # an invalid value falls back to the default (authtls parser)
        if verify == "on" and tls_covers(ing.spec.get("tls"), host):
            found.append(Protection("gateway-auth", anyone, f"{where} {prefix}auth-tls-secret",
                                    "client certificate verification (auth-tls-verify-client on)"))
    allow = get("allowlist-source-range") or get("whitelist-source-range")
    if allow:
        found.append(Protection("allowlist", anyone, f"{where} {prefix}allowlist-source-range",
                                f"source allowlist {allow}"))
    elif controller.setting("whitelist-source-range").strip():
        found.append(Protection(
            "allowlist", anyone,
            f"{controller.setting_source('whitelist-source-range')} whitelist-source-range",
            f"controller-wide source allowlist {controller.setting('whitelist-source-range')}"))
    return found


def _alb_listen_protocols(ing: KubeObject) -> set[str]:
    raw = ing.annotations.get(ALB_PREFIX + "listen-ports")
    if isinstance(raw, str) and raw.strip():
        try:
            ports = json.loads(raw)
        except ValueError:
            ports = None
        if isinstance(ports, list):
            return {str(k).upper() for p in ports if isinstance(p, dict) for k in p}
    # Default: HTTPS:443 when a certificate is configured, else HTTP:80 (ALB annotation docs).
    if ing.annotations.get(ALB_PREFIX + "certificate-arn") or ing.spec.get("tls"):
        return {"HTTPS"}
    return {"HTTP"}


def _alb_protections(ing: KubeObject, svc: KubeObject | None) -> list[Protection]:
    # Auth annotations may sit on the backend Service too, and win there (ALB annotation docs:
    # "Annotations applied to Service have higher priority over annotations applied to Ingress").
    ann = dict(ing.annotations)
    if svc is not None:
        ann.update({k: v for k, v in svc.annotations.items()
                    if isinstance(k, str) and k.startswith(ALB_PREFIX + "auth-")})
    where = f"Ingress {ing.namespace}/{ing.name}"
    anyone = frozenset({"*"})
    found: list[Protection] = []
    auth_type = str(ann.get(ALB_PREFIX + "auth-type", "")).strip().lower()
    unauthenticated = str(ann.get(ALB_PREFIX + "auth-on-unauthenticated-request",
                                  "authenticate")).strip().lower()
    protocols = _alb_listen_protocols(ing)
    redirected = bool(str(ann.get(ALB_PREFIX + "ssl-redirect", "")).strip())
    # ALB authenticates on HTTPS listeners only; an HTTP listener stays open unless it
    # redirects to HTTPS.
    if auth_type in ("cognito", "oidc") and unauthenticated != "allow" and "HTTPS" in protocols \
            and ("HTTP" not in protocols or redirected):
        found.append(Protection("gateway-auth", anyone, f"{where} {ALB_PREFIX}auth-type",
                                f"ALB {auth_type} authentication"))
    cidrs = str(ann.get(ALB_PREFIX + "inbound-cidrs", "")).strip()
    scheme = str(ann.get(ALB_PREFIX + "scheme", "internal")).strip().lower()
    if scheme != "internet-facing":
        found.append(Protection("allowlist", anyone, f"{where} {ALB_PREFIX}scheme",
                                "internal ALB (reachable only inside the VPC)"))
    elif cidrs and {c.strip() for c in cidrs.split(",") if c.strip()} - {"0.0.0.0/0", "::/0"}:
        found.append(Protection("allowlist", anyone, f"{where} {ALB_PREFIX}inbound-cidrs",
                                f"ALB inbound CIDRs {cidrs}"))
    return found


_EG_AUTH_FIELDS = ("basicAuth", "jwt", "oidc", "extAuth", "apiKeyAuth")


def _targets(policy: KubeObject) -> Iterable[Mapping[str, Any]]:
    refs = policy.spec.get("targetRefs")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict):
            yield ref
    single = policy.spec.get("targetRef")
    if isinstance(single, dict):
        yield single


def _route_gateways(route: KubeObject) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    parents = route.spec.get("parentRefs")
    for ref in parents if isinstance(parents, list) else []:
        if isinstance(ref, dict) and ref.get("kind", "Gateway") == "Gateway" \
                and isinstance(ref.get("name"), str):
            ns = ref.get("namespace") if isinstance(ref.get("namespace"), str) else route.namespace
            out.add((ns, ref["name"]))
    return out


def _security_policies(objects: ObjectSet, route: KubeObject) -> list[Protection]:
    """Envoy Gateway SecurityPolicies on the route (route-level wins over Gateway-level, but
    either one authenticates, so both are listed). A SecurityPolicy targets a Gateway, an
    HTTPRoute or a GRPCRoute (Envoy Gateway docs, ``concepts/gateway_api_extensions/
    security-policy.md``, "Targets"), in its own namespace."""
    found: list[Protection] = []
    gateways = _route_gateways(route)
    anyone = frozenset({"*"})
    for policy in objects.of_kind("SecurityPolicy"):
        if not policy.api_version.startswith("gateway.envoyproxy.io/"):
            continue
        applies = False
        for ref in _targets(policy):
            kind, name = ref.get("kind"), ref.get("name")
            if kind == route.kind and name == route.name and policy.namespace == route.namespace:
                applies = True
            elif kind == "Gateway" and (policy.namespace, name) in gateways:
                applies = True
        if not applies:
            continue
        where = f"SecurityPolicy {policy.namespace}/{policy.name}"
        methods = [f for f in _EG_AUTH_FIELDS if isinstance(policy.spec.get(f), dict)]
        if methods:
            found.append(Protection("gateway-auth", anyone, where,
                                    "Envoy Gateway " + "/".join(methods) + " authentication"))
        authz = policy.spec.get("authorization")
        if isinstance(authz, dict) and str(authz.get("defaultAction", "Deny")) == "Deny":
            rules = authz.get("rules") if isinstance(authz.get("rules"), list) else []
            principals = [r.get("principal") for r in rules
                          if isinstance(r, dict) and r.get("action") == "Allow"
                          and isinstance(r.get("principal"), dict)]
            if any(p.get("jwt") or p.get("headers") for p in principals):
                found.append(Protection("gateway-auth", anyone, where,
                                        "Envoy Gateway authorization on identity"))
            elif principals or not rules:
                found.append(Protection("allowlist", anyone, where,
                                        "Envoy Gateway authorization (client CIDRs)"))
    return found


def gateway_protections(objects: ObjectSet, e: Exposure) -> tuple[Protection, ...]:
    """Protections the way in itself applies (only HTTP and gRPC routes carry any)."""
    via = e.via
    if via.kind in ("HTTPRoute", "GRPCRoute"):
        return tuple(_security_policies(objects, via))
    if e.channel == "service":
        ranges = via.spec.get("loadBalancerSourceRanges")
        if via.spec.get("type") == "LoadBalancer" and isinstance(ranges, list) and \
                any(isinstance(r, str) and r.strip() not in ("0.0.0.0/0", "::/0") for r in ranges):
            return (Protection("allowlist", frozenset({"*"}),
                               f"Service {via.namespace}/{via.name} spec.loadBalancerSourceRanges",
                               "load balancer source ranges " + ",".join(map(str, ranges))),)
        return ()
    if via.kind != "Ingress" or e.channel != "http":
        return ()
    plane = dataplane.for_ingress(objects, via)
    found: list[Protection] = []
    if plane.is_ingress_nginx and plane.controller is not None:
        if ssl_passthrough(objects, via):
            return ()  # nginx only forwards the TLS stream: no other annotation applies
        found.extend(_nginx_protections(objects, via, plane.controller, e.host))
    elif plane.kind == "aws-alb":
        found.extend(_alb_protections(via, e.service_obj))
    if tls_covers(via.spec.get("tls"), e.host):
        found.append(Protection("tls", frozenset(), f"Ingress {via.namespace}/{via.name} spec.tls",
                                "TLS at the gateway"))
    return tuple(found)


def _tls_reoriginated(objects: ObjectSet, e: Exposure) -> bool:
    """Whether a proxy terminates the client's TLS and re-opens TLS to Ray with its own client
    certificate (ingress-nginx ``proxy-ssl-secret``), so Ray's mTLS checks the proxy instead."""
    if e.via.kind != "Ingress" or e.channel != "http":
        return False
    plane = dataplane.for_ingress(objects, e.via)
    if not plane.is_ingress_nginx or plane.controller is None:
        return False
    if ssl_passthrough(objects, e.via) is not False:
        return False
    return bool(str(e.via.annotations.get(nginx_prefix(plane.controller) + "proxy-ssl-secret",
                                          "")).strip())


def for_exposure(objects: ObjectSet, e: Exposure, ray: KubeObject | None = None) -> Protections:
    """All protections on one exposure; ``ray`` is the Ray CR behind it when known."""
    cache = objects.memo("protections-by-exposure", dict)
    key = (id(e), id(ray))
    if key not in cache:
        items: list[Protection] = []
        ray = ray or e.ray
        if ray is not None:
            for p in cluster_protections(ray):
                if p.kind == "ray-tls" and _tls_reoriginated(objects, e):
                    continue
                items.append(p)
        items.extend(gateway_protections(objects, e))
        cache[key] = Protections(tuple(items))
    return cache[key]


def built_in_ingress_protections(objects: ObjectSet, cr: KubeObject) -> tuple[Protection, ...]:
    """Gateway protections on the Ingress KubeRay builds for ``enableIngress``
    (``heads.generated_ingress``: every CR annotation but the class is copied onto it, facts:
    kuberay_ray.md §3), judged by the data plane its class resolves to."""
    cache = objects.memo("protections-built-in-ingress", dict)
    if id(cr) not in cache:
        # Keep the generated Ingress alive with its answer: data-plane lookups are memoised by
        # object identity.
        ingress = heads.generated_ingress(cr)
        found: tuple[Protection, ...] = ()
        if ingress is not None:
            rules = ingress.spec.get("rules") or [{}]
            host = rules[0].get("host") if isinstance(rules[0], dict) else None
            plane = dataplane.for_ingress(objects, ingress)
            if plane.is_ingress_nginx and plane.controller is not None:
                if not ssl_passthrough(objects, ingress):
                    found = tuple(_nginx_protections(objects, ingress, plane.controller, host))
            elif plane.kind == "aws-alb":
                found = tuple(_alb_protections(ingress, None))
        cache[id(cr)] = (ingress, found)
    return cache[id(cr)][1]
