"""``raygate.model.protections``: what guards each exposure, port by port.

The cases are the real setups the rules must get right: KubeRay's token-auth, Kubernetes-RBAC
token and Ray TLS samples (the TLS one behind the documented ssl-passthrough Ray Client
Ingress), a Dashboard behind oauth2-proxy or basic auth, an internal ALB, an Envoy Gateway
SecurityPolicy on an HTTPRoute.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from raygate.model import exposure, protections
from raygate.objects import ObjectSet
from raygate.sources.files import load_paths, load_text

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "kuberay" / "samples"


def objects(text: str) -> ObjectSet:
    loaded = load_text(text, "t.yaml")
    assert not loaded.problems, loaded.problems
    return ObjectSet(loaded.objects)


def only(objs: ObjectSet, via_kind: str = "Ingress") -> exposure.Exposure:
    found = [e for e in exposure.ray_exposures(objs) if e.via.kind == via_kind]
    assert len(found) == 1, found
    return found[0]


def cluster(name: str = "rc", extra_spec: str = "", env: str = "") -> str:
    return f"""
apiVersion: ray.io/v1
kind: RayCluster
metadata: {{name: {name}, namespace: ray}}
spec:
{extra_spec}
  headGroupSpec:
    rayStartParams: {{}}
    template:
      spec:
        containers:
        - name: ray-head
          image: rayproject/ray:2.55.0
{env}
"""


def ingress(port: int | str = 8265, annotations: str = "{}", extra: str = "",
            service: str = "rc-head-svc", host: str = "ray.example.com") -> str:
    port_ref = f"number: {port}" if isinstance(port, int) else f"name: {port}"
    return f"""
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ing
  namespace: ray
  annotations: {annotations}
spec:
  ingressClassName: nginx
{extra}
  rules:
  - host: {host}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {{service: {{name: {service}, port: {{{port_ref}}}}}}}
"""


TLS_ENV = """          env:
          - {name: RAY_USE_TLS, value: "1"}
          - {name: RAY_TLS_SERVER_CERT, value: /etc/ray/tls/tls.crt}
          - {name: RAY_TLS_SERVER_KEY, value: /etc/ray/tls/tls.key}
          - {name: RAY_TLS_CA_CERT, value: /etc/ca/tls/ca.crt}"""


def kinds(p: protections.Protections, role: str) -> set[str]:
    return {x.kind for x in p.guarding(role)}


def test_an_open_cluster_has_no_protection() -> None:
    objs = objects(cluster() + ingress())
    e = only(objs)
    p = protections.for_exposure(objs, e)
    assert not p and not p.guarding("dashboard")


def test_token_auth_guards_dashboard_client_and_gcs_but_not_serve() -> None:
    objs = objects(cluster(extra_spec="  authOptions: {mode: token}") + ingress())
    p = protections.for_exposure(objs, only(objs))
    for role in ("dashboard", "client", "gcs-server"):
        assert kinds(p, role) == {"ray-token"}
    assert not p.guarding("serve")
    assert "spec.authOptions" in p.items[0].source


def test_auth_options_disabled_and_env_disabled_guard_nothing() -> None:
    off = objects(cluster(extra_spec="  authOptions: {mode: disabled}") + ingress())
    env_off = objects(cluster(env="          env: [{name: RAY_AUTH_MODE, value: disabled}]")
                      + ingress())
    for objs in (off, env_off):
        assert not protections.for_exposure(objs, only(objs)).guarding("dashboard")


def test_env_token_mode_counts_as_token_auth() -> None:
    objs = objects(cluster(env="          env: [{name: RAY_AUTH_MODE, value: token}]") + ingress())
    p = protections.for_exposure(objs, only(objs))
    assert kinds(p, "dashboard") == {"ray-token"}
    assert "RAY_AUTH_MODE=token" in p.items[0].source


def test_kubernetes_token_auth_sample_is_k8s_token() -> None:
    path = CORPUS / "ray-cluster.kubernetes.auth-manual.yaml"
    if not path.exists():
        pytest.skip("../shared/corpus is not present")
    loaded = load_paths([str(path)])
    rc = next(o for o in loaded.objects if o.kind == "RayCluster")
    found = protections.cluster_protections(rc)
    assert [p.kind for p in found] == ["k8s-token"]
    assert found[0].guards == frozenset({"dashboard", "client", "gcs-server"})


def test_auth_options_enable_k8s_token_auth() -> None:
    objs = objects(cluster(extra_spec="  authOptions: {enableK8sTokenAuth: true}") + ingress())
    assert kinds(protections.for_exposure(objs, only(objs)), "client") == {"k8s-token"}


def test_ray_tls_guards_grpc_ports_only() -> None:
    objs = objects(cluster(env=TLS_ENV) + ingress(port=10001))
    p = protections.for_exposure(objs, only(objs))
    assert kinds(p, "client") == {"ray-tls"}
    assert kinds(p, "gcs-server") == {"ray-tls"}
    assert not p.guarding("dashboard")


def test_ray_tls_needs_the_ca_and_a_true_value() -> None:
    no_ca = TLS_ENV.replace("          - {name: RAY_TLS_CA_CERT, value: /etc/ca/tls/ca.crt}", "")
    assert not protections.cluster_protections(objects(cluster(env=no_ca)).of_kind("RayCluster")[0])
    zero = TLS_ENV.replace('value: "1"', 'value: "0"')
    assert not protections.cluster_protections(objects(cluster(env=zero)).of_kind("RayCluster")[0])
    true = TLS_ENV.replace('value: "1"', "value: TRUE")
    assert protections.cluster_protections(objects(cluster(env=true)).of_kind("RayCluster")[0])


def test_kuberay_managed_mtls() -> None:
    rc = objects(cluster(extra_spec="  tlsOptions: {enabled: true}")).of_kind("RayCluster")[0]
    assert [(p.kind, p.guards) for p in protections.cluster_protections(rc)] == \
        [("ray-tls", frozenset({"client", "gcs-server"}))]


def test_documented_ray_client_tls_passthrough_setup() -> None:
    """KubeRay's ingress-rayclient-tls.yaml in front of ray-cluster.tls.yaml."""
    path = CORPUS / "ingress-rayclient-tls.yaml"
    if not path.exists():
        pytest.skip("../shared/corpus is not present")
    text = cluster("raycluster-tls", env=TLS_ENV).replace("namespace: ray", "namespace: default")
    objs = objects(text + "---\n" + path.read_text())
    e = only(objs)
    p = protections.for_exposure(objs, e)
    assert e.ray_port == "client"
    assert kinds(p, "client") == {"ray-tls"}


def test_proxy_ssl_secret_makes_nginx_the_tls_client() -> None:
    ann = ('{nginx.ingress.kubernetes.io/backend-protocol: GRPCS, '
           'nginx.ingress.kubernetes.io/proxy-ssl-secret: ray/nginx-client-cert}')
    objs = objects(cluster(env=TLS_ENV) + ingress(port=10001, annotations=ann))
    assert not protections.for_exposure(objs, only(objs)).guarding("client")


@pytest.mark.parametrize("annotations,kind", [
    ("{nginx.ingress.kubernetes.io/auth-url: 'https://oauth2.example.com/oauth2/auth'}",
     "gateway-auth"),
    ("{nginx.ingress.kubernetes.io/auth-type: basic, nginx.ingress.kubernetes.io/auth-secret: b}",
     "gateway-auth"),
    ("{nginx.ingress.kubernetes.io/allowlist-source-range: 10.0.0.0/8}", "allowlist"),
    ("{nginx.ingress.kubernetes.io/whitelist-source-range: 10.0.0.0/8}", "allowlist"),
])
def test_nginx_gateway_protections_guard_the_route(annotations: str, kind: str) -> None:
    objs = objects(cluster() + ingress(annotations=annotations))
    p = protections.for_exposure(objs, only(objs))
    assert kinds(p, "dashboard") == {kind}
    assert p.authenticates("dashboard") == (kind == "gateway-auth")


def test_client_certificates_count_only_over_tls() -> None:
    ann = "{nginx.ingress.kubernetes.io/auth-tls-secret: ray/ca}"
    plain = objects(cluster() + ingress(annotations=ann))
    assert not protections.for_exposure(plain, only(plain)).guarding("dashboard")
    tls = "  tls: [{hosts: [ray.example.com], secretName: cert}]"
    served = objects(cluster() + ingress(annotations=ann, extra=tls))
    assert kinds(protections.for_exposure(served, only(served)), "dashboard") == {"gateway-auth"}
    optional = ("{nginx.ingress.kubernetes.io/auth-tls-secret: ray/ca, "
                "nginx.ingress.kubernetes.io/auth-tls-verify-client: optional}")
    opt = objects(cluster() + ingress(annotations=optional, extra=tls))
    assert not protections.for_exposure(opt, only(opt)).guarding("dashboard")


def test_global_auth_url_and_its_opt_out() -> None:
    controller = """
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  template:
    spec:
      containers:
      - name: controller
        image: registry.k8s.io/ingress-nginx/controller:v1.15.1
        args: [/nginx-ingress-controller, --configmap=ingress-nginx/ingress-nginx-controller]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
data: {global-auth-url: "http://oauth2-proxy.auth.svc/oauth2/auth"}
"""
    objs = objects(cluster() + ingress() + controller)
    assert kinds(protections.for_exposure(objs, only(objs)), "dashboard") == {"gateway-auth"}
    off = objects(cluster() + ingress(
        annotations='{nginx.ingress.kubernetes.io/enable-global-auth: "false"}') + controller)
    assert not protections.for_exposure(off, only(off)).guarding("dashboard")


def test_ssl_passthrough_drops_the_other_annotations() -> None:
    controller = """
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  template:
    spec:
      containers:
      - name: controller
        image: registry.k8s.io/ingress-nginx/controller:v1.15.1
        args: [/nginx-ingress-controller, --enable-ssl-passthrough]
"""
    ann = ('{nginx.ingress.kubernetes.io/ssl-passthrough: "true", '
           'nginx.ingress.kubernetes.io/auth-url: "https://auth.example.com/check"}')
    objs = objects(cluster() + ingress(annotations=ann) + controller)
    assert not protections.for_exposure(objs, only(objs)).guarding("dashboard")


def test_tls_alone_guards_no_port() -> None:
    tls = "  tls: [{hosts: [ray.example.com], secretName: cert}]"
    objs = objects(cluster() + ingress(extra=tls))
    p = protections.for_exposure(objs, only(objs))
    assert [x.kind for x in p.items] == ["tls"]
    assert not p.guarding("dashboard")


def alb(annotations: str) -> str:
    return f"""
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: alb}}
spec: {{controller: ingress.k8s.aws/alb}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: ing, namespace: ray, annotations: {annotations}}}
spec:
  ingressClassName: alb
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend: {{service: {{name: rc-head-svc, port: {{number: 8265}}}}}}
"""


def test_alb_scheme_defaults_to_internal() -> None:
    objs = objects(cluster() + alb("{}"))
    assert kinds(protections.for_exposure(objs, only(objs)), "dashboard") == {"allowlist"}
    public = objects(cluster() + alb("{alb.ingress.kubernetes.io/scheme: internet-facing}"))
    assert not protections.for_exposure(public, only(public)).guarding("dashboard")


def test_alb_authentication_needs_an_https_listener() -> None:
    base = "alb.ingress.kubernetes.io/scheme: internet-facing, alb.ingress.kubernetes.io/auth-type: oidc"
    http_only = objects(cluster() + alb("{" + base + "}"))
    assert not protections.for_exposure(http_only, only(http_only)).guarding("dashboard")
    https = objects(cluster() + alb("{" + base + ", alb.ingress.kubernetes.io/certificate-arn: arn:x}"))
    assert kinds(protections.for_exposure(https, only(https)), "dashboard") == {"gateway-auth"}
    both = objects(cluster() + alb("{" + base + """, alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 80}, {"HTTPS": 443}]'}"""))
    assert not protections.for_exposure(both, only(both)).guarding("dashboard")


def httproute(policy: str) -> str:
    return f"""
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: dash, namespace: ray}}
spec:
  parentRefs: [{{name: gw}}]
  rules:
  - backendRefs: [{{name: rc-head-svc, port: 8265}}]
{policy}
"""


def test_envoy_gateway_security_policy_on_the_route_or_gateway() -> None:
    for target in ("{group: gateway.networking.k8s.io, kind: HTTPRoute, name: dash}",
                   "{group: gateway.networking.k8s.io, kind: Gateway, name: gw}"):
        policy = f"""---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {{name: oidc, namespace: ray}}
spec:
  targetRefs: [{target}]
  oidc: {{provider: {{issuer: "https://accounts.google.com"}}, clientID: x, clientSecret: {{name: s}}}}
"""
        objs = objects(cluster() + httproute(policy))
        assert kinds(protections.for_exposure(objs, only(objs, "HTTPRoute")), "dashboard") == \
            {"gateway-auth"}
    other = objects(cluster() + httproute("""---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: other, namespace: ray}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: somewhere-else}]
  basicAuth: {users: {name: htpasswd}}
"""))
    assert not protections.for_exposure(other, only(other, "HTTPRoute")).guarding("dashboard")


def test_tcp_and_service_exposures_carry_no_gateway_protection() -> None:
    text = cluster(extra_spec="  authOptions: {mode: token}") + """
---
apiVersion: v1
kind: ConfigMap
metadata: {name: tcp-services, namespace: ingress-nginx}
data: {"10001": "ray/rc-head-svc:10001"}
"""
    objs = objects(text)
    e = only(objs, "ConfigMap")
    assert [p.kind for p in protections.for_exposure(objs, e).items] == ["ray-token"]


def test_load_balancer_source_ranges_are_an_allowlist_but_not_on_nodeport() -> None:
    svc = """
---
apiVersion: v1
kind: Service
metadata: {{name: rc-head-lb, namespace: ray}}
spec:
  type: {type}
  selector: {{ray.io/cluster: rc, ray.io/node-type: head}}
  loadBalancerSourceRanges: [10.0.0.0/8]
  ports: [{{name: dashboard, port: 8265}}]
"""
    lb = objects(cluster() + svc.format(type="LoadBalancer"))
    e = only(lb, "Service")
    assert kinds(protections.for_exposure(lb, e, lb.of_kind("RayCluster")[0]), "dashboard") == \
        {"allowlist"}
    nodeport = objects(cluster() + svc.format(type="NodePort"))
    e = only(nodeport, "Service")
    assert not protections.for_exposure(nodeport, e).guarding("dashboard")


def test_alb_open_inbound_cidrs_are_no_allowlist() -> None:
    base = "alb.ingress.kubernetes.io/scheme: internet-facing, alb.ingress.kubernetes.io/inbound-cidrs"
    open_ = objects(cluster() + alb("{" + base + ": '0.0.0.0/0, ::/0'}"))
    assert not protections.for_exposure(open_, only(open_)).guarding("dashboard")
    office = objects(cluster() + alb("{" + base + ": '203.0.113.0/24'}"))
    assert kinds(protections.for_exposure(office, only(office)), "dashboard") == {"allowlist"}


def test_built_in_ingress_carries_the_clusters_auth_annotations() -> None:
    text = cluster(extra_spec="") .replace(
        "metadata: {name: rc, namespace: ray}",
        "metadata:\n  name: rc\n  namespace: ray\n  annotations:\n"
        "    kubernetes.io/ingress.class: nginx\n"
        "    nginx.ingress.kubernetes.io/auth-type: basic\n"
        "    nginx.ingress.kubernetes.io/auth-secret: ray-users").replace(
        "  headGroupSpec:\n", "  headGroupSpec:\n    enableIngress: true\n")
    objs = objects(text)
    rc = objs.of_kind("RayCluster")[0]
    found = protections.built_in_ingress_protections(objs, rc)
    assert [p.kind for p in found] == ["gateway-auth"]
    alb = objects(text.replace("kubernetes.io/ingress.class: nginx",
                               "kubernetes.io/ingress.class: alb"))
    # nginx annotations do nothing on an ALB; the ALB default scheme (internal) does.
    assert [p.kind for p in protections.built_in_ingress_protections(
        alb, alb.of_kind("RayCluster")[0])] == ["allowlist"]


def test_ray_auth_mode_on_a_ray_older_than_token_auth_guards_nothing() -> None:
    old = cluster(env="          env: [{name: RAY_AUTH_MODE, value: token}]").replace(
        "rayproject/ray:2.55.0", "rayproject/ray:2.9.3")
    rc = objects(old).of_kind("RayCluster")[0]
    assert protections.cluster_protections(rc) == ()
