"""Reports are checked against schemas, and the CLI's exit codes and suppressions hold."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from raygate import engine, report
from raygate.sources.files import load_paths

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "examples" / "seed-broken"


@pytest.fixture(scope="module")
def broken_result():
    loaded = load_paths([str(BROKEN)])
    return engine.run(loaded.objects, files=loaded.files)


def test_json_report_matches_its_documented_schema(broken_result) -> None:
    schema = json.loads(resources.files("raygate.report").joinpath("findings.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = json.loads(report.formatter("json")(broken_result))
    jsonschema.validate(doc, schema)
    assert doc["findings"], "the broken example must have findings"
    first = doc["findings"][0]
    assert first["location"]["line"] >= 1 and first["object"]["kind"]


def test_sarif_report_is_what_github_code_scanning_accepts(broken_result) -> None:
    from sarif_pydantic import Sarif

    doc = json.loads(report.formatter("sarif")(broken_result))
    schema = json.loads((ROOT / "tests/data/sarif-github-requirements.schema.json").read_text())
    jsonschema.validate(doc, schema, format_checker=jsonschema.FormatChecker())
    Sarif.model_validate(doc)  # typed SARIF 2.1.0 model
    run = doc["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids == sorted(ids) and len(ids) == len(broken_result.rules)
    for res in run["results"]:
        assert run["tool"]["driver"]["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith("/")
    assert len({r["partialFingerprints"]["raygateFinding/v1"] for r in run["results"]}) == len(run["results"])


def test_text_report_groups_findings_by_the_guides_layers(broken_result) -> None:
    text = report.formatter("text")(broken_result)
    layers = [line.split(":")[0] for line in text.splitlines() if line.endswith(")") and "layer" in line]
    assert layers == sorted(layers, key=["Security layer", "Protocol layer", "Infrastructure layer"].index)
    assert "fix:" in text and "examples/seed-broken/ingress.yaml:" in text


def lint(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raygate", "lint", *args], capture_output=True,
                          text=True, cwd=cwd, input=stdin, timeout=60)


SNIPPET = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: s
  namespace: ray
  annotations:
    nginx.ingress.kubernetes.io/configuration-snippet: "more_set_headers x;"
spec: {ingressClassName: nginx}
"""


def test_exit_codes_follow_fail_on() -> None:
    assert lint("-", stdin=SNIPPET).returncode == 1
    assert lint("-", "--fail-on", "never", stdin=SNIPPET).returncode == 0
    assert lint("-", "--ignore", "snippet-annotation", stdin=SNIPPET).returncode == 0
    assert lint("-", "--select", "RG1", "--ignore", "RG101", stdin=SNIPPET).returncode == 0


def test_suppression_by_annotation_is_counted() -> None:
    text = SNIPPET.replace("  annotations:\n", "  annotations:\n    raygate.io/ignore: \"RG101\"\n")
    proc = lint("-", "-o", "json", stdin=text)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["summary"]["suppressed"] >= 1
    assert not [f for f in doc["findings"] if f["rule"] == "RG101"]


def test_project_config_is_found_upward_from_the_inputs(tmp_path: Path) -> None:
    (tmp_path / ".raygate.yaml").write_text(
        "fail-on: never\nsuppress:\n  - rules: [snippet-annotation]\n    kind: Ingress\n    name: s\n    reason: test\n")
    sub = tmp_path / "manifests"
    sub.mkdir()
    (sub / "i.yaml").write_text(SNIPPET)
    proc = lint(str(sub), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert not [f for f in json.loads(proc.stdout)["findings"] if f["rule"] == "RG101"]
    assert ".raygate.yaml" in proc.stderr
    assert lint(str(sub), "--no-config").returncode == 1


def test_invalid_project_config_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".raygate.yaml").write_text("fail_on: warning\n")
    (tmp_path / "i.yaml").write_text(SNIPPET)
    proc = lint(str(tmp_path / "i.yaml"))
    assert proc.returncode == 2 and "unknown key(s) ['fail_on']" in proc.stderr


def test_config_option_names_the_project_config(tmp_path: Path) -> None:
    cfg = tmp_path / "elsewhere" / "ci.yaml"
    cfg.parent.mkdir()
    cfg.write_text("ignore: [RG101]\nfail-on: info\n")
    (tmp_path / "i.yaml").write_text(SNIPPET)
    proc = lint(str(tmp_path / "i.yaml"), "--config", str(cfg), "-o", "json")
    doc = json.loads(proc.stdout)
    assert not [f for f in doc["findings"] if f["rule"] == "RG101"]
    assert str(cfg) in proc.stderr
    # fail-on: info from the config: the remaining info/warning findings now fail the run.
    assert proc.returncode == (1 if doc["findings"] else 0)
    assert lint(str(tmp_path / "i.yaml")).returncode == 1  # without it, RG101 counts again


def test_unknown_rule_in_ignore_annotation_is_a_notice() -> None:
    text = SNIPPET.replace("  annotations:\n",
                           "  annotations:\n    raygate.io/ignore: \"RG101, unmapped-tcp-port\"\n")
    proc = lint("-", "-o", "json", stdin=text)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    assert "names no rule 'unmapped-tcp-port'" in proc.stderr
    assert any("unmapped-tcp-port" in n for n in doc["notices"])
    assert not any("no rule 'RG101'" in n for n in doc["notices"])


def test_reports_say_when_an_input_was_not_checked(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: [x\n")
    loaded = load_paths([str(tmp_path / "bad.yaml")])
    result = engine.run(loaded.objects, files=loaded.files, problems=loaded.problems)
    text = report.formatter("text")(result)
    line = loaded.problems[0].line
    assert "Inputs not checked (1)" in text and f"bad.yaml:{line}: invalid YAML" in text
    doc = json.loads(report.formatter("sarif")(result))
    schema = json.loads((ROOT / "tests/data/sarif-github-requirements.schema.json").read_text())
    jsonschema.validate(doc, schema)
    invocation = doc["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    note = invocation["toolExecutionNotifications"][0]
    assert "invalid YAML" in note["message"]["text"]
    assert note["locations"][0]["physicalLocation"]["region"]["startLine"] == line


@pytest.mark.parametrize("config, needle", [
    ("suppress:\n  - rules: [101]\n", "rules must be a non-empty list"),
    ("suppress:\n  - rules: [RG101]\n    name: 5\n", "name must be a string"),
    ("suppress: {rules: RG101}\n", "suppress must be a list"),
    ("suppress:\n  - rules: [snippet-anotation]\n", "unknown rule selector(s): snippet-anotation"),
])
def test_bad_suppressions_are_clear_errors_not_tracebacks(tmp_path: Path, config: str,
                                                           needle: str) -> None:
    (tmp_path / ".raygate.yaml").write_text(config)
    (tmp_path / "i.yaml").write_text(SNIPPET)
    proc = lint(str(tmp_path / "i.yaml"))
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_suppression_entries_take_layers_and_ignore_empty_items(tmp_path: Path) -> None:
    # "RG101," once made an empty entry that matched every rule of the object.
    (tmp_path / ".raygate.yaml").write_text('suppress:\n  - rules: "RG101,"\n')
    (tmp_path / "i.yaml").write_text(SNIPPET.replace(
        "  annotations:\n", "  annotations:\n    nginx.ingress.kubernetes.io/proxy-body-size: 100Mi\n"))
    doc = json.loads(lint(str(tmp_path / "i.yaml"), "-o", "json").stdout)
    assert doc["summary"]["suppressed"] == 1
    assert [f["rule"] for f in doc["findings"]] == ["RG103"]
    (tmp_path / ".raygate.yaml").write_text("suppress:\n  - rules: [security]\n    name: s\n")
    doc = json.loads(lint(str(tmp_path / "i.yaml"), "-o", "json").stdout)
    assert not [f for f in doc["findings"] if f["layer"] == "security"]
    assert doc["summary"]["suppressed"] >= 1
