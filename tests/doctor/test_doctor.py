"""raygate doctor on snapshots: root-cause chains, lanes, degraded reads, the CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from raygate import doctor
from raygate.doctor import core
from raygate.findings import Severity
from raygate.sources.cluster import live_kinds
from raygate.sources.files import load_text
from tests.doctor import cluster

RAYGATE = [sys.executable, "-m", "raygate"]


def diagnose_objects(objs, *, expect_ips=(), **gathered_kwargs):
    loaded = load_text(cluster.dump(objs), "snapshot.yaml")
    assert not loaded.problems
    g = core.Gathered(loaded.objects, "snapshot", "snapshot.yaml", files=loaded.files, **gathered_kwargs)
    return doctor.diagnose(g, expect_ips=expect_ips)


def by_code(result):
    out: dict[str, list] = {}
    for f in result.findings:
        out.setdefault(f.code, []).append(f)
    return out


def test_healthy_cluster_has_no_runtime_findings_and_no_errors():
    d = diagnose_objects(cluster.healthy(), expect_ips=[cluster.GATEWAY_IP])
    runtime = [f for f in d.result.findings if f.rule.needs == "runtime"]
    assert runtime == []
    assert not [f for f in d.result.findings if f.severity is Severity.ERROR]
    assert {lane.role for lane in d.lanes} == {"Dashboard", "Client"}
    assert all(lane.status == "ok" for lane in d.lanes), [(lane.role, lane.status) for lane in d.lanes]


def test_today_names_each_root_cause_as_a_chain():
    d = diagnose_objects(cluster.today(), expect_ips=[cluster.GATEWAY_IP])
    found = by_code(d.result)
    # Security: the snippet (static prediction of the webhook's denial).
    assert "RG101" in found
    # Protocol: the controller's own log line as the symptom, the rescheduled head as the cause.
    (tcp,) = found["RG251"]
    assert tcp.symptom == ('Service "ray/raycluster-kuberay-head-svc" does not have any active '
                           "Endpoint for TCP port 10001")
    assert "head not ready" in tcp.message and "raycluster-kuberay-head-q9r8s" in tcp.message
    assert "readiness" in tcp.fix or "head pod" in tcp.fix
    assert any("503" in f.symptom for f in found["RG252"])
    assert any("raycluster-kuberay-head-q9r8s" in f.message for f in found["RG354"])
    # Infrastructure: the address users were given vs. the node's new address.
    drift = " ".join(f.message for f in found["RG353"])
    assert cluster.GATEWAY_IP in drift and cluster.NEW_GATEWAY_IP in drift
    for f in found["RG251"] + found["RG252"] + found["RG353"] + found["RG354"]:
        assert f.symptom and f.fix.endswith("."), f


def test_lanes_mark_the_broken_hops():
    d = diagnose_objects(cluster.today(), expect_ips=[cluster.GATEWAY_IP])
    dash = next(lane for lane in d.lanes if lane.role == "Dashboard" and "(.*)" in lane.route)
    assert dash.status == "fail"
    assert dash.hop("endpoints").status == "fail"
    assert {f.code for f in dash.hop("endpoints").findings} == {"RG252"}
    assert dash.hop("head").status == "fail"
    assert dash.hop("client").status == "fail"  # the Ingress still advertises yesterday's IP
    assert "RG101" in {f.code for f in dash.hop("controller").findings}
    assert dash.hop("service").status == "ok"
    client = next(lane for lane in d.lanes if lane.role == "Client")
    assert client.route.endswith(":10001")
    assert {f.code for f in client.hop("endpoints").findings} == {"RG251"}
    # The snippet is on the Dashboard Ingress, not on the Client route.
    assert "RG101" not in {f.code for h in client.hops for f in h.findings}


def test_head_selector_mismatch_is_named():
    objs = cluster.healthy()
    svc = cluster.find(objs, "Service", cluster.HEAD_SVC)
    svc["spec"]["selector"] = {**svc["spec"]["selector"], "ray.io/cluster": "raycluster-old"}
    cluster.find(objs, "EndpointSlice", f"{cluster.HEAD_SVC}-abc12")["endpoints"] = []
    found = by_code(diagnose_objects(objs).result)
    assert "selector mismatch" in found["RG251"][0].message
    assert "ray.io/cluster=raycluster-kuberay (not raycluster-old)" in found["RG251"][0].message


def test_forbidden_kinds_degrade_to_not_checked():
    objs = [o for o in cluster.healthy() if o["kind"] not in ("Node", "Pod", "EndpointSlice")]
    forbidden = {k: f'{k.lower()}s is forbidden: User "dev" cannot list resource'
                 for k in ("Node", "Pod", "EndpointSlice")}
    d = diagnose_objects(objs, forbidden=forbidden,
                         listed=live_kinds())
    for code in ("RG351", "RG352", "RG353", "RG251", "RG252"):
        assert d.result.not_checked.get(code, "").startswith("not checked (forbidden)"), code
    assert not [f for f in d.result.findings if f.rule.needs == "runtime"]


def test_capture_round_trip_keeps_dry_runs_and_logs(tmp_path: Path):
    objs = cluster.today()
    loaded = load_text(cluster.dump(objs), "live")
    denial = ('admission webhook "validate.nginx.ingress.kubernetes.io" denied the request: '
              "nginx.ingress.kubernetes.io/configuration-snippet annotation cannot be used. "
              "Snippet directives are disabled by the Ingress administrator")
    log = ('W0502 07:00:01.1 7 controller.go:1208] Service "ray/raycluster-kuberay-head-svc" '
           "does not have any active Endpoint for TCP port 10001\n")
    g = core.Gathered(loaded.objects, "live", "cluster:test", logs_requested=True,
                      admission={("Ingress", "ray", "ray-dashboard"): denial,
                                 ("Ingress", "ray", "ray-dashboard-slash"): None},
                      logs={("ingress-nginx", "ingress-nginx-controller-5f7d8-abcde"): log})
    snap = tmp_path / "bug-report.yaml"
    snap.write_text(core.snapshot_text(g, [cluster.GATEWAY_IP]))
    again = doctor.diagnose(doctor.gather_snapshot([str(snap)]))
    found = by_code(again.result)
    assert found["RG151"][0].symptom == denial
    assert "Cause: RG101 snippet-annotation" in found["RG151"][0].message
    assert "RG251 tcp-service-without-endpoints" in found["RG152"][0].message
    assert any(cluster.GATEWAY_IP in f.message for f in found["RG353"])  # expect-ip travelled too
    assert "RG151" not in again.result.not_checked and "RG152" not in again.result.not_checked


def _write_snapshot(directory: Path, objs) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cluster.yaml").write_text(cluster.dump(objs))
    return directory


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(RAYGATE + ["doctor", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60)


def test_cli_healthy_snapshot_exits_0_and_broken_exits_1(tmp_path: Path):
    ok = run_cli("--snapshot", str(_write_snapshot(tmp_path / "ok", cluster.healthy())),
                 "--expect-ip", cluster.GATEWAY_IP)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad_dir = _write_snapshot(tmp_path / "bad", cluster.today())
    (bad_dir / "ingress-nginx-controller.log").write_text(
        'W0502 07:00:01 controller.go:1208] Service "ray/raycluster-kuberay-head-svc" does not '
        "have any active Endpoint for TCP port 10001\n")
    bad = run_cli("--snapshot", str(bad_dir), "--logs", "--expect-ip", cluster.GATEWAY_IP,
                  "--format", "json")
    assert bad.returncode == 1, bad.stderr
    doc = json.loads(bad.stdout)
    codes = {f["rule"] for f in doc["findings"]}
    assert {"RG101", "RG251", "RG252", "RG353", "RG354", "RG152"} <= codes
    assert any(f.get("symptom", "").startswith('Service "ray/raycluster-kuberay-head-svc"')
               for f in doc["findings"] if f["rule"] == "RG251")
    assert "routes broken" in bad.stderr


def test_cli_html_and_sarif_outputs(tmp_path: Path):
    snap = _write_snapshot(tmp_path / "bad", cluster.today())
    out = tmp_path / "report" / "doctor.html"
    r = run_cli("--snapshot", str(snap), "-f", "html", "-o", str(out))
    assert r.returncode == 1 and r.stdout == ""
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and 'data-status="fail"' in html
    assert "http://" not in html.split("<body>")[0]  # no external assets in the head
    assert "<link" not in html and "<script src" not in html
    sarif = run_cli("--snapshot", str(snap), "-f", "sarif", "--fail-on", "never")
    assert sarif.returncode == 0
    assert any(res["ruleId"] == "RG251" for res in json.loads(sarif.stdout)["runs"][0]["results"])


@pytest.mark.parametrize("args, message", [
    (["--snapshot", "does-not-exist.yaml"], "does-not-exist.yaml: no such file or directory"),
    (["--snapshot", "bad.yaml"], "bad.yaml:3: invalid YAML"),
    (["--snapshot", "empty.yaml"], "no Kubernetes objects found"),
    (["--snapshot", "ok.yaml", "--expect-ip", "gw-1"], "is not an IP address"),
    (["--snapshot", "ok.yaml", "--select", "RG999"], "unknown rule selector"),
    (["--snapshot", "ok.yaml", "--context", "prod"], "cannot be combined"),
    (["--snapshot", "ok.yaml", "-n", "ray"], "cannot be combined"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, args, message):
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: [unclosed\n")
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    (tmp_path / "ok.yaml").write_text(cluster.dump(cluster.healthy()))
    r = run_cli(*args, "-o", "html=out.html", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "out.html").exists()


def test_help_carries_the_dump_command():
    r = subprocess.run(RAYGATE + ["doctor", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert core.DUMP_COMMAND in r.stdout and core.DUMP_RAY_COMMAND in r.stdout
    assert "--snapshot" in r.stdout and "--expect-ip" in r.stdout


@pytest.mark.parametrize("doc", ["docs/doctor.md", "README.md"])
def test_docs_give_the_same_dump_command(doc):
    text = (Path(__file__).resolve().parents[2] / doc).read_text()
    assert core.DUMP_COMMAND in text and core.DUMP_RAY_COMMAND in text


def test_doctor_honours_the_project_config(tmp_path: Path) -> None:
    """.raygate.yaml means the same to doctor as to lint: suppressions and fail-on apply."""
    import shutil

    snap = tmp_path / "snap"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "doctor-snapshot", snap)
    run = lambda *a: subprocess.run([sys.executable, "-m", "raygate", "doctor", "--snapshot",  # noqa: E731
                                     str(snap), "-f", "json", *a], capture_output=True, text=True,
                                    timeout=120)
    before = {f["rule"] for f in json.loads(run().stdout)["findings"]}
    assert "RG101" in before and "RG353" in before
    (tmp_path / ".raygate.yaml").write_text(
        "ignore: [node-ip-drift]\nsuppress:\n  - rules: [RG101]\n    kind: Ingress\n    reason: test\n")
    proc = run()
    after = {f["rule"] for f in json.loads(proc.stdout)["findings"]}
    assert "RG353" not in after and "RG101" not in after and after, proc.stderr
    assert "RG353" in {f["rule"] for f in json.loads(run("--no-config").stdout)["findings"]}
    (tmp_path / ".raygate.yaml").write_text("ignore: [RG999]\n")
    bad = run()
    assert bad.returncode == 2 and "unknown rule selector(s): RG999" in bad.stderr
