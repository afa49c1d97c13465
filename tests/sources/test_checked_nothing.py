"""Point 2 of issue 12: a run that checked nothing is never green.

Every case is the real CLI in a subprocess, as CI runs it: no objects read is exit 2 with what
was skipped and why; a mistyped path is one error and no summary; chart and kustomize
directories are recognised (and kustomize ones rendered by the real `kubectl kustomize`).
"""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SNIPPET_INGRESS = (ROOT / "examples" / "seed-broken" / "ingress.yaml").read_text()


def lint(*args: str, stdin: str | None = "", cwd: Path | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raygate", "lint", *args], input=stdin,
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("case", ["empty-stdin", "empty-dir", "helm-template-only",
                                  "non-kubernetes-yaml", "whitespace-stdin"])
def test_no_kubernetes_objects_is_exit_2_with_what_was_skipped(tmp_path: Path, case: str) -> None:
    stdin = ""
    args: list[str] = ["-"]
    if case == "whitespace-stdin":
        stdin = "\n  \n"
    elif case == "empty-dir":
        args = [str(tmp_path)]
    elif case == "helm-template-only":
        (tmp_path / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n"
                                           "  name: {{ .Release.Name }}\n  labels: {{- x }}\n")
        args = [str(tmp_path)]
    elif case == "non-kubernetes-yaml":
        (tmp_path / "values.yaml").write_text("replicaCount: 2\nimage: {tag: latest}\n")
        args = [str(tmp_path)]
    proc = lint(*args, stdin=stdin)
    assert proc.returncode == 2, proc.stderr
    assert "no Kubernetes objects read" in proc.stderr and "nothing was checked" in proc.stderr
    assert "No findings" not in proc.stdout + proc.stderr
    why = {"empty-stdin": "stdin was empty", "whitespace-stdin": "stdin was empty",
           "empty-dir": "no *.yaml", "helm-template-only": "unrendered Helm",
           "non-kubernetes-yaml": "without apiVersion and kind"}[case]
    assert why in proc.stderr


def test_allow_empty_is_the_explicit_way_to_accept_checking_nothing() -> None:
    proc = lint("-", "--allow-empty", stdin="")
    assert proc.returncode == 0 and "No findings in 0 objects" in proc.stdout


def test_a_mistyped_path_is_one_error_and_no_report(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "ingress.yaml").write_text(SNIPPET_INGRESS)
    proc = lint("manfests/", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "raygate: error: manfests/: no such file or directory (did you mean manifests?)"]
    # With a good path beside it, still one error and nothing checked half-way.
    proc = lint("manifests/", "missing.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == "" and len(proc.stderr.splitlines()) == 1


def test_lint_dash_on_a_terminal_says_it_reads_stdin() -> None:
    """Through a real pseudo-terminal: the user typed `raygate lint -` and nothing happens."""
    pid, fd = pty.fork()
    if pid == 0:  # child: stdin/stdout/stderr are the pty
        os.execv(sys.executable, [sys.executable, "-m", "raygate", "lint", "-", "--no-color"])
    seen = b""
    try:
        while b"reading manifests from stdin" not in seen:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
        os.write(fd, b"\x04")  # Ctrl-D: end of input
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    text = seen.decode(errors="replace")
    assert "reading manifests from stdin (end with Ctrl-D" in text
    assert os.waitstatus_to_exitcode(status) == 2 and "stdin was empty" in text


def test_piped_stdin_gets_no_terminal_notice() -> None:
    proc = lint("-", stdin=SNIPPET_INGRESS)
    assert proc.returncode == 1 and "reading manifests from stdin" not in proc.stderr


def test_helm_chart_directory_gives_the_command_to_pipe(tmp_path: Path) -> None:
    chart = tmp_path / "charts" / "ray"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: ray\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicas: 1\n")
    (chart / "templates" / "svc.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n")
    env = {"PATH": str(tmp_path / "no-tools")}  # no helm here, whatever the machine has
    proc = lint(str(tmp_path / "charts"), env=env)
    assert proc.returncode == 2
    assert f"helm template {chart} | raygate lint -" in proc.stderr
    # The chart is one notice, not one per template or values file.
    assert proc.stderr.count("notice:") == 1


@pytest.mark.skipif(not (shutil.which("kubectl") or shutil.which("kustomize")),
                    reason="needs kubectl or kustomize to render")
def test_kustomize_directory_is_rendered_when_the_tool_is_installed(tmp_path: Path) -> None:
    (tmp_path / "ingress.yaml").write_text(SNIPPET_INGRESS)
    (tmp_path / "kustomization.yaml").write_text(
        "resources:\n- ingress.yaml\nnamespace: ray-prod\n")
    proc = lint(str(tmp_path), "-o", "json")
    assert proc.returncode == 1, proc.stderr
    assert "rendered the kustomize directory" in proc.stderr
    import json
    doc = json.loads(proc.stdout)
    # The kustomization's namespace transformer ran: this is the rendered object.
    assert {f["object"]["namespace"] for f in doc["findings"]} == {"ray-prod"}
    assert "RG101" in {f["rule"] for f in doc["findings"]}


def test_kustomize_directory_without_tools_gives_the_command(tmp_path: Path) -> None:
    (tmp_path / "ingress.yaml").write_text(SNIPPET_INGRESS)
    (tmp_path / "kustomization.yaml").write_text("resources:\n- ingress.yaml\n")
    proc = lint(str(tmp_path), env={"PATH": str(tmp_path / "no-tools")})
    assert proc.returncode == 2
    assert f"kustomize build {tmp_path} | raygate lint -" in proc.stderr


def _stub_helm(bin_dir: Path, script: str) -> None:
    """A `helm` on PATH for this test only: helm itself is not installed here, and what is
    tested is raygate's handling (the command it runs, labelling, failures), not helm."""
    bin_dir.mkdir(exist_ok=True)
    helm = bin_dir / "helm"
    helm.write_text("#!/bin/sh\n" + script)
    helm.chmod(0o755)


def test_helm_chart_is_rendered_when_helm_is_installed(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: ray\nversion: 0.1.0\n")
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(SNIPPET_INGRESS)
    _stub_helm(tmp_path / "bin", f'[ "$1" = template ] && [ "$2" = "{chart}" ] && cat {rendered}\n')
    path = f"{tmp_path / 'bin'}:{os.environ['PATH']}"
    proc = lint(str(chart), "-o", "concise", env={"PATH": path})
    assert proc.returncode == 1, proc.stderr
    assert f"rendered the Helm chart with `helm template {chart}`" in proc.stderr
    assert f"{chart} (helm template):10:5: RG101 [error]" in proc.stdout
    # A chart helm cannot render is an input error naming the command and helm's words.
    _stub_helm(tmp_path / "bin", 'echo "Error: chart requires kubeVersion >=1.99" >&2; exit 1\n')
    failed = lint(str(chart), env={"PATH": path})
    assert failed.returncode == 2
    assert f"`helm template {chart}` exited 1: Error: chart requires kubeVersion >=1.99" in failed.stderr
