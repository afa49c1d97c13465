"""Property test: random documents and byte soup never crash or hang the loader or the catalog.

The documents are shaped like the objects the rules care about (right kinds and keys, wrong or
random values everywhere), so every rule's defensive code is exercised, not just the loader's.
A rule that raises shows up in ``Result.not_checked``; the test fails on any.
"""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raygate import engine, report
from raygate.backends import ingress_nginx
from raygate.objects import ObjectSet
from raygate.sources.files import load_text

KINDS = [("networking.k8s.io/v1", "Ingress"), ("extensions/v1beta1", "Ingress"),
         ("v1", "Service"), ("v1", "ConfigMap"), ("apps/v1", "Deployment"),
         ("apps/v1", "DaemonSet"), ("ray.io/v1", "RayCluster"), ("ray.io/v1", "RayService"),
         ("v1", "Node"), ("networking.k8s.io/v1", "IngressClass"), ("v1", "Pod"),
         ("discovery.k8s.io/v1", "EndpointSlice")]
KEYS = ["spec", "rules", "http", "paths", "path", "pathType", "backend", "service", "name",
        "port", "number", "ports", "targetPort", "protocol", "type", "externalIPs", "template",
        "containers", "args", "image", "env", "value", "hostNetwork", "dnsPolicy",
        "nodeSelector", "replicas", "headGroupSpec", "authOptions", "mode", "status", "head",
        "serviceName", "data", "tls", "ingressClassName", "selector", "endpoints",
        "conditions", "ready", "addresses", "defaultBackend", "10001", "6379"]
ANNOTATIONS = sorted(ingress_nginx.annotation_risks())[:40] + [
    "kubernetes.io/ingress.class", "raygate.io/ignore", "x/configuration-snippet"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-70000, 70000),
                    st.sampled_from(["/ray(/|$)(.*)", "/$2", "100Mi", "3600s", "ray/svc:10001",
                                     "--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services",
                                     "registry.k8s.io/ingress-nginx/controller:v1.11.0",
                                     "client", "dashboard", "token", "ImplementationSpecific"]),
                    st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)), max_leaves=25)


@st.composite
def kube_objects(draw):
    api_version, kind = draw(st.sampled_from(KINDS))
    meta = {"name": draw(st.one_of(st.text(max_size=8), st.integers(), st.none())),
            "namespace": draw(st.sampled_from(["ray", "ingress-nginx", None, 7]))}
    if draw(st.booleans()):
        meta["annotations"] = draw(st.dictionaries(st.sampled_from(ANNOTATIONS), scalars, max_size=4))
    if draw(st.booleans()):
        meta["labels"] = draw(st.one_of(st.dictionaries(st.sampled_from(KEYS), scalars, max_size=3), values))
    doc = {"apiVersion": api_version, "kind": kind, "metadata": meta}
    for key in draw(st.lists(st.sampled_from(["spec", "data", "status"]), max_size=3, unique=True)):
        doc[key] = draw(values)
    return doc


def run_everything(text: str) -> None:
    loaded = load_text(text, "fuzz.yaml")
    objects = ObjectSet(loaded.objects)
    result = engine.run(objects, runtime={"source": "fuzz"}, files=loaded.files,
                        problems=loaded.problems, notices=loaded.notices)
    assert not result.not_checked, result.not_checked
    # Odd names, namespaces and messages must not break a report either.
    for fmt in ("text", "json", "sarif"):
        assert report.formatter(fmt)(result)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(kube_objects(), min_size=1, max_size=8))
def test_random_kubernetes_shaped_documents_never_crash_a_rule(docs) -> None:
    run_everything(yaml.safe_dump_all(docs, sort_keys=False))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_byte_soup_never_crashes_the_loader(data: bytes) -> None:
    run_everything(data.decode("utf-8", errors="replace"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["apiVersion: v1\n", "kind: Ingress\n", "---\n", "metadata:\n",
                                 "  name: x\n", "- a\n", "&a [*a]\n", "{", "}", "[", "]", ": ",
                                 "  annotations: {x: *b}\n", "!!python/object:os.system\n",
                                 "\t", "'", '"', "%YAML 1.1\n", "? ", "|\n  text\n"]),
                max_size=30))
def test_yaml_token_soup_never_crashes_the_loader(tokens: list[str]) -> None:
    run_everything("".join(tokens))
