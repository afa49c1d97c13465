"""RG152 controller-log-signature: known trouble in the ingress-nginx controller's own log.

With ``raygate doctor --logs`` the last lines of each controller pod are scanned for the
messages the controller prints when a Ray route breaks (facts: ingress_nginx.md §1.3, §2.3,
§3.2). Each signature maps to the catalog rule that explains it, so a log line the user has
already seen becomes a chain: this line -> that rule's cause -> its fix.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.records import record
from raygate.rules import CATALOG, Context, rule


@record(frozen=True)
class Signature:
    """A controller log line's pattern, the rule that explains it, its cause and fix."""

    regex: str
    rule: str  # the catalog code that explains it
    cause: str
    fix: str

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compiled(self.regex)


@cache
def _compiled(regex: str) -> re.Pattern[str]:
    # On first use: only a doctor run with controller logs needs these, not every lint.
    return re.compile(regex)


def _sig(regex: str, code: str, cause: str, fix: str) -> Signature:
    return Signature(regex, code, cause, fix)


#: Ordered: the first match wins for a line.
SIGNATURES: tuple[Signature, ...] = (
    _sig(r'Service "[^"]+" does not have any active Endpoint for TCP port', "RG251",
         "a tcp-services entry points at a Service port with no ready endpoint",
         "Make the Service port have a ready endpoint (see RG251)."),
    _sig(r'Service "[^"]+" does not have any active Endpoint\.', "RG252",
         "an Ingress backend Service has no ready endpoint",
         "Make the backend Service port have a ready endpoint (see RG252)."),
    _sig(r'Error getting ConfigMap "[^"]+": no object matching key', "RG204",
         "the ConfigMap named by --tcp-services-configmap does not exist or is not visible",
         "Create the tcp-services ConfigMap where the flag says, in the controller's watch namespace."),
    _sig(r'Error getting Service "[^"]+": no object matching key', "RG202",
         "a tcp-services entry names a Service that does not exist",
         "Point the entry at the Ray head Service (RayCluster status.head.serviceName)."),
    _sig(r"cannot be used for TCP stream services\. It is reserved", "RG203",
         "a tcp-services entry uses a port the controller keeps for itself",
         "Use another external port for the entry."),
    _sig(r'(Invalid Service reference ".*" for TCP port|invalid format \(namespace/name\)'
         r'|is not a valid TCP port number)', "RG201",
         "a tcp-services entry is malformed and dropped",
         'Write entries as "<port>": "<namespace>/<service>:<port>".'),
    _sig(r"tried to use \S+-snippet and the annotation is disabled by the admin", "RG101",
         "a snippet annotation is stripped because snippets are disabled",
         "Remove the snippet and use the dedicated annotation."),
    _sig(r"annotation group \S+ contains risky annotation based on ingress configuration", "RG102",
         "an annotation is above the controller's annotations-risk-level, so the Ingress is left out",
         "Remove the risky annotation or use a lower-risk equivalent."),
    _sig(r"(rewrite-target is invalid, defaulting to empty|contains invalid value)", "RG103",
         "an annotation value fails validation and is silently replaced by a default",
         "Correct the annotation value (see RG103)."),
    _sig(r"(ingress does not contain a valid IngressClass|Ignoring ingress because of error "
         r"while validating ingress class)", "RG306",
         "the Ingress names no class this controller serves, so it is ignored",
         "Set spec.ingressClassName to the controller's IngressClass."),
    _sig(r"client intended to send too large body", "RG210",
         "a request (e.g. a Ray job's working_dir upload) exceeded proxy-body-size",
         "Raise nginx.ingress.kubernetes.io/proxy-body-size on the Dashboard Ingress."),
    _sig(r"upstream timed out \(110: (Connection timed out|Operation timed out)\) while reading", "RG211",
         "a long request (log tailing, job status) outlived proxy-read-timeout",
         "Raise nginx.ingress.kubernetes.io/proxy-read-timeout on the Dashboard Ingress."),
    _sig(r"bind\(\) to \S+ failed \(98: Address (already )?in use\)", "RG152",
         "a host daemon or another hostNetwork pod already holds a port the controller needs",
         "Free the port on the gateway node or choose another external port."),
    _sig(r"Unexpected failure reloading the backend", "RG152",
         "nginx rejected the rendered configuration, so no change since the last good reload is live",
         "Read the lines after this one for the nginx error and fix the object it names."),
)


@rule(
    code="RG152",
    name="controller-log-signature",
    layer="security",
    severity="warning",
    kinds=("Pod",),
    needs="runtime",
    title="Known Ray-route failure in the ingress-nginx controller log",
    rationale="""
        Many gateway failures are visible only in the controller's log: a tcp-services entry
        dropped for lack of endpoints, a snippet silently removed, an annotation value
        replaced by a default, a request body over the limit, a reload that failed. With
        --logs, doctor reads the controller pods' recent log lines and maps each known
        signature to the rule that explains it, so the line the user saw leads to its cause.
    """,
    fix="Fix the cause the finding names (each signature maps to a catalog rule).",
    references=("https://kubernetes.github.io/ingress-nginx/troubleshooting/",),
    errors=("bind() to <address> failed (98: Address already in use)",
            "Unexpected failure reloading the backend"),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate import runtime as rt

    state = rt.state_of(ctx.runtime, ctx.objects)
    text = state.logs.get((obj.namespace, obj.name))
    if not text:
        return
    hits: dict[int, list[str]] = {}
    for line in text.splitlines():
        for i, sig in enumerate(SIGNATURES):
            if sig.pattern.search(line):
                hits.setdefault(i, []).append(line.strip())
                break
    container = _controller_container(obj)
    for i, lines in sorted(hits.items()):
        sig = SIGNATURES[i]
        target = CATALOG.find(sig.rule) if sig.rule != "RG152" else None
        named = f"{target.code} {target.name}: " if target else ""
        yield ctx.finding(
            obj, ("spec", "containers", container),
            f"{len(lines)} log line(s) of controller pod {obj.name} show it: {named}{sig.cause}.",
            fix=sig.fix, symptom=_clip(lines[0]),
            severity="error" if sig.rule in ("RG251", "RG252", "RG204", "RG202", "RG102") else None,
            cause=sig.rule, count=len(lines))


def _controller_container(pod: KubeObject) -> int:
    from raygate import runtime as rt
    from raygate.backends import ingress_nginx as nginx

    for i, c in enumerate(rt.as_list(pod.spec.get("containers"))):
        if isinstance(c, dict) and nginx.is_controller_container(c):
            return i
    return 0


def _clip(line: str, limit: int = 400) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"
