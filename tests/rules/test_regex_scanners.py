"""The small regex scanners behind RG208 and the per-host location model read character
classes and escapes the same way (one shared walker)."""

from raygate.rules.protocol._http import _scan_groups, _top_level_alternation


def test_alternation_only_counts_outside_groups_classes_and_escapes() -> None:
    assert _top_level_alternation("/a|b")
    assert not _top_level_alternation("/(a|b)")
    assert not _top_level_alternation(r"/a\|b")
    assert not _top_level_alternation("/a[]|]b")  # "]" first in a class is literal


def test_group_scanner_counts_capturing_groups_only() -> None:
    assert _scan_groups("/ray(/|$)(.*)") == 2
    assert _scan_groups("/a[(]b(c)") == 1
    assert _scan_groups("(?<n>x)(?:y)(*SKIP)(?=z)") == 1
