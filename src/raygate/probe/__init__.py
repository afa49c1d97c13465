"""``raygate probe``: check the real path through a gateway, as a Ray user would.

Each check returns a verdict, its timing and, when it fails, the cause in the user's terms
(and the catalog rule that names the same mistake statically). Modules:

* ``http``       - Dashboard index + every asset, the ``/ray`` redirect, Jobs API, auth, Serve;
* ``jobs``       - ``--submit``: a >1 MB working_dir upload and the log tail over WebSocket;
* ``ray_client`` - a real ``ray://`` connection and task (or an HTTP/2 preface without Ray);
* ``tcp``        - GCS and the dashboard agent must not answer on the gateway host;
* ``runner``     - runs them concurrently; ``model`` holds the data types.
"""

from raygate.probe.model import (CheckResult, ProbeOptions, ProbeReport, Verdict)
from raygate.probe.runner import planned_checks, probe, probe_async

__all__ = ["CheckResult", "ProbeOptions", "ProbeReport", "Verdict", "planned_checks", "probe",
           "probe_async"]
