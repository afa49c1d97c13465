"""Controller context: what the inputs say about the ingress-nginx controller is used, and
whatever had to be assumed instead (version, ConfigMap) is said in the finding."""

from __future__ import annotations

from raygate import engine
from raygate.objects import ObjectSet
from raygate.sources.files import load_text

INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ray
  namespace: ray
  annotations:
    nginx.ingress.kubernetes.io/configuration-snippet: "more_set_headers x;"
    nginx.ingress.kubernetes.io/proxy-body-size: 100Mi
spec:
  ingressClassName: nginx
  rules:
  - http:
      paths:
      - path: /ray(/|$)(.*)
        pathType: Prefix
        backend: {service: {name: raycluster-kuberay-head-svc, port: {number: 8265}}}
"""


def controller(image: str, *args: str) -> str:
    lines = "".join(f"        - {a}\n" for a in ("/nginx-ingress-controller",
                                                   "--validating-webhook=:8443", *args))
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: ingress-nginx-controller, namespace: ingress-nginx}}
spec:
  selector: {{matchLabels: {{app: c}}}}
  template:
    metadata: {{labels: {{app: c}}}}
    spec:
      containers:
      - name: controller
        image: {image}
        args:
{lines}"""


CONFIGMAP = """---
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
data: {allow-snippet-annotations: "false", strict-validate-path-type: "true"}
"""


def findings(text: str, code: str):
    result = engine.run(ObjectSet(load_text(text, "t.yaml").objects), select=[code])
    return [f for f in result.findings if f.code == code]


def test_no_controller_in_the_inputs_assumes_the_last_release() -> None:
    for code in ("RG101", "RG207", "RG210"):
        (f,) = findings(INGRESS, code)
        assert f.assumption and "v1.15.1 defaults" in f.assumption, (code, f.assumption)


def test_a_controller_image_without_a_tag_says_what_was_assumed() -> None:
    text = INGRESS + controller("registry.k8s.io/ingress-nginx/controller@sha256:" + "a" * 64)
    for code in ("RG101", "RG207"):
        (f,) = findings(text, code)
        assert f.assumption and "no version tag" in f.assumption, (code, f.assumption)


def test_a_missing_controller_configmap_is_said_in_the_finding() -> None:
    text = INGRESS + controller("registry.k8s.io/ingress-nginx/controller:v1.12.1",
                                "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller")
    (f,) = findings(text, "RG101")
    assert "the v1.12.1 default" in f.message
    assert f.assumption == ("assuming v1.12.1 defaults: the controller's ConfigMap "
                            "ingress-nginx/ingress-nginx-controller is not in the inputs")
    # With the ConfigMap in the inputs nothing is assumed: it is read.
    (f,) = findings(text + CONFIGMAP, "RG101")
    assert f.assumption is None and "ConfigMap ingress-nginx/ingress-nginx-controller" in f.message


def test_the_version_from_the_image_tag_decides_the_defaults() -> None:
    # v1.11 still defaulted strict-validate-path-type to false: a warning, not a denial.
    text = INGRESS + controller("registry.k8s.io/ingress-nginx/controller:v1.11.3")
    (f,) = findings(text, "RG207")
    assert f.severity.value == "warning" and f.message.startswith("Warning: path /ray")


def test_body_size_without_annotation_validation_still_gets_nginx_default() -> None:
    # Before v1.12 annotation validation is off: "100Mi" is not replaced by the ConfigMap value
    # but put on the location as written. nginx.tmpl then refuses to write it
    # (isValidByteSize, template.go@controller-v1.15.1, since v0.34.0): no reload failure,
    # nginx's own 1m applies.
    text = INGRESS + controller("registry.k8s.io/ingress-nginx/controller:v1.11.3")
    (f,) = findings(text, "RG210")
    assert "proxy-body-size is 1m" in f.message
    (f,) = [f for f in findings(text, "RG103") if "proxy-body-size" in f.field]
    assert "nginx's default 1m applies" in f.message and "fails the reload" not in f.message
    # With validation on (v1.12+), the refused value falls back to the ConfigMap/default 1m.
    text = INGRESS + controller("registry.k8s.io/ingress-nginx/controller:v1.12.1")
    (f,) = findings(text, "RG210")
    assert "is silently ignored" in f.message
