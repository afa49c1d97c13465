"""RG235 duplicate-host-path: two Ingresses of one controller claim the same host and path.

controller.go ``checkOverlap`` (webhook, since v0.40.0; controller-v1.15.1) builds the servers
from every Ingress the controller has plus the new one and denies it when a location with the
same host and path already belongs to another Ingress: ``host "<host>" and path "<path>" is
already defined in ingress <ns>/<name>`` (host ``_`` and path ``/`` when empty). Canary pairs
escape it: the denial needs both Ingresses to be canaries, or neither to carry the ``canary``
annotation at all. Prefix paths are normalised first (``/ray`` becomes ``/ray/`` plus an exact
``/ray``, location.go), so ``/ray/`` collides with ``/ray`` too.

Without the webhook both are admitted and the store orders Ingresses by creationTimestamp
(store.go ``sortIngressSlice``): the older keeps the location ("Location ... already configured
for server ..."), the newer's path is never served. raygate orders by creationTimestamp when
present (existing objects first), else by the order of the inputs (the order they would be
applied in).
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import Context, rule


@rule(
    code="RG235",
    name="duplicate-host-path",
    layer="protocol",
    severity="error",
    kinds=("Ingress",),
    title="Two Ingresses of the same controller claim the same host and path",
    rationale="""
        A Ray route copied into a second Ingress (a new RayCluster behind the same host, a
        Helm release installed twice, KubeRay's generated Ingress next to a hand-written one)
        claims a host and path that another Ingress already has. The admission webhook denies
        the newer one (`host "_" and path "/" is already defined in ingress ...`), so it never
        exists. Without the webhook both are accepted and the older Ingress silently keeps the
        route: the new cluster is unreachable while `kubectl get ingress` shows both.
    """,
    fix="Give each Ray route its own host or path, or delete the older Ingress.",
    references=(
        "https://github.com/kubernetes/ingress-nginx/blob/controller-v1.15.1/internal/ingress/controller/controller.go",
        "https://kubernetes.github.io/ingress-nginx/user-guide/ingress-path-matching/",
    ),
    errors=(
        'host "<host>" and path "<path>" is already defined in ingress <ns>/<name>',
        'Location "<path>" already configured for server "<host>" with upstream "<upstream>" '
        '(Ingress "<ns>/<name>")',
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    for overlap in _overlaps(ctx.objects).get(id(obj), ()):
        controller = dataplane.controller_of(ctx.objects, obj)
        assert controller is not None
        existing = f"{overlap.existing.namespace}/{overlap.existing.name}"
        if controller.admission_webhook and nginx.has_behaviour(controller, "overlap-denial"):
            yield ctx.finding(
                obj, overlap.field + ("path",),
                f'admission webhook "{nginx.WEBHOOK_NAME}" denied the request: {overlap.denial}',
                assumption=controller.assumed)
        else:
            yield ctx.finding(
                obj, overlap.field + ("path",),
                f"{controller.no_webhook}; Ingress {existing} already defines host "
                f"\"{overlap.host}\" and path \"{overlap.path}\" and keeps it, so this path of "
                f"{obj.namespace}/{obj.name} is never served (log: Location \"{overlap.path}\" "
                f"already configured for server \"{overlap.host}\")",
                severity="warning", assumption=controller.assumed)


def _overlaps(objects: ObjectSet) -> dict[int, list[nginx.Overlap]]:
    return objects.memo("rg235-overlaps", lambda: _compute(objects))


def _compute(objects: ObjectSet) -> dict[int, list[nginx.Overlap]]:
    groups: dict[int, tuple[nginx.Controller, list[tuple[tuple[int, tuple], int, KubeObject]]]] = {}
    for index, ing in enumerate(objects.of_kind("Ingress")):
        if not nginx.is_ingress(ing):
            continue
        controller = dataplane.controller_of(objects, ing)
        if controller is None:
            continue
        created = ing.get("metadata", "creationTimestamp")
        entry = groups.setdefault(id(controller), (controller, []))
        # Objects that exist (a creationTimestamp) come first, in the store's order; manifests
        # not yet applied follow in the order of the inputs (the order they will be created).
        key = (0, nginx.sort_key(ing)) if created else (1, (index,))
        entry[1].append((key, index, ing))
    found: dict[int, list[nginx.Overlap]] = {}
    for controller, members in groups.values():
        if len(members) < 2:
            continue
        ordered = [ing for _key, _i, ing in sorted(members, key=lambda m: (m[0], m[1]))]
        for overlap in nginx.overlaps(ordered, controller.annotations_prefix):
            found.setdefault(id(overlap.ingress), []).append(overlap)
    return found
