"""Verdicts of the real-users corpus (tests/data/threads) and of the controller cases
(tests/data/controller_cases), and how raygate's findings are judged against them.

One place for both consumers: `tests/test_threads.py` asserts each verdict, and
`bench/fidelity.py` turns the same judgements into the fidelity report. Everything runs the
real loader and the real engine; a setup that carries runtime state (EndpointSlices, Pods,
a DoctorCapture) is judged as `raygate doctor` would judge a snapshot.

Thread verdict (`tests/data/threads/<slug>/verdict.yaml`):

    thread: https://github.com/...          # the public thread the setup comes from
    working: false                          # true: the thread's final, working setup
    root_cause: [RG212]                     # codes that must fire (the thread's root cause)
    min_severity: error                     # ... at least at this severity
    pending: "words"                        # the behaviour, when no rule exists for it yet
    must_not_fire_error: [RG210]            # codes that must not fire at error level
    must_not_fire: [RG210]                  # codes that must not fire at all (wrong controller)
    also_expected: [RG101]                  # other errors the setup really has (not false alarms)
    runtime: false                          # judge as a snapshot with runtime state (doctor)
    xfail: "defect class"                   # the catalog on main cannot pass this case yet

A working setup must carry no error-level finding outside `also_expected`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from raygate import engine
from raygate.findings import Finding, Severity
from raygate.objects import ObjectSet
from raygate.sources.files import load_paths, load_text

ROOT = Path(__file__).resolve().parents[1]
THREADS = ROOT / "tests" / "data" / "threads"
CONTROLLER_CASES = ROOT / "tests" / "data" / "controller_cases"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
VERDICT_FILE = "verdict.yaml"
VERDICT_KEYS = {"thread", "working", "root_cause", "min_severity", "pending", "must_not_fire_error",
                "must_not_fire", "also_expected", "runtime", "xfail"}


@dataclass(frozen=True)
class ThreadVerdict:
    slug: str
    directory: Path
    thread: str
    working: bool
    root_cause: tuple[str, ...]
    min_severity: Severity
    pending: str | None
    must_not_fire_error: tuple[str, ...]
    must_not_fire: tuple[str, ...]
    also_expected: tuple[str, ...]
    runtime: bool
    xfail: str | None

    @property
    def expected_failure(self) -> str | None:
        """Why the catalog on main cannot pass this case yet (None: it must pass)."""
        if self.xfail:
            return self.xfail
        if self.pending:
            return f"no rule yet: {self.pending}"
        return None


@dataclass
class Judgement:
    """What raygate said about one setup, against its verdict."""
    named: bool                      # every root-cause code fired at >= min_severity
    missing: list[str]               # root-cause codes that did not (or too weakly)
    forbidden_errors: list[str]      # must_not_fire_error codes that fired as errors
    forbidden: list[str]             # must_not_fire codes that fired at any severity
    unexplained_errors: list[str]    # error codes neither root cause nor also_expected
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (self.named and not self.forbidden_errors and not self.forbidden
                and not self.unexplained_errors)

    def explain(self) -> str:
        seen = sorted({f"{f.code}/{f.severity.value}" for f in self.findings})
        return (f"missing={self.missing} forbidden_errors={self.forbidden_errors} "
                f"forbidden={self.forbidden} "
                f"unexplained_errors={self.unexplained_errors} findings={seen}")


def _codes(value: Any, where: Path, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(c, str) and c.startswith("RG") for c in value):
        raise ValueError(f"{where}: {key} must be a list of RG codes, got {value!r}")
    return tuple(value)


def load_verdict(directory: Path) -> ThreadVerdict:
    path = directory / VERDICT_FILE
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a mapping")
    unknown = set(data) - VERDICT_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    if not str(data.get("thread", "")).startswith("https://github.com/"):
        raise ValueError(f"{path}: thread must be the public thread's URL")
    working = bool(data.get("working", False))
    root = _codes(data.get("root_cause"), path, "root_cause")
    pending = data.get("pending")
    if not working and not root and not pending:
        raise ValueError(f"{path}: a broken setup needs root_cause codes or a pending behaviour")
    severity = Severity(data.get("min_severity") or "warning")
    return ThreadVerdict(
        slug=directory.name, directory=directory, thread=str(data["thread"]), working=working,
        root_cause=root, min_severity=severity, pending=str(pending) if pending else None,
        must_not_fire_error=_codes(data.get("must_not_fire_error"), path, "must_not_fire_error"),
        must_not_fire=_codes(data.get("must_not_fire"), path, "must_not_fire"),
        also_expected=_codes(data.get("also_expected"), path, "also_expected"),
        runtime=bool(data.get("runtime", False)), xfail=data.get("xfail") or None)


def thread_verdicts(base: Path = THREADS) -> list[ThreadVerdict]:
    if not base.is_dir():
        return []
    return [load_verdict(d) for d in sorted(base.iterdir()) if (d / VERDICT_FILE).is_file()]


def manifests(directory: Path) -> list[str]:
    return [str(p) for p in sorted(directory.iterdir())
            if p.suffix in MANIFEST_SUFFIXES and p.name != VERDICT_FILE]


def run_catalog(objects: ObjectSet | list, *, runtime: bool, files: list[str] | None = None):
    """The catalog as `raygate lint` runs it, or as `raygate doctor` runs it on a snapshot."""
    objset = objects if isinstance(objects, ObjectSet) else ObjectSet(objects)
    state = None
    if runtime:
        from raygate import runtime as rt
        state = rt.runtime_from_objects(objset, source="snapshot", where="thread corpus")
    return engine.run(objset, runtime=state, files=files or [])


def lint_setup(verdict: ThreadVerdict):
    paths = manifests(verdict.directory)
    loaded = load_paths(paths)
    if loaded.problems:
        raise ValueError(f"{verdict.slug}: unreadable input: {loaded.problems}")
    return run_catalog(list(loaded.objects), runtime=verdict.runtime, files=list(loaded.files))


def judge(verdict: ThreadVerdict, findings: list[Finding]) -> Judgement:
    best: dict[str, int] = {}
    for f in findings:
        best[f.code] = max(best.get(f.code, 0), f.severity.rank)
    missing = [c for c in verdict.root_cause if best.get(c, 0) < verdict.min_severity.rank]
    named = not missing and not verdict.pending
    errors = {f.code for f in findings if f.severity is Severity.ERROR}
    forbidden_errors = sorted(errors & set(verdict.must_not_fire_error))
    forbidden = sorted(set(best) & set(verdict.must_not_fire))
    explained = set(verdict.root_cause) | set(verdict.also_expected)
    unexplained = sorted(errors - explained)
    return Judgement(named=named, missing=missing, forbidden_errors=forbidden_errors,
                     forbidden=forbidden, unexplained_errors=unexplained, findings=list(findings))


def judge_thread(verdict: ThreadVerdict) -> Judgement:
    return judge(verdict, lint_setup(verdict).findings)


# ---------------------------------------------------------------------------------------------
# Controller cases: a `kind: ControllerCase` header document, then the objects.


@dataclass(frozen=True)
class ControllerCase:
    name: str
    source: str
    verdict: str
    fires: tuple[str, ...]
    quiet: tuple[str, ...]
    text: str          # the objects' YAML, as the file holds them
    path: Path


def load_controller_case(path: Path) -> ControllerCase:
    text = path.read_text()
    docs = text.split("\n---\n", 1)
    header = yaml.safe_load(docs[0])
    if not isinstance(header, dict) or header.get("kind") != "ControllerCase":
        raise ValueError(f"{path}: the first document must be kind: ControllerCase")
    expect = header.get("expect") or {}
    body = docs[1] if len(docs) > 1 else ""
    # Keep line numbers of the objects right: pad with the header's lines.
    padded = "\n" * (docs[0].count("\n") + 2) + body
    return ControllerCase(
        name=path.stem, source=str(header.get("source", "")), verdict=str(header.get("verdict", "")),
        fires=_codes(expect.get("fires"), path, "expect.fires"),
        quiet=_codes(expect.get("quiet"), path, "expect.quiet"), text=padded, path=path)


def controller_cases(base: Path = CONTROLLER_CASES) -> list[ControllerCase]:
    if not base.is_dir():
        return []
    return [load_controller_case(p) for p in sorted(base.glob("*.yaml"))]


@dataclass
class CaseResult:
    agrees: bool
    missing: list[str]       # fires codes that did not fire
    noisy: list[str]         # quiet codes that fired
    codes: list[str]


def judge_controller_case(case: ControllerCase) -> CaseResult:
    loaded = load_text(case.text, str(case.path))
    if loaded.problems:
        raise ValueError(f"{case.path}: unreadable objects: {loaded.problems}")
    objects = ObjectSet(list(loaded.objects))
    has_runtime = any(o.kind in ("EndpointSlice", "Endpoints", "Pod", "Node", "DoctorCapture")
                      for o in objects)
    result = run_catalog(objects, runtime=has_runtime)
    fired = {f.code for f in result.findings}
    missing = [c for c in case.fires if c not in fired]
    noisy = [c for c in case.quiet if c in fired]
    return CaseResult(agrees=not missing and not noisy, missing=missing, noisy=noisy,
                      codes=sorted(fired))
