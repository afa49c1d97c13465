"""Bad input: a clear message with file and line, the rest still read, never a crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from raygate.sources.files import load_paths, load_text

GOOD = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n"


def test_syntax_error_names_the_line_and_keeps_the_other_documents() -> None:
    text = GOOD + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n---\n" + \
        GOOD.replace("ok", "after")
    res = load_text(text, "broken.yaml")
    assert [o.name for o in res.objects] == ["ok", "after"]
    assert len(res.problems) == 1
    p = res.problems[0]
    assert p.file == "broken.yaml" and p.line is not None and 8 <= p.line <= 9
    assert "invalid YAML" in p.message
    # Lines after the broken document still point at the right place.
    assert res.objects[1].origin.line == 10


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 9) + "]")
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + \
        "\n".join("  " + line for line in lines) + "\n"
    res = load_text(bomb, "bomb.yaml")
    assert not res.objects
    assert "alias" in res.problems[0].message and res.problems[0].line == 1


def test_deep_nesting_is_refused() -> None:
    deep = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: " + "[" * 5000 + "]" * 5000
    res = load_text(deep, "deep.yaml")
    assert not res.objects and res.problems and res.problems[0].file == "deep.yaml"


def test_huge_binary_and_non_utf8_files(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(GOOD * 100)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"apiVersion: v1\n\x00\x01\x02")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n")
    res = load_paths([str(big), str(binary), str(latin)], max_bytes=1000)
    msgs = {Path(p.file).name: p for p in res.problems}
    assert "over the 1,000-byte limit" in msgs["big.yaml"].message
    assert "NUL" in msgs["bin.yaml"].message and msgs["bin.yaml"].line == 2
    assert "UTF-8" in msgs["latin.yaml"].message and msgs["latin.yaml"].line == 3


def test_wrong_types_are_problems_not_crashes() -> None:
    res = load_text("apiVersion: v1\nkind: Service\nmetadata: [not, a, map]\n", "t.yaml")
    assert not res.objects and "metadata must be a mapping" in res.problems[0].message
    assert res.problems[0].obj == "Service"


def test_missing_path() -> None:
    res = load_paths(["/nonexistent/raygate.yaml"])
    assert res.problems[0].message == "no such file or directory"


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raygate", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_cli_reports_bad_input_with_exit_2_and_still_checks_the_rest(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: Ingress\nmetadata:\n  name: x\n   bad: indent\n")
    (tmp_path / "snippet.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: s\n  annotations:\n"
        "    nginx.ingress.kubernetes.io/server-snippet: x\nspec: {}\n")
    out = tmp_path / "report.json"
    proc = run_cli("lint", str(tmp_path), "-o", f"json={out}")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{tmp_path / 'bad.yaml'}:" in proc.stderr and "invalid YAML" in proc.stderr
    import json
    doc = json.loads(out.read_text())
    assert "RG101" in [f["rule"] for f in doc["findings"]]  # the good file was still checked
    assert doc["problems"][0]["file"].endswith("bad.yaml")


@pytest.mark.parametrize("args, needle", [
    (("lint",), "give files, directories, or -"),
    (("lint", "x.yaml", "--select", "RG999"), "unknown rule selector(s): RG999"),
    (("lint", "-", "-o", "xml"), "-o xml: unknown format 'xml'"),
    (("lint", "x.yaml"), "x.yaml: no such file or directory"),
    (("explain", "nope"), "no rule 'nope'"),
    (("lint", "x.yaml", "--config", "/nonexistent.yaml"), "not found"),
])
def test_usage_errors_exit_2_with_one_clear_line(args: tuple[str, ...], needle: str) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr


def test_output_is_never_half_written(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.sarif"
    proc = run_cli("lint", "-", "-o", f"sarif={out}", stdin=GOOD)
    assert proc.returncode == 0
    assert out.read_text().startswith("{") and not list(out.parent.glob(".r.sarif.*"))
