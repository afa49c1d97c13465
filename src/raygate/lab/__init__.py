"""The lab: a real local data plane (Ray head + nginx rendered from our objects) on 127.0.0.1.

It is both a product feature (``raygate lab up`` to rehearse a gateway and its failure modes
before touching a cluster) and the project's end-to-end test bed. Modules:

* ``gateway``  - the objects (from ``raygate render``) and the faults that mutate them;
* ``ray_head`` - a Ray head with token auth, private HOME/temp dir, loopback only;
* ``nginx``    - Debian nginx run from the config ``raygate.render.nginx_conf`` renders;
* ``control``  - ``up``/``down``/``status`` and the state directory;
* ``ports``    - every loopback port the lab binds, picked below the kernel's ephemeral range;
* ``errors``   - ``LabError``, shared by the modules above.
"""

from raygate.lab.control import (DEFAULT_STATE_DIR, LabInfo, LabRefused, LabState, down, status,
                                 up)
from raygate.lab.gateway import FAULTS
from raygate.lab.ray_head import LabError

__all__ = ["DEFAULT_STATE_DIR", "FAULTS", "LabError", "LabInfo", "LabRefused", "LabState",
           "down", "status", "up"]
