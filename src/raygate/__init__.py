"""raygate: expose Ray clusters on Kubernetes through one stable, secure gateway, and prove it.

The package is layered. A pure core (``objects``, ``rules``, ``engine``, ``report``,
``spec``, ``render``) turns Kubernetes objects into findings or manifests with no I/O. I/O
lives at the edges: ``sources`` (files, snapshots, a live cluster), ``probe``, ``lab``,
``apply`` and ``cli``. ``docs/architecture.md`` draws the map.
"""

__version__ = "0.1.0"
