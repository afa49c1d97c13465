"""A fake Kubernetes API server for tests (see ``server.py``), its pytest fixture and an
ingress-nginx admission hook built on raygate's own rule catalog."""
