"""``raygate operator``: annotate a Ray cluster, get a secure, stable, proven entry point.

A RayCluster, RayService or RayJob annotated ``raygate.io/expose: dashboard,jobs,client``
gets, on the configured gateway:

* a stable external TCP port for its Ray Client (and extra TCP ports) from a configured range,
  held by the API server as an object of its own (``allocations``: one immutable ConfigMap
  per port, named after the port, so two writers can never hold the same port: the second
  create is a 409);
* its HTTP routes, rendered by the same renderer as ``raygate render`` (``desired``);
* its URLs and state as annotations on the cluster, and Kubernetes Events.

The pure parts (``settings``, ``allocations``, ``desired``) decide; the edges (``reconciler``,
``leader``, ``loop``, ``metrics``) talk to the API server and the network.
"""
