"""bench/fidelity.py: the report's arithmetic on real cases, and --check's exit status."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests import verdicts

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fidelity():
    spec = importlib.util.spec_from_file_location("fidelity", ROOT / "bench" / "fidelity.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fidelity"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_controller_cases_parse_and_agree_on_upstream_tests() -> None:
    cases = verdicts.controller_cases()
    assert len(cases) >= 3
    for case in cases:
        assert "@controller-v1.15.1" in case.source, case.name
        result = verdicts.judge_controller_case(case)
        assert result.agrees, (case.name, result)


def test_a_case_whose_expected_code_does_not_fire_disagrees(tmp_path: Path) -> None:
    src = verdicts.CONTROLLER_CASES / "proxy-body-size-2k.yaml"
    text = src.read_text().replace("fires: [RG210]", "fires: [RG101]")
    (tmp_path / "wrong.yaml").write_text(text)
    [case] = verdicts.controller_cases(tmp_path)
    result = verdicts.judge_controller_case(case)
    assert not result.agrees and result.missing == ["RG101"]
    # Line numbers of the objects survive the header: the Ingress's annotation is found.
    assert "RG210" in result.codes


def test_empty_controller_directory_is_not_measured(fidelity, tmp_path: Path) -> None:
    lines, targets = fidelity.controller_section(
        [(c, verdicts.judge_controller_case(c)) for c in verdicts.controller_cases(tmp_path)])
    assert targets[0].met is None
    assert "not measured" in "\n".join(lines)


def test_report_counts_named_root_causes_and_false_alarms(fidelity) -> None:
    rows = [(v, verdicts.judge_thread(v)) for v in verdicts.thread_verdicts()]
    lines, targets = fidelity.thread_section(rows)
    broken = [v for v, _ in rows if not v.working]
    named = sum(1 for v, j in rows if not v.working and j.named)
    assert targets[0].value == f"{named}/{len(broken)}"
    # A pending behaviour is never counted as named.
    assert all(not j.named for v, j in rows if v.pending)
    text = "\n".join(lines)
    for v, _ in rows:
        assert v.thread in text


def test_check_fails_when_a_target_is_not_met(fidelity, tmp_path: Path) -> None:
    out = tmp_path / "fidelity.md"
    assert fidelity.main(["--skip-speed", "--output", str(out)]) == 0
    text = out.read_text()
    assert "bench/fidelity.py" in text and "| target | measured | met |" in text
    # Speed not measured is a missed target for --check.
    assert fidelity.main(["--skip-speed", "--check", "--output", str(out)]) == 1
