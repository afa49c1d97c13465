"""Generated docs stay true to the code."""

from __future__ import annotations

from pathlib import Path

from raygate import catalog_docs
from raygate.rules import CATALOG

ROOT = Path(__file__).resolve().parents[1]


def test_rules_md_is_generated_from_the_catalog() -> None:
    expected = catalog_docs.markdown(CATALOG)
    actual = (ROOT / "docs" / "rules.md").read_text()
    assert actual == expected, "docs/rules.md is stale: run `make docs` (raygate rules --format markdown)"


def test_every_rule_is_explained_and_matches_its_own_error_texts() -> None:
    for r in CATALOG:
        text = catalog_docs.explain(r)
        assert r.code in text and r.fix in text
        for template in r.errors:
            sample = template.replace("<", "").replace(">", "")
            assert r.matches_error(sample), (r.code, template)
