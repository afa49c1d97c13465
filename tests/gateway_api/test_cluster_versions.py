"""Doctor lists TCPRoutes on every Gateway API release: v1alpha2 first (<= v1.5, and v1.6's
experimental channel), then v1 (v1.6 standard, which no longer serves v1alpha2)."""

from __future__ import annotations

from raygate.sources.cluster import KINDS, _later_served


def test_tcproute_falls_back_to_the_next_served_version() -> None:
    spec = next(k for k in KINDS if k.kind == "TCPRoute")
    assert spec.versions == ("v1alpha2", "v1")
    group = spec.group
    # The group serves v1alpha2 through another CRD, but tcproutes only at v1: try v1 next.
    assert _later_served(spec, "v1alpha2", {group: ["v1", "v1beta1", "v1alpha2"]}) == "v1"
    # Nothing later to try: the kind is not installed.
    assert _later_served(spec, "v1", {group: ["v1", "v1alpha2"]}) is None
    assert _later_served(spec, "v1alpha2", {group: ["v1alpha2"]}) is None
