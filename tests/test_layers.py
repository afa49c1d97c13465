"""The package's layering, as docs/architecture.md states it, checked on the imports.

The pure core must not import the edges (sources, probe, lab, doctor, apply, cli), and a rule
module must not import another rule module (shared knowledge lives in the domain modules or a
layer's ``_topic.py`` helper). Imports inside functions count too: a lazy import is still a
dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "raygate"
EDGES = ("raygate.sources", "raygate.probe", "raygate.lab", "raygate.doctor", "raygate.apply",
         "raygate.cli", "raygate.operator.reconciler", "raygate.operator.leader",
         "raygate.operator.loop", "raygate.operator.metrics", "raygate.operator.probing",
         "raygate.operator.transport")
CORE = ["records.py", "objects.py", "backends", "model", "kuberay.py", "runtime.py",
        "findings.py", "engine.py", "catalog_docs.py", "config.py", "spec.py", "errors.py",
        "rules", "report", "render", "migrate.py", "ownership.py",
        # The operator decides in pure modules; reconciler/leader/loop/metrics/probing are edges.
        "operator/settings.py", "operator/allocations.py", "operator/desired.py",
        "operator/placement.py"]


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names]
    return found


def core_files() -> list[Path]:
    files: list[Path] = []
    for entry in CORE:
        p = SRC / entry
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return files


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_does_not_import_the_edges(path: Path) -> None:
    bad = [m for m in imported_modules(path) if m.startswith(EDGES)]
    assert not bad, f"{path.relative_to(SRC)} imports edge modules {bad}"


def test_rule_modules_do_not_import_each_other() -> None:
    rule_files = [p for layer in ("security", "protocol", "infrastructure")
                  for p in (SRC / "rules" / layer).glob("*.py") if not p.name.startswith("_")]
    assert len(rule_files) > 30
    names = {f"raygate.rules.{p.parent.name}.{p.stem}" for p in rule_files}
    for path in rule_files:
        bad = [m for m in imported_modules(path) if m in names]
        assert not bad, f"{path.relative_to(SRC)} imports rule modules {bad}"
