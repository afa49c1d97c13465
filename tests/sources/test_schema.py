"""Schema violations are input errors with file:line (issue 12, point 6)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest

from raygate import engine
from raygate.sources import schema
from raygate.sources.files import load_paths, load_text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import vendor_schemas  # noqa: E402

BAD_INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ray
  namespace: ray
spec:
  ingressClassName: nginx
  rules: "oops"
"""
BAD_TCP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: tcp-services
  namespace: ingress-nginx
data:
  "10001":
    - ray/ray-head-svc:10001
"""
BAD_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: ray-head-svc
  namespace: ray
spec:
  type: LoadBalancer
  ports:
    port: 10001
"""


def lint(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raygate", "lint", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("text,where,needle", [
    (BAD_INGRESS, "-:8 (Ingress/ray/ray)", "spec.rules: expected array, got string \"oops\""),
    (BAD_SERVICE, "-:8 (Service/ray/ray-head-svc)",
     'spec.ports: expected array, got object {"port": 10001}'),
    (BAD_INGRESS.replace("spec:", "spec:\n  rulez: []"), "-:7 (Ingress/ray/ray)",
     "spec.rulez: unknown field 'rulez'"),
])
def test_schema_violations_are_input_errors_with_file_and_line(text: str, where: str,
                                                              needle: str) -> None:
    proc = lint("-", "-o", "json", stdin=text)
    assert proc.returncode == 2, proc.stderr
    assert f"raygate: error: {where}: {needle}" in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["problems"] and doc["problems"][0]["line"] == int(where.split(":")[1].split()[0])


def test_a_tcp_services_list_value_is_reported_once_by_its_rule() -> None:
    proc = lint("-", "-o", "concise", stdin=BAD_TCP)
    assert proc.returncode == 1
    assert proc.stdout.startswith('-:7:3: RG201 [error]') and len(proc.stdout.splitlines()) == 1
    assert "raygate: error:" not in proc.stderr


def test_a_rule_that_explains_the_same_field_is_not_repeated_as_a_schema_error() -> None:
    """An unquoted boolean annotation: RG103 quotes the webhook; no second, vaguer error."""
    text = BAD_INGRESS.replace('rules: "oops"', "rules: []").replace(
        "  namespace: ray\n", "  namespace: ray\n  annotations:\n"
        "    nginx.ingress.kubernetes.io/ssl-redirect: false\n")
    loaded = load_text(text, "i.yaml")
    problems = schema.check(loaded.objects)
    assert [p.field for p in problems] == [
        'metadata.annotations["nginx.ingress.kubernetes.io/ssl-redirect"]']
    result = engine.run(loaded.objects)
    assert "RG103" in {f.code for f in result.findings}
    assert schema.without_overlap(problems, result.findings) == []


def test_what_we_flag_the_real_schema_refuses_too() -> None:
    """No false positives against kubernetes-validate's full strict schema: every object our
    check flags in the rule fixtures (odd shapes on purpose) is refused by it as well, and
    every object we pass in the examples and the real-world corpus it passes too (ignoring
    required fields, which partial server-side-apply objects legitimately omit)."""
    loaded = load_paths([str(ROOT / "tests" / "rules" / "fixtures"), str(ROOT / "examples"),
                         str(ROOT.parent / "shared" / "corpus")])
    flagged = {(p.file, p.obj) for p in schema.check(loaded.objects)}
    assert flagged
    checked = passed = 0
    for obj in loaded.objects:
        if (obj.api_version, obj.kind) not in schema.SCHEMA_KINDS:
            continue
        ours = (obj.origin.file, str(obj.ref)) in flagged
        # kubernetes-validate re-reads its schemas on every call (~0.1 s): every flagged
        # object, and a spread of passing ones (one in four), keep this test quick.
        if not ours:
            passed += 1
            if passed % 4:
                continue
        raw = copy.deepcopy(obj.raw)
        raw.pop("status", None)
        try:
            kubernetes_validate.validate(raw, schema.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0], strict=True)
            real = []
        except kubernetes_validate.ValidationError as e:
            real = [e]
        except kubernetes_validate.utils.SchemaNotFoundError:
            continue
        real_refusal = [e for e in real if "is a required property" not in str(e)]
        if ours:
            assert real, f"{obj.origin}: we flag {obj.ref}, the real schema accepts it"
        else:
            assert not real_refusal, \
                f"{obj.origin}: {obj.ref} refused by the real schema, passed by ours: {real_refusal[0]}"
        checked += 1
    assert checked > 60


def test_shipped_schemas_are_a_fresh_extraction_from_kubernetes_validate() -> None:
    fresh = vendor_schemas.extract(schema.SCHEMA_VERSION)
    shipped_dir = ROOT / "src" / "raygate" / "sources" / "schemas"
    assert sorted(fresh) == sorted(p.name for p in shipped_dir.glob("*.json"))
    for name, doc in fresh.items():
        assert json.loads((shipped_dir / name).read_text()) == doc, \
            f"{name} is stale: run scripts/vendor_schemas.py"
    assert {(d["apiVersion"], d["kind"]) for d in fresh.values()} == schema.SCHEMA_KINDS


def test_only_the_kinds_present_are_loaded() -> None:
    code = ("from raygate.sources import schema\nfrom raygate.sources.files import load_text\n"
            f"schema.check(load_text({BAD_TCP!r}, 'x').objects)\n"
            "print(schema._schema.cache_info().currsize, schema._root.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert out == ["1", "1"]
