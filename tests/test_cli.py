"""The CLI surface: entry points, --version, and --help that teaches on every command."""

from __future__ import annotations

import shutil
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
