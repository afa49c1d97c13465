"""Which data plane serves an Ingress (``raygate.model.dataplane``), against ingress-nginx
controller-v1.15.1's own class and namespace handling (store.go ``GetIngressClass``, the
IngressClass add handler, ``watchedNamespace``; pkg/flags/flags.go) and Kubernetes'
DefaultIngressClass admission."""

from __future__ import annotations

from typing import Any

import pytest

from raygate import engine
from raygate.model import dataplane, exposure
from raygate.objects import KubeObject, ObjectSet, Origin


def obj(raw: dict[str, Any]) -> KubeObject:
    return KubeObject(raw, Origin("test.yaml"))


def controller(*args: str, image: str = "registry.k8s.io/ingress-nginx/controller:v1.15.1",
               name: str = "ingress-nginx-controller") -> KubeObject:
    return obj({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": "ingress-nginx"},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "controller", "image": image,
                     "args": ["/nginx-ingress-controller", *args]}]}}}})


def ingress_class(name: str, ctrl: str, default: bool = False) -> KubeObject:
    meta: dict[str, Any] = {"name": name}
    if default:
        meta["annotations"] = {"ingressclass.kubernetes.io/is-default-class": "true"}
    return obj({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                "metadata": meta, "spec": {"controller": ctrl}})


def ingress(namespace: str = "ray", class_name: str | None = None,
            annotation: str | None = None, **annotations: str) -> KubeObject:
    notes = dict(annotations)
    if annotation is not None:
        notes["kubernetes.io/ingress.class"] = annotation
    spec: dict[str, Any] = {"rules": [{"http": {"paths": [{
        "path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": "raycluster-kuberay-head-svc",
                                "port": {"number": 8265}}}}]}}]}
    if class_name is not None:
        spec["ingressClassName"] = class_name
    return obj({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "dash", "namespace": namespace, "annotations": notes},
                "spec": spec})


def plane(*objects: KubeObject) -> dataplane.DataPlane:
    ing = objects[-1]
    return dataplane.for_ingress(ObjectSet(list(objects)), ing)


def test_ingress_class_name_goes_to_the_controller_with_that_controller_class() -> None:
    got = plane(controller(), ingress_class("nginx", "k8s.io/ingress-nginx"), ingress(class_name="nginx"))
    assert got.is_ingress_nginx and not got.assumed and got.controller is not None


def test_another_controller_class_is_not_served_by_nginx() -> None:
    # Two ingress-nginx installs; the inputs carry only the public one.
    got = plane(controller(), ingress_class("nginx-internal", "k8s.io/ingress-nginx-internal"),
                ingress(class_name="nginx-internal"))
    assert got.kind == "none" and "k8s.io/ingress-nginx-internal" in got.reason


def test_ingress_class_by_name_takes_a_foreign_class_named_like_ingress_class() -> None:
    objs = (controller("--ingress-class=internal", "--ingress-class-by-name=true"),
            ingress_class("internal", "example.com/other"), ingress(class_name="internal"))
    assert plane(*objs).is_ingress_nginx
    objs = (controller("--ingress-class=internal"),
            ingress_class("internal", "example.com/other"), ingress(class_name="internal"))
    assert not plane(*objs).is_ingress_nginx


def test_annotation_must_equal_ingress_class_flag() -> None:
    assert plane(controller(), ingress(annotation="nginx")).is_ingress_nginx
    assert plane(controller("--ingress-class=ray-gw"), ingress(annotation="nginx")).kind == "none"


def test_class_less_needs_watch_ingress_without_class_since_v1() -> None:
    assert plane(controller(), ingress()).kind == "none"
    assert plane(controller("--watch-ingress-without-class=true"), ingress()).is_ingress_nginx
    old = controller(image="k8s.gcr.io/ingress-nginx/controller:v0.49.3")
    assert plane(old, ingress()).is_ingress_nginx


def test_default_ingress_class_is_written_in_by_admission() -> None:
    got = plane(controller(), ingress_class("nginx", "k8s.io/ingress-nginx", default=True), ingress())
    assert got.is_ingress_nginx and got.class_source == "default IngressClass"
    two = plane(controller(), ingress_class("a", "k8s.io/ingress-nginx", default=True),
                ingress_class("b", "k8s.io/ingress-nginx", default=True), ingress())
    assert two.kind == "none"  # admission refuses it; no class is filled in


def test_default_class_of_another_controller() -> None:
    got = plane(controller(), ingress_class("traefik", "traefik.io/ingress-controller", default=True),
                ingress())
    assert got.kind == "traefik"


def test_watch_namespace_and_selector() -> None:
    assert plane(controller("--watch-namespace=apps"), ingress(class_name="nginx")).kind == "none"
    assert plane(controller("--watch-namespace=ray"), ingress(class_name="nginx")).is_ingress_nginx
    ns = obj({"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": "ray", "labels": {"team": "ml", "tier": "gold"}}})
    for selector, served in (("team=ml", True), ("team in (ml,data)", True), ("team!=ml", False),
                             ("tier,!frozen", True), ("team notin (ml)", False)):
        got = plane(controller(f"--watch-namespace-selector={selector}"), ns,
                    ingress(class_name="nginx"))
        assert got.is_ingress_nginx is served, selector


@pytest.mark.parametrize(("class_name", "ctrl", "kind"), [
    ("alb", "ingress.k8s.aws/alb", "aws-alb"),
    ("traefik", "traefik.io/ingress-controller", "traefik"),
    ("kong", "ingress-controllers.konghq.com/kong", "kong"),
    ("istio", "istio.io/ingress-controller", "istio"),
    ("haproxy", "haproxy.org/ingress-controller", "haproxy"),
    ("haproxy-prod", "haproxy.org/ingress-controller/prod", "haproxy"),
])
def test_other_controllers_by_ingress_class(class_name: str, ctrl: str, kind: str) -> None:
    got = plane(controller(), ingress_class(class_name, ctrl), ingress(class_name=class_name))
    assert got.kind == kind and got.controller is None and not got.assumed


def test_gke_reads_only_the_annotation() -> None:
    assert plane(ingress(annotation="gce")).kind == "gce"
    assert plane(ingress(class_name="gce")).kind == "none"


def test_unknown_class_without_controllers_is_unknown() -> None:
    assert plane(ingress(class_name="acme-lb")).kind == "unknown"
    # Nothing in the inputs: the ingress-nginx defaults are assumed for nginx classes.
    assert plane(ingress(class_name="nginx")).assumed


def test_exposures_carry_their_data_plane() -> None:
    objects = ObjectSet([ingress_class("alb", "ingress.k8s.aws/alb"), ingress(class_name="alb")])
    (e,) = exposure.exposures(objects)
    assert e.data_plane is not None and e.data_plane.kind == "aws-alb"


NGINX_ONLY = {"RG101", "RG102", "RG103", "RG207", "RG208", "RG209", "RG210", "RG211", "RG213"}


def test_kuberay_alb_sample_gets_no_nginx_findings_next_to_an_nginx_controller() -> None:
    """ray-project/kuberay ray-operator/config/samples/ray-cluster-alb-ingress.yaml."""
    sample = ingress(class_name="alb", **{
        "alb.ingress.kubernetes.io/scheme": "internal",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers x;",
        "nginx.ingress.kubernetes.io/proxy-body-size": "100Mi"})
    objects = ObjectSet([controller(), ingress_class("nginx", "k8s.io/ingress-nginx"),
                         ingress_class("alb", "ingress.k8s.aws/alb"), sample])
    result = engine.run(objects)
    codes = {f.code for f in result.findings if f.object is sample}
    assert not codes & NGINX_ONLY, codes
    assert "RG306" not in codes


def test_unwatched_nginx_class_is_not_judged_with_the_present_controllers_settings() -> None:
    """Class nginx-internal belongs to a second ingress-nginx install that is not in the inputs:
    the present controller's snippet/risk settings say nothing about it; RG306 says why."""
    internal = ingress(class_name="nginx-internal", **{
        "nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers x;"})
    objects = ObjectSet([controller(), ingress_class("nginx", "k8s.io/ingress-nginx"),
                         ingress_class("nginx-internal", "k8s.io/ingress-nginx-internal"), internal])
    codes = {f.code for f in engine.run(objects).findings if f.object.name == internal.name}
    assert not codes & NGINX_ONLY, codes
    assert "RG306" in codes


def test_same_ingress_is_judged_when_its_controller_is_present() -> None:
    internal = ingress(class_name="nginx-internal", **{
        "nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers x;"})
    objects = ObjectSet([controller("--controller-class=k8s.io/ingress-nginx-internal",
                                    "--ingress-class=nginx-internal"),
                         ingress_class("nginx-internal", "k8s.io/ingress-nginx-internal"), internal])
    codes = {f.code for f in engine.run(objects).findings if f.object.name == internal.name}
    assert "RG101" in codes and "RG306" not in codes


def test_ray_client_fix_uses_the_serving_controllers_own_tcp_knob() -> None:
    sample = ingress(class_name="alb")
    objects = ObjectSet([controller(), ingress_class("alb", "ingress.k8s.aws/alb"), sample])
    fixes = [f.fix for f in engine.run(objects, select=["RG205"]).findings]
    assert fixes and all("tcp-services" not in fix and "NLB" in fix for fix in fixes), fixes


def test_a_second_ingress_nginx_class_without_its_controller_assumes_ingress_nginx() -> None:
    got = plane(ingress_class("nginx-internal", "k8s.io/ingress-nginx-internal"),
                ingress(class_name="nginx-internal"))
    assert got.is_ingress_nginx and got.assumed
