"""Findings and the result of a run: plain data that every report formats.

A ``Finding`` always carries the object it is about, the file and line, the field path, the
instance message and the fix; its rule supplies code, name, layer and severity (a finding may
raise or lower the severity when the rule says so, e.g. GCS exposure that the user asked for).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from raygate.records import field, record

if TYPE_CHECKING:
    from raygate.rules import Rule


class Layer(str, enum.Enum):
    """The seed guide's three layers, in the order it tells them."""

    SECURITY = "security"
    PROTOCOL = "protocol"
    INFRASTRUCTURE = "infrastructure"

    @property
    def order(self) -> int:
        return list(Layer).index(self)


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: error 3, warning 2, info 1."""
        return {"error": 3, "warning": 2, "info": 1}[self.value]


@record(frozen=True)
class ObjectRef:
    """The Kubernetes object a finding is about (apiVersion, kind, namespace, name)."""

    api_version: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    def to_dict(self) -> dict[str, str]:
        return {"apiVersion": self.api_version, "kind": self.kind,
                "namespace": self.namespace, "name": self.name}


@record(frozen=True)
class Finding:
    """One problem a rule found: where (file, line, column, field), what, and the fix."""

    rule: "Rule"
    object: ObjectRef
    file: str
    line: int
    field: str
    message: str
    fix: str
    severity: Severity
    #: What the finding assumed (e.g. "assuming ingress-nginx v1.15.1 defaults ...").
    assumption: str | None = None
    #: Root-cause chain for doctor: (symptom, cause) as the user would see them.
    symptom: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    #: 1-based column of the field (its key) on ``line``; 0 when unknown.
    column: int = 0

    @property
    def code(self) -> str:
        return self.rule.code

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def layer(self) -> Layer:
        return self.rule.layer

    @property
    def fingerprint(self) -> str:
        """Stable identity of a finding across runs: rule, object and field, not the line,
        so editing above an object does not make its old findings look new (baselines, SARIF
        ``partialFingerprints``)."""
        import hashlib
        return hashlib.sha256(f"{self.code}|{self.object}|{self.field}".encode()).hexdigest()[:32]

    def sort_key(self) -> tuple[Any, ...]:
        return (self.layer.order, -self.severity.rank, self.file, self.line, self.code, self.field)


@record
class Result:
    """What one run produced. Reports are pure functions of this."""

    findings: list[Finding]
    rules: list["Rule"]
    objects: int
    files: list[str]
    problems: list[Any] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    suppressed: int = 0
    #: Rules that could not run, with why ("forbidden", "needs a live cluster"...).
    not_checked: dict[str, str] = field(default_factory=dict)
    #: Findings left out because a ``--baseline`` file already records them.
    baselined: int = 0

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Severity}
        for f in self.findings:
            out[f.severity.value] += 1
        return out

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)
