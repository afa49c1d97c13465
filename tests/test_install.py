"""Install and run where people run linters (issue 12, point 1).

The wheel is built from a copy of the source tree and installed into a clean virtualenv
(no raygate anywhere on its path); the pre-commit hook manifest is run by the real
pre-commit through `pre-commit try-repo` on a scratch git repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BROKEN_INGRESS = (ROOT / "examples" / "seed-broken" / "ingress.yaml").read_text()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns(
        "__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the test extra pins setuptools/wheel, so no download is needed.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(src)], check=True, capture_output=True, timeout=600)
    (built,) = out.glob("raygate-*.whl")
    return built


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_clean_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # Install the wheel itself with this interpreter's pip (the venv has none); its
    # dependencies come from this test run's environment through a path entry, which
    # processes no .pth files there, so the editable raygate of the checkout stays out.
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(site), str(wheel)], check=True, capture_output=True, timeout=300)
    # pip --target puts console scripts under site/bin; a venv expects them in bin/.
    for script in ("raygate", "kubectl-raygate"):
        target = env_dir / "bin" / script
        shutil.move(site / "bin" / script, target)
        text = target.read_text().splitlines()
        target.write_text("\n".join([f"#!{py}", *text[1:]]) + "\n")
        target.chmod(0o755)
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "ingress.yaml").write_text(BROKEN_INGRESS)
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    where = subprocess.run([str(py), "-c", "import raygate; print(raygate.__file__)"], cwd=work,
                           env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site)), where
    for exe in ("raygate", "kubectl-raygate"):
        proc = subprocess.run([exe, "--version"], cwd=work, env=env, capture_output=True, text=True)
        assert proc.returncode == 0 and "0.1.0" in proc.stdout, proc.stderr
    lint = subprocess.run(["raygate", "lint", "ingress.yaml", "-o", "json"], cwd=work, env=env,
                          capture_output=True, text=True)
    assert lint.returncode == 1, lint.stderr
    assert "RG101" in {f["rule"] for f in json.loads(lint.stdout)["findings"]}
    # Package data shipped: the shipped schemas catch a decoding error.
    (work / "bad.yaml").write_text(BROKEN_INGRESS.replace("spec:", "spec:\n  rulez: []", 1))
    bad = subprocess.run(["raygate", "lint", "bad.yaml"], cwd=work, env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown field 'rulez'" in bad.stderr


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")
def test_pre_commit_hook_runs_through_pre_commit_try_repo(tmp_path: Path) -> None:
    pre_commit = BIN / "pre-commit"
    if not pre_commit.exists():
        pytest.skip("pre-commit is not installed (it is in the test extra)")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"raygate", "raygate-system"}
    # The hook repository: just the manifest (the system hook runs the raygate on PATH).
    hook_repo = tmp_path / "hook-repo"
    hook_repo.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hook_repo)
    _git(hook_repo, "init", "-q")
    _git(hook_repo, "add", ".")
    _git(hook_repo, "commit", "-q", "-m", "hooks")
    # A user's repository with manifests and other YAML.
    user = tmp_path / "user"
    (user / "deploy").mkdir(parents=True)
    (user / "deploy" / "ingress.yaml").write_text(BROKEN_INGRESS)
    (user / "ci.yaml").write_text("stages: [test]\n")
    _git(user, "init", "-q")
    _git(user, "add", ".")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
           "PRE_COMMIT_HOME": str(tmp_path / "cache")}

    def try_repo(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(pre_commit), "try-repo", str(hook_repo), "raygate-system",
                               "--files", *files], cwd=user, env=env, capture_output=True,
                              text=True, timeout=300)

    failing = try_repo("deploy/ingress.yaml", "ci.yaml")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "deploy/ingress.yaml:10:5: RG101 [error]" in failing.stdout
    # Only non-Kubernetes YAML changed: nothing to check is a pass for a commit hook.
    passing = try_repo("ci.yaml")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    manifest = subprocess.run([str(BIN / "pre-commit"), "validate-manifest",
                               str(ROOT / ".pre-commit-hooks.yaml")], capture_output=True, text=True)
    assert manifest.returncode == 0, manifest.stdout + manifest.stderr


def test_krew_manifest_and_dockerfile_name_what_exists() -> None:
    krew = yaml.safe_load((ROOT / "packaging" / "krew" / "raygate.yaml").read_text())
    assert krew["kind"] == "Plugin" and krew["metadata"]["name"] == "raygate"
    [platform] = krew["spec"]["platforms"]
    assert platform["bin"] == "kubectl-raygate"
    for entry in platform["files"]:
        assert (ROOT / "packaging" / "krew" / entry["from"]).exists() or \
            (ROOT / entry["from"]).exists(), entry
    import tomllib
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert krew["spec"]["version"] == f"v{version}"
    docker = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["raygate"]' in docker and "USER raygate" in docker
    for copied in ("pyproject.toml", "README.md", "LICENSE", "src"):
        assert (ROOT / copied).exists()
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "github-actions.yaml").read_text())
    steps = workflow["jobs"]["lint"]["steps"]
    lint_step = next(s for s in steps if s.get("name") == "raygate lint")
    assert "-o sarif=raygate.sarif" in lint_step["run"]
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert upload["with"]["sarif_file"] == "raygate.sarif"
