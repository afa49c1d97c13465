"""A small, healthy Pinned-Gateway cluster for the fake API: the seed guide's setup after
``ingress-nginx`` and KubeRay were installed, before raygate touched anything."""

from __future__ import annotations

from typing import Any

RAY_NS, HEAD_SVC = "raycluster", "ray-cluster-kuberay-head-svc"
CTRL_NS, CTRL = "ingress-nginx", "ingress-nginx-controller"
HEAD_PORTS = {"dashboard": 8265, "client": 10001, "gcs-server": 6379, "serve": 8000, "extra": 9000}
CONTROLLER_LABELS = {"app.kubernetes.io/name": "ingress-nginx",
                     "app.kubernetes.io/instance": "ingress-nginx",
                     "app.kubernetes.io/component": "controller"}


def node(name: str, ip: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def controller_deployment(image: str = "registry.k8s.io/ingress-nginx/controller:v1.15.1") -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": CTRL, "namespace": CTRL_NS, "labels": dict(CONTROLLER_LABELS)},
        "spec": {"replicas": 1, "selector": {"matchLabels": dict(CONTROLLER_LABELS)},
                 "template": {"metadata": {"labels": dict(CONTROLLER_LABELS)}, "spec": {
                     "containers": [{"name": "controller", "image": image, "args": [
                         "/nginx-ingress-controller", "--election-id=ingress-nginx-leader",
                         "--controller-class=k8s.io/ingress-nginx", "--ingress-class=nginx",
                         "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller",
                         "--validating-webhook=:8443",
                         "--validating-webhook-certificate=/usr/local/certificates/cert",
                         "--validating-webhook-key=/usr/local/certificates/key"]}]}}},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                   "readyReplicas": 1, "availableReplicas": 1},
    }


def head_service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": HEAD_SVC, "namespace": RAY_NS,
                         "labels": {"ray.io/cluster": "ray-cluster-kuberay"}},
            "spec": {"selector": {"ray.io/cluster": "ray-cluster-kuberay", "ray.io/node-type": "head"},
                     "ports": [{"name": n, "port": p, "targetPort": p, "protocol": "TCP"}
                               for n, p in HEAD_PORTS.items()]}}


def head_endpoints(ready: bool = True, ip: str = "10.244.1.7") -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{HEAD_SVC}-abcde", "namespace": RAY_NS,
                         "labels": {"kubernetes.io/service-name": HEAD_SVC}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready},
                           "targetRef": {"kind": "Pod", "name": "ray-head-0", "namespace": RAY_NS}}],
            "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in HEAD_PORTS.items()]}


def head_pod(node_name: str = "node-2") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "ray-head-0", "namespace": RAY_NS, "labels": {
                "ray.io/cluster": "ray-cluster-kuberay", "ray.io/node-type": "head"}},
            "spec": {"nodeName": node_name, "containers": [{"name": "ray-head", "image": "rayproject/ray:2.60.0"}]},
            "status": {"phase": "Running", "podIP": "10.244.1.7",
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def raycluster() -> dict[str, Any]:
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster",
            "metadata": {"name": "ray-cluster-kuberay", "namespace": RAY_NS},
            "spec": {"authOptions": {"mode": "token"}, "headGroupSpec": {"template": {"spec": {
                "containers": [{"name": "ray-head", "image": "rayproject/ray:2.60.0", "ports": [
                    {"name": n, "containerPort": p} for n, p in HEAD_PORTS.items()]}]}}}},
            "status": {"state": "ready", "head": {"serviceName": HEAD_SVC, "podIP": "10.244.1.7"}}}


def install(server: Any) -> None:
    """The cluster before ``raygate apply``: ingress-nginx and KubeRay installed by others."""
    server.add(node("node-1", "192.168.1.33", **{"ingress-ready": "true"}))
    server.add(node("node-2", "192.168.1.34"))
    server.add(controller_deployment(), manager="kubectl-client-side-apply")
    server.add({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": CTRL, "namespace": CTRL_NS, "labels": dict(CONTROLLER_LABELS)},
                "data": {"allow-snippet-annotations": "false"}}, manager="kubectl-client-side-apply")
    server.add({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "ingress-nginx-controller-7d9f-abc12", "namespace": CTRL_NS,
        "labels": dict(CONTROLLER_LABELS)},
        "spec": {"nodeName": "node-1", "hostNetwork": True,
                 "containers": [{"name": "controller", "image": "registry.k8s.io/ingress-nginx/controller:v1.15.1"}]},
        "status": {"phase": "Running", "hostIP": "192.168.1.33",
                   "conditions": [{"type": "Ready", "status": "True"}]}})
    server.add({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}})
    server.add(raycluster())
    server.add(head_service())
    server.add(head_endpoints())
    server.add(head_pod())
