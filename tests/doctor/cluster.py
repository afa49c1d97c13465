"""A small, healthy Pinned Gateway cluster as plain objects, and the guide's three breakages.

The same objects feed the snapshot tests (dumped as ``kubectl get -o yaml`` Lists) and the
fake-API scenario, so "healthy" and each fault mean the same thing everywhere.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

GATEWAY_IP = "192.168.1.33"
NEW_GATEWAY_IP = "192.168.1.53"
HEAD_SVC = "raycluster-kuberay-head-svc"
CONTROLLER_LABELS = {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}
HEAD_LABELS = {"ray.io/cluster": "raycluster-kuberay", "ray.io/node-type": "head",
               "ray.io/is-ray-node": "yes", "app.kubernetes.io/name": "kuberay",
               "app.kubernetes.io/created-by": "kuberay-operator"}
HEAD_SELECTOR = {"ray.io/cluster": "raycluster-kuberay", "ray.io/node-type": "head",
                 "app.kubernetes.io/name": "kuberay", "app.kubernetes.io/created-by": "kuberay-operator"}
HEAD_PORTS = [{"name": "gcs-server", "containerPort": 6379}, {"name": "dashboard", "containerPort": 8265},
              {"name": "client", "containerPort": 10001}]


def node(name: str, ip: str, labels: dict[str, str] | None = None, ready: bool = True) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux", "kubernetes.io/hostname": name,
                                                  **(labels or {})}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def controller_args() -> list[str]:
    return ["/nginx-ingress-controller", "--election-id=ingress-nginx-leader",
            "--controller-class=k8s.io/ingress-nginx", "--ingress-class=nginx",
            "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller",
            "--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services",
            "--validating-webhook=:8443", "--report-node-internal-ip-address"]


def controller_pod_spec(node_name: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet",
        "nodeSelector": {"ingress-ready": "true", "kubernetes.io/os": "linux"},
        "containers": [{"name": "controller", "image": "registry.k8s.io/ingress-nginx/controller:v1.15.1",
                        "args": controller_args(),
                        "ports": [{"name": "http", "containerPort": 80, "hostPort": 80},
                                  {"name": "https", "containerPort": 443, "hostPort": 443},
                                  {"name": "10001-tcp", "containerPort": 10001, "hostPort": 10001}]}]}
    if node_name:
        spec["nodeName"] = node_name
    return spec


def healthy() -> list[dict[str, Any]]:
    """Yesterday: the guide's Pinned Gateway, working."""
    controller_template = controller_pod_spec(None)
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ingress-nginx"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ray"}},
        node("gw-1", GATEWAY_IP, {"ingress-ready": "true"}),
        node("worker-1", "192.168.1.34"),
        node("worker-2", "192.168.1.35"),
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
         "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx",
                      "labels": CONTROLLER_LABELS},
         "spec": {"replicas": 1, "strategy": {"type": "Recreate"},
                  "selector": {"matchLabels": CONTROLLER_LABELS},
                  "template": {"metadata": {"labels": CONTROLLER_LABELS}, "spec": controller_template}},
         "status": {"replicas": 1, "readyReplicas": 1}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "ingress-nginx-controller-5f7d8-abcde", "namespace": "ingress-nginx",
                      "labels": CONTROLLER_LABELS},
         "spec": controller_pod_spec("gw-1"),
         "status": {"phase": "Running", "hostIP": GATEWAY_IP, "podIP": GATEWAY_IP,
                    "conditions": [{"type": "Ready", "status": "True"}]}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
         "data": {"allow-snippet-annotations": "false"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tcp-services", "namespace": "ingress-nginx"},
         "data": {"10001": f"ray/{HEAD_SVC}:10001"}},
        {"apiVersion": "ray.io/v1", "kind": "RayCluster",
         "metadata": {"name": "raycluster-kuberay", "namespace": "ray"},
         "spec": {"rayVersion": "2.52.0", "authOptions": {"mode": "token"},
                  "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [
                      {"name": "ray-head", "image": "rayproject/ray:2.52.0", "ports": HEAD_PORTS}]}}}},
         "status": {"state": "ready",
                    "head": {"podName": "raycluster-kuberay-head-x1y2z", "serviceName": HEAD_SVC,
                             "podIP": "10.244.1.7"},
                    "conditions": [{"type": "HeadPodReady", "status": "True", "reason": "HeadPodRunningAndReady"}]}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": HEAD_SVC, "namespace": "ray", "labels": HEAD_SELECTOR},
         "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": HEAD_SELECTOR,
                  "ports": [{"name": "client", "port": 10001, "targetPort": 10001, "appProtocol": "tcp"},
                            {"name": "dashboard", "port": 8265, "targetPort": 8265, "appProtocol": "tcp"},
                            {"name": "gcs-server", "port": 6379, "targetPort": 6379, "appProtocol": "tcp"}]}},
        head_pod("raycluster-kuberay-head-x1y2z", "worker-1", "10.244.1.7"),
        endpoint_slice("10.244.1.7", "raycluster-kuberay-head-x1y2z", ready=True),
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": "ray-dashboard", "namespace": "ray", "annotations": {
             "nginx.ingress.kubernetes.io/use-regex": "true",
             "nginx.ingress.kubernetes.io/rewrite-target": "/$1",
             "nginx.ingress.kubernetes.io/proxy-body-size": "100m",
             "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
             "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
             "nginx.ingress.kubernetes.io/whitelist-source-range": "192.168.1.0/24"}},
         "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [
             {"path": "/ray/(.*)", "pathType": "ImplementationSpecific",
              "backend": {"service": {"name": HEAD_SVC, "port": {"number": 8265}}}}]}}]},
         "status": {"loadBalancer": {"ingress": [{"ip": GATEWAY_IP}]}}},
        # /ray -> /ray/, so the Dashboard's relative assets resolve (the guide's trailing slash).
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": "ray-dashboard-slash", "namespace": "ray", "annotations": {
             "nginx.ingress.kubernetes.io/permanent-redirect": "/ray/",
             "nginx.ingress.kubernetes.io/proxy-body-size": "100m",
             "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
             "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
             "nginx.ingress.kubernetes.io/whitelist-source-range": "192.168.1.0/24"}},
         "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [
             {"path": "/ray", "pathType": "Exact",
              "backend": {"service": {"name": HEAD_SVC, "port": {"number": 8265}}}}]}}]},
         "status": {"loadBalancer": {"ingress": [{"ip": GATEWAY_IP}]}}},
    ]


def head_pod(name: str, node_name: str, ip: str, ready: bool = True) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Running", "podIP": ip,
                              "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if not ready:
        status["containerStatuses"] = [{"name": "ray-head", "ready": False,
                                        "state": {"running": {"startedAt": "2026-05-02T07:00:00Z"}}}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "ray", "labels": HEAD_LABELS},
            "spec": {"nodeName": node_name, "containers": [
                {"name": "ray-head", "image": "rayproject/ray:2.52.0", "ports": HEAD_PORTS,
                 "env": [{"name": "RAY_AUTH_MODE", "value": "token"}]}]},
            "status": status}


def endpoint_slice(ip: str, pod: str, ready: bool) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{HEAD_SVC}-abc12", "namespace": "ray",
                         "labels": {"kubernetes.io/service-name": HEAD_SVC}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready},
                           "targetRef": {"kind": "Pod", "name": pod, "namespace": "ray"}}],
            "ports": [{"name": "client", "port": 10001, "protocol": "TCP"},
                      {"name": "dashboard", "port": 8265, "protocol": "TCP"},
                      {"name": "gcs-server", "port": 6379, "protocol": "TCP"}]}


def find(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def replace(objs: list[dict[str, Any]], new: dict[str, Any]) -> None:
    for i, o in enumerate(objs):
        if o["kind"] == new["kind"] and o["metadata"]["name"] == new["metadata"]["name"] and \
                o["metadata"].get("namespace") == new["metadata"].get("namespace"):
            objs[i] = new
            return
    objs.append(new)


def today() -> list[dict[str, Any]]:
    """Today: the gateway node got a new IP, the head pod was rescheduled (not ready yet),
    and someone added a snippet to the Dashboard Ingress."""
    objs = copy.deepcopy(healthy())
    gw = find(objs, "Node", "gw-1")
    gw["status"]["addresses"][0]["address"] = NEW_GATEWAY_IP
    objs.remove(find(objs, "Pod", "raycluster-kuberay-head-x1y2z"))
    objs.append(head_pod("raycluster-kuberay-head-q9r8s", "worker-2", "10.244.2.4", ready=False))
    replace(objs, endpoint_slice("10.244.2.4", "raycluster-kuberay-head-q9r8s", ready=False))
    rc = find(objs, "RayCluster", "raycluster-kuberay")
    rc["status"]["head"]["podName"] = "raycluster-kuberay-head-q9r8s"
    ing = find(objs, "Ingress", "ray-dashboard")
    ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/configuration-snippet"] = \
        'more_set_headers "X-Frame-Options: DENY";'
    return objs


def dump(objs: list[dict[str, Any]]) -> str:
    """As ``kubectl get ... -o yaml`` prints it: one v1 List."""
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objs,
                           "metadata": {"resourceVersion": ""}}, sort_keys=False)
