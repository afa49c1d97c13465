"""Knowledge of Gateway API: the spec (served versions, attachment and reference rules) and
its implementations (Envoy Gateway, NGINX Gateway Fabric, Istio, Cilium, Traefik, Kong), as
data and pure functions.

* ``api``: groups, kinds, which CRD bundle serves which apiVersion, detection from CRDs;
* ``implementations``: one profile per implementation (what Ray needs there, what breaks it);
* ``attachment``: what a controller decides about a route or a listener (Accepted,
  ResolvedRefs, Conflicted and their reasons), as the spec and its conformance suite define it;
* ``dataplane``: which implementation serves a route (Gateway -> GatewayClass ->
  ``spec.controllerName`` -> profile).

Renderers that produce objects for it live in ``raygate.render.gateway_api``.
"""
