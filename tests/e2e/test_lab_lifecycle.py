"""``raygate lab up --fault no-auth`` / ``status`` / ``down`` through the CLI, end to end.

no-auth needs its own Ray head (started without token auth), so this test also covers the
lab's lifecycle: ``up`` prints the probe command, the probe names the open Jobs API, lint on
``objects.yaml`` names the same mistake, and ``down`` stops exactly what ``up`` started."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from raygate.lab.ray_head import _group_members, pid_alive


def raygate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raygate", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180)


def test_no_auth_lab_lifecycle(tmp_path: Path) -> None:
    state = tmp_path / "lab"
    up = raygate("lab", "up", "--fault", "no-auth", "--state-dir", str(state), cwd=tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        assert "Ray auth disabled" in up.stdout
        probe_line = next(line.strip() for line in up.stdout.splitlines()
                          if line.strip().startswith("raygate probe "))
        assert "--token" not in probe_line  # no token exists without auth

        status = raygate("lab", "status", "--state-dir", str(state), cwd=tmp_path)
        assert status.returncode == 0 and "auth disabled" in status.stdout
        saved = json.loads((state / "state.json").read_text())
        ray_pid, nginx_pid = saved["ray"]["pid"], saved["nginx_pid"]
        assert _group_members(ray_pid) and pid_alive(nginx_pid)

        args = shlex.split(probe_line)[1:] + ["--format", "json"]
        for option in ("--client", "--serve"):  # keep this test fast: no Ray Client, no Serve
            i = args.index(option)
            del args[i:i + 2]
        probed = raygate(*args, cwd=tmp_path)
        assert probed.returncode == 1, probed.stdout + probed.stderr
        checks = {c["name"]: c for c in json.loads(probed.stdout)["checks"]}
        assert checks["auth-required"]["verdict"] == "fail"
        assert "authentication_mode: disabled" in checks["auth-required"]["detail"]
        assert checks["dashboard"]["verdict"] == "pass"

        lint = raygate("lint", str(state / "objects.yaml"), "--select", "unauthenticated-ray-exposure",
                       "--format", "json", cwd=tmp_path)
        assert "RG104" in lint.stdout, lint.stdout + lint.stderr
    finally:
        down = raygate("lab", "down", "--state-dir", str(state), cwd=tmp_path)
    assert down.returncode == 0 and "Ray head" in down.stdout and "nginx" in down.stdout
    assert not pid_alive(nginx_pid)
    assert _group_members(ray_pid) == []
    assert raygate("lab", "status", "--state-dir", str(state), cwd=tmp_path).returncode == 1
