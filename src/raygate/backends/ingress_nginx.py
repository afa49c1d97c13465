"""What the ingress-nginx controller will do with a set of objects, as data and pure functions.

Rules, renderers, the lab's nginx.conf renderer and doctor all need the same knowledge: which
defaults apply for a controller version, what its args and ConfigMap say, how it parses a
``tcp-services`` entry, which annotations it considers risky and which values it refuses.
Facts come from ``shared/facts/ingress_nginx.md`` (controller v1.15.1 source, commit dbb11b92).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from raygate.objects import KubeObject, ObjectSet
from raygate.records import field, record

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
    "client-body-timeout": "60", "client-header-timeout": "60", "keep-alive": "75",
    "upstream-keepalive-connections": "320", "upstream-keepalive-timeout": "60",
    "proxy-next-upstream-tries": "3", "proxy-next-upstream-timeout": "0",
    "use-forwarded-headers": "false", "use-proxy-protocol": "false", "use-http2": "true",
    "ssl-redirect": "true", "force-ssl-redirect": "false", "retry-non-idempotent": "false",
}

# Ports the controller keeps for itself; a tcp-services entry on one of them is dropped with
# "Port <n> cannot be used for TCP stream services. It is reserved for the Ingress controller."
RESERVED_PORT_FLAGS = {
    "--http-port": 80, "--https-port": 443, "--ssl-passthrough-proxy-port": 442,
    "--healthz-port": 10254, "--default-server-port": 8181, "--profiler-port": 10245,
    "--status-port": 10246, "--stream-port": 10247,
}

# Value validators (internal/ingress/annotations/parser/validators.go). ``\Z``, not ``$``: Go's
# ``$`` (no multiline flag) matches only at the end of the text, Python's also before a final
# newline, and "/ray\n" must fail like it does in the controller.
_ALNUM = r"\-\._~a-zA-Z0-9/:"
SIZE_RE = re.compile(r"^(?i:\d+[bkmg]?)\Z")
REGEX_PATH_WITH_CAPTURE_RE = re.compile(r"^/?[" + _ALNUM + r"/$]*\Z")
#: validators.go URLIsValidRegex (redirect URLs): alphaNumericChars plus , : ? & =
URL_IS_VALID_RE = re.compile(r"^[" + _ALNUM + r",:?&=]*\Z")
#: inspector/rules.go validPathType, (?i)^/[[:alnum:]._\-/]*$ (strict-validate-path-type).
VALID_PATH_TYPE_RE = re.compile(r"^/[A-Za-z0-9._\-/]*\Z")


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
    import csv

    table: dict[str, tuple[int, str]] = {}
    # A plain path (installed packages are directories, as in sources/schema.py):
    # importlib.resources pulls tempfile, shutil, bz2, lzma and zipfile into every lint.
    path = Path(__file__).resolve().parents[1] / "rules" / "data" / "annotation_risk.csv"
    text = path.read_text(encoding="utf-8")
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


@record(frozen=True)
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
        """A ConfigMap setting as the controller reads it, falling back to this version's
        defaults; a typed key whose value does not decode keeps its default (ReadConfig)."""
        if key in self.config:
            decoded = decode_config_value(key, str(self.config[key]))
            if decoded.value is not None:
                return decoded.value
        return self.default_setting(key)

    def default_setting(self, key: str) -> str:
        defaults = version_defaults(self.version)
        return defaults.get(key, CONFIG_DEFAULTS.get(key, ""))

    def config_errors(self) -> list[ConfigValue]:
        """ConfigMap keys the controller cannot decode (each keeps its default)."""
        decoded = (decode_config_value(k, str(v)) for k, v in sorted(self.config.items()))
        return [d for d in decoded if d.error is not None]

    def flag_bool(self, flag: str, default: bool) -> bool:
        """A boolean flag as pflag parses it (``--flag``, ``--flag=false``)."""
        if flag not in self.flags:
            return default
        return _GO_BOOL.get(self.flags[flag].strip(), default)

    @property
    def admission_webhook(self) -> bool:
        """Whether this controller runs the validating admission webhook
        (``--validating-webhook=<addr>``; "If not provided, no admission controller is
        started", pkg/flags/flags.go). Assumed on when no controller is in the inputs: the
        Helm chart and the static manifests enable it."""
        if self.workload is None:
            return True
        return bool(self.flags.get("--validating-webhook", "").strip())

    @property
    def ref(self) -> str:
        w = self.workload
        return f"{w.kind} {w.namespace}/{w.name}" if w is not None else "the assumed controller"

    @property
    def no_webhook(self) -> str:
        """The clause findings use when this controller admits everything."""
        return (f"{self.ref} runs no admission webhook (no --validating-webhook), so nothing "
                "refuses the Ingress when it is applied")

    @property
    def annotations_prefix(self) -> str:
        """``--annotations-prefix`` with a trailing slash (default nginx.ingress.kubernetes.io)."""
        value = self.flags.get("--annotations-prefix", "").strip().strip("/")
        return (value + "/") if value else PREFIX

    @property
    def custom_prefix(self) -> bool:
        return self.annotations_prefix != PREFIX

    @property
    def disable_catch_all(self) -> bool:
        return self.flag_bool("--disable-catch-all", False)

    @property
    def deep_inspect(self) -> bool:
        """``--deep-inspect`` (default true, since v1.2.0)."""
        return self.version >= SINCE["deep-inspect"] and self.flag_bool("--deep-inspect", True)

    def setting_source(self, key: str) -> str:
        """Where ``setting(key)`` came from, for messages."""
        if key in self.config and self.configmap is not None:
            where = f"ConfigMap {self.configmap.namespace}/{self.configmap.name}"
            raw = str(self.config[key])
            if decode_config_value(key, raw).error is not None:
                return f"the default: {where} has \"{raw}\", which the controller cannot decode"
            return where
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

@record(frozen=True)
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
    slash (``Controller.annotations_prefix``)."""
    return controller.annotations_prefix


# ---------------------------------------------------------------------------------------------
# Behaviours and the controller version each starts at. Found with ``git log -S`` on
# kubernetes/ingress-nginx and ``git tag --contains``; the text is what v1.15.1 does.

SINCE: Mapping[str, tuple[int, int, int]] = {
    # template.go isValidByteSize(..., true): client_max_body_size only for ^\d+[kKmMgG]?$
    "body-size-template-check": (0, 34, 0),
    # redirect.go isValidURL: temporal-redirect needs an http(s) scheme, else ignored
    "temporal-redirect-scheme-check": (0, 34, 0),
    # rewrite/main.go: app-root must be a path (ParseRequestURI, not absolute)
    "app-root-path-check": (0, 34, 0),
    # controller.go checkOverlap: host "<h>" and path "<p>" is already defined in ingress ...
    "overlap-denial": (0, 40, 0),
    # controller.go CheckIngress: catch-all Ingress refused with --disable-catch-all
    "catch-all-denial": (0, 46, 0),
    # controller.go CheckIngress / store.go checkBadAnnotationValue
    "word-blocklist": (1, 0, 5),
    # inspector.DeepInspect in the webhook and the store (--deep-inspect, default true)
    "deep-inspect": (1, 2, 0),
    # CheckIngress: keys under nginx.ingress.kubernetes.io refused with a custom prefix
    "custom-prefix-denial": (1, 9, 0),
}


def has_behaviour(controller: "Controller", name: str) -> bool:
    """Whether ``controller``'s version has behaviour ``name`` (unknown versions: v1.15.1)."""
    return controller.version >= SINCE[name]


# ---------------------------------------------------------------------------------------------
# Controller ConfigMap decoding (template/configmap.go ReadConfig, controller-v1.15.1).
#
# ReadConfig starts from config.NewDefault() and decodes the ConfigMap's strings into the typed
# Configuration with mapstructure v1.5.0 (WeaklyTypedInput). A value that does not convert to
# its field's type is collected as an error and that field keeps its default; every other key
# still applies. The only trace is one warning, "unexpected error merging defaults: <n> error(s)
# decoding: * cannot parse '<key>' as int: strconv.ParseInt: parsing "<value>": invalid syntax".
# Ints use strconv.ParseInt(s, 0, bits): base prefixes (0x, 0o, 0b, a leading 0 = octal) and
# digit-separating underscores are accepted, units ("3600s", "20k") are not; "" means 0.
# Bools use strconv.ParseBool; "" means false. Types from config.go/defaults/main.go json tags;
# keys ReadConfig parses by hand before decoding (http-redirect-code, proxy-stream-responses,
# enable-serial-reloads, the lists) are left out.

CONFIGMAP_TYPES: Mapping[str, str] = {
    **dict.fromkeys((
        "allow-backend-server-header", "allow-cross-namespace-resources",
        "allow-snippet-annotations", "compute-full-forwarded-for", "disable-access-log",
        "disable-http-access-log", "disable-ipv6", "disable-ipv6-dns",
        "disable-proxy-intercept-errors", "disable-stream-access-log",
        "enable-access-log-for-default-backend", "enable-aio-write", "enable-auth-access-log",
        "enable-brotli", "enable-modsecurity", "enable-multi-accept", "enable-ocsp",
        "enable-opentelemetry", "enable-owasp-modsecurity-crs", "enable-real-ip", "enable-syslog",
        "enable-underscores-in-headers", "force-ssl-redirect", "generate-request-id", "hsts",
        "hsts-include-subdomains", "hsts-preload", "ignore-invalid-headers",
        "log-format-escape-json", "log-format-escape-none", "opentelemetry-trust-incoming-span",
        "otel-sampler-parent-based", "preserve-trailing-slash", "proxy-add-original-uri-header",
        "proxy-ssl-location-only", "proxy-stream-next-upstream", "relative-redirects",
        "retry-non-idempotent", "reuse-port", "server-tokens", "service-upstream",
        "ssl-early-data", "ssl-redirect", "ssl-reject-handshake", "ssl-session-cache",
        "ssl-session-tickets", "strict-validate-path-type", "upstream-hash-by-subset",
        "use-forwarded-headers", "use-geoip2", "use-gzip", "use-http2", "use-port-in-redirects",
        "use-proxy-protocol",
    ), "bool"),
    **dict.fromkeys((
        "otel-sampler-ratio",
    ), "float32"),
    **dict.fromkeys((
        "brotli-level", "brotli-min-length", "client-body-timeout", "client-header-timeout",
        "geoip2-autoreload-in-minutes", "grpc-buffer-size-kb", "gzip-level", "gzip-min-length",
        "http2-max-concurrent-streams", "http2-max-requests", "keep-alive", "keep-alive-requests",
        "limit-conn-status-code", "limit-rate", "limit-rate-after", "limit-req-status-code",
        "map-hash-bucket-size", "max-worker-connections", "max-worker-open-files",
        "proxy-buffers-number", "proxy-connect-timeout", "proxy-headers-hash-bucket-size",
        "proxy-headers-hash-max-size", "proxy-next-upstream-timeout", "proxy-next-upstream-tries",
        "proxy-read-timeout", "proxy-send-timeout", "proxy-stream-next-upstream-tries",
        "server-name-hash-bucket-size", "server-name-hash-max-size", "syslog-port",
        "upstream-hash-by-subset-size", "upstream-keepalive-connections",
        "upstream-keepalive-requests", "upstream-keepalive-timeout", "variables-hash-bucket-size",
        "variables-hash-max-size",
    ), "int"),
    **dict.fromkeys((
        "otel-max-export-batch-size", "otel-max-queuesize", "otel-schedule-delay-millis",
    ), "int32"),
}

_GO_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
            "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
_INT_BITS = {"int": 64, "int32": 32}
# Go integer literal syntax for ParseInt(s, 0, _): prefix, digits, underscores only between
# digits (or right after the base prefix).
_GO_INT_LITERAL = re.compile(
    r"(0[xX]_?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*"
    r"|0[oO]_?[0-7]+(?:_[0-7]+)*"
    r"|0[bB]_?[01]+(?:_[01]+)*"
    r"|0_?[0-7]+(?:_[0-7]+)*"
    r"|[1-9][0-9]*(?:_[0-9]+)*|0)")


def go_parse_int(text: str, bits: int = 64) -> int | None:
    """``strconv.ParseInt(text, 0, bits)``; None when Go returns an error."""
    sign, body = (text[0], text[1:]) if text[:1] in "+-" and text else ("", text)
    if not _GO_INT_LITERAL.fullmatch(body):
        return None
    digits = body.replace("_", "")
    if digits[:2].lower() in ("0x", "0o", "0b"):
        value = int(digits[2:], {"x": 16, "o": 8, "b": 2}[digits[1].lower()])
    elif len(digits) > 1 and digits[0] == "0":
        value = int(digits[1:], 8)
    else:
        value = int(digits)
    value = -value if sign == "-" else value
    if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        return None
    return value


def _go_float(text: str) -> float | None:
    try:
        return float(text) if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text) else None
    except ValueError:
        return None


@record(frozen=True)
class ConfigValue:
    """How the controller reads one ConfigMap key."""

    key: str
    raw: str
    value: str | None        # the effective value (normalised), None when the default is kept
    error: str | None        # mapstructure's error text for this key

    @property
    def log_line(self) -> str | None:
        if self.error is None:
            return None
        return f"unexpected error merging defaults: 1 error(s) decoding:\n\n* {self.error}"


def decode_config_value(key: str, raw: str) -> ConfigValue:
    """Decode ``raw`` like ReadConfig's mapstructure pass (untyped keys pass through)."""
    kind = CONFIGMAP_TYPES.get(key)
    if kind is None:
        return ConfigValue(key, raw, raw, None)
    if kind == "bool":
        if raw in _GO_BOOL:
            return ConfigValue(key, raw, "true" if _GO_BOOL[raw] else "false", None)
        if raw == "":
            return ConfigValue(key, raw, "false", None)
        return ConfigValue(key, raw, None,
                           f"cannot parse '{key}' as bool: strconv.ParseBool: parsing "
                           f"\"{raw}\": invalid syntax")
    if kind == "float32":
        number = _go_float(raw or "0")
        if number is None:
            return ConfigValue(key, raw, None,
                               f"cannot parse '{key}' as float: strconv.ParseFloat: parsing "
                               f"\"{raw}\": invalid syntax")
        return ConfigValue(key, raw, repr(number), None)
    text = raw or "0"
    number = go_parse_int(text, _INT_BITS.get(kind, 64))
    if number is None:
        problem = ("value out of range" if _GO_INT_LITERAL.fullmatch(text.lstrip("+-"))
                   else "invalid syntax")
        return ConfigValue(key, raw, None,
                           f"cannot parse '{key}' as int: strconv.ParseInt: parsing "
                           f"\"{raw}\": {problem}")
    return ConfigValue(key, raw, str(number), None)


# ---------------------------------------------------------------------------------------------
# Sizes: the nginx.tmpl guard in front of client_max_body_size

#: nginx's own default when the location writes no client_max_body_size.
NGINX_DEFAULT_BODY_SIZE = "1m"
#: template.go nginxOffsetRegex, used by isValidByteSize(value, true) after TrimSpace.
_TEMPLATE_OFFSET_RE = re.compile(r"[0-9]+[kKmMgG]?")
#: validators.go SizeRegex, applied to annotation values after removing spaces.
_ANNOTATION_SIZE_RE = re.compile(r"[0-9]+[bBkKmMgG]?")


def template_writes_size(value: str) -> bool:
    """Whether nginx.tmpl writes ``client_max_body_size <value>`` (isValidByteSize, offset)."""
    return bool(_TEMPLATE_OFFSET_RE.fullmatch(value.strip()))


@record(frozen=True)
class BodySize:
    """What ``client_max_body_size`` a location of an Ingress really gets."""

    configured: str          # the value the controller put on the location
    source: str              # "annotation", "configmap" or "default"
    written: bool            # nginx.tmpl wrote it (else nginx's 1m applies)
    annotation_refused: bool  # the annotation failed SizeRegex and was replaced

    @property
    def effective(self) -> str:
        return self.configured.strip() if self.written else NGINX_DEFAULT_BODY_SIZE


def body_size(controller: "Controller", annotation_value: str | None) -> BodySize:
    """proxy/main.go + nginx.tmpl: annotation (if it passes SizeRegex), else the ConfigMap's
    proxy-body-size (a plain string, default 1m); then the template's own guard."""
    refused = False
    if annotation_value is not None and annotation_value != "":
        ok = (_ANNOTATION_SIZE_RE.fullmatch(annotation_value.replace(" ", ""))
              and not re.search(r"[\r\n]", annotation_value))
        if ok or not controller.annotation_validation:
            # parseString keeps the value as written (each line trimmed, inner spaces kept).
            value = "\n".join(line.strip() for line in annotation_value.split("\n"))
            return BodySize(value, "annotation", template_writes_size(value), False)
        refused = True
    if "proxy-body-size" in controller.config:
        value = str(controller.config["proxy-body-size"])
        return BodySize(value, "configmap", template_writes_size(value), refused)
    return BodySize(CONFIG_DEFAULTS["proxy-body-size"], "default", True, refused)


# ---------------------------------------------------------------------------------------------
# Allow/deny lists (ipallowlist/main.go, ipdenylist/main.go, internal/net/ipnet.go)

ALLOWLIST = "allowlist-source-range"
ALLOWLIST_ALIAS = "whitelist-source-range"
DENYLIST = "denylist-source-range"


def _go_ip_or_cidr(spec: str) -> bool:
    """net.ParseCIDR or net.ParseIP accepts ``spec`` (already TrimSpace'd)."""
    if not spec or "%" in spec:
        return False
    try:
        if "/" in spec:
            address, _, bits = spec.partition("/")
            if not bits.isdigit():
                return False
            ipaddress.ip_address(address)
            ipaddress.ip_network(spec, strict=False)
        else:
            ipaddress.ip_address(spec)
    except ValueError:
        return False
    return True


def source_range_denial(annotations: Mapping[str, Any], name: str, prefix: str = PREFIX,
                        alias: str | None = None,
                        validated: bool = True) -> tuple[str, str] | None:
    """``(key, reason)`` when an allow/deny list annotation makes the controller deny every
    location of the Ingress (``return 503``), else None.

    The parser wraps *every* failure in a LocationDeniedError: a value that fails ValidateCIDRs
    (``ww``, ``"10.0.0.0/24,"``: the empty item after the comma is not an address) and an empty
    value. The Ingress is admitted; each of its locations renders ``return 503``."""
    key = prefix + name
    value = annotations.get(key)
    if (value is None or value == "") and alias is not None:
        alias_value = annotations.get(prefix + alias)
        if isinstance(alias_value, str) and alias_value != "":
            key, value = prefix + alias, alias_value
    if value is None or not isinstance(value, str):
        return None
    if value == "":
        return key, f"the annotation {prefix}{name} does not contain a valid value ()"
    for item in value.split(","):
        if not _go_ip_or_cidr(item.strip()):
            if validated:   # ValidateCIDRs failed: the ValidationError is the reason
                return key, f"annotation {key} contains invalid value"
            # --enable-annotation-validation=false: the parser's own ParseIPNets error
            return key, ("the annotation does not contain a valid IP address or network: "
                         f"invalid CIDR address: {item.strip()}")
    return None


# ---------------------------------------------------------------------------------------------
# annotation-value-word-blocklist (controller.go CheckIngress, store.go checkBadAnnotationValue)


def blocklist_hit(annotations: Mapping[str, Any], blocklist: str, prefix: str,
                  webhook: bool) -> tuple[str, str] | None:
    """``(annotation key, word)`` of the first annotation under ``prefix`` whose value contains
    a blocklisted word. The webhook trims each word; the store does not. An empty word (a
    trailing comma) is contained in every value."""
    if blocklist == "":
        return None
    words = blocklist.strip().split(",")
    for key in sorted(k for k in annotations if isinstance(k, str)):
        if not key.startswith(prefix):
            continue
        value = annotations[key]
        text = value if isinstance(value, str) else str(value)
        for word in words:
            if (word.strip() if webhook else word) in text:
                return key, word
    return None


# ---------------------------------------------------------------------------------------------
# Deep inspection (internal/ingress/inspector/rules.go CheckRegex, ingress.go InspectIngress)

@lru_cache(maxsize=1)
def deep_inspect_patterns() -> tuple[re.Pattern[str], ...]:
    """CheckRegex's patterns, compiled on first use (not at every lint's start-up)."""
    return (
        re.compile(r"\s*alias\s*.*;", re.DOTALL),
        re.compile(r"\s*root\s*.*;", re.DOTALL),
        re.compile(r"/etc/(passwd|shadow|group|nginx|ingress-controller)"),
        re.compile(r"/var/run/secrets"),
        re.compile(r".*_by_lua.*"),
    )


def deep_inspect_value(value: str) -> bool:
    """Whether CheckRegex refuses ``value``."""
    return any(p.search(value) for p in deep_inspect_patterns())


def deep_inspection(ingress: KubeObject) -> tuple[tuple[Any, ...], str] | None:
    """``(field, error text)`` of the first value DeepInspect refuses, as InspectIngress words
    it (the webhook prefixes "invalid object: ")."""
    ref = f"{ingress.namespace}/{ingress.name}"
    rules = ingress.spec.get("rules") or []
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, dict):
            continue
        host = rule.get("host")
        if isinstance(host, str) and host and deep_inspect_value(host):
            return (("spec", "rules", i, "host"),
                    f"invalid host in ingress {ref}: invalid value found: {host}")
        http = rule.get("http") if isinstance(rule.get("http"), dict) else {}
        paths = http.get("paths") if isinstance(http.get("paths"), list) else []
        for j, p in enumerate(paths):
            path = p.get("path") if isinstance(p, dict) else None
            if isinstance(path, str) and deep_inspect_value(path):
                return (("spec", "rules", i, "http", "paths", j, "path"),
                        f"invalid rule in ingress {ref}: invalid http path: invalid value "
                        f"found: {path}")
    tls = ingress.spec.get("tls") or []
    for i, entry in enumerate(tls if isinstance(tls, list) else []):
        if not isinstance(entry, dict):
            continue
        secret = entry.get("secretName")
        if isinstance(secret, str) and deep_inspect_value(secret):
            return (("spec", "tls", i, "secretName"),
                    f"invalid secret in ingress {ref}: invalid value found: {secret}")
        hosts = entry.get("hosts") if isinstance(entry.get("hosts"), list) else []
        for j, h in enumerate(hosts):
            if isinstance(h, str) and deep_inspect_value(h):
                return (("spec", "tls", i, "hosts", j),
                        f"invalid host in ingress tls config {ref}: invalid value found: {h}")
    return None


# ---------------------------------------------------------------------------------------------
# Redirect and app-root values the parsers drop without an error


def temporal_redirect_ignored(value: str) -> str | None:
    """Why redirect.go drops a temporal-redirect that passed its validator (None: used).

    ``isValidURL`` needs a scheme starting with "http"; the error is neither a validation nor
    a location-denied error, so Extract skips the whole Redirect group silently."""
    scheme = _url_scheme(value)
    if not scheme.startswith("http"):
        return f"only http and https are valid protocols ({scheme})"
    return None


def _url_scheme(value: str) -> str:
    m = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", value)
    return m.group(1).lower() if m else ""


def app_root_ignored(value: str) -> str | None:
    """Why rewrite/main.go drops an app-root that passed its validator (None: used):
    ``url.ParseRequestURI`` needs an absolute path or absolute URL, and an absolute URL (with
    a scheme) is refused as well."""
    if _url_scheme(value):
        return f"Annotation app-root only allows absolute paths ({value})"
    if not value.startswith("/"):
        return (f"Annotation app-root contains an invalid value: parse \"{value}\": invalid URI "
                "for request")
    return None


REDIRECT_CODE_RANGES = {"permanent-redirect-code": (300, 308, 301),
                        "temporal-redirect-code": (300, 307, 302)}


# ---------------------------------------------------------------------------------------------
# Host/path overlap (controller.go checkOverlap; store.go sortIngressSlice)


def overlap_denial(host: str, path: str, existing: KubeObject) -> str:
    return (f'host "{host}" and path "{path}" is already defined in ingress '
            f"{existing.namespace}/{existing.name}")


def _canary(ingress: KubeObject, prefix: str) -> str:
    """GetBoolAnnotation("canary"): "missing", "true", "false" or "invalid"."""
    value = ingress.annotations.get(prefix + "canary")
    if value is None:
        return "missing"
    value = str(value)
    if value in _GO_BOOL:
        return "true" if _GO_BOOL[value] else "false"
    return "invalid"


def paths_conflict(a: KubeObject, b: KubeObject, prefix: str = PREFIX) -> bool:
    """checkOverlap's canary rule: two Ingresses on one host+path conflict when both are
    canaries or neither has the canary annotation at all (``canary: "false"`` escapes it)."""
    ca, cb = _canary(a, prefix), _canary(b, prefix)
    return (ca == "true" and cb == "true") or (ca == "missing" and cb == "missing")


def sort_key(ingress: KubeObject) -> tuple[Any, ...]:
    """sortIngressSlice: oldest creationTimestamp first; equal (or absent) timestamps in
    *descending* namespace/name order. The first Ingress keeps a contested location."""
    ts = ingress.get("metadata", "creationTimestamp")
    ref = f"{ingress.namespace}/{ingress.name}"
    return (str(ts) if ts else "", _Desc(ref))


class _Desc(str):
    def __lt__(self, other: str) -> bool:  # type: ignore[override]
        return str.__gt__(self, other)


def host_path_claims(ingress: KubeObject) -> Iterable[tuple[tuple[Any, ...], str, str]]:
    """``(field, host, path)`` of every path with a Service backend, as checkOverlap sees it
    (empty host = "_", empty path = "/")."""
    for field, entry, host in ingress_paths(ingress):
        backend = entry.get("backend")
        if not isinstance(backend, dict) or not (backend.get("service") or backend.get("serviceName")):
            continue
        path = entry.get("path")
        yield (field, host if isinstance(host, str) and host else "_",
               path if isinstance(path, str) and path else "/")


#: What the store does with an Ingress whose annotations fail Extract (risk or a propagated
#: validation error) when no webhook refused it: store.go syncIngress logs and returns, so the
#: Ingress never reaches the configuration.
SKIPPED_BY_SYNC = "the controller leaves the whole Ingress out of its configuration"


@record
class _Loc:
    """One location of a server while the controller merges Ingress paths into it."""

    path: str
    path_type: str
    ingress: KubeObject | None   # None: the server's default-backend root location
    keep_as_is: bool             # rewrite or use-regex: updateServerLocations leaves it


def _nginx_path_type(entry: Mapping[str, Any]) -> str:
    """k8s.SetDefaultNGINXPathType: nil and ImplementationSpecific become Prefix."""
    value = entry.get("pathType")
    return "Exact" if value == "Exact" else "Prefix"


def _keeps_path(ingress: KubeObject, path: str, prefix: str) -> bool:
    use_regex = str(ingress.annotations.get(prefix + "use-regex", "")) in (
        "1", "t", "T", "TRUE", "true", "True")
    target = ingress.annotations.get(prefix + "rewrite-target")
    rewrite = (isinstance(target, str) and target != "" and target != path
               and bool(REGEX_PATH_WITH_CAPTURE_RE.match(target)))
    return use_regex or rewrite


def host_locations(ingresses: Iterable[KubeObject], host: str,
                   prefix: str = PREFIX) -> list[_Loc]:
    """The locations of server ``host`` after getBackendServers and updateServerLocations
    (controller.go, location.go @controller-v1.15.1), for Ingresses in store order.

    The first Ingress to claim a path with a given path type keeps it ("Location ... already
    configured"); the same path with another type is added next to it (getBackendServers
    compares only with the *first* location of that path). Then a Prefix path without
    rewrite/regex becomes "<path>/" plus an exact "<path>", unless an Exact location of that
    path exists already."""
    locations = [_Loc("/", "Prefix", None, False)]
    first_by_path: dict[str, _Loc] = {"/": locations[0]}
    for ing in ingresses:
        for _field, entry, rule_host in ingress_paths(ing):
            if (rule_host if isinstance(rule_host, str) and rule_host else "_") != host:
                continue
            backend = entry.get("backend")
            if not isinstance(backend, dict) or not (backend.get("service")
                                                      or backend.get("serviceName")):
                continue
            raw = entry.get("path")
            path = raw if isinstance(raw, str) and raw else "/"
            ptype = _nginx_path_type(entry)
            first = first_by_path.get(path)
            if first is not None and first.path_type == ptype:
                if first.ingress is None:   # "Replacing location" of the default backend
                    first.ingress = ing
                    first.keep_as_is = _keeps_path(ing, path, prefix)
                continue
            loc = _Loc(path, ptype, ing, _keeps_path(ing, path, prefix))
            locations.append(loc)
            first_by_path.setdefault(path, loc)
    exact = {loc.path for loc in locations if loc.path_type == "Exact"}
    result: list[_Loc] = []
    for loc in locations:
        if loc.path == "/" or loc.path_type != "Prefix" or loc.keep_as_is:
            result.append(loc)
            continue
        normalised = loc.path if loc.path.endswith("/") else loc.path + "/"
        result.append(_Loc(normalised, "Prefix", loc.ingress, False))
        if loc.path not in exact:
            result.append(_Loc(loc.path, "Exact", loc.ingress, False))
    return result


@record(frozen=True)
class Overlap:
    """One path of ``ingress`` that ``existing`` already defines on the same controller."""

    ingress: KubeObject
    field: tuple[Any, ...]
    host: str
    path: str
    existing: KubeObject

    @property
    def denial(self) -> str:
        return overlap_denial(self.host, self.path, self.existing)


def overlaps(ingresses_in_order: list[KubeObject], prefix: str = PREFIX) -> list[Overlap]:
    """checkOverlap for each Ingress as if applied after those before it (same controller).

    Only Ingresses that claim the same path on a host as another one, up to a trailing slash
    (Prefix normalisation), take part; each host is replayed once with them all, and a path
    conflicts only with a location owned by an *earlier* Ingress (the first claimant owns a
    location, so the later ones cannot change it). Linear in the number of paths."""
    claims: dict[str, dict[str, set[int]]] = {}
    for i, ing in enumerate(ingresses_in_order):
        for _f, host, path in host_path_claims(ing):
            claims.setdefault(host, {}).setdefault(path.rstrip("/") or "/", set()).add(i)
    found: list[Overlap] = []
    for host, by_key in claims.items():
        contested = sorted({i for owners in by_key.values() if len(owners) > 1 for i in owners})
        if not contested:
            continue
        members = [ingresses_in_order[i] for i in contested]
        rank = {id(ing): k for k, ing in enumerate(members)}
        by_path: dict[str, list[_Loc]] = {}
        for loc in host_locations(members, host, prefix):
            by_path.setdefault(loc.path, []).append(loc)
        for k, ing in enumerate(members):
            for field, claim_host, path in host_path_claims(ing):
                if claim_host != host:
                    continue
                for loc in by_path.get(path, ()):
                    other = loc.ingress
                    if other is None or _same_object(other, ing) or rank[id(other)] > k:
                        continue
                    if paths_conflict(ing, other, prefix):
                        found.append(Overlap(ing, field, host, path, other))
                        break
    return found


def controllers_reading_config(objects: ObjectSet, configmap: KubeObject) -> list[Controller]:
    """The controllers whose ``--configmap`` is ``configmap`` (or the assumed controller, when
    none is in the inputs and the ConfigMap has the upstream name)."""
    return objects.memo("ingress-nginx-config-readers", lambda: _config_readers(objects)).get(
        id(configmap), [])


def _config_readers(objects: ObjectSet) -> dict[int, list[Controller]]:
    controllers = find_controllers(objects)
    readers: dict[int, list[Controller]] = {}
    for c in controllers:
        if c.configmap is not None:
            readers.setdefault(id(c.configmap), []).append(c)
    if not controllers:
        default = objects.memo("ingress-nginx-default-controller",
                               lambda: default_controller(objects))
        if default.configmap is not None:
            readers[id(default.configmap)] = [default]
    return readers


def _same_object(a: KubeObject, b: KubeObject) -> bool:
    """checkOverlap skips the Ingress itself by namespace and name (an update sees both)."""
    return a is b or (a.namespace == b.namespace and a.name == b.name)
