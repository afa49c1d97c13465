"""The lab through the CLI, as a new user runs it from a shell: ``raygate lab up`` in a fresh
directory (the default, *relative* ``.raygate-lab`` state dir), the printed probe command run
verbatim and passing, a fault injected by reload (Ray kept) and named by probe and lint, the
no-auth fault (a new Ray head without token auth, the old one stopped), ``status`` and
``down`` stopping exactly what ``up`` started. The token is never printed on the way."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from raygate.lab.ray_head import _group_members, pid_alive


def raygate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raygate", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180, env={**_env(), "COLUMNS": "300"})


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "RAY_AUTH_TOKEN"}


def probe_args(up: subprocess.CompletedProcess[str]) -> list[str]:
    line = next(line.strip() for line in up.stdout.splitlines()
                if line.strip().startswith("raygate probe "))
    return shlex.split(line)[1:]


def checks(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    return {c["name"]: c for c in json.loads(done.stdout)["checks"]}


def head_logs(state: Path) -> str:
    """The tails of the head's per-client server logs: what a Ray Client failure points to."""
    try:
        temp_dir = Path(json.loads((state / "state.json").read_text())["ray"]["temp_dir"])
    except (OSError, ValueError, KeyError):
        return ""
    logs = sorted(temp_dir.glob("session_latest/logs/ray_client_server*.err"))
    return "".join(f"\n--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
                   for p in logs)


def test_lab_cli_lifecycle(tmp_path: Path) -> None:
    state = tmp_path / ".raygate-lab"
    up = raygate("lab", "up", cwd=tmp_path)
    ray_pids: list[int] = []
    nginx_pid = 0
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        token = (state / "token").read_text().strip()
        for label in ("Dashboard   http://127.0.0.1:", "Ray Client  ray://127.0.0.1:", "Probe it:",
                      "Ray auth token"):
            assert label in up.stdout, up.stdout
        args = probe_args(up)
        assert "--token-file" in args and token not in up.stdout + up.stderr

        # The printed command, verbatim: every check passes, and the token is not shown.
        probed = raygate(*args, cwd=tmp_path)
        assert probed.returncode == 0, probed.stdout + probed.stderr + head_logs(state)
        assert "all checks passed" in probed.stdout
        assert token not in probed.stdout + probed.stderr
        report = json.loads(raygate(*args, "-o", "json", cwd=tmp_path).stdout)
        assert report["ok"] and {"ray-client", "serve", "gcs-closed"} <= {
            c["name"] for c in report["checks"]}
        # The 3 s target is measured on a quiet machine by bench/lab_overhead.py. What this
        # test means is that the checks ran concurrently: every check began before the Ray
        # Client round trip (a subprocess, the longest check) ended. A serial probe would start
        # Serve (queued after it) only once it ended, however fast or loaded the machine is.
        ran = report["checks"]
        client = next(c for c in ran if c["name"] == "ray-client")
        assert all(c["started"] < client["started"] + client["seconds"] for c in ran), ran

        saved = json.loads((state / "state.json").read_text())
        ray_pids.append(saved["ray"]["pid"])
        nginx_pid = saved["nginx_pid"]
        assert _group_members(ray_pids[0]) and pid_alive(nginx_pid)

        # A fault is a re-render + reload: same Ray head, same nginx master.
        faulty = raygate("lab", "up", "--fault", "gcs-exposed", cwd=tmp_path)
        assert faulty.returncode == 0, faulty.stdout + faulty.stderr
        assert "Probe it: check gcs-closed fails on this fault" in faulty.stdout
        saved = json.loads((state / "state.json").read_text())
        assert (saved["ray"]["pid"], saved["nginx_pid"]) == (ray_pids[0], nginx_pid)
        probed = raygate(*probe_args(faulty), "-o", "json", cwd=tmp_path)
        assert probed.returncode == 1
        failed = {n for n, c in checks(probed).items() if c["verdict"] == "fail"}
        assert failed == {"gcs-closed"}, probed.stdout + head_logs(state)
        lint = raygate("lint", ".raygate-lab/objects.yaml", "-o", "json", cwd=tmp_path)
        assert "RG105" in lint.stdout, lint.stdout + lint.stderr

        # no-auth needs a head without token auth: the old head goes, a new one comes.
        up = raygate("lab", "up", "--fault", "no-auth", cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        assert "Ray auth disabled" in up.stdout
        saved = json.loads((state / "state.json").read_text())
        ray_pids.append(saved["ray"]["pid"])
        assert ray_pids[1] != ray_pids[0] and _group_members(ray_pids[0]) == []
        args = probe_args(up)
        assert "--token-file" not in args  # no token exists without auth

        status = raygate("lab", "status", cwd=tmp_path)
        assert status.returncode == 0 and "auth disabled" in status.stdout

        for option in ("--client", "--serve"):  # keep this part fast: no Ray Client, no Serve
            i = args.index(option)
            del args[i:i + 2]
        probed = raygate(*args, "-o", "json", cwd=tmp_path)
        assert probed.returncode == 1, probed.stdout + probed.stderr
        result = checks(probed)
        assert result["auth-required"]["verdict"] == "fail"
        assert "authentication_mode: disabled" in str(result["auth-required"]["detail"])
        assert result["dashboard"]["verdict"] == "pass"

        lint = raygate("lint", ".raygate-lab/objects.yaml", "--select",
                       "unauthenticated-ray-exposure", "-o", "json", cwd=tmp_path)
        assert "RG104" in lint.stdout, lint.stdout + lint.stderr
    finally:
        down = raygate("lab", "down", cwd=tmp_path)
    assert down.returncode == 0 and "Ray head" in down.stdout and "nginx" in down.stdout
    assert not pid_alive(nginx_pid)
    assert all(_group_members(pid) == [] for pid in ray_pids)
    after = raygate("lab", "status", cwd=tmp_path)
    assert after.returncode == 1
    # The last fault (no-auth) went down with the lab; status must not still report it.
    assert "fault     none (the lab is down)" in after.stdout and "no-auth" not in after.stdout
    assert raygate("lab", "down", cwd=tmp_path).stdout.strip() == "nothing was running"


def test_down_never_touches_a_reused_pid(tmp_path: Path) -> None:
    """State from a lab whose processes died (a reboot, a crash): the recorded pids now belong
    to someone else's processes, which ``down`` must leave alone."""
    from raygate.lab.control import LabState, down, save_state, status
    from raygate.lab.ray_head import RayHead, proc_start_time

    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                start_new_session=True)
    try:
        wrong_start = (proc_start_time(stranger.pid) or 0) + 12345
        head = RayHead(stranger.pid, 1, 2, 3, 4, 5, str(tmp_path), str(tmp_path), True,
                       start_time=wrong_start)
        save_state(tmp_path, LabState(ray=head, nginx_pid=stranger.pid,
                                      nginx_start_time=wrong_start))
        info = status(tmp_path)
        assert not info.ray_running and not info.nginx_running
        assert down(tmp_path) == []
        assert stranger.poll() is None  # still running
    finally:
        stranger.kill()
        stranger.wait()
