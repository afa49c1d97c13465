"""The file source: what it reads, where it says things are, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

from raygate.objects import ObjectSet, format_path
from raygate.sources.files import load_paths, load_text

MULTI = """\
apiVersion: v1
kind: Service
metadata:
  name: a
  namespace: ray
spec:
  ports:
  - name: client
    port: 10001
---
# a comment-only document, then an empty one
---
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, creationTimestamp: 2024-01-01T00:00:00Z}
data:
  "10001": "ray/a:10001"
"""


def test_multi_document_stream_keeps_origins_and_field_lines() -> None:
    res = load_text(MULTI, "m.yaml")
    assert not res.problems
    svc, cm = res.objects
    assert (svc.kind, svc.name, svc.namespace, svc.origin.line, svc.origin.doc_index) == ("Service", "a", "ray", 1, 0)
    assert cm.origin.line == 14 and cm.origin.doc_index == 3
    assert svc.line_of(("spec", "ports", 0, "port")) == 9
    assert cm.line_of(("data", "10001")) == 18
    # A missing path falls back to the deepest existing node, never to nothing.
    assert svc.line_of(("spec", "ports", 5, "port")) == 7
    # Kubernetes keeps timestamps as strings; so do we (JSON output must not break).
    assert cm.metadata["creationTimestamp"] == "2024-01-01T00:00:00Z"
    assert cm.namespace == "default"


def test_kubectl_list_dump_is_flattened_with_item_lines() -> None:
    text = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: one}
- apiVersion: v1
  kind: Service
  metadata: {name: two}
"""
    res = load_text(text, "dump.yaml")
    assert [o.name for o in res.objects] == ["one", "two"]
    assert [o.origin.line for o in res.objects] == [4, 7]
    assert res.objects[1].line_of(("metadata", "name")) == 9


def test_typed_lists_and_json_files(tmp_path: Path) -> None:
    doc = {"apiVersion": "v1", "kind": "ServiceList",
           "items": [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}]}
    (tmp_path / "d.json").write_text(json.dumps(doc, indent=2))
    res = load_paths([str(tmp_path)])
    assert [o.name for o in res.objects] == ["s"]
    assert res.objects[0].origin.line == 5


def test_directories_are_read_recursively_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.yml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    (tmp_path / "notes.txt").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: t}\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "h.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: h}\n")
    # The project config beside the manifests is not a manifest (no "skipped" notice for it).
    (tmp_path / ".raygate.yaml").write_text("ignore: [RG106]\n")
    res = load_paths([str(tmp_path)])
    assert [o.name for o in res.objects] == ["a", "x"]
    assert not res.notices and not res.problems
    # Named explicitly, a hidden file is read.
    (tmp_path / ".h.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: h}\n")
    assert [o.name for o in load_paths([str(tmp_path / ".h.yaml")]).objects] == ["h"]


def test_stdin_and_non_kubernetes_documents_get_notices() -> None:
    res = load_paths(["-"], stdin_text="replicaCount: 3\n---\n- a\n- b\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
    assert [o.name for o in res.objects] == ["p"]
    assert res.objects[0].origin.file == "-"
    assert len(res.notices) == 2 and all(n.startswith("-:") for n in res.notices)
    assert not res.problems


def test_unrendered_helm_templates_are_skipped_with_a_notice() -> None:
    res = load_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-svc\n  labels: {{- include \"x\" . | nindent 4 }}\n", "t.yaml")
    assert not res.objects and not res.problems
    assert "helm template" in res.notices[0]


def test_index_lookups() -> None:
    objs = ObjectSet(load_text(MULTI, "m.yaml").objects)
    assert objs.get("Service", "ray", "a") is not None
    assert objs.get("Service", "default", "a") is None
    assert [o.name for o in objs.of_kind("ConfigMap", "Service")] == ["b", "a"]


def test_field_path_formatting() -> None:
    assert format_path(("spec", "rules", 0, "http")) == "spec.rules[0].http"
    assert format_path(("metadata", "annotations", "nginx.ingress.kubernetes.io/x")) == \
        'metadata.annotations["nginx.ingress.kubernetes.io/x"]'
    assert format_path(("data", "10001")) == 'data["10001"]'


# The fast builder must give exactly what PyYAML's SafeLoader gives (minus timestamps).
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
import yaml  # noqa: E402

from raygate.sources.files import _KubeLoader  # noqa: E402

plain = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                  st.text(max_size=10),
                  st.sampled_from(["yes", "off", "0x1F", "0o17", "1_000", "1:30", ".inf", "~",
                                   "2024-01-01", "null", "010", "+5", "-.5e3"]))
trees = st.recursive(plain, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.lists(trees, min_size=1, max_size=3))
def test_fast_builder_matches_pyyaml(docs) -> None:
    docs = [{"apiVersion": "v1", "kind": "ConfigMap", "data": d} for d in docs]
    text = yaml.safe_dump_all(docs, sort_keys=False)
    # Unquoted scalars exercise the implicit resolvers (bools, ints, floats, nulls).
    text = text.replace("'", "")
    try:
        expected = [d for d in yaml.load_all(text, Loader=_KubeLoader) if d is not None]
    except yaml.YAMLError:
        return
    got = load_text(text, "h.yaml")
    assert [o.raw for o in got.objects] == [d for d in expected
                                          if isinstance(d, dict) and d.get("kind") == "ConfigMap"
                                          and isinstance(d.get("metadata", {}), dict)]


def test_aliases_merge_keys_and_tags_match_pyyaml() -> None:
    text = """\
apiVersion: v1
kind: ConfigMap
metadata: &m {name: a, labels: &l {x: "1"}}
data:
  base: &b {k: v, n: 1}
  merged: {<<: *b, n: 2}
  again: *l
  tagged: !!str 123
  binary: !!binary aGk=
"""
    expected = yaml.load(text, Loader=_KubeLoader)
    got = load_text(text, "a.yaml").objects[0].raw
    assert got == expected
    assert got["data"]["merged"] == {"k": "v", "n": 2}


def test_listed_objects_answer_like_decoded_ones() -> None:
    from raygate.objects import KubeObject, Origin

    for raw in ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ray"}},
                {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}},
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": 5}},
                {"apiVersion": "v1", "kind": "Pod", "metadata": "oops"}):
        plain, listed = KubeObject(raw, Origin("x")), KubeObject.listed(raw, Origin("x"), raw["kind"], "v1")
        for attr in ("kind", "api_version", "name", "namespace", "metadata", "labels", "ref"):
            assert getattr(listed, attr) == getattr(plain, attr), (raw, attr)
