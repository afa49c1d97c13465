"""`raygate lint` of one small file imports only what linting needs (issue 12, start-up).

A behavioural guard, not a timed one (wall-clock figures are measured by bench/startup.py and
recorded in docs/benchmarks.md): a fresh interpreter lints one file the way the console script
does, then reports which modules it imported. Each module below was once on this path, or
would be if a lazy import became eager again, and costs start-up for nothing a lint needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "examples" / "seed-broken" / "ingress.yaml"

#: Modules a lint of one file must not import, and who used to (or would) pull them in.
NOT_ON_THE_LINT_PATH = {
    "rich": "the text report writes its ANSI codes itself",
    "tempfile": "only writing a report file needs it (cli._common.write_output)",
    "shutil": "pulled in by tempfile and importlib.resources",
    "zipfile": "importlib.resources' readers",
    "importlib.resources": "the risk table and schemas are read by path",
    "subprocess": "only helm/kustomize rendering of chart directories",
    "textwrap": "rule rationales are dedented when first read, not at registration",
    "shlex": "only for Ray head commands (model.heads)",
    "lightkube": "the cluster source (doctor, apply, operator)",
    "httpx": "the cluster source and the probe",
    "jinja2": "rendering",
    "pydantic": "the raygate.yaml spec models (render, apply, migrate)",
    "asyncio": "the operator and the probe",
    "ssl": "network clients only",
    "raygate.cli.doctor": "other subcommands are imported only when run",
    "raygate.cli.render": "other subcommands are imported only when run",
    "raygate.spec": "the raygate.yaml spec (render, apply, migrate)",
    "raygate.sources.cluster": "live clusters (doctor)",
    "raygate.runtime": "runtime rules import it in check (snapshot or live state only)",
    "raygate.rules.infrastructure._placement": "node placement rules import it in check",
    "raygate.backends.gateway_api.dataplane": "Gateway API rules import it in check",
    "raygate.backends.gateway_api.implementations": "Gateway API rules import it in check",
}

SCRIPT = f"""
import dataclasses, json, sys
from raygate.cli import main
try:
    main(["lint", {str(SMALL)!r}, "-o", "concise", "-q"])
except SystemExit as e:
    code = e.code
dataclass_types = sorted(
    f"{{name}}.{{attr}}" for name, module in list(sys.modules.items()) if name.startswith("raygate")
    for attr, value in vars(module).items()
    if isinstance(value, type) and value.__module__ == name and dataclasses.is_dataclass(value))
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
sys.stderr.write("DATACLASSES " + json.dumps(dataclass_types) + "\\n")
sys.stderr.write("EXIT " + str(code) + "\\n")
"""


def _lint_run() -> tuple[set[str], list[str], str, str]:
    """(modules imported, raygate dataclasses defined, stdout, exit line) of one lint."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=120)
    lines = proc.stderr.splitlines()

    def tagged(tag: str) -> str:
        return next(line[len(tag) + 1:] for line in lines if line.startswith(tag + " "))

    return (set(json.loads(tagged("MODULES"))), json.loads(tagged("DATACLASSES")), proc.stdout,
            "EXIT " + tagged("EXIT"))


def test_lint_of_one_file_imports_only_what_it_needs() -> None:
    modules, _, stdout, exit_line = _lint_run()
    # It really linted: the seed's snippet finding is printed and the run fails on it.
    assert "RG101" in stdout and exit_line == "EXIT 1", (stdout, exit_line)
    assert "raygate.engine" in modules and "raygate.rules.security.snippet_annotation" in modules
    imported = {name: why for name, why in NOT_ON_THE_LINT_PATH.items()
                if any(m == name or m.startswith(name + ".") for m in modules)}
    assert not imported, f"imported by `raygate lint` of one file: {imported}"


def test_lint_of_one_file_defines_no_dataclass() -> None:
    """Python 3.11 compiles each dataclass's methods from source when the class is defined
    (~3.5M instructions a class): the values on the lint path are ``raygate.records`` records,
    which compile nothing. A ``@dataclass`` added to a module a lint imports shows up here."""
    modules, dataclass_types, stdout, exit_line = _lint_run()
    assert "RG101" in stdout and exit_line == "EXIT 1", (stdout, exit_line)
    assert "raygate.findings" in modules and "raygate.backends.ingress_nginx" in modules
    assert dataclass_types == [], f"use raygate.records.record for: {dataclass_types}"
