"""RG107 vulnerable-ingress-nginx: a controller image with known CVEs, on a retired project.

The gateway is the one component every outside request to Ray passes through, so its own holes
matter more than most. Facts (ingress_nginx.md §6.2, §4.2): CVE-2025-1974 "IngressNightmare"
(unauthenticated RCE through the admission webhook, CVSS 9.8, affects <= 1.11.4 and 1.12.0) and
its same-day annotation-injection companions; CVE-2026-24512 (config injection through the path
field, fixed 1.13.7/1.14.3); CVE-2026-3288 (config injection through ``rewrite-target``, the
annotation Ray Dashboard routes use, fixed 1.13.8/1.14.4/1.15.0). Since March 2026 the project
is retired (§6.1): v1.15.1 is the last release and no further CVE gets fixed, which every
controller is told about at info level.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

Version = tuple[int, int, int]


def _nightmare(v: Version) -> bool:
    return v < (1, 11, 5) or v == (1, 12, 0)


def _path_injection(v: Version) -> bool:
    return v < (1, 13, 7) or (1, 14, 0) <= v < (1, 14, 3)


def _rewrite_injection(v: Version) -> bool:
    return v < (1, 13, 8) or (1, 14, 0) <= v < (1, 14, 4)


#: (CVE, test, what it is, fixed in)
CVES = (
    ("CVE-2025-1974", _nightmare,
     "IngressNightmare: unauthenticated remote code execution through the admission webhook, "
     "CVSS 9.8, with the annotation-injection CVEs CVE-2025-24514/-1097/-1098", "v1.11.5/v1.12.1"),
    ("CVE-2026-24512", _path_injection,
     "nginx config injection through the Ingress path field", "v1.13.7/v1.14.3"),
    ("CVE-2026-3288", _rewrite_injection,
     "nginx config injection through the rewrite-target annotation that Ray Dashboard routes use",
     "v1.13.8/v1.14.4/v1.15.0"),
)

RETIRED = ("ingress-nginx is retired upstream since March 2026: v1.15.1 is the last release and "
           "no further security vulnerabilities will be fixed")
MIGRATE = "plan the move to a Gateway API implementation"


@rule(
    code="RG107",
    name="vulnerable-ingress-nginx",
    layer="security",
    severity="warning",
    kinds=("Deployment", "DaemonSet"),
    title="ingress-nginx controller version with known CVEs",
    rationale="""
        Every outside request to the Ray Dashboard, Jobs API and Ray Client passes through the
        ingress-nginx controller, which by default can read every Secret in the cluster.
        CVE-2025-1974 ("IngressNightmare", CVSS 9.8) lets anyone on the pod network run code
        in the controller through its admission webhook (affected: up to v1.11.4 and v1.12.0);
        CVE-2026-24512 and CVE-2026-3288 inject nginx configuration through the Ingress path
        and the `rewrite-target` annotation, which Dashboard-behind-a-prefix setups use. The
        project was retired in March 2026: v1.15.1 (also v1.14.5/v1.13.9) is the last release
        and later vulnerabilities will not be fixed, so even an up-to-date controller is
        reported as information with the advice to move to Gateway API.
    """,
    fix=("Upgrade the controller image to v1.15.1 (the last upstream release) and plan the move "
         "to a Gateway API implementation."),
    references=(
        "https://kubernetes.io/blog/2025/03/24/ingress-nginx-cve-2025-1974/",
        "https://kubernetes.io/blog/2025/11/11/ingress-nginx-retirement/",
        "https://github.com/kubernetes/kubernetes/issues/131009",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    for controller in nginx.find_controllers(ctx.objects):
        if controller.workload is not obj:
            continue
        field = ("spec", "template", "spec", "containers", controller.container_index, "image")
        image = str(obj.get(*field) or "")
        if not image:
            # A partial manifest (e.g. raygate's server-side-apply patch) that does not own the
            # image says nothing about the version running.
            continue
        if not controller.version_known:
            yield ctx.finding(
                obj, field,
                f"Controller image {image} has no version tag, so raygate cannot check it "
                f"against known CVEs; {RETIRED}",
                severity="info",
                fix="Pin the image to a tagged release (v1.15.1) and plan the move to a Gateway "
                    "API implementation.")
            continue
        version = controller.version
        hits = [(cve, what, fixed) for cve, test, what, fixed in CVES if test(version)]
        if hits:
            listed = "; ".join(f"{cve} ({what}; fixed in {fixed})" for cve, what, fixed in hits)
            webhook = ""
            if hits[0][0] == "CVE-2025-1974" and not any(
                    f.startswith("--validating-webhook") for f in controller.flags):
                webhook = (" The admission webhook is not enabled here (no --validating-webhook), "
                           "which closes the IngressNightmare RCE path but not the injections.")
            yield ctx.finding(
                obj, field,
                f"ingress-nginx {controller.version_str} is affected by {listed}.{webhook} "
                f"{RETIRED}",
                fix=f"Upgrade {image.split('@')[0].rpartition(':')[0] or 'the controller image'}"
                    f" to v1.15.1 (the last upstream release) and {MIGRATE}.",
                cves=[h[0] for h in hits])
            continue
        fork = ""
        if version > nginx.LAST_RELEASE:
            fork = (f" ({controller.version_str} is newer than the last upstream release "
                    f"{nginx.LAST_RELEASE_STR}, so it is a third-party build)")
        yield ctx.finding(
            obj, field,
            f"ingress-nginx {controller.version_str} has no known CVE{fork}, but {RETIRED}",
            severity="info",
            fix=f"Keep the controller on the latest patch release and {MIGRATE}.")
