"""Every text ingress-nginx v1.15.1 prints for a problem raygate models leads back to its rule.

The texts are written out as the controller formats them (the format strings are quoted in the
comments, with their file at tag controller-v1.15.1), with realistic values substituted, and
wrapped the way users see them (kubectl's admission wrapper, klog prefixes). ``raygate explain
--error`` must list the rule, and must not let a generic rule outrank it.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from raygate.cli import app
from raygate.rules import CATALOG, best_error_matches

WEBHOOK = ('Error from server (BadRequest): error when creating "ray.yaml": admission webhook '
           '"validate.nginx.ingress.kubernetes.io" denied the request: ')

MESSAGES = [
    # controller.go CheckIngress: fmt.Errorf(`host "%s" and path "%s" is already defined in ingress %s/%s`, ...)
    (WEBHOOK + 'host "_" and path "/" is already defined in ingress ray/ray-dashboard', "RG235"),
    (WEBHOOK + 'host "ray.example.com" and path "/ray/" is already defined in ingress ray/ray', "RG235"),
    # controller.go getBackendServers: klog.V(3).Infof("Location %q already configured for server %q with upstream %q (Ingress %q)", ...)
    ('I0101 00:00:00.000000       7 controller.go:831] Location "/" already configured for server '
     '"ray.example.com" with upstream "ray-raycluster-head-svc-8265" (Ingress "ray/second")', "RG235"),
    # CheckIngress: "%s annotation cannot be used. Snippet directives are disabled by the Ingress administrator"
    (WEBHOOK + "nginx.ingress.kubernetes.io/server-snippet annotation cannot be used. Snippet "
     "directives are disabled by the Ingress administrator", "RG101"),
    # errors.go NewRiskyAnnotations: "annotation group %s contains risky annotation based on ingress configuration"
    (WEBHOOK + "annotation group ConfigurationSnippet contains risky annotation based on ingress "
     "configuration", "RG101"),
    (WEBHOOK + "annotation group ExternalAuth contains risky annotation based on ingress "
     "configuration", "RG102"),
    # controller.go dropSnippetDirectives: "Ingress %q tried to use configuration-snippet and the annotation is disabled by the admin. Removing the annotation"
    ('I0101 00:00:00.000000       7 controller.go:700] Ingress "ray/ray-dashboard" tried to use '
     "configuration-snippet and the annotation is disabled by the admin. Removing the annotation",
     "RG101"),
    # errors.go NewValidationError: "annotation %s contains invalid value"
    (WEBHOOK + "annotation nginx.ingress.kubernetes.io/x-forwarded-prefix contains invalid value",
     "RG103"),
    # validators.go checkAnnotation: "validation error on ingress %s/%s: annotation %s contains invalid value %s"
    ("W0101 00:00:00.000000       7 validators.go:367] validation error on ingress ray/ray-dashboard: "
     "annotation proxy-read-timeout contains invalid value 3600s", "RG103"),
    # CheckIngress: "this deployment has a custom annotation prefix defined. Use '%s' instead of '%s'"
    (WEBHOOK + "this deployment has a custom annotation prefix defined. Use 'ingress.kubernetes.io' "
     "instead of 'nginx.ingress.kubernetes.io'", "RG127"),
    # CheckIngress: "%s annotation contains invalid word %s"
    (WEBHOOK + "nginx.ingress.kubernetes.io/auth-url annotation contains invalid word {", "RG126"),
    # store.go syncIngress: klog.Warningf("skipping ingress %s: %s", key, err)
    ("W0101 00:00:00.000000       7 store.go:927] skipping ingress ray/ray-dashboard: "
     "nginx.ingress.kubernetes.io/custom-headers annotation contains invalid word invalid_directive",
     "RG126"),
    # CheckIngress: catch-all with --disable-catch-all
    (WEBHOOK + "this deployment is trying to create a catch-all ingress while DisableCatchAll flag "
     "is set to true. Remove '.spec.defaultBackend' or set DisableCatchAll flag to false", "RG234"),
    # CheckIngress: fmt.Errorf("invalid object: %w", inspector.DeepInspect(ing))
    (WEBHOOK + "invalid object: invalid rule in ingress ray/ray-dashboard: invalid http path: "
     "invalid value found: /etc/nginx", "RG128"),
    # CheckIngress: fmt.Errorf("ingress contains invalid paths: %w", inspector.ValidatePathType(ing))
    (WEBHOOK + "ingress contains invalid paths: path /ray(/|$)(.*) cannot be used with pathType "
     "Prefix", "RG207"),
    # store.go syncIngress -> Event AnnotationParsingFailed "Error parsing annotations: %v"
    ("Warning  AnnotationParsingFailed  ingress/ray-dashboard  Error parsing annotations: annotation "
     "nginx.ingress.kubernetes.io/allowlist-source-range contains invalid value", "RG125"),
    # nginx.tmpl: "# Location denied. Reason: {{ $location.Denied | quote }}"
    ('# Location denied. Reason: "the annotation does not contain a valid IP address or network: '
     'invalid CIDR address: ww"', "RG125"),
    # template/configmap.go ReadConfig: klog.Warningf("unexpected error merging defaults: %v", err)
    ("W0101 00:00:00.000000       7 configmap.go:467] unexpected error merging defaults: 1 error(s) "
     "decoding:\n\n* cannot parse 'proxy-read-timeout' as int: strconv.ParseInt: parsing \"3600s\": "
     "invalid syntax", "RG233"),
    # redirect.go isValidURL: "only http and https are valid protocols (%v)"
    ("only http and https are valid protocols ()", "RG237"),
    # rewrite/main.go: "Annotation app-root only allows absolute paths (%v)"
    ("W0101 00:00:00.000000       7 main.go:270] Annotation app-root only allows absolute paths "
     "(https://ray.example.com/)", "RG237"),
    # controller.go getStreamServices: "Service %q does not have any active Endpoint for TCP port %v"
    ('W0101 00:00:00.000000       7 controller.go:1156] Service "ray/raycluster-head-svc" does not '
     "have any active Endpoint for TCP port 10001", "RG202"),
    # controller.go serviceEndpoints: "Error obtaining Endpoints for Service %q: %v"
    ('W0101 00:00:00.000000       7 controller.go:1135] Error obtaining Endpoints for Service '
     '"ray/raycluster-head-svc": no object matching key "ray/raycluster-head-svc" in local store',
     "RG252"),
    # controller.go getStreamServices: reserved ports
    ("Port 443 cannot be used for TCP stream services. It is reserved for the Ingress controller.",
     "RG203"),
    # CheckIngress: klog.Warningf("ignoring ingress %v in namespace %v different from the namespace watched %s", ...)
    ("W0101 00:00:00.000000       7 controller.go:357] ignoring ingress ray-dashboard in namespace "
     "ray different from the namespace watched team-a", "RG325"),
    # store.go: klog.InfoS("Ignoring add for catch-all ingress because of --disable-catch-all", "ingress", klog.KObj(ing))
    ('I0101 00:00:00.000000       7 store.go:410] "Ignoring add for catch-all ingress because of '
     '--disable-catch-all" ingress="ray/ray-dashboard"', "RG234"),
    # store.go: klog.ErrorS(err, "received invalid ingress", "ingress", klog.KObj(ing))
    ('E0101 00:00:00.000000       7 store.go:447] "received invalid ingress" err="invalid rule in '
     'ingress ray/ray-dashboard: invalid http path: invalid value found: /etc/nginx" '
     'ingress="ray/ray-dashboard"', "RG128"),
    # Ray's own limit (aiohttp HTTPRequestEntityTooLarge on the Dashboard), not nginx's.
    ("RuntimeError: Request failed with status code 413: Maximum request body size 104857600 "
     "exceeded.", "RG236"),
    ("aiohttp.web_exceptions.HTTPRequestEntityTooLarge: Request Entity Too Large", "RG236"),
]


@pytest.mark.parametrize("text, code", MESSAGES, ids=[f"{c}-{i}" for i, (_, c) in enumerate(MESSAGES)])
def test_explain_names_the_rule_first(text: str, code: str) -> None:
    best = [r.code for r in best_error_matches(CATALOG, text)]
    assert code in best, (code, best)
    result = CliRunner().invoke(app, ["explain", "--error", text])
    assert result.exit_code == 0 and result.output.startswith(code) or f"\n{code} " in result.output


def test_rays_413_is_not_blamed_on_nginx() -> None:
    text = "RuntimeError: Request failed with status code 413: Maximum request body size 104857600 exceeded."
    assert [r.code for r in best_error_matches(CATALOG, text)] == ["RG236"]
    nginx_page = ("RuntimeError: Request failed with status code 413: <html>\n<head><title>413 "
                  "Request Entity Too Large</title></head>\n<body>\n<center>nginx</center>")
    assert "RG236" not in [r.code for r in best_error_matches(CATALOG, nginx_page)]
    assert "RG210" in [r.code for r in best_error_matches(CATALOG, nginx_page)]


def test_no_catalog_entry_quotes_an_invented_denial() -> None:
    # The seed guide's "denied the request: risky annotation" is not a text the controller emits.
    for r in CATALOG:
        assert not any(e.strip().endswith("denied the request: risky annotation") for e in r.errors), r.code
