"""Regenerate the fixtures from a kubernetes-sigs/gateway-api checkout (bare git dir) at v1.6.1.

    python tests/data/gateway_conformance/build.py /path/to/gateway-api.git

Copies ``conformance/tests/<case>.yaml`` (the objects each conformance test applies, with
``{GATEWAY_CLASS_NAME}`` set to ``conformance``) and the Namespaces, Gateways and Services of
``conformance/base/manifests.yaml`` (what every test runs against) into this directory.
The verdicts are in ``expected.yaml``, read from each test's Go assertions by hand.
Licence: Apache-2.0, as upstream (LICENSE in ../../../../shared/corpus/gateway-api).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

TAG = "v1.6.1"
HERE = Path(__file__).resolve().parent
PREFIXES = ("httproute-", "tcproute-", "tlsroute-", "udproute-", "grpcroute-", "gateway-",
            "listenerset-")
BASE_KINDS = ("Namespace", "Gateway", "Service")


def git(repo: str, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={repo}", *args], check=True, capture_output=True,
                          text=True).stdout


def main(repo: str) -> None:
    base = [d for d in yaml.safe_load_all(git(repo, "show", f"{TAG}:conformance/base/manifests.yaml"))
            if d and d.get("kind") in BASE_KINDS]
    header = f"# kubernetes-sigs/gateway-api {TAG} conformance/base/manifests.yaml ({', '.join(BASE_KINDS)})\n"
    (HERE / "base.yaml").write_text(header + yaml.safe_dump_all(base, sort_keys=False))
    for path in git(repo, "ls-tree", "--name-only", f"{TAG}:conformance/tests/").split():
        if not path.endswith(".yaml") or not path.startswith(PREFIXES):
            continue
        text = git(repo, "show", f"{TAG}:conformance/tests/{path}")
        text = text.replace("{GATEWAY_CLASS_NAME}", "conformance")
        (HERE / path).write_text(f"# kubernetes-sigs/gateway-api {TAG} conformance/tests/{path}\n" + text)


if __name__ == "__main__":
    main(sys.argv[1])
