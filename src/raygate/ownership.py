"""Who owns what a gateway writes: its id and its server-side apply field manager.

Several gateways share objects behind one controller (the tcp-services map, the controller
Deployment and ConfigMap). Under server-side apply a manager owns exactly the fields it sent
last, so each gateway must apply under a manager of its own, ``raygate/<namespace>.<name>``:
with one shared manager, applying the second gateway's map drops the first gateway's entries.
Pure functions, shared by ``apply`` (which writes) and ``render`` (whose output tells users the
``kubectl apply --field-manager`` to use).
"""

from __future__ import annotations

import hashlib
import re

MANAGER_PREFIX = "raygate/"
#: apimachinery validation.go FieldManagerMaxLength.
FIELD_MANAGER_MAX = 128
#: A label value or the name part of a label key (validation.IsQualifiedName).
LABEL_MAX = 63


def bounded(raw: str, limit: int) -> str:
    """``raw`` if it fits, else a prefix plus 8 hex digits of its hash: two long names that
    share a prefix stay distinct (plain truncation would merge their ownership)."""
    if len(raw) <= limit:
        return raw
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return raw[:limit - 9].rstrip("-_.") + "-" + digest


def gateway_id(namespace: str, name: str) -> str:
    """A label value naming a gateway: ``<namespace>.<name>`` (<= 63 chars)."""
    raw = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{namespace}.{name}").strip("-_.")
    return bounded(raw, LABEL_MAX) or "raygate"


def field_manager(gateway: str) -> str:
    """The field manager of the gateway with id ``gateway`` (<= 128 chars)."""
    return bounded(MANAGER_PREFIX + gateway, FIELD_MANAGER_MAX)
