"""What each data plane does, as data and pure functions: one module (or package) per backend.

``ingress_nginx`` is the knowledge of the ingress-nginx controller (defaults by version, flags,
ConfigMap, validators, tcp-services parsing); renderers that *produce* objects for it live in
``raygate.render``.
"""
