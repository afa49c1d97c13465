"""``raygate doctor``: the catalog plus the runtime truth, down to the root cause.

``diagnose`` runs every rule (static and ``needs="runtime"``) over objects read from a snapshot
or a live cluster, with a ``RuntimeState`` carrying what only a cluster knows (dry-run denials,
controller logs, the address users were given). The result is the usual ``Result`` plus one
"lane" per exposed Ray route for the HTML report. ``runtime_from_objects`` is also what the
rule fixtures use, so runtime rules are tested on exactly the state doctor builds.
"""

from __future__ import annotations

from raygate.runtime import RuntimeState, runtime_from_objects

__all__ = ["RuntimeState", "runtime_from_objects", "diagnose", "Diagnosis", "gather_snapshot",
           "gather_live"]


def __getattr__(name: str):  # the runner pulls in the engine; load it only when asked
    if name in ("diagnose", "Diagnosis", "gather_snapshot", "gather_live", "Gathered"):
        from raygate.doctor import core
        return getattr(core, name)
    raise AttributeError(name)
