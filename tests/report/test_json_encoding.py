"""The JSON report joins strings itself for speed (report/json.py ``_indented``): it must be
``json.dumps(indent=2)`` character for character, on any JSON data a report can hold."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from raygate.report import json as json_report

JSON_DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(JSON_DATA)
def test_indented_is_json_dumps_exactly(value: object) -> None:
    want = json.dumps(value, indent=2)
    try:
        got = json_report._indented(value, "\n")
    except json_report._NotPlain:
        # Only NaN and infinities are left to the json module (its own spelling).
        assert any(s in want for s in ("NaN", "Infinity"))
        return
    assert got == want


def test_non_string_keys_and_tuples_fall_back_or_match() -> None:
    assert json_report._indented({"a": (1, "é")}, "\n") == json.dumps({"a": (1, "é")}, indent=2)
    try:
        json_report._indented({1: "x"}, "\n")
    except json_report._NotPlain:
        pass
    else:
        raise AssertionError("an int key must be left to the json module (it turns it into a string)")
