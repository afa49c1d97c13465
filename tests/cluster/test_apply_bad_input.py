"""Bad input for ``raygate apply`` and ``doctor``: one line, exit 2, no traceback, and never a
half-applied gateway without saying exactly what was written and how to finish or undo."""

from __future__ import annotations

from pathlib import Path

import pytest

from raygate.cli import main
from tests.cluster import world
from tests.cluster.test_apply import _spec_file
from tests.fakeapi.server import FakeApiServer

DASHBOARD = "ray-cluster-kuberay-dashboard"


@pytest.fixture
def cluster(fake_api: FakeApiServer) -> FakeApiServer:
    world.install(fake_api)
    return fake_api


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return int(e.value.code), err


def _apply_args(server: FakeApiServer, tmp_path: Path) -> list[str]:
    return ["apply", "-f", str(_spec_file(tmp_path)), "--kubeconfig", server.kubeconfig_path,
            "--no-wait", "--force-conflicts"]


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("raygate: error:")]


@pytest.mark.parametrize("command", ["apply", "doctor"])
def test_kubeconfig_that_points_nowhere(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        command: str) -> None:
    missing = tmp_path / "no-such-kubeconfig"
    args = ["apply", "-f", str(_spec_file(tmp_path))] if command == "apply" else ["doctor"]
    code, err = _run([*args, "--kubeconfig", str(missing)], capsys)
    assert code == 2
    [line] = _error_lines(err)
    assert line.startswith(f"raygate: error: kubeconfig {missing}: ") and "not found" in line
    # A kubeconfig whose server is not listening.
    dead = tmp_path / "dead"
    dead.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                    "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
                    "users: [{name: u, user: {token: t}}]\n"
                    "contexts: [{name: c, context: {cluster: c, user: u}}]\n")
    code, err = _run([*args, "--kubeconfig", str(dead)], capsys)
    assert code == 2
    lines = _error_lines(err)
    assert len(lines) == 1 and "cannot reach the Kubernetes API at http://127.0.0.1:9" in lines[0]


def test_403_on_one_kind_is_refused_before_anything_is_written(
        cluster: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster.forbid("Ingress", verbs=["patch"])
    rv = cluster.resource_version
    code, err = _run(_apply_args(cluster, tmp_path), capsys)
    assert code == 2
    [line] = _error_lines(err)
    assert f"apply Ingress/{world.RAY_NS}/" in line and "403 Forbidden" in line
    assert 'cannot patch resource "ingresses"' in line
    assert cluster.resource_version == rv  # the dry runs found it: nothing written


@pytest.mark.parametrize("code_, reason", [(409, "Conflict"), (500, "InternalError")])
def test_failure_mid_apply_names_what_was_written(cluster: FakeApiServer, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  code_: int, reason: str) -> None:
    # Let the dry run of the dashboard Ingress through, fail its real apply.
    cluster.inject(code_, verb="patch", kind="Ingress", name=DASHBOARD, after=1)
    args = _apply_args(cluster, tmp_path)
    code, err = _run(args, capsys)
    assert code == 2
    [line] = _error_lines(err)
    assert f"apply Ingress/{world.RAY_NS}/{DASHBOARD}: {code_} {reason}" in line
    assert "apply stopped after writing" in line
    written = line.split("object(s): ", 1)[1].split("; to finish", 1)[0].split(", ")
    # Exactly the objects that are now in the cluster with this gateway's marks.
    assert "ConfigMap/ingress-nginx/tcp-services" in written
    assert f"Ingress/{world.RAY_NS}/{DASHBOARD}" not in written
    assert cluster.get("Ingress", world.RAY_NS, DASHBOARD) is None
    for ref in written:
        kind, *rest = ref.split("/")
        ns, name = (rest if len(rest) == 2 else (None, rest[0]))
        assert cluster.get(kind, ns, name) is not None, ref
    assert f"re-run `raygate apply -f {args[2]} --kubeconfig {cluster.kubeconfig_path} " \
           "--force-conflicts`" in line
    assert "--prune" in line
    # The command it names finishes the job.
    code, err = _run(args, capsys)
    assert code == 0, err
    assert cluster.get("Ingress", world.RAY_NS, DASHBOARD) is not None


def test_doctor_500_on_a_list_is_one_line(cluster: FakeApiServer, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    cluster.inject(500, verb="list", kind="Service")
    code, err = _run(["doctor", "--kubeconfig", cluster.kubeconfig_path], capsys)
    assert code == 2
    [line] = _error_lines(err)
    assert "LIST services: 500 InternalError" in line or "LIST services: HTTP 500" in line


def test_failure_of_a_prune_delete_names_it(cluster: FakeApiServer, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    serve = _spec_file(tmp_path, serve={"path": "/serve"})
    args = ["apply", "-f", str(serve), "--kubeconfig", cluster.kubeconfig_path, "--no-wait",
            "--force-conflicts"]
    assert _run(args, capsys)[0] == 0
    [name] = [i["metadata"]["name"] for i in cluster.objects("Ingress", world.RAY_NS)
              if "serve" in i["metadata"]["name"]]
    cluster.inject(500, verb="delete", kind="Ingress")
    # The same spec without Serve, with --prune: the Serve Ingress's DELETE fails.
    code, err = _run(["apply", "-f", str(_spec_file(tmp_path)), "--kubeconfig",
                      cluster.kubeconfig_path, "--no-wait", "--force-conflicts", "--prune"], capsys)
    assert code == 2
    [line] = _error_lines(err)
    assert f"delete Ingress/{world.RAY_NS}/{name}: 500 InternalError" in line
    # Every object it applied was unchanged: nothing was written, so none is named.
    assert "apply stopped after writing" not in line
    assert cluster.get("Ingress", world.RAY_NS, name) is not None


def test_prune_lists_a_kind_not_served_in_a_version_and_goes_on(
        cluster: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real API server answers a LIST of a resource its group version does not serve (TCPRoute
    v1 before Gateway API v1.6) with a 404 Status; --prune skips that kind and goes on."""
    args = _apply_args(cluster, tmp_path) + ["--prune"]
    cluster.inject(404, verb="list", kind="TCPRoute", times=10, reason="NotFound",
                   message="the server could not find the requested resource")
    code, err = _run(args, capsys)
    assert code == 0, err
    assert cluster.count(verb="list", kind="ListenerSet") > 0  # the kinds after it were listed


def test_prune_list_failure_is_one_line(cluster: FakeApiServer, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    # The first ListenerSet LIST is apply's read of the live cluster before planning
    # (apply.load_live: every kind doctor reads); the next one is --prune's.
    cluster.inject(500, verb="list", kind="ListenerSet", after=1)
    code, err = _run(_apply_args(cluster, tmp_path) + ["--prune"], capsys)
    assert code == 2
    [line] = _error_lines(err)
    assert "LIST ListenerSet for --prune: 500 InternalError" in line


def test_a_failed_read_before_writing_is_one_line_naming_the_object(
        cluster: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster.inject(500, verb="get", kind="Deployment", name=world.CTRL)
    rv = cluster.resource_version
    code, err = _run(_apply_args(cluster, tmp_path), capsys)
    assert code == 2
    [line] = _error_lines(err)
    assert f"GET Deployment/{world.CTRL}: 500 InternalError" in line, line
    assert "etcdserver: request timed out" in line
    assert cluster.resource_version == rv  # it stopped before writing anything
