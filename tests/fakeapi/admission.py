"""The ingress-nginx validating webhook for the fake API server, from the controller's own code.

It decides from its own table of what the controller validates at controller-v1.15.1, written
from the controller's source, NOT by running raygate's rules: if a rule drifts from the
webhook, the tests that dry-run or apply through this hook notice. Sources (tag
controller-v1.15.1 of kubernetes/ingress-nginx):

- ``internal/ingress/controller/controller.go`` ``CheckIngress``: the order of the checks
  (class served? -> ``--disable-catch-all`` -> strict path type -> annotation prefix, word
  blocklist and snippets per annotation -> annotation extraction, where a risky annotation
  fails its whole group);
- ``internal/ingress/inspector/inspector.go`` ``ValidatePathType`` and ``rules.go``
  ``validPathType`` (``(?i)^/[[:alnum:]._\\-/]*$`` for every non-ImplementationSpecific path);
- ``internal/ingress/controller/config/config.go``: the ConfigMap defaults
  (``allow-snippet-annotations: false``, ``annotations-risk-level: High``,
  ``strict-validate-path-type: true``, ``annotation-value-word-blocklist: ""``);
- ``internal/ingress/annotations/annotations.go`` (``NewAnnotationFactory``: the group names)
  and each parser's ``parser.AnnotationFields`` risk, extracted into
  ``data/ingress_nginx_annotations.csv`` by ``scripts/ingress-nginx-annotation-table.py``;
- ``internal/ingress/annotations/parser/validators.go`` ``CheckAnnotationRisk`` (the key is
  compared after trimming the prefix, aliases count) and ``internal/ingress/errors/errors.go``
  ``NewRiskyAnnotations`` (the message);
- ``internal/admission/controller/main.go``: the denial reaches the client as
  ``admission webhook "validate.nginx.ingress.kubernetes.io" denied the request: <err>``.

What it does not model (annotation value validators, overlap checks, ``--deep-inspect``) is
listed in ``tests/fakeapi/README.md``.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

WEBHOOK_NAME = "validate.nginx.ingress.kubernetes.io"
PREFIX = f'admission webhook "{WEBHOOK_NAME}" denied the request: '
DEFAULT_ANNOTATION_PREFIX = "nginx.ingress.kubernetes.io"
DEFAULT_CONTROLLER_CLASS = "k8s.io/ingress-nginx"
DEFAULT_INGRESS_CLASS = "nginx"
#: config.go NewDefault() values of the keys CheckIngress reads.
CONFIG_DEFAULTS = {"allow-snippet-annotations": "false", "annotations-risk-level": "High",
                   "strict-validate-path-type": "true", "annotation-value-word-blocklist": ""}
#: parser.AnnotationRisk order (parser/main.go): Low < Medium < High < Critical.
RISK_ORDER = {"Low": 0, "Medium": 1, "High": 2, "Critical": 3}
#: rules.go validPathType.
VALID_PATH_TYPE = re.compile(r"^/[A-Za-z0-9._\-/]*$", re.IGNORECASE)
TABLE = Path(__file__).with_name("data") / "ingress_nginx_annotations.csv"


@lru_cache(maxsize=1)
def annotation_table() -> dict[str, list[tuple[str, int, tuple[str, ...]]]]:
    """group -> [(annotation key without prefix, risk, aliases)] in the controller's order."""
    table: dict[str, list[tuple[str, int, tuple[str, ...]]]] = {}
    with TABLE.open() as f:
        for row in csv.DictReader(f):
            table.setdefault(row["group"], []).append(
                (row["annotation"], RISK_ORDER[row["risk"]], tuple(row["aliases"].split())))
    return table


def ingress_nginx_admission(server: Any) -> Callable[[dict, str], "str | None"]:
    """The hook to assign to ``server.admission``: judges Ingresses for every ingress-nginx
    controller Deployment/DaemonSet stored in the fake (each one runs its own webhook)."""

    def admit(obj: dict, operation: str) -> str | None:
        if obj.get("kind") != "Ingress" or operation not in ("CREATE", "UPDATE"):
            return None
        classes = {(o.get("metadata") or {}).get("name"): o for o in server.objects("IngressClass")}
        stored = server.objects("Ingress")
        for controller in _controllers(server):
            if "validating-webhook" not in controller.flags:
                continue  # no --validating-webhook: this controller denies nothing
            config = _config(server, controller)
            message = check_ingress(obj, controller, config, classes) or \
                check_overlap(obj, [o for o in stored if served(o, controller, classes)])
            if message:
                return PREFIX + message
        return None

    return admit


class Controller:
    """The flags of one controller container that ``CheckIngress`` depends on."""

    def __init__(self, namespace: str, args: list[str]) -> None:
        self.namespace = namespace
        self.flags: dict[str, str] = {}
        for a in args:
            if a.startswith("--"):
                key, eq, value = a[2:].partition("=")
                self.flags[key] = value if eq else "true"

    def flag(self, name: str, default: str) -> str:
        return self.flags.get(name, default).replace("$(POD_NAMESPACE)", self.namespace)

    def enabled(self, name: str) -> bool:
        return self.flag(name, "false").lower() in ("true", "1")


def _controllers(server: Any) -> list[Controller]:
    out = []
    for kind in ("Deployment", "DaemonSet"):
        for o in server.objects(kind):
            ns = (o.get("metadata") or {}).get("namespace") or "default"
            for c in ((((o.get("spec") or {}).get("template") or {}).get("spec") or {})
                      .get("containers") or []):
                args = [str(a) for a in (c.get("args") or [])]
                command = [str(a) for a in (c.get("command") or [])]
                if any("nginx-ingress-controller" in a for a in command + args[:1]) or \
                        "controller" in str(c.get("image", "")) and "ingress-nginx" in str(c.get("image", "")):
                    out.append(Controller(ns, command + args))
    return out


def _config(server: Any, controller: Controller) -> dict[str, str]:
    config = dict(CONFIG_DEFAULTS)
    ref = controller.flag("configmap", "")
    if "/" in ref:
        ns, name = ref.split("/", 1)
        cm = server.get("ConfigMap", ns, name)
        if cm is not None:
            config.update({str(k): str(v) for k, v in (cm.get("data") or {}).items()})
    return config


def _claims(ing: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(host, path) of every path with a Service backend ("_" and "/" when empty)."""
    out = []
    for rule in (ing.get("spec") or {}).get("rules") or []:
        host = (rule or {}).get("host") or "_"
        for p in ((rule or {}).get("http") or {}).get("paths") or []:
            backend = (p or {}).get("backend") or {}
            if backend.get("service"):
                out.append((host, str(p.get("path") or "/")))
    return out


def _canary(ing: Mapping[str, Any]) -> str | None:
    value = ((ing.get("metadata") or {}).get("annotations") or {}).get(
        DEFAULT_ANNOTATION_PREFIX + "/canary")
    return None if value is None else str(value).lower()


def check_overlap(ing: Mapping[str, Any], stored: list[Mapping[str, Any]]) -> str | None:
    """``checkOverlap`` (controller.go): a host+path another Ingress of this controller already
    defines is denied, unless exactly one of the two is a canary. The fake compares host and
    path as written; the controller compares the rendered locations, which also tells a
    trailing slash apart from none (tests/fakeapi/README.md: differences)."""
    meta = ing.get("metadata") or {}
    mine = set(_claims(ing))
    for other in stored:
        om = other.get("metadata") or {}
        if (om.get("namespace"), om.get("name")) == (meta.get("namespace"), meta.get("name")):
            continue  # an update of the stored Ingress itself
        if (_canary(ing) == "true") != (_canary(other) == "true"):
            continue
        for host, path in _claims(other):
            if (host, path) in mine:
                return (f'host "{host}" and path "{path}" is already defined in ingress '
                        f"{om.get('namespace')}/{om.get('name')}")
    return None


def served(ing: Mapping[str, Any], controller: Controller, classes: Mapping[str, Any]) -> bool:
    """store.GetIngressClass: the class by ``spec.ingressClassName`` (an IngressClass whose
    ``spec.controller`` is this controller's ``--controller-class``, or, with
    ``--ingress-class-by-name``, the class name itself), else the deprecated annotation, else
    ``--watch-ingress-without-class``."""
    controller_class = controller.flag("controller-class", DEFAULT_CONTROLLER_CLASS)
    ingress_class = controller.flag("ingress-class", DEFAULT_INGRESS_CLASS)
    name = (ing.get("spec") or {}).get("ingressClassName")
    if name:
        # The controller's IngressClass lister only holds classes it watches (store.go):
        # its --controller-class, or, with --ingress-class-by-name, the one named --ingress-class.
        ic = classes.get(name)
        if ic is None:
            return False
        return (ic.get("spec") or {}).get("controller") == controller_class or \
            (controller.enabled("ingress-class-by-name") and name == ingress_class)
    annotation = ((ing.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/ingress.class")
    if annotation:
        return annotation == ingress_class
    return controller.enabled("watch-ingress-without-class")


def check_ingress(ing: Mapping[str, Any], controller: Controller, config: Mapping[str, str],
                  classes: Mapping[str, Any]) -> str | None:
    """``CheckIngress``: the first error, in the controller's order, or None."""
    meta = ing.get("metadata") or {}
    if meta.get("deletionTimestamp") or not served(ing, controller, classes):
        return None
    watch_ns = controller.flag("watch-namespace", "")
    if watch_ns and meta.get("namespace") != watch_ns:
        return None
    spec = ing.get("spec") or {}
    if controller.enabled("disable-catch-all") and spec.get("defaultBackend"):
        return ("this deployment is trying to create a catch-all ingress while DisableCatchAll "
                "flag is set to true. Remove '.spec.defaultBackend' or set DisableCatchAll flag "
                "to false")
    if config["strict-validate-path-type"].lower() == "true":
        bad = []
        for rule in spec.get("rules") or []:
            for p in ((rule or {}).get("http") or {}).get("paths") or []:
                path, ptype = str(p.get("path") or ""), p.get("pathType")
                if path and ptype != "ImplementationSpecific" and not VALID_PATH_TYPE.match(path):
                    bad.append(f"path {path} cannot be used with pathType {ptype or '<nil>'}")
        if bad:
            # errors.Join: one error per line.
            return "ingress contains invalid paths: " + "\n".join(bad)
    prefix = controller.flag("annotations-prefix", DEFAULT_ANNOTATION_PREFIX)
    annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
    blocklist = [w for w in config["annotation-value-word-blocklist"].strip().split(",")] \
        if config["annotation-value-word-blocklist"] else []
    # Go ranges over a map in random order; the fake goes in key order (README: differences).
    for key in sorted(annotations):
        value = annotations[key]
        if prefix != DEFAULT_ANNOTATION_PREFIX and key.startswith(DEFAULT_ANNOTATION_PREFIX + "/"):
            return (f"this deployment has a custom annotation prefix defined. Use '{prefix}' "
                    f"instead of '{DEFAULT_ANNOTATION_PREFIX}'")
        if key.startswith(prefix + "/"):
            for word in blocklist:
                if word.strip() in value:
                    return f"{key} annotation contains invalid word {word}"
        if config["allow-snippet-annotations"].lower() != "true" and key.endswith("-snippet"):
            return (f"{key} annotation cannot be used. Snippet directives are disabled by the "
                    "Ingress administrator")
    max_risk = RISK_ORDER.get(config["annotations-risk-level"].capitalize(), 0)
    pure = {k[len(prefix) + 1:] if k.startswith(prefix + "/") else k for k in annotations}
    for group, fields in sorted(annotation_table().items()):
        for key, risk, aliases in fields:
            if risk > max_risk and (key in pure or any(a in pure for a in aliases)):
                return (f"annotation group {group} contains risky annotation based on ingress "
                        "configuration")
    return None
