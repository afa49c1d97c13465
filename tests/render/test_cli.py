"""``raygate render`` and ``raygate init`` as users run them: exit codes, one-line errors with
the fix, warnings on stderr, files written whole or not at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from raygate import spec as spec_mod
from raygate.cli import app
from tests.render.support import CORPUS, REPO, needs_corpus, run_cli as run

BIN = Path(sys.executable).parent


def kinds(stream: str) -> list[str]:
    return [d["kind"] for d in yaml.safe_load_all(stream) if d]


NO_AUTH_CLUSTER = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: ray-cluster-kuberay
  namespace: raycluster
spec:
  rayVersion: "2.52.0"
  headGroupSpec:
    rayStartParams: {}
    template:
      spec:
        containers:
          - name: ray-head
            image: rayproject/ray:2.52.0
            ports:
              - {containerPort: 6379, name: gcs-server}
              - {containerPort: 8265, name: dashboard}
              - {containerPort: 10001, name: client}
"""


def test_render_example_spec_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "render", "-f", str(REPO / "examples/raygate.yaml"))
    assert code == 0, err
    assert kinds(out) == ["ConfigMap", "ConfigMap", "Deployment", "Ingress", "Ingress"]
    tcp = next(yaml.safe_load_all(out))
    assert tcp["data"] == {"9000": "raycluster/ray-cluster-kuberay-head-svc:9000",
                           "10001": "raycluster/ray-cluster-kuberay-head-svc:10001"}
    assert "kubectl label node <your-node-name> ingress-ready=true" in err


def test_example_spec_reproduces_the_guide() -> None:
    s = spec_mod.load(REPO / "examples/raygate.yaml")
    assert (s.ray_cluster.name, s.ray_cluster.namespace) == ("ray-cluster-kuberay", "raycluster")
    assert s.exposures.ray_client.port == 10001
    assert [p.port for p in s.exposures.extra_tcp_ports] == [9000]
    assert (s.placement.pinned_node.label_key, s.placement.pinned_node.label_value) == ("ingress-ready", "true")
    assert s.security.require_token_auth and not s.exposures.gcs.enabled


def test_no_token_auth_is_refused_with_the_fix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    manifest = tmp_path / "ray-cluster.yaml"
    manifest.write_text(NO_AUTH_CLUSTER)
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "render", "--cluster-manifest", str(manifest), "--out", str(out_dir))
    assert code == 2
    assert out == "" and not out_dir.exists()  # nothing written at all
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("raygate: error: refusing to expose")
    assert "spec.authOptions.mode: token" in err and "KubeRay >= 1.5.1" in err
    assert str(manifest) in err and "Traceback" not in err


def test_unknown_auth_is_refused_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "render")
    assert code == 2 and out == ""
    assert "cannot tell whether" in err and "--cluster-manifest" in err
    assert "spec.authOptions.mode: token" in err


def test_allow_unauthenticated_renders_with_a_loud_warning(capsys, tmp_path: Path) -> None:
    manifest = tmp_path / "ray-cluster.yaml"
    manifest.write_text(NO_AUTH_CLUSTER)
    code, out, err = run(capsys, "render", "--cluster-manifest", str(manifest), "--allow-unauthenticated")
    assert code == 0 and "Ingress" in kinds(out)
    assert "WARNING: exposing RayCluster raycluster/ray-cluster-kuberay WITHOUT token auth" in err


def test_turning_the_requirement_off_still_warns(capsys) -> None:
    code, out, err = run(capsys, "render", "--auth-mode", "disabled",
                         "--set", "security.requireTokenAuth=false")
    assert code == 0 and "Ingress" in kinds(out)
    assert "WITHOUT token auth" in err and "security.requireTokenAuth: false" in err


def test_gcs_only_on_request_and_then_with_a_warning(capsys) -> None:
    code, out, err = run(capsys, "render", "--auth-mode", "token")
    assert code == 0 and "6379" not in out and "GCS" not in err
    code, out, err = run(capsys, "render", "--auth-mode", "token", "--enable-gcs")
    assert code == 0 and "'6379': raycluster/ray-cluster-kuberay-head-svc:6379" in out
    assert "WARNING: GCS is exposed on gateway port 6379" in err


def test_invalid_spec_names_file_line_field_and_allowed_values(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "raygate.yaml"
    bad.write_text("rayCluster:\n  authMode: token\nplacement:\n  mode: pinned\n")
    code, out, err = run(capsys, "render", "-f", str(bad))
    assert code == 2 and out == ""
    assert f"{bad}:4: placement.mode: 'pinned' is not allowed; allowed values: 'pinned-node' or 'metallb'" in err
    bad.write_text("tuning:\n  readTimeout: 3600s\n")
    code, _, err = run(capsys, "render", "-f", str(bad))
    assert code == 2 and f"{bad}:2: tuning.readTimeout:" in err and "without a unit" in err
    bad.write_text("exposures:\n  extraTcpPort: [9000]\n")
    code, _, err = run(capsys, "render", "-f", str(bad))
    assert code == 2 and "exposures.extraTcpPort: unknown field; allowed here:" in err
    assert "extraTcpPorts" in err


def test_flags_override_the_file_and_errors_say_so(capsys, tmp_path: Path) -> None:
    code, out, err = run(capsys, "render", "-f", str(REPO / "examples/raygate.yaml"),
                         "--placement", "metallb", "--metallb-ip", "192.168.1.240",
                         "--serve-path", "/serve", "--tcp-port", "9100:9000",
                         "--allow-cidr", "10.0.0.0/8", "--set", "tuning.bodySize=200m")
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(out) if d]
    svc = next(d for d in docs if d["kind"] == "Service")
    assert svc["metadata"]["annotations"] == {"metallb.io/loadBalancerIPs": "192.168.1.240"}
    assert {p["port"] for p in svc["spec"]["ports"]} == {80, 443, 9100, 10001}
    serve = next(d for d in docs if d["metadata"]["name"].endswith("-serve"))
    assert serve["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "200m"
    assert "allowlist covers the HTTP routes only" in err
    code, _, err = run(capsys, "render", "-f", str(REPO / "examples/raygate.yaml"), "--tcp-port", "443")
    assert code == 2 and "raygate: error: command line: exposures.extraTcpPorts[0].port 443 is reserved" in err


def test_out_dir_one_file_per_object_in_apply_order(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "render", "-f", str(REPO / "examples/raygate.yaml"), "--node", "node-33",
                       "--out", str(tmp_path / "gw"))
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "gw").iterdir())
    assert names == ["01-node-node-33.yaml", "02-configmap-tcp-services.yaml",
                     "03-configmap-ingress-nginx-controller.yaml",
                     "04-deployment-ingress-nginx-controller.yaml",
                     "05-ingress-ray-cluster-kuberay-dashboard.yaml",
                     "06-ingress-ray-cluster-kuberay-dashboard-redirect.yaml"]
    for p in (tmp_path / "gw").iterdir():
        assert len(list(yaml.safe_load_all(p.read_text()))) == 1
        assert p.stat().st_mode & 0o044  # readable like any manifest, not a 0600 temp file


def test_out_dir_that_is_a_file_is_a_clean_error(capsys, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("keep me")
    code, out, err = run(capsys, "render", "--auth-mode", "token", "--out", str(target))
    assert code == 2 and "is a file" in err and target.read_text() == "keep me"
    assert "Traceback" not in err


def test_kustomize_needs_out_and_helm_values_prints_values(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "render", "--auth-mode", "token", "--format", "kustomize")
    assert code == 2 and "--out DIR" in err
    code, out, err = run(capsys, "render", "--auth-mode", "token", "--tcp-port", "9000",
                         "--format", "helm-values")
    values = yaml.safe_load(out)
    assert values["controller"]["hostNetwork"] is True
    assert values["controller"]["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert values["controller"]["nodeSelector"]["ingress-ready"] == "true"
    assert values["controller"]["config"] == {"proxy-stream-timeout": "3600s"}
    assert values["tcp"] == {"9000": "raycluster/ray-cluster-kuberay-head-svc:9000",
                             "10001": "raycluster/ray-cluster-kuberay-head-svc:10001"}
    code, _, _ = run(capsys, "render", "--auth-mode", "token", "--format", "helm-values",
                     "--out", str(tmp_path / "helm"))
    assert code == 0 and kinds((tmp_path / "helm/gateway.yaml").read_text()) == ["Ingress", "Ingress"]


# -- resolving ports and auth from real KubeRay manifests --------------------------------------

@needs_corpus
def test_auth_and_ports_from_a_kuberay_sample(capsys) -> None:
    sample = CORPUS / "kuberay/samples/ray-cluster.auth.secret-ref.yaml"
    code, out, err = run(capsys, "render", "--cluster-manifest", str(sample),
                         "--ray-cluster", "ray-cluster-with-auth", "-n", "default")
    assert code == 0, err
    tcp = next(d for d in yaml.safe_load_all(out) if d and d["kind"] == "ConfigMap")
    assert tcp["data"] == {"10001": "default/ray-cluster-with-auth-head-svc:10001"}
    # The sample's head lists no serve port, so KubeRay's Service has none: refuse, with the fix.
    code, out, err = run(capsys, "render", "--cluster-manifest", str(sample),
                         "--ray-cluster", "ray-cluster-with-auth", "-n", "default", "--serve-path", "/serve")
    assert code == 2 and out == ""
    assert "has no port named 'serve'" in err and "containerPort 8000 named serve" in err


@needs_corpus
def test_env_token_auth_and_custom_head_service(capsys) -> None:
    manual = CORPUS / "kuberay/samples/ray-cluster.auth-manual.yaml"
    code, _, err = run(capsys, "render", "--cluster-manifest", str(manual),
                       "--ray-cluster", "ray-cluster-with-auth", "-n", "default")
    assert code == 0, err  # RAY_AUTH_MODE=token on the head container counts
    custom = CORPUS / "kuberay/samples/ray-cluster.custom-head-service.yaml"
    head = yaml.safe_load(custom.read_text())["spec"]["headGroupSpec"]["headService"]["metadata"]["name"]
    code, out, err = run(capsys, "render", "--cluster-manifest", str(custom),
                         "--ray-cluster", "custom-head-svc", "-n", "default", "--allow-unauthenticated")
    assert code == 0, err
    ingress = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "Ingress"][0]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == head


def test_head_service_ports_win_and_missing_ports_are_refused(capsys, tmp_path: Path) -> None:
    manifest = tmp_path / "inputs.yaml"
    manifest.write_text(NO_AUTH_CLUSTER.replace("spec:\n  rayVersion", "spec:\n  authOptions: {mode: token}\n  rayVersion")
                        + "---\n" + """\
apiVersion: v1
kind: Service
metadata: {name: ray-cluster-kuberay-head-svc, namespace: raycluster}
spec:
  ports:
    - {name: dashboard, port: 18265}
    - {name: client, port: 20001}
    - {name: extra, port: 9000}
""")
    code, out, err = run(capsys, "render", "--cluster-manifest", str(manifest), "--tcp-port", "9000")
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert docs[0]["data"] == {"9000": "raycluster/ray-cluster-kuberay-head-svc:9000",
                               "10001": "raycluster/ray-cluster-kuberay-head-svc:20001"}
    assert docs[-1]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] == {"number": 18265}
    code, out, err = run(capsys, "render", "--cluster-manifest", str(manifest), "--tcp-port", "9001")
    assert code == 2 and "has no port 9001" in err and out == ""


def test_wrong_cluster_name_is_not_guessed(capsys, tmp_path: Path) -> None:
    manifest = tmp_path / "rc.yaml"
    manifest.write_text(NO_AUTH_CLUSTER)
    code, _, err = run(capsys, "render", "--cluster-manifest", str(manifest), "--ray-cluster", "other")
    assert code == 2 and "only hold RayCluster raycluster/ray-cluster-kuberay" in err


def test_controller_args_from_the_users_deployment_are_kept(capsys, tmp_path: Path) -> None:
    manifest = tmp_path / "controller.yaml"
    manifest.write_text("""\
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
        - name: controller
          image: registry.k8s.io/ingress-nginx/controller:v1.15.1
          args: [/nginx-ingress-controller, --enable-ssl-passthrough,
                 --tcp-services-configmap=$(POD_NAMESPACE)/old-tcp]
""")
    code, out, err = run(capsys, "render", "--auth-mode", "token", "--cluster-manifest", str(manifest))
    assert code == 0, err
    dep = next(d for d in yaml.safe_load_all(out) if d and d["kind"] == "Deployment")
    assert dep["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "/nginx-ingress-controller", "--enable-ssl-passthrough",
        "--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services", "--report-node-internal-ip-address"]
    assert str(manifest) in out  # the comment says where the base args came from
    # ... and exactly what it changes in them: the user's other map is replaced, not kept.
    assert ("#   changes --tcp-services-configmap=$(POD_NAMESPACE)/old-tcp to "
            "--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services") in out
    assert "#   adds --report-node-internal-ip-address" in out
    assert "adds --enable-ssl-passthrough" not in out
    # The selector is immutable, so the live one is repeated, not upstream's.
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "x"}}


def test_unreadable_cluster_manifest_is_exit_2(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "render", "--auth-mode", "token", "--cluster-manifest", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml" in err and "Traceback" not in err


# -- init --------------------------------------------------------------------------------------

def test_init_writes_a_loadable_commented_spec_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "raygate.yaml"
    result = runner.invoke(app, ["init", str(target), "--no-input", "--ray-cluster", "ml",
                                 "-n", "team", "--auth-mode", "token", "--tcp-port", "9000",
                                 "--serve-path", "/serve"])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.count("\n#") + text.count("  #") > 20  # commented, not a bare dump
    s = spec_mod.load(target)
    assert (s.ray_cluster.name, s.ray_cluster.namespace, s.ray_cluster.auth_mode) == ("ml", "team", "token")
    assert s.exposures.serve.path == "/serve" and s.exposures.extra_tcp_ports[0].port == 9000
    result = runner.invoke(app, ["init", str(target), "--no-input"])
    assert result.exit_code != 0 and "--force" in str(result.exception)
    assert spec_mod.load(target) == s  # untouched
    result = runner.invoke(app, ["init", str(target), "--no-input", "--force"])
    assert result.exit_code == 0 and spec_mod.load(target).ray_cluster.name == "ray-cluster-kuberay"


def test_init_prompts_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import raygate.cli.init as init_mod
    monkeypatch.setattr(init_mod, "_interactive", lambda: True)
    target = tmp_path / "raygate.yaml"
    answers = "\nmy-ray\nml\ntoken\nmetallb\n192.168.1.240\n/serve\n9000, 9001\n"  # no manifest
    result = CliRunner().invoke(app, ["init", str(target)], input=answers)
    assert result.exit_code == 0, result.output
    assert "RayCluster name" in result.output and "MetalLB address" in result.output
    s = spec_mod.load(target)
    assert s.placement.mode == "metallb" and s.placement.metallb.ip == "192.168.1.240"
    assert [p.port for p in s.exposures.extra_tcp_ports] == [9000, 9001]


def test_init_rejects_bad_answers_with_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run([str(BIN / "raygate"), "init", str(tmp_path / "r.yaml"), "--no-input",
                           "--placement", "metallb"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "placement.metallb.ip is required" in proc.stderr
    assert not (tmp_path / "r.yaml").exists()


# -- the pipeline ------------------------------------------------------------------------------

def test_render_pipe_lint_is_clean() -> None:
    import importlib.util
    if importlib.util.find_spec("raygate.cli.lint") is None:
        pytest.skip("raygate lint does not exist yet")
    render = subprocess.run([str(BIN / "raygate"), "render", "-f", str(REPO / "examples/raygate.yaml"),
                             "--node", "node-33", "--serve-path", "/serve"],
                            capture_output=True, text=True, timeout=60)
    assert render.returncode == 0, render.stderr
    lint = subprocess.run([str(BIN / "raygate"), "lint", "--fail-on", "warning", "-"],
                          input=render.stdout, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 errors, 0 warnings" in lint.stderr


# -- audit additions: --out re-renders, the real terminal, every field from flags ----------------

def test_out_dir_rerender_removes_what_it_no_longer_renders(capsys, tmp_path: Path) -> None:
    """`kubectl apply -f DIR` must see this render only: no stale Serve Ingress, node label or
    renumbered duplicate from an earlier render; files that are not ours stay."""
    out = tmp_path / "gw"
    code, _, err = run(capsys, "render", "-f", str(REPO / "examples/raygate.yaml"), "--node", "n1",
                       "--serve-path", "/serve", "--out", str(out))
    assert code == 0, err
    (out / "README.md").write_text("mine")
    (out / "99-configmap-mine.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")  # not ours
    code, _, err = run(capsys, "render", "-f", str(REPO / "examples/raygate.yaml"), "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "01-configmap-tcp-services.yaml", "02-configmap-ingress-nginx-controller.yaml",
        "03-deployment-ingress-nginx-controller.yaml",
        "04-ingress-ray-cluster-kuberay-dashboard.yaml",
        "05-ingress-ray-cluster-kuberay-dashboard-redirect.yaml",
        "99-configmap-mine.yaml", "README.md"]
    # kustomize: switching from MetalLB to a pinned node drops the Service patch too.
    k = tmp_path / "k"
    assert run(capsys, "render", "--auth-mode", "token", "--placement", "metallb", "--metallb-ip",
               "10.0.0.5", "--format", "kustomize", "--out", str(k))[0] == 0
    assert (k / "patches/controller-service.yaml").is_file()
    assert run(capsys, "render", "--auth-mode", "token", "--format", "kustomize", "--out", str(k))[0] == 0
    assert sorted(p.name for p in (k / "patches").iterdir()) == [
        "controller-configmap.yaml", "controller-deployment.yaml"]


def test_out_dir_failure_leaves_the_previous_output_whole(capsys, tmp_path: Path) -> None:
    out = tmp_path / "k"
    out.mkdir()
    (out / "gateway.yaml").write_text("previous\n")
    (out / "patches").write_text("a file where the patches directory should go")
    code, stdout, err = run(capsys, "render", "--auth-mode", "token", "--format", "kustomize",
                            "--out", str(out))
    assert code == 2 and "cannot write patches/" in err and "Traceback" not in err
    assert (out / "gateway.yaml").read_text() == "previous\n"  # not half old, half new
    assert not (out / "kustomization.yaml").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def _terminal(args: list[str], answers: list[tuple[str, str]], timeout: float = 30) -> tuple[int, str]:
    """Run ``args`` on a real pseudo-terminal, answering each prompt when it appears."""
    import os
    import pty
    import select
    import time
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen, pending, deadline = "", list(answers), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096).decode(errors="replace")
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            # Answer the next prompt once it appears after everything answered so far.
            if pending and pending[0][0] in seen.rsplit("\n", 1)[-1]:
                os.write(master, (pending.pop(0)[1] + "\n").encode())
            if proc.poll() is not None and not ready:
                break
        return proc.wait(timeout=10), seen
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_init_asks_on_a_real_terminal_and_re_asks_bad_answers(tmp_path: Path) -> None:
    target = tmp_path / "raygate.yaml"
    code, screen = _terminal([str(BIN / "raygate"), "init", str(target)], [
        ("RayCluster manifest", ""),            # none: asked for name, namespace, auth
        ("RayCluster name", "My_Ray"),          # not a DNS-1035 label: asked again
        ("RayCluster name", "my-ray"),
        ("RayCluster namespace", ""),           # default
        ("token auth", "token"),
        ("Placement", "metallb"),
        ("MetalLB address", "not-an-ip"),
        ("MetalLB address", "192.168.1.240"),
        ("Serve sub-path", "/ray/serve"),       # overlaps the Dashboard
        ("Serve sub-path", "/serve"),
        ("Extra TCP ports", "443"),             # reserved by the controller
        ("Extra TCP ports", "9000, 9001"),
    ])
    assert code == 0, screen
    assert "Error: rayCluster.name: 'My_Ray' is not a valid RayCluster name" in screen
    assert "Error: placement.metallb.ip: 'not-an-ip' is not an IP address" in screen
    assert "overlap" in screen and "443 is reserved" in screen and "Traceback" not in screen
    s = spec_mod.load(target)
    assert (s.ray_cluster.name, s.ray_cluster.namespace, s.ray_cluster.auth_mode) == \
        ("my-ray", "raycluster", "token")
    assert s.placement.mode == "metallb" and s.placement.metallb.ip == "192.168.1.240"
    assert s.exposures.serve.path == "/serve"
    assert [p.port for p in s.exposures.extra_tcp_ports] == [9000, 9001]


def test_init_without_a_terminal_never_prompts(tmp_path: Path) -> None:
    proc = subprocess.run([str(BIN / "raygate"), "init", str(tmp_path / "r.yaml"), "--node", "n1"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "RayCluster name" not in proc.stdout + proc.stderr
    assert spec_mod.load(tmp_path / "r.yaml").placement.pinned_node.node_name == "n1"


def _leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data and prefix.count(".") < 3 and not prefix.endswith(
            ("globalHeaders", "podLabels")):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else k))
        return out
    return {prefix: data}


def _model_leaves(model: Any, prefix: str = "") -> set[str]:
    from pydantic import BaseModel
    from raygate.spec import _inner_model
    out: set[str] = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}.{field.alias or name}" if prefix else (field.alias or name)
        inner = _inner_model(field.annotation)
        scalar_container = field.annotation is not None and "tuple" in str(field.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel) and not scalar_container:
            out |= _model_leaves(inner, path)
        else:
            out.add(path)
    return out


#: Every spec field, set (nearly all away from their defaults); also used by tests/test_spec.py.
ALL_FIELDS: dict[str, Any] = {
    "name": "gw",
    "rayCluster": {"name": "prod", "namespace": "ml", "headService": "prod-head",
                   "authMode": "token", "manifests": []},
    "controller": {"namespace": "edge", "deployment": "edge-ctl", "kind": "DaemonSet",
                   "container": "nginx", "service": "edge-svc", "configMap": "edge-cm", "tcpServicesConfigMap": "edge-tcp",
                   "ingressClass": "edge", "podLabels": {"app": "edge"},
                   "globalHeaders": {"X-Frame-Options": "DENY"}},
    "placement": {"mode": "metallb",
                  "pinnedNode": {"nodeName": "n1", "labelKey": "gw", "labelValue": "yes"},
                  "metallb": {"ip": "10.0.0.5", "addresses": ["10.0.0.0/29"], "pool": "p",
                              "namespace": "mlb", "createPool": False,
                              "externalTrafficPolicy": "Cluster"}},
    "exposures": {"host": "ray.example.com", "dashboard": {"path": "/dash"},
                  "serve": {"path": "/apps"}, "rayClient": {"enabled": True, "port": 20001},
                  "extraTcpPorts": [{"port": 9100, "servicePort": 9000}],
                  "gcs": {"enabled": True, "port": 16379}},
    "security": {"requireTokenAuth": False, "allowlist": ["10.0.0.0/8"],
                 "tls": {"secretName": "ray-tls"}},
    "tuning": {"bodySize": "1g", "readTimeout": 60, "sendTimeout": 61, "streamTimeout": "1h"},
    # The default backend, so the command below renders Ingresses; the Gateway API backend's
    # own command-line test is in test_gateway_api.py.
    "backend": "ingress-nginx",
    "gatewayApi": {"gatewayClassName": "eg", "gatewayName": "shared", "gatewayNamespace": "infra",
                   "createGateway": False, "routeNamespace": "routes",
                   "tcpRouteApiVersion": "v1", "httpPort": 8080, "httpsPort": 8444,
                   "implementation": "envoy-gateway", "version": "v1.6", "listenerSet": True},
}


def test_every_spec_field_can_be_set_from_the_command_line(capsys, tmp_path: Path) -> None:
    """No file at all: every field of a non-default spec, as --set flags, gives that spec."""
    import json
    from raygate.spec import GatewaySpec
    data = ALL_FIELDS
    leaves = _leaves(data)
    missing = _model_leaves(GatewaySpec) - set(leaves) - {"apiVersion", "kind"}
    assert not missing, f"extend this test to the new spec fields: {sorted(missing)}"
    expected = spec_mod.from_dict(data)
    assert expected != spec_mod.from_dict({})
    sets = [a for path, v in leaves.items() for a in ("--set", f"{path}={json.dumps(v)}")]
    from raygate.cli.render import overrides_from
    from raygate.spec import from_dict
    assert from_dict({}, overrides=overrides_from({"sets": sets[1::2]})) == expected
    # And through the real command.
    code, out, err = run(capsys, "render", *sets)
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert {"gw-dashboard", "gw-dashboard-redirect", "gw-serve"} <= {d["metadata"]["name"] for d in docs}


def test_named_flags_reach_their_fields(capsys) -> None:
    from raygate.cli.render import overrides_from
    from raygate.spec import from_dict
    s = from_dict({}, overrides=overrides_from({
        "ray_cluster": "prod", "namespace": "ml", "head_service": "h", "auth_mode": "token",
        "placement": "metallb", "metallb_ip": "10.0.0.5", "metallb_pool": "p",
        "metallb_addresses": ("10.0.0.0/29",), "node": "n1", "node_label": "gw=yes",
        "host": "ray.example.com", "dashboard_path": "/dash", "serve_path": "/apps",
        "client_port": 20001, "tcp_ports": ("9000", "9100:9000"), "enable_gcs": True,
        "allow_cidrs": ("10.0.0.0/8",), "tls_secret": "t", "body_size": "1g", "timeout": 60,
        "stream_timeout": "1h", "ingress_class": "edge", "controller_namespace": "edge",
        "controller_deployment": "edge-ctl", "controller_kind": "DaemonSet"}))
    assert (s.ray_cluster.name, s.ray_cluster.namespace, s.ray_cluster.head_service) == ("prod", "ml", "h")
    assert (s.placement.mode, s.placement.metallb.ip, s.placement.metallb.pool) == ("metallb", "10.0.0.5", "p")
    assert s.placement.metallb.addresses == ("10.0.0.0/29",)
    assert (s.placement.pinned_node.node_name, s.placement.pinned_node.label_key,
            s.placement.pinned_node.label_value) == ("n1", "gw", "yes")
    assert (s.exposures.host, s.exposures.dashboard.path, s.exposures.serve.path) == \
        ("ray.example.com", "/dash", "/apps")
    assert s.exposures.ray_client.port == 20001 and s.exposures.gcs.enabled
    assert [(p.port, p.target) for p in s.exposures.extra_tcp_ports] == [(9000, 9000), (9100, 9000)]
    assert s.security.allowlist == ("10.0.0.0/8",) and s.security.tls.secret_name == "t"
    assert (s.tuning.body_size, s.tuning.read_timeout, s.tuning.send_timeout,
            s.tuning.stream_timeout) == ("1g", 60, 60, "1h")
    assert (s.controller.ingress_class, s.controller.namespace, s.controller.deployment,
            s.controller.kind) == ("edge", "edge", "edge-ctl", "DaemonSet")


def test_errors_in_set_flags_name_the_command_line(capsys) -> None:
    code, out, err = run(capsys, "render", "--auth-mode", "token", "--set", "exposures.hots=x")
    assert code == 2 and out == ""
    assert err.startswith("raygate: error: command line: exposures.hots: unknown field; "
                          "allowed here: host,")
    code, _, err = run(capsys, "render", "--auth-mode", "token", "--placement", "metallb")
    assert code == 2 and err.startswith("raygate: error: command line: placement.metallb.ip is required")


def test_metallb_by_pool_from_flags(capsys) -> None:
    code, out, err = run(capsys, "render", "--auth-mode", "token", "--placement", "metallb",
                         "--metallb-pool", "edge", "--set", "placement.metallb.createPool=false")
    assert code == 0, err
    svc = next(d for d in yaml.safe_load_all(out) if d and d["kind"] == "Service")
    assert svc["metadata"]["annotations"] == {"metallb.io/address-pool": "edge"}
    assert "IPAddressPool" not in out
    assert "pin it with placement.metallb.ip" in err


def test_helm_values_pinned_drop_the_service_and_keep_the_class(capsys) -> None:
    code, out, err = run(capsys, "render", "--auth-mode", "token", "--ingress-class", "ray",
                         "--format", "helm-values")
    assert code == 0, err
    controller = yaml.safe_load(out)["controller"]
    # Without this the chart's LoadBalancer Service would publish a Pending address over
    # reportNodeInternalIp and open the tcp ports as NodePorts on every node.
    assert controller["service"] == {"enabled": False}
    assert controller["reportNodeInternalIp"] is True
    assert controller["ingressClassResource"] == {"name": "ray"} and controller["ingressClass"] == "ray"


@pytest.mark.parametrize("name", sorted(__import__("tests.render.support", fromlist=["MATRIX"]).MATRIX))
def test_render_pipe_lint_over_the_matrix(name: str, tmp_path: Path) -> None:
    """`raygate render -f spec | raygate lint -`, the real commands, for every matrix spec."""
    from tests.render.support import MATRIX
    spec_file = tmp_path / "raygate.yaml"
    spec_file.write_text(yaml.safe_dump(MATRIX[name]))
    render = subprocess.run([str(BIN / "raygate"), "render", "-f", str(spec_file)],
                            capture_output=True, text=True, timeout=60)
    assert render.returncode == 0, render.stderr
    lint = subprocess.run([str(BIN / "raygate"), "lint", "--fail-on", "warning", "-"],
                          input=render.stdout, capture_output=True, text=True, timeout=60)
    if name == "gcs-enabled":  # exposed on purpose: the catalog must say so
        assert lint.returncode == 1 and "gcs-port-exposed" in lint.stdout
    else:
        assert lint.returncode == 0, lint.stdout + lint.stderr


@needs_corpus
def test_kustomize_with_a_local_upstream_builds(capsys, tmp_path: Path) -> None:
    """`--upstream ./deploy.yaml` is copied beside the kustomization: kustomize resolves
    resources from its own directory and refuses files outside it."""
    import os
    import shutil
    from tests.render.test_kustomize import kubectl_kustomize, python_kustomize
    shutil.copy(CORPUS / "ingress-nginx/deploy-baremetal.yaml", tmp_path / "deploy.yaml")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code, _, err = run(capsys, "render", "--auth-mode", "token", "--format", "kustomize",
                           "--upstream", "deploy.yaml", "--out", "gw")
    finally:
        os.chdir(cwd)
    assert code == 0, err
    out = tmp_path / "gw"
    assert yaml.safe_load((out / "kustomization.yaml").read_text())["resources"][0] == "upstream/deploy.yaml"
    docs = kubectl_kustomize(out) if shutil.which("kubectl") else python_kustomize(out)
    dep = next(d for d in docs if d["kind"] == "Deployment")
    assert dep["spec"]["template"]["spec"]["hostNetwork"] is True
    code, _, err = run(capsys, "render", "--auth-mode", "token", "--format", "kustomize",
                       "--upstream", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "gw2"))
    assert code == 2 and "--upstream" in err and "cannot read" in err
    assert not (tmp_path / "gw2").exists()


def test_output_is_byte_identical_across_processes(tmp_path: Path) -> None:
    """Determinism that does not depend on hash seeds or dict luck: two processes, two seeds."""
    import os
    from tests.render.support import MATRIX
    spec_file = tmp_path / "raygate.yaml"
    spec_file.write_text(yaml.safe_dump(MATRIX["metallb-custom-names"]))
    outs = []
    for seed in ("1", "2"):
        proc = subprocess.run([str(BIN / "raygate"), "render", "-f", str(spec_file)],
                              capture_output=True, timeout=60,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert outs[0] == outs[1]


def test_upstream_without_kustomize_is_a_usage_error() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "raygate", "render", "--ray-cluster", "r",
                           "--allow-unauthenticated", "--upstream", "deploy.yaml"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--upstream only applies to -o kustomize" in proc.stderr
    assert proc.stdout == ""


# -- init leads somewhere render accepts (issue 12, point 4) -------------------------------------

def _raygate(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raygate", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_init_next_hint_is_a_command_render_accepts(tmp_path: Path) -> None:
    import shlex
    init = _raygate("init", "--no-input", "--ray-cluster", "ray-cluster-kuberay", "-n", "raycluster",
                    cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    hint = init.stderr.split("next: ", 1)[1].splitlines()[0]
    # The hint first fetches the RayCluster (kubectl); here its manifest stands in for the cluster.
    fetch, _, render_cmd = hint.partition(" && ")
    assert fetch == "kubectl get raycluster ray-cluster-kuberay -n raycluster -o yaml > ray-cluster.yaml"
    (tmp_path / "ray-cluster.yaml").write_text((REPO / "examples/pinned-gateway/raycluster.yaml").read_text())
    argv = shlex.split(render_cmd)
    assert argv[:2] == ["raygate", "render"]
    render = _raygate(*argv[1:], cwd=tmp_path)
    assert render.returncode == 0, render.stderr
    assert "kind: Ingress" in render.stdout


def test_init_from_a_cluster_manifest_renders_as_is(tmp_path: Path) -> None:
    (tmp_path / "rc.yaml").write_text((REPO / "examples/pinned-gateway/raycluster.yaml").read_text())
    init = _raygate("init", "--no-input", "--cluster-manifest", "rc.yaml", cwd=tmp_path)
    assert init.returncode == 0 and init.stderr.rstrip().endswith("next: raygate render -f raygate.yaml")
    s = spec_mod.load(tmp_path / "raygate.yaml")
    assert list(s.ray_cluster.manifests) == ["rc.yaml"] and s.ray_cluster.name == "ray-cluster-kuberay"
    assert _raygate("render", "-f", "raygate.yaml", cwd=tmp_path).returncode == 0


def test_init_with_a_metallb_ip_writes_metallb_mode(tmp_path: Path) -> None:
    init = _raygate("init", "--no-input", "--auth-mode", "token", "--metallb-ip", "192.168.1.240",
                    cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    s = spec_mod.load(tmp_path / "raygate.yaml")
    assert s.placement.mode == "metallb" and s.placement.metallb.ip == "192.168.1.240"
    render = _raygate("render", "-f", "raygate.yaml", cwd=tmp_path)
    assert render.returncode == 0 and "192.168.1.240" in render.stdout


def test_init_on_a_terminal_takes_yes_and_serve_as_answers(tmp_path: Path) -> None:
    """A real pseudo-terminal, answered as a person would: "yes" to token auth, "serve"."""
    target = tmp_path / "raygate.yaml"
    code, screen = _terminal([sys.executable, "-m", "raygate", "init", str(target)], [
        ("RayCluster manifest", ""),
        ("RayCluster name", "my-ray"),
        ("RayCluster namespace", "ml"),
        ("token auth", "yes"),
        ("Placement", ""),
        ("Gateway node name", "node-33"),
        ("Serve sub-path", "serve"),
        ("Extra TCP ports", ""),
    ])
    assert code == 0, screen
    s = spec_mod.load(target)
    assert s.ray_cluster.auth_mode == "token" and s.exposures.serve.path == "/serve"
    assert s.placement.pinned_node.node_name == "node-33"
    assert screen.rstrip().endswith(f"next: raygate render -f {target}")
