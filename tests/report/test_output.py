"""Point 3 of issue 12: output that fits the terminal and CI.

Terminal behaviour is tested through COLUMNS and a real pseudo-terminal; CI formats through
what their consumers parse (GitHub's workflow-command grammar, JUnit XML, compiler lines).
"""

from __future__ import annotations

import json
import os
import pty
import re
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from raygate import engine, report
from raygate.catalog_docs import docs_url
from raygate.sources.files import load_paths

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "examples" / "seed-broken"


def lint(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    return subprocess.run([sys.executable, "-m", "raygate", "lint", *args], input=stdin,
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**base, **(env or {})})


@pytest.fixture(scope="module")
def broken_result():
    loaded = load_paths([str(BROKEN)])
    return engine.run(loaded.objects, files=loaded.files)


def _words(text: str) -> list[str]:
    # "docs:" labels the URL only when both fit on one line; the URL itself always shows.
    return [w for w in text.split() if w != "docs:"]


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_text_wraps_to_columns_between_words(broken_result, columns: int) -> None:
    wide = report.formatter("text")(broken_result, width=10_000)
    text = lint(str(BROKEN), env={"COLUMNS": str(columns)}).stdout
    # The same words in the same order: wrapping only moved line breaks, never split a word.
    assert _words(text) == _words(wide)
    for line in text.splitlines():
        if len(line) > columns:  # only an unbreakable token (a URL, a long path) may overflow
            assert len(line.split()) == 1 or line.strip().startswith(("examples/", "metadata.", "spec.")), line


def test_text_on_a_real_80_column_terminal_has_colour_and_no_split_words(broken_result) -> None:
    pid, fd = pty.fork()
    if pid == 0:
        import fcntl
        import struct
        import termios
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
        os.execve(sys.executable, [sys.executable, "-m", "raygate", "lint", str(BROKEN), "-q"], env)
    out = _read_all(pid, fd)
    text = out.decode()
    assert "\x1b[" in text  # coloured on a terminal
    plain = re.sub(r"\x1b\]8;[^\x1b]*\x1b\\|\x1b\[[0-9;]*m", "", text).replace("\r", "")
    for line in plain.splitlines():
        assert len(line) <= 80 or len(line.split()) == 1, line
    wide = report.formatter("text")(broken_result, width=10_000)
    # Every word of the plain report survives intact (the docs URL becomes a link label).
    words = set(_words(plain))
    missing = [w for w in _words(wide) if w not in words and not w.startswith("https://")]
    assert not missing, missing[:10]


def _read_all(pid: int, fd: int) -> bytes:
    """Everything the child wrote to its pseudo-terminal, once it has exited."""
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return out


def test_no_color_is_honoured_even_when_forced_by_a_terminal() -> None:
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(sys.executable, [sys.executable, "-m", "raygate", "lint", str(BROKEN), "-q"],
                  {**os.environ, "NO_COLOR": "1"})
    out = _read_all(pid, fd)
    assert b"RG101" in out and b"\x1b[" not in out


def test_concise_is_one_compiler_style_line_per_finding(broken_result) -> None:
    proc = lint(str(BROKEN), "-o", "concise")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == len(broken_result.findings)
    pattern = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>RG\d{3}) "
                         r"\[(?P<sev>error|warning|info)\] \S")
    for line in lines:
        m = pattern.match(line)
        assert m, line
        # The position points at the field's key in the real file.
        source = Path(m["file"]).read_text().splitlines()[int(m["line"]) - 1]
        assert source[int(m["col"]) - 1:].strip()[:1].isalnum() or source[int(m["col"]) - 1] == '"'
    rg101 = next(line for line in lines if " RG101 " in line)
    file, ln, col = rg101.split(":")[:3]
    key_line = Path(file).read_text().splitlines()[int(ln) - 1]
    assert key_line[int(col) - 1:].startswith("nginx.ingress.kubernetes.io/configuration-snippet")


def test_github_format_is_workflow_commands_with_escaped_properties(broken_result) -> None:
    text = report.formatter("github")(broken_result)
    lines = text.splitlines()
    assert len(lines) == len(broken_result.findings)
    grammar = re.compile(r"^::(error|warning|notice) (?P<props>[^:]*)::(?P<msg>.+)$")
    for line in lines:
        m = grammar.match(line)
        assert m, line
        props = dict(p.split("=", 1) for p in m["props"].split(","))
        assert {"file", "line", "title"} <= set(props) <= {"file", "line", "col", "title"}
        assert Path(props["file"]).is_file() and int(props["line"]) >= 1
        assert "\n" not in m["msg"] and "%0A" in m["msg"]  # message lines escaped
    first = broken_result.findings[0]
    assert first.column > 0  # a field's key: its column is known
    assert f"::error file={first.file},line={first.line},col={first.column}," in text
    assert docs_url(first.rule) in text


def test_junit_is_well_formed_with_one_failing_case_per_rule(broken_result) -> None:
    root = ET.fromstring(report.formatter("junit")(broken_result))
    assert root.tag == "testsuites"
    cases = root.findall(".//testcase")
    assert len(cases) == len(broken_result.rules)
    failing = {c.get("name").split()[0] for c in cases if c.find("failure") is not None}
    assert failing == {f.code for f in broken_result.findings}
    assert int(root.get("failures")) == len(failing)


def test_docs_link_per_finding_in_text_and_json(broken_result) -> None:
    text = report.formatter("text")(broken_result, width=200)
    doc = json.loads(report.formatter("json")(broken_result))
    for f, entry in zip(broken_result.findings, doc["findings"]):
        assert entry["docs"] == docs_url(f.rule) and entry["docs"] in text
    # The anchor exists in docs/rules.md (GitHub's heading slug for "### RG101 name").
    headings = {"#" + line[4:].strip().lower().replace(" ", "-")
                for line in (ROOT / "docs" / "rules.md").read_text().splitlines()
                if line.startswith("### ")}
    for entry in doc["findings"]:
        assert "#" + entry["docs"].split("#", 1)[1] in headings


def test_several_outputs_in_one_run_and_files_follow_the_umask(tmp_path: Path) -> None:
    sarif, junit = tmp_path / "out" / "r.sarif", tmp_path / "r.xml"
    old = os.umask(0o022)
    try:
        proc = lint(str(BROKEN), "-o", "concise", "-o", f"sarif={sarif}", "-o", f"junit={junit}")
    finally:
        os.umask(old)
    assert proc.returncode == 1
    assert re.match(r"^examples|^/", proc.stdout) and ": RG101 [error]" in proc.stdout
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    ET.fromstring(junit.read_text())
    for f in (sarif, junit):
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, oct(f.stat().st_mode)


def test_two_outputs_to_stdout_is_a_usage_error() -> None:
    proc = lint(str(BROKEN), "-o", "text", "-o", "json")
    assert proc.returncode == 2 and "outputs to stdout" in proc.stderr


def test_old_flag_spellings_still_work_with_a_deprecation_notice(tmp_path: Path) -> None:
    out = tmp_path / "r.sarif"
    proc = lint(str(BROKEN), "--format", "sarif", "-o", str(out))
    assert proc.returncode == 1 and json.loads(out.read_text())["runs"]
    assert "deprecated: --format sarif -> use -o sarif" in proc.stderr
    assert f"deprecated: -o {out} -> use -o sarif={out}" in proc.stderr
    proc = lint(str(BROKEN), "-f", "json")
    assert proc.returncode == 1 and json.loads(proc.stdout)["findings"]
    assert "deprecated: -f json -> use -o json" in proc.stderr


def test_baseline_records_today_and_fails_only_on_new_findings(tmp_path: Path) -> None:
    manifests = tmp_path / "m"
    manifests.mkdir()
    for f in BROKEN.glob("*.yaml"):
        (manifests / f.name).write_text(f.read_text())
    baseline = tmp_path / ".raygate-baseline.json"
    # A baseline that does not exist accepts nothing silently (a CI job lost its file).
    missing = lint(str(manifests), "--baseline", str(baseline))
    assert missing.returncode == 2 and "--update-baseline" in missing.stderr
    first = lint(str(manifests), "--baseline", str(baseline), "--update-baseline", "-o", "json")
    recorded = json.loads(baseline.read_text())["findings"]
    assert first.returncode == 0 and recorded and "recorded" in first.stderr
    # Lines move (a comment on top) but nothing new: still green.
    ingress = manifests / "ingress.yaml"
    ingress.write_text("# moved down\n\n" + ingress.read_text())
    again = lint(str(manifests), "--baseline", str(baseline), "-o", "json")
    doc = json.loads(again.stdout)
    assert again.returncode == 0 and doc["findings"] == []
    assert doc["summary"]["baselined"] == len(recorded)
    # A new problem fails the run, and only it is reported.
    ingress.write_text(ingress.read_text().replace(
        "configuration-snippet", "server-snippet", 1))
    new = lint(str(manifests), "--baseline", str(baseline), "-o", "json")
    doc = json.loads(new.stdout)
    assert new.returncode == 1
    assert [f["field"] for f in doc["findings"]] == [
        'metadata.annotations["nginx.ingress.kubernetes.io/server-snippet"]']


def test_progress_names_a_step_only_once_it_outlasts_the_threshold() -> None:
    from raygate.cli._common import Progress
    now = [0.0]
    said: list[str] = []
    p = Progress(after=1.0, emit=said.append, clock=lambda: now[0])
    p.step("reading small.yaml")
    now[0] = 0.5
    p.check()
    p.step("reading big.yaml (20.0 MB)")
    now[0] = 1.2
    p.check()
    now[0] = 1.7
    p.check()
    now[0] = 2.6
    p.check()
    p.done()
    assert said == ["raygate: reading big.yaml (20.0 MB)..."]


def test_progress_shows_on_a_slow_input_in_the_real_cli(tmp_path: Path) -> None:
    """A stdin that stays open past the threshold: the user sees what raygate waits on."""
    proc = subprocess.Popen([sys.executable, "-m", "raygate", "lint", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None and proc.stdin is not None
    line = proc.stderr.readline()  # blocks until raygate speaks: no sleep, no clock
    assert line.startswith("raygate: reading stdin...")
    proc.stdin.write((BROKEN / "ingress.yaml").read_text())
    proc.stdin.close()
    assert proc.wait(timeout=120) == 1


def test_doctor_text_tells_each_root_cause_once_with_the_routes_it_breaks() -> None:
    from raygate import doctor
    gathered = doctor.gather_snapshot([str(ROOT / "examples" / "doctor-snapshot")])
    diagnosis = doctor.diagnose(gathered)
    broken = [lane for lane in diagnosis.lanes if lane.status == "fail"]
    assert len(broken) >= 2
    text = report.formatter("text")(diagnosis.result, lanes=diagnosis.lanes, width=10_000)
    start = text.split("Where to start:", 1)[1].split("layer:", 1)[0]
    causes = re.findall(r"root cause (RG\d{3})", start)
    assert causes and len(causes) == len(set(causes)), causes  # never the same cause twice
    assert len(causes) < len(broken)  # two routes behind one drifted address: one cause
    for lane in broken:  # every broken route is named under its cause
        assert f"{lane.role} {lane.route}" in start


def test_doctor_writes_several_formats_in_one_run(tmp_path: Path) -> None:
    html, junit = tmp_path / "d.html", tmp_path / "d.xml"
    proc = subprocess.run([sys.executable, "-m", "raygate", "doctor", "-f",
                           str(ROOT / "examples" / "doctor-snapshot"), "-o", "concise",
                           "-o", f"html={html}", "-o", f"junit={junit}", "-q"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert re.search(r"cluster\.yaml:\d+:\d+: RG353 \[error\]", proc.stdout)
    assert html.read_text().startswith("<!DOCTYPE html>") and 'data-lane="0"' in html.read_text()
    assert ET.fromstring(junit.read_text()).get("failures") != "0"
