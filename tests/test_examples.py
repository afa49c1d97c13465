"""The bundled examples say what the README says they say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from raygate import engine
from raygate.findings import Layer
from raygate.sources.files import load_paths

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def lint(path: Path):
    loaded = load_paths([str(path)])
    assert not loaded.problems and not loaded.notices, (loaded.problems, loaded.notices)
    return engine.run(loaded.objects)


def test_seed_broken_shows_the_guides_three_root_causes() -> None:
    result = lint(EXAMPLES / "seed-broken")
    by_layer = {layer: {f.name for f in result.findings if f.layer is layer} for layer in Layer}
    # Security: the webhook denies the snippet ("risky annotation"); no auth. (The GCS entry
    # is latent: no controller reads the map yet, so RG105 speaks once step 3 adds the flag.)
    assert {"snippet-annotation", "unauthenticated-ray-exposure"} <= by_layer[Layer.SECURITY]
    # Protocol: port 9000 does not exist on the head Service; the controller reads no map.
    assert {"tcp-services-unknown-backend", "unread-tcp-services"} <= by_layer[Layer.PROTOCOL]
    # Infrastructure: hard-coded externalIPs.
    assert "service-external-ips" in by_layer[Layer.INFRASTRUCTURE]
    unknown = next(f for f in result.findings if f.name == "tcp-services-unknown-backend")
    assert unknown.field == 'data["9000"]'
    assert ('Service "raycluster/ray-cluster-kuberay-head-svc" does not have any active Endpoint '
            "for TCP port 9000") in unknown.message


def test_seed_broken_gcs_entry_speaks_once_the_controller_reads_the_map(tmp_path: Path) -> None:
    """The example's README: 6379 and 10001 open nothing until step 3 adds the flag."""
    import shutil
    copy = tmp_path / "seed-broken"
    shutil.copytree(EXAMPLES / "seed-broken", copy)
    manifest = copy / "ingress-nginx.yaml"
    text = manifest.read_text()
    flag = "        - --validating-webhook=:8443\n"
    assert flag in text
    manifest.write_text(text.replace(
        flag, flag + "        - --tcp-services-configmap=$(POD_NAMESPACE)/tcp-services\n"))
    result = lint(copy)
    fields = {(f.code, f.field) for f in result.findings}
    assert ("RG105", 'data["6379"]') in fields
    assert {("RG104", 'data["6379"]'), ("RG104", 'data["10001"]')} <= fields
    assert "RG204" not in {f.code for f in result.findings}


def test_pinned_gateway_is_clean() -> None:
    result = lint(EXAMPLES / "pinned-gateway")
    assert not result.findings, [(f.code, f.message) for f in result.findings]


def test_pinned_gateway_yaml_is_the_renderers_output() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "raygate", "render", "-f", str(EXAMPLES / "raygate.yaml"),
         "--cluster-manifest", str(EXAMPLES / "pinned-gateway" / "raycluster.yaml")],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (EXAMPLES / "pinned-gateway" / "gateway.yaml").read_text(), \
        "regenerate examples/pinned-gateway/gateway.yaml with raygate render (see its README)"


def test_demo_runs_fits_an_80x60_terminal_and_ends_on_next_steps() -> None:
    import math
    import os
    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run(["bash", "scripts/demo.sh", str(Path(sys.executable).parent)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "snippet-annotation" in proc.stdout and "No findings" in proc.stdout
    assert "three layers" in proc.stdout
    assert proc.stderr == ""  # no notices, summaries or pip warnings between the steps
    lines = proc.stdout.splitlines()
    on_screen = sum(max(1, math.ceil(len(line) / 80)) for line in lines)
    assert on_screen < 60, on_screen
    tail = lines[lines.index("== Next: your own setup"):]
    assert len(tail) >= 4 and all(line.startswith("  ") for line in tail[1:])


def test_doctor_snapshot_names_todays_root_causes() -> None:
    import json

    proc = subprocess.run([sys.executable, "-m", "raygate", "doctor", "--snapshot",
                           str(EXAMPLES / "doctor-snapshot"), "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1, proc.stderr
    codes = {f["rule"] for f in json.loads(proc.stdout)["findings"]}
    assert {"RG101", "RG251", "RG252", "RG353", "RG354"} <= codes


def test_doctor_snapshot_is_the_scenarios_today() -> None:
    from tests.doctor.cluster import dump, today

    assert (EXAMPLES / "doctor-snapshot" / "cluster.yaml").read_text() == dump(today()), \
        "regenerate examples/doctor-snapshot/cluster.yaml from tests/doctor/cluster.py"
