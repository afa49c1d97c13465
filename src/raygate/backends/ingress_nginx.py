"""What the ingress-nginx controller will do with a set of objects, as data and pure functions.

Rules, renderers, the lab's nginx.conf renderer and doctor all need the same knowledge: which
defaults apply for a controller version, what its args and ConfigMap say, how it parses a
``tcp-services`` entry, which annotations it considers risky and which values it refuses.
Facts come from ``shared/facts/ingress_nginx.md`` (controller v1.15.1 source, commit dbb11b92).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping

from raygate.objects import KubeObject, ObjectSet

PREFIX = "nginx.ingress.kubernetes.io/"
#: The last upstream release (the project was retired in March 2026).
LAST_RELEASE = (1, 15, 1)
LAST_RELEASE_STR = "v1.15.1"
WEBHOOK_NAME = "validate.nginx.ingress.kubernetes.io"

RISK_LEVELS = {"low": 0, "medium": 1, "high": 2, "critical": 3}
RISK_NAMES = ["Low", "Medium", "High", "Critical"]

# ConfigMap keys whose defaults matter to Ray traffic (config.go NewDefault()).
CONFIG_DEFAULTS = {
    "proxy-body-size": "1m",
    "proxy-read-timeout": "60",
    "proxy-send-timeout": "60",
    "proxy-connect-timeout": "5",
    "proxy-stream-timeout": "600s",
    "enable-underscores-in-headers": "false",
    "annotation-value-word-blocklist": "",
    "allow-cross-namespace-resources": "false",
}

# Ports the controller keeps for itself; a tcp-services entry on one of them is dropped with
# "Port <n> cannot be used for TCP stream services. It is reserved for the Ingress controller."
RESERVED_PORT_FLAGS = {
    "--http-port": 80, "--https-port": 443, "--ssl-passthrough-proxy-port": 442,
    "--healthz-port": 10254, "--default-server-port": 8181, "--profiler-port": 10245,
    "--status-port": 10246, "--stream-port": 10247,
}

# Value validators (internal/ingress/annotations/parser/validators.go).
_ALNUM = r"\-\._~a-zA-Z0-9/:"
SIZE_RE = re.compile(r"^(?i:\d+[bkmg]?)$")
REGEX_PATH_WITH_CAPTURE_RE = re.compile(r"^/?[" + _ALNUM + r"/$]*$")
VALID_PATH_TYPE_RE = re.compile(r"^/[A-Za-z0-9._\-/]*$")


def version_defaults(version: tuple[int, int, int]) -> dict[str, str]:
    """The admission-relevant ConfigMap defaults of a controller version."""
    if version < (1, 9, 0):
        # No risk check at all before v1.9; snippets were allowed.
        return {"allow-snippet-annotations": "true", "annotations-risk-level": "Critical",
                "strict-validate-path-type": "false"}
    if version < (1, 12, 0):
        return {"allow-snippet-annotations": "false", "annotations-risk-level": "Critical",
                "strict-validate-path-type": "false"}
    return {"allow-snippet-annotations": "false", "annotations-risk-level": "High",
            "strict-validate-path-type": "true"}


def parse_version(image: str) -> tuple[int, int, int] | None:
    """``registry.k8s.io/ingress-nginx/controller:v1.12.1@sha256:...`` -> (1, 12, 1)."""
    tag = image.split("@", 1)[0].rpartition(":")[2]
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", tag)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def risk_of(level: str) -> int:
    """Like the controller's StringRiskToRisk: unknown strings (typos) mean Low."""
    return RISK_LEVELS.get(str(level).strip().lower(), 0)


@lru_cache(maxsize=1)
def annotation_risks() -> dict[str, tuple[int, str]]:
    """annotation key -> (risk level, factory group), from the project's risk table."""
    table: dict[str, tuple[int, str]] = {}
    text = resources.files("raygate.rules").joinpath("data/annotation_risk.csv").read_text()
    for row in csv.DictReader(text.splitlines()):
        table[row["annotation"]] = (risk_of(row["risk"]), row["group"])
    return table


def parse_args(args: Iterable[Any], namespace: str) -> dict[str, str]:
    """Controller args as ``{"--flag": "value"}`` with ``$(POD_NAMESPACE)`` substituted."""
    flags: dict[str, str] = {}
    # ``args: true`` or a string in a hand-written manifest: no flags rather than a crash.
    for arg in args if isinstance(args, (list, tuple)) else ():
        if not isinstance(arg, str) or not arg.startswith("--"):
            continue
        key, sep, value = arg.partition("=")
        flags[key] = value.replace("$(POD_NAMESPACE)", namespace) if sep else "true"
    return flags


def is_controller_container(container: Mapping[str, Any]) -> bool:
    args = container.get("args") or []
    image = str(container.get("image") or "")
    first = args[0] if isinstance(args, list) and args else ""
    return first == "/nginx-ingress-controller" or "ingress-nginx/controller" in image


@dataclass(frozen=True)
class Controller:
    """One ingress-nginx controller found in the inputs, or the assumed default one."""

    workload: KubeObject | None
    container_index: int
    version: tuple[int, int, int]
    version_known: bool
    flags: Mapping[str, str]
    config: Mapping[str, str]
    configmap: KubeObject | None
    notes: tuple[str, ...] = field(default=())

    @property
    def namespace(self) -> str:
        return self.workload.namespace if self.workload else "ingress-nginx"

    @property
    def version_str(self) -> str:
        return "v" + ".".join(map(str, self.version))

    @property
    def pod_spec(self) -> Mapping[str, Any]:
        if self.workload is None:
            return {}
        spec = self.workload.get("spec", "template", "spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def host_network(self) -> bool:
        return self.pod_spec.get("hostNetwork") is True

    def setting(self, key: str) -> str:
        """A ConfigMap setting, falling back to this version's defaults."""
        if key in self.config:
            return str(self.config[key])
        defaults = version_defaults(self.version)
        return defaults.get(key, CONFIG_DEFAULTS.get(key, ""))

    def setting_source(self, key: str) -> str:
        """Where ``setting(key)`` came from, for messages."""
        if key in self.config and self.configmap is not None:
            return f"ConfigMap {self.configmap.namespace}/{self.configmap.name}"
        return self.assumption

    @property
    def assumption(self) -> str:
        if self.workload is None:
            return (f"assuming ingress-nginx {LAST_RELEASE_STR} defaults: no controller "
                    "Deployment in the inputs")
        if not self.version_known:
            return (f"assuming {LAST_RELEASE_STR} defaults: the controller image has no "
                    "version tag")
        return f"{self.version_str} defaults"

    @property
    def assumed(self) -> str | None:
        """What a finding resting on this controller's settings must say it assumed, or None
        when the inputs gave the version and every ConfigMap the controller reads."""
        if self.workload is None or not self.version_known:
            return self.assumption
        ref = self.flags.get("--configmap")
        if ref and self.configmap is None:
            return (f"assuming {self.version_str} defaults: the controller's ConfigMap {ref} "
                    "is not in the inputs")
        return None

    @property
    def annotation_validation(self) -> bool:
        """``--enable-annotation-validation``: default false in v1.9-v1.11, true since v1.12.0.
        When off, values that fail a validator reach nginx.conf unchecked (facts §1.2, §2.3)."""
        flag = self.flags.get("--enable-annotation-validation")
        if flag is not None:
            return flag.strip().lower() in ("true", "1", "t")
        return self.version >= (1, 12, 0)

    @property
    def snippets_allowed(self) -> bool:
        return self.setting("allow-snippet-annotations").strip().lower() == "true"

    @property
    def max_risk(self) -> int:
        return risk_of(self.setting("annotations-risk-level"))

    @property
    def strict_path_type(self) -> bool:
        return self.setting("strict-validate-path-type").strip().lower() == "true"

    @property
    def ingress_class(self) -> str:
        return self.flags.get("--ingress-class", "nginx")

    @property
    def controller_class(self) -> str:
        return self.flags.get("--controller-class", "k8s.io/ingress-nginx")

    @property
    def watch_without_class(self) -> bool:
        """``--watch-ingress-without-class`` (default false since v1.0.0): also serve Ingresses
        with neither ``ingressClassName`` nor the class annotation (store.go GetIngressClass)."""
        return _go_flag_true(self.flags.get("--watch-ingress-without-class"))

    @property
    def ingress_class_by_name(self) -> bool:
        """``--ingress-class-by-name``: an IngressClass named like ``--ingress-class`` is
        served whatever its ``spec.controller`` (store.go, the IngressClass add handler)."""
        return _go_flag_true(self.flags.get("--ingress-class-by-name"))

    @property
    def watch_namespace(self) -> str | None:
        """``--watch-namespace`` (one namespace; empty means all)."""
        return self.flags.get("--watch-namespace") or None

    @property
    def watch_namespace_selector(self) -> str | None:
        """``--watch-namespace-selector`` (a label selector on Namespaces)."""
        return self.flags.get("--watch-namespace-selector") or None

    def watches_namespace(self, objects: ObjectSet, namespace: str) -> bool | None:
        """Whether this controller's informers see objects in ``namespace``: True, False, or
        None when it depends on a Namespace object the inputs do not carry.

        ``--watch-namespace`` scopes every informer to one namespace; with
        ``--watch-namespace-selector`` an object is seen only when its Namespace's labels match
        (a missing Namespace is "not watched", store.go ``watchedNamespace``)."""
        if self.watch_namespace is not None:
            return self.watch_namespace == namespace
        selector = self.watch_namespace_selector
        if selector is None:
            return True
        ns = objects.get("Namespace", "", namespace)
        if ns is None:
            return None
        matched = label_selector_matches(selector, ns.labels)
        return matched

    @property
    def tcp_services_ref(self) -> str | None:
        """``namespace/name`` of the tcp-services ConfigMap this controller reads, if any."""
        return self.flags.get("--tcp-services-configmap") or None

    @property
    def reserved_ports(self) -> dict[int, str]:
        ports: dict[int, str] = {}
        for flag, default in RESERVED_PORT_FLAGS.items():
            try:
                ports[int(self.flags.get(flag, default))] = flag
            except ValueError:
                ports[default] = flag
        return ports


def _go_flag_true(value: str | None) -> bool:
    # Go's flag package parses booleans with strconv.ParseBool.
    return value is not None and value.strip() in ("1", "t", "T", "true", "TRUE", "True")


_SELECTOR_TERM = re.compile(
    r"^\s*(?:(?P<notexists>!)\s*(?P<nkey>[^\s=!,()]+)"
    r"|(?P<key>[^\s=!,()]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,()]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*$")


def label_selector_matches(selector: str, labels: Mapping[str, Any]) -> bool | None:
    """Kubernetes label-selector syntax (``k=v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)``,
    ``k notin (a,b)``, comma-separated terms all required); None when it does not parse."""
    terms: list[str] = []
    depth, start = 0, 0
    for i, c in enumerate(selector):
        depth += c == "("
        depth -= c == ")"
        if c == "," and depth == 0:
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    for term in terms:
        m = _SELECTOR_TERM.match(term)
        if m is None:
            return None
        if m.group("notexists"):
            if m.group("nkey") in labels:
                return False
            continue
        key = m.group("key")
        present = key in labels
        value = str(labels.get(key, ""))
        if m.group("op") in ("=", "=="):
            ok = present and value == m.group("value")
        elif m.group("op") == "!=":
            ok = not present or value != m.group("value")
        elif m.group("setop"):
            values = {v.strip() for v in m.group("values").split(",")}
            ok = (present and value in values) if m.group("setop") == "in" \
                else (not present or value not in values)
        else:
            ok = present
        if not ok:
            return False
    return True


def _configmap_for(objects: ObjectSet, workload: KubeObject, flags: Mapping[str, str]) -> KubeObject | None:
    ref = flags.get("--configmap")
    if ref and "/" in ref:
        ns, _, name = ref.partition("/")
        return objects.get("ConfigMap", ns, name)
    return None


def find_controllers(objects: ObjectSet) -> tuple[Controller, ...]:
    """Every ingress-nginx controller Deployment/DaemonSet in the inputs (memoised per set)."""
    return objects.memo("ingress-nginx-controllers", lambda: tuple(_find(objects)))


def _find(objects: ObjectSet) -> Iterable[Controller]:
    for workload in objects.of_kind("Deployment", "DaemonSet"):
        containers = workload.get("spec", "template", "spec", "containers") or []
        if not isinstance(containers, list):
            continue
        for i, c in enumerate(containers):
            if isinstance(c, dict) and is_controller_container(c):
                flags = parse_args(c.get("args") or [], workload.namespace)
                version = parse_version(str(c.get("image") or ""))
                cm = _configmap_for(objects, workload, flags)
                data = cm.get("data") if cm is not None else None
                config = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
                yield Controller(workload, i, version or LAST_RELEASE, version is not None,
                                 flags, config, cm)
                break


def default_controller(objects: ObjectSet) -> Controller:
    """The controller assumed when none is in the inputs (a standalone controller ConfigMap
    named like the upstream one still counts as configuration)."""
    cm = objects.get("ConfigMap", "ingress-nginx", "ingress-nginx-controller")
    data = cm.get("data") if cm is not None else None
    config = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return Controller(None, 0, LAST_RELEASE, False, {}, config, cm)


def controller_for_class(objects: ObjectSet, class_name: str | None) -> Controller:
    """The controller that serves IngressClass ``class_name`` (or the only/default one).

    Not the question to ask about an Ingress: ``raygate.model.dataplane.for_ingress`` decides
    whether ingress-nginx serves it at all (other controllers, namespaces, class-less)."""
    controllers = find_controllers(objects)
    if class_name:
        ic = objects.get("IngressClass", "", class_name)
        wanted = ic.spec.get("controller") if ic is not None else None
        for c in controllers:
            if (wanted and c.controller_class == wanted) or (not wanted and c.ingress_class == class_name):
                return c
    if len(controllers) >= 1:
        return controllers[0]
    return objects.memo("ingress-nginx-default-controller", lambda: default_controller(objects))


def ingress_class_of(ingress: KubeObject) -> str | None:
    name = ingress.spec.get("ingressClassName")
    if isinstance(name, str) and name:
        return name
    legacy = ingress.annotations.get("kubernetes.io/ingress.class")
    return legacy if isinstance(legacy, str) and legacy else None



# ---------------------------------------------------------------------------------------------
# tcp-services

@dataclass(frozen=True)
class TcpEntry:
    """One ``data`` entry of a tcp-services ConfigMap, parsed as the controller parses it."""

    key: str
    value: str
    external_port: int | None
    namespace: str | None
    service: str | None
    port: str | None
    proxy_decode: bool = False
    proxy_encode: bool = False
    error: str | None = None

    @property
    def field(self) -> tuple[str, str]:
        return ("data", self.key)


def parse_tcp_entry(key: Any, value: Any, protocol: str = "TCP") -> TcpEntry:
    """Parse ``"10001": "ray/head-svc:10001[:PROXY[:PROXY]]"`` like getStreamServices()."""
    key_s, value_s = str(key), str(value)
    # Go's strconv.Atoi, not Python's int(): no surrounding spaces, no "10_001".
    if re.fullmatch(r"[+-]?[0-9]+", key_s):
        external = int(key_s)
    else:
        return TcpEntry(key_s, value_s, None, None, None, None,
                        error=f'"{key_s}" is not a valid {protocol} port number')
    parts = value_s.split(":")
    if len(parts) < 2:
        return TcpEntry(key_s, value_s, external, None, None, None,
                        error=f'Invalid Service reference "{value_s}" for {protocol} port {external}')
    nsname, port = parts[0], parts[1]
    if nsname.count("/") != 1 or not all(nsname.split("/")):
        return TcpEntry(key_s, value_s, external, None, None, port,
                        error=f"invalid format (namespace/name) found in '{nsname}'")
    ns, svc = nsname.split("/")
    decode = len(parts) > 2 and parts[2].upper() == "PROXY"
    encode = len(parts) > 3 and parts[3].upper() == "PROXY"
    return TcpEntry(key_s, value_s, external, ns, svc, port, decode, encode)


def tcp_entries(configmap: KubeObject) -> list[TcpEntry]:
    data = configmap.get("data")
    if not isinstance(data, dict):
        return []
    return [parse_tcp_entry(k, v) for k, v in data.items()]


def resolve_service_port(service: KubeObject, port: str, protocol: str = "TCP") -> Mapping[str, Any] | None:
    """The Service port a tcp-services ``port`` field names: a number matches ``port`` (not
    ``targetPort``), anything else matches the port's ``name``; protocols must agree."""
    ports = service.spec.get("ports") or []
    for p in ports if isinstance(ports, list) else []:
        if not isinstance(p, dict):
            continue
        if str(p.get("protocol") or "TCP").upper() != protocol:
            continue
        if port.isdigit():
            if str(p.get("port")) == port:
                return p
        elif p.get("name") == port:
            return p
    return None


def tcp_services_configmaps(objects: ObjectSet) -> list[KubeObject]:
    """ConfigMaps that are tcp-services maps: named by a controller's flag, or by convention."""
    refs = {c.tcp_services_ref for c in find_controllers(objects) if c.tcp_services_ref}
    found = []
    for cm in objects.of_kind("ConfigMap"):
        if f"{cm.namespace}/{cm.name}" in refs or cm.name in ("tcp-services", "ingress-nginx-tcp") \
                or cm.name.endswith("-tcp-services"):
            found.append(cm)
    return found


def controllers_reading(objects: ObjectSet, configmap: KubeObject) -> list[Controller]:
    ref = f"{configmap.namespace}/{configmap.name}"
    return [c for c in find_controllers(objects) if c.tcp_services_ref == ref]


def is_ingress(obj: KubeObject) -> bool:
    return obj.kind == "Ingress" and obj.group in ("networking.k8s.io", "extensions")


def ingress_paths(ingress: KubeObject) -> Iterable[tuple[tuple[Any, ...], Mapping[str, Any], str | None]]:
    """Yield ``(field path, http path entry, host)`` for every path of an Ingress."""
    rules = ingress.spec.get("rules") or []
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, dict):
            continue
        paths = (rule.get("http") or {}).get("paths") if isinstance(rule.get("http"), dict) else None
        for j, p in enumerate(paths if isinstance(paths, list) else []):
            if isinstance(p, dict):
                yield ("spec", "rules", i, "http", "paths", j), p, rule.get("host")


def backend_service(path_entry: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(service name, port as string)`` of an Ingress path backend (v1 or v1beta1 shape)."""
    backend = path_entry.get("backend")
    if not isinstance(backend, dict):
        return None, None
    svc = backend.get("service")
    if isinstance(svc, dict):
        port = svc.get("port") if isinstance(svc.get("port"), dict) else {}
        value = port.get("number", port.get("name"))
        return svc.get("name"), (str(value) if value is not None else None)
    if "serviceName" in backend:
        value = backend.get("servicePort")
        return backend.get("serviceName"), (str(value) if value is not None else None)
    return None, None


def annotation(ingress: KubeObject, name: str) -> str | None:
    value = ingress.annotations.get(PREFIX + name)
    return None if value is None else str(value)


def redirect_target(ingress: KubeObject) -> str | None:
    """Where a ``temporal-redirect``/``permanent-redirect`` Ingress sends every request.

    The redirect annotation parser (``internal/ingress/annotations/redirect/redirect.go`` at
    controller-v1.15.1) reads temporal-redirect first, then permanent-redirect; the template
    answers with ``return <code> <url>`` in every location of the Ingress before any
    ``proxy_pass``, so such an Ingress proxies nothing to its backends.
    """
    for name in ("temporal-redirect", "permanent-redirect"):
        value = annotation(ingress, name)
        if value and value.strip():
            return value.strip()
    return None


def annotation_prefix(controller: Controller) -> str:
    """The annotation prefix a controller reads (``--annotations-prefix``), with a trailing
    slash."""
    prefix = controller.flags.get("--annotations-prefix", "").strip().strip("/")
    return (prefix + "/") if prefix else PREFIX
