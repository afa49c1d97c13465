"""The CLI surface: entry points, --version, and --help that teaches on every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from raygate import __version__
from raygate.cli import COMMANDS, app

BIN = Path(sys.executable).parent


def test_version_from_every_entry_point() -> None:
    for cmd in ([sys.executable, "-m", "raygate", "--version"], [str(BIN / "raygate"), "--version"],
                [str(BIN / "kubectl-raygate"), "--version"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and __version__ in proc.stdout, cmd


def test_kubectl_plugin_names_itself_as_kubectl_raygate() -> None:
    proc = subprocess.run([str(BIN / "kubectl-raygate"), "--help"], capture_output=True, text=True)
    assert "Usage: kubectl raygate" in proc.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_examples(name: str) -> None:
    assert name in app.list_commands(None), f"`raygate {name}` is registered but missing"  # type: ignore[arg-type]
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.output and f"raygate {name}" in result.output


def test_unknown_command_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "raygate", "lnt"], capture_output=True, text=True)
    assert proc.returncode == 2 and "No such command 'lnt'" in proc.stderr


# What users paste, verbatim from the real systems (shared/facts and the seed guide), and the
# rule `raygate explain --error` must name for each.
REAL_ERRORS = [
    # The seed guide's kubectl output, and the webhook's denial texts (ingress_nginx.md §1.3).
    # (The seed guide's "denied the request: risky annotation" is not a text the controller
    # prints; the real ones are below, quoted from controller.go and errors.go at v1.15.1.)
    ('Error from server (BadRequest): error when creating "ingress.yaml": admission webhook '
     '"validate.nginx.ingress.kubernetes.io" denied the request: annotation group '
     "ConfigurationSnippet contains risky annotation based on ingress configuration", "RG101"),
    ('admission webhook "validate.nginx.ingress.kubernetes.io" denied the request: '
     "nginx.ingress.kubernetes.io/configuration-snippet annotation cannot be used. Snippet "
     "directives are disabled by the Ingress administrator", "RG101"),
    ('admission webhook "validate.nginx.ingress.kubernetes.io" denied the request: annotation '
     "group ExternalAuth contains risky annotation based on ingress configuration", "RG102"),
    ('admission webhook "validate.nginx.ingress.kubernetes.io" denied the request: ingress '
     "contains invalid paths: path /ray(/|$)(.*) cannot be used with pathType Prefix", "RG207"),
    ("admission webhook \"validate.nginx.ingress.kubernetes.io\" denied the request: annotation "
     "nginx.ingress.kubernetes.io/x-forwarded-prefix contains invalid value", "RG103"),
    # The controller's TCP endpoint log line: as klog prints it, and as the guide quotes it.
    ('W0312 10:00:00.000000       7 controller.go:1156] Service '
     '"raycluster/ray-cluster-kuberay-head-svc" does not have any active Endpoint for TCP port 9000',
     "RG202"),
    ("Service does not have any active Endpoint for TCP port 9000.", "RG202"),
    ("Port 443 cannot be used for TCP stream services. It is reserved for the Ingress controller.",
     "RG203"),
    # Ray's 413 (feasibility.md §B), whole and as its first line.
    ("RuntimeError: Request failed with status code 413: <html>\n<head><title>413 Request Entity "
     "Too Large</title></head>\n<body>\n<center><h1>413 Request Entity Too Large</h1></center>\n"
     "<hr><center>nginx/1.22.1</center>\n</body>\n</html>\n.", "RG210"),
    ("Request Entity Too Large", "RG210"),
    # Ray's own 413 (aiohttp client_max_size on the Dashboard) is not nginx's.
    ("RuntimeError: Request failed with status code 413: Maximum request body size 104857600 "
     "exceeded.", "RG236"),
    # More of the controller's own texts (controller.go, store.go, configmap.go at v1.15.1).
    ('admission webhook "validate.nginx.ingress.kubernetes.io" denied the request: host "_" '
     'and path "/" is already defined in ingress ray/ray-dashboard', "RG235"),
    ("unexpected error merging defaults: 1 error(s) decoding:\n\n* cannot parse "
     "'proxy-read-timeout' as int: strconv.ParseInt: parsing \"3600s\": invalid syntax", "RG233"),
    # The Ray Client's timeout, with and without its exception name.
    ("ConnectionError: ray client connection timeout", "RG205"),
    ("ray client connection timeout", "RG205"),
    ("aiohttp.client_exceptions.WSServerHandshakeError: 500, message='Invalid response status', "
     "url='http://127.0.0.1:46372/ray/api/jobs/raysubmit_x/logs/tail'", "RG213"),
]


@pytest.mark.parametrize("text, code", REAL_ERRORS, ids=[f"{c}-{i}" for i, (_, c) in enumerate(REAL_ERRORS)])
def test_explain_error_finds_the_rule_behind_real_messages(text: str, code: str) -> None:
    result = CliRunner().invoke(app, ["explain", "--error", text])
    assert result.exit_code == 0, result.output
    assert f"{code} " in result.output


def test_explain_error_refuses_vague_fragments() -> None:
    # One generic word must not list half the catalog as "the rule behind" it.
    result = CliRunner().invoke(app, ["explain", "--error", "timeout"])
    assert result.exit_code == 1 and "No rule matches" in result.output


# -- one meaning per flag (issue 12, point 4) ----------------------------------------------------

@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_f_is_an_input_and_o_an_output_format_on_every_command(name: str) -> None:
    import importlib
    command = importlib.import_module(f"raygate.cli.{COMMANDS[name][0]}").command
    import click
    visible = {opt: p for p in command.params if isinstance(p, click.Option) and not p.hidden
               for opt in p.opts}
    if "-f" in visible:
        assert "--filename" in visible["-f"].opts, (name, visible["-f"].opts)
    if "-o" in visible:
        assert "--output" in visible["-o"].opts and "format" in (visible["-o"].help or "").lower()
    assert "--format" not in visible, f"raygate {name}: --format is the old spelling of -o"


@pytest.mark.parametrize("args,old,new", [
    (["rules", "--format", "json"], "-f/--format json", "-o json"),
    (["rules", "-f", "markdown"], "-f/--format markdown", "-o markdown"),
    (["render", "--auth-mode", "token", "--format", "helm-values"], "--format helm-values",
     "-o helm-values"),
])
def test_old_spellings_work_with_a_deprecation_notice(args: list[str], old: str, new: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "raygate", *args], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"raygate: deprecated: {old} -> use {new}" in proc.stderr
    new_proc = subprocess.run([sys.executable, "-m", "raygate", *args[:-2], *new.split()],
                              capture_output=True, text=True, timeout=60)
    assert new_proc.returncode == 0 and new_proc.stdout == proc.stdout
    assert "deprecated" not in new_proc.stderr


def test_shell_completion_completes_commands_and_formats() -> None:
    """The documented completion (click's _RAYGATE_COMPLETE) works through the lazy group."""
    import os

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_RAYGATE_COMPLETE": "bash_complete", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
        proc = subprocess.run([str(BIN / "raygate")], env=env, capture_output=True, text=True,
                              timeout=60)
        return [line.split(",", 1)[1] for line in proc.stdout.splitlines() if "," in line]

    assert complete("raygate li") == ["lint"]
    assert set(complete("raygate lint -o ")) == {"text", "concise", "json", "sarif", "github", "junit"}
    script = subprocess.run([str(BIN / "raygate")], env={**os.environ, "_RAYGATE_COMPLETE": "bash_source"},
                            capture_output=True, text=True, timeout=60).stdout
    assert "_raygate_completion" in script


# -- the lab tells the story (issue 12, point 5) -------------------------------------------------

def test_every_lab_fault_names_the_probe_check_that_catches_it() -> None:
    from raygate.lab.gateway import FAULT_PROBE, FAULTS
    # Every fault that reaches nginx has a check; the snippet fault is refused before.
    assert set(FAULT_PROBE) == set(FAULTS) - {"snippet"}
    from raygate.probe import ProbeOptions
    from raygate.probe.runner import planned_checks
    everything = planned_checks(ProbeOptions("http://gw/ray/", client="gw:10001", serve="/serve",
                                             submit=True))
    for fault, (check, needs_submit) in FAULT_PROBE.items():
        assert check in everything, (fault, check)
        without_submit = planned_checks(ProbeOptions("http://gw/ray/", client="gw:10001",
                                                     serve="/serve"))
        assert (check not in without_submit) == needs_submit, fault
    # The end-to-end fault table (real nginx and Ray) agrees with what lab up prints.
    from tests.e2e.test_lab_faults import EXPECTED
    for fault, (opts, check, _) in EXPECTED.items():
        assert FAULT_PROBE[fault] == (check, bool(opts.get("submit"))), fault


def test_lab_status_after_down_shows_no_stale_fault(tmp_path: Path) -> None:
    from raygate.lab.control import LabState, state_path
    state_dir = tmp_path / "lab"
    state_dir.mkdir()
    # What `lab down` leaves behind: the last state, its processes gone.
    state_path(state_dir).write_text(LabState(nginx_pid=2**22 + 7, fault="gcs-exposed",
                                              nginx_start_time=1).to_json())
    proc = subprocess.run([sys.executable, "-m", "raygate", "lab", "status", "--state-dir",
                           str(state_dir)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "fault     none (the lab is down)" in proc.stdout and "gcs-exposed" not in proc.stdout
