"""Project configuration: ``.raygate.yaml``, found upward from the inputs or given by --config.

    # .raygate.yaml
    select: [security, RG2]        # default: every rule enabled by default
    ignore: [ingress-without-tls-or-allowlist]
    fail-on: warning               # error (default) | warning | info | never
    suppress:                      # per-object suppressions, each with a reason
      - rules: [RG301]
        kind: Service
        namespace: legacy
        name: old-gateway
        reason: "decommissioned in Q3"
"""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Sequence

import yaml

from raygate.errors import ConfigError
from raygate.records import field, record
from raygate.rules import Rule, matches_any

FILENAME = ".raygate.yaml"
FAIL_ON = ("error", "warning", "info", "never")
_KEYS = {"select", "ignore", "fail-on", "suppress"}


@record(frozen=True)
class Suppression:
    """One ``suppress`` entry of ``.raygate.yaml``: rules, the objects it covers, why."""

    rules: tuple[str, ...]
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    file: str | None = None
    reason: str = ""


@record(frozen=True)
class Config:
    """The project configuration read from ``.raygate.yaml`` (defaults when there is none)."""

    path: str | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: str | None = None
    suppress: tuple[Suppression, ...] = field(default=())


def find(inputs: Sequence[str], start: Path | None = None) -> Path | None:
    """The nearest ``.raygate.yaml`` above the first file input (or the working directory)."""
    candidates = [Path(p) for p in inputs if p != "-"]
    base = candidates[0] if candidates else (start or Path.cwd())
    base = base.resolve()
    for d in [base] + list(base.parents) if base.is_dir() else list(base.parents):
        f = d / FILENAME
        if f.is_file():
            return f
    return None


def load(path: Path) -> Config:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping with keys {sorted(_KEYS)}")
    unknown = set(data) - _KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    fail_on = data.get("fail-on")
    if fail_on is not None and fail_on not in FAIL_ON:
        raise ConfigError(f"{path}: fail-on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    return Config(
        path=str(path),
        select=_strings(path, data, "select"),
        ignore=_strings(path, data, "ignore"),
        fail_on=fail_on,
        suppress=tuple(_suppression(path, i, s) for i, s in enumerate(_list(path, data, "suppress"))),
    )


def _strings(path: Path, data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key} must be a list of rule codes, names or layers")
    return tuple(value)


def _list(path: Path, data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"{path}: {key} must be a list (one '- rules: [...]' entry per suppression)")
    return value


def _suppression(path: Path, index: int, item: Any) -> Suppression:
    where = f"{path}: suppress[{index}]"
    if not isinstance(item, dict) or "rules" not in item:
        raise ConfigError(f"{where} needs at least 'rules' (and kind/namespace/name/file to narrow it)")
    rules = item["rules"]
    if isinstance(rules, str):
        rules = [r.strip() for r in rules.split(",") if r.strip()]
    # Checked here: an int or an empty entry would otherwise crash matching or match every rule.
    if not isinstance(rules, list) or not rules or \
            not all(isinstance(r, str) and r.strip() for r in rules):
        raise ConfigError(f"{where}: rules must be a non-empty list of rule codes, names or layers")
    extra = set(item) - {"rules", "kind", "namespace", "name", "file", "reason"}
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {sorted(extra)}")
    for key in ("kind", "namespace", "name", "file"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise ConfigError(f"{where}: {key} must be a string (a glob for namespace/name/file), "
                              f"not {item[key]!r}")
    return Suppression(tuple(r.strip() for r in rules), item.get("kind"), item.get("namespace"),
                       item.get("name"), item.get("file"), str(item.get("reason") or ""))


def suppressed(s: Suppression, rule: Rule, kind: str, namespace: str, obj_name: str,
               file: str) -> bool:
    # The same forms as select/ignore (rules.matches_any): all, code, code prefix, name, layer.
    if not matches_any(rule, s.rules):
        return False
    return ((s.kind is None or s.kind == kind) and
            (s.namespace is None or fnmatch(namespace, s.namespace)) and
            (s.name is None or fnmatch(obj_name, s.name)) and
            (s.file is None or fnmatch(file, s.file) or file.endswith(s.file)))
