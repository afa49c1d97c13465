"""MetalLB placement: a stable LoadBalancer IP for the controller instead of hostNetwork.

The seed guide's fragile part was a Service with hand-listed ``externalIPs``; this is the
alternative its own best practices name. The address is requested with the
``metallb.io/loadBalancerIPs`` annotation: never ``spec.externalIPs`` (CVE-2020-8554,
deprecated by KEP-5707, ignored by MetalLB) and never ``spec.loadBalancerIP`` (deprecated
since Kubernetes 1.24, and an error when combined with the annotation).
Facts: ``shared/facts/gateway_api_metallb.md`` §6-7 (MetalLB v0.16.1, ``metallb.io/v1beta1``).
"""

from __future__ import annotations

from typing import Any

from raygate.render.ingress_nginx_manifests import Target, labels, patch_metadata, tcp_mappings
from raygate.spec import GatewaySpec

API_VERSION = "metallb.io/v1beta1"


def enabled(spec: GatewaySpec) -> bool:
    return spec.placement.mode == "metallb"


def pool_addresses(spec: GatewaySpec) -> list[str]:
    m = spec.placement.metallb
    if m.addresses:
        return list(m.addresses)
    assert m.ip is not None  # the spec refuses a pool to create without any address
    return [f"{m.ip}/{128 if ':' in m.ip else 32}"]


def service_annotations(spec: GatewaySpec) -> dict[str, str]:
    """How the controller Service asks MetalLB for its address: one IP, else one pool."""
    m = spec.placement.metallb
    if m.ip is not None:
        # The requested IP alone selects the pool that owns it (created here or pre-existing).
        return {"metallb.io/loadBalancerIPs": m.ip}
    return {"metallb.io/address-pool": m.pool}


def ip_address_pool(spec: GatewaySpec) -> dict[str, Any] | None:
    m = spec.placement.metallb
    if not enabled(spec) or not m.create_pool:
        return None
    return {
        "apiVersion": API_VERSION,
        "kind": "IPAddressPool",
        "metadata": {"name": m.pool, "namespace": m.namespace, "labels": labels()},
        # autoAssign off: the pool exists for the gateway; other LoadBalancer Services must
        # not take the address before the controller does.
        "spec": {"addresses": pool_addresses(spec), "autoAssign": False},
    }


def l2_advertisement(spec: GatewaySpec) -> dict[str, Any] | None:
    m = spec.placement.metallb
    if not enabled(spec) or not m.create_pool:
        return None
    return {
        "apiVersion": API_VERSION,
        "kind": "L2Advertisement",
        "metadata": {"name": m.pool, "namespace": m.namespace, "labels": labels()},
        # Only our pool: an empty spec would advertise every pool in the cluster.
        "spec": {"ipAddressPools": [m.pool]},
    }


def service_ports(spec: GatewaySpec, target: Target) -> list[dict[str, Any]]:
    """The controller Service's ports: HTTP, HTTPS and every tcp-services port.

    With a Service in front, tcp-services ports are only reachable when the Service lists
    them too (the upstream doc says so; the static manifests do not).
    """
    ports: list[dict[str, Any]] = [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http", "appProtocol": "http"},
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https",
         "appProtocol": "https"},
    ]
    for gateway_port, _, _ in tcp_mappings(spec, target):
        # Port names are limited to 15 characters; "<port>-tcp" fits any port number.
        ports.append({"name": f"{gateway_port}-tcp", "port": gateway_port, "protocol": "TCP",
                      "targetPort": gateway_port})
    return ports


def controller_service(spec: GatewaySpec, target: Target) -> dict[str, Any] | None:
    """The upstream controller Service, turned into a MetalLB LoadBalancer (partial object)."""
    if not enabled(spec):
        return None
    m, ctl = spec.placement.metallb, spec.controller
    annotations = service_annotations(spec)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {**patch_metadata(ctl.service, ctl.namespace),
                     "annotations": dict(sorted(annotations.items()))},
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": m.external_traffic_policy,
            "selector": dict(sorted(ctl.pod_labels.items())),
            "ports": service_ports(spec, target),
        },
    }
