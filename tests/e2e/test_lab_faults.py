"""For a clean lab every probe passes; for every fault the probe fails the right check with the
right cause, and the rule catalog reports the fault's rule on the same objects (the static and
dynamic views agree). Real Ray head, real nginx rendered from the rendered objects."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from raygate import engine
from raygate.lab import gateway as gw
from raygate.lab.control import WELL_KNOWN
from raygate.probe import ProbeOptions, Verdict, probe
from raygate.sources.files import load_text

# fault -> (probe options, failing check, words the cause must contain)
EXPECTED: dict[str, tuple[dict[str, Any], str, str]] = {
    "no-tcp-map": ({"client": True}, "ray-client", "connection refused"),
    "missing-slash-redirect": ({}, "slash-redirect", "answers 404"),
    "body-size-1m": ({"submit": True}, "job-upload", "413"),
    "no-websocket": ({"submit": True}, "job-logs", "WebSocket upgrade failed"),
    "short-read-timeout": ({"submit": True}, "job-logs", "idle timeout"),
    "gcs-exposed": ({}, "gcs-closed", "is exposed on the gateway host"),
}


def options(built: Any, head: Any, *, client: bool = False, submit: bool = False,
            serve: bool = False) -> ProbeOptions:
    ports = built.gateway_ports
    return ProbeOptions(
        f"http://127.0.0.1:{built.http_port}{gw.PREFIX}/",
        client=f"127.0.0.1:{ports[WELL_KNOWN['client']]}" if client else None,
        serve=f"{gw.SERVE_PREFIX}{gw.SERVE_ROUTE}" if serve else None,
        token=head.token, submit=submit, gcs_port=ports[WELL_KNOWN["gcs"]],
        agent_port=ports[WELL_KNOWN["agent"]], client_timeout=15, job_timeout=45,
        # Per-request timeout as a hang guard only: with two suites side by side the
        # Dashboard took over 10 s to answer the WebSocket request, and the no-websocket
        # fault then read as a handshake timeout instead of the refused upgrade it is.
        timeout=60)


def static_findings(objects: list[dict[str, Any]], rule: str) -> list[Any]:
    loaded = load_text(yaml.safe_dump_all(objects), "objects.yaml")
    assert not loaded.problems
    return engine.run(loaded.objects, select=[rule]).findings


def test_clean_lab_passes_every_check(gateway: Any, ray_head: Any) -> None:
    built = gateway(None)
    report = probe(options(built, ray_head, client=True, submit=True, serve=True))
    failed = [(r.name, r.cause) for r in report.results if r.verdict is not Verdict.PASS]
    assert failed == []
    names = {r.name for r in report.results}
    assert {"dashboard", "slash-redirect", "jobs-api", "auth-required", "job-upload", "job-logs",
            "ray-client", "serve", "gcs-closed", "agent-closed"} <= names
    assert report.result("dashboard").data["assets"]  # the assets were really fetched
    # The static view agrees: none of the faults' rules fire on the clean objects.
    for rule, _ in gw.FAULTS.values():
        assert static_findings(built.objects, rule) == [], rule


@pytest.mark.parametrize("backend", ["gateway-api", "migrated"])
def test_gateway_api_data_plane_passes_every_check(backend: str, gateway: Any,
                                                   ray_head: Any) -> None:
    """The same probes through nginx rendered from the Gateway API objects (as NGINX Gateway
    Fabric builds it): rendered directly, and after migrating the ingress-nginx objects."""
    built = gateway(None, backend=backend)
    report = probe(options(built, ray_head, client=True, submit=True, serve=True))
    failed = [(r.name, r.cause) for r in report.results if r.verdict is not Verdict.PASS]
    assert failed == []
    assert {"slash-redirect", "job-upload", "job-logs", "ray-client", "serve"} <= \
        {r.name for r in report.results}


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_fault_is_named_by_probe_and_lint(fault: str, gateway: Any, ray_head: Any) -> None:
    opts, check, words = EXPECTED[fault]
    built = gateway(fault)
    report = probe(options(built, ray_head, **opts))
    assert not report.ok
    result = report.result(check)
    assert result is not None and result.verdict is Verdict.FAIL, report.to_dict()
    assert words.lower() in (result.cause or "").lower(), result.cause
    # Only the fault's check fails (the rest of the gateway still works).
    others = [r.name for r in report.results if r.verdict is Verdict.FAIL and r.name != check]
    assert others == []
    rule = gw.FAULTS[fault][0]
    assert result.rule == rule  # the probe names the same rule lint reports
    assert static_findings(built.objects, rule), f"{rule} does not fire for fault {fault}"


def test_snippet_fault_is_refused_with_the_webhook_text(tmp_path: Any) -> None:
    from raygate import lab

    with pytest.raises(lab.LabRefused) as refused:
        lab.up(tmp_path / "lab", "snippet")
    text = str(refused.value)
    assert ('admission webhook "validate.nginx.ingress.kubernetes.io" denied the request: '
            "nginx.ingress.kubernetes.io/configuration-snippet annotation cannot be used. "
            "Snippet directives are disabled by the Ingress administrator") in text
    # Nothing was started, and the objects are there for `raygate lint`.
    assert (tmp_path / "lab" / "objects.yaml").exists()
    assert lab.status(tmp_path / "lab").ray_running is False
    objects = list(yaml.safe_load_all((tmp_path / "lab" / "objects.yaml").read_text()))
    assert static_findings(objects, "snippet-annotation")
