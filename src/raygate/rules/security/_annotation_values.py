"""How ingress-nginx judges an annotation *value*, and what it does when it refuses one.

RG103 needs two facts per annotation (facts: ingress_nginx.md §2.2, §2.3 and the Appendix
table): the validator the annotation is declared with (``validators.go``: SizeRegex, ValidateInt,
ValidateBool, RegexPathWithCapture, ...) and what the annotation's parser does with a refused
value. Some parsers propagate the error, so the admission webhook denies the Ingress; others
swallow it and quietly use a default, which is worse to debug because ``kubectl apply`` succeeds.
Only the parsers listed in §2.3 were checked upstream; everything else is "unverified" and the
messages say so instead of pretending to know.

Values are matched with ``re.fullmatch`` because Go's ``$`` (no multiline flag) only matches at
the very end, while Python's ``$`` also matches before a trailing newline.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Callable

from raygate.backends import ingress_nginx as nginx
from raygate.records import record

# Character classes of validators.go (facts §2.2).
_ALNUM = r"\-._~a-zA-Z0-9/:"
_SIZE = re.compile(r"[0-9]+[bkmgBKMG]?")
_INT = re.compile(r"[+-]?[0-9]+")
_PATH_WITH_CAPTURE = re.compile(r"/?[" + _ALNUM + r"/$]*")
_URL = re.compile(r"[" + _ALNUM + r",:?&=]*")
_MALICIOUS = re.compile(r"[\r\n]")
_GO_BOOLS = {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
_NEXT_UPSTREAM = re.compile(
    r"((error|timeout|invalid_header|http_500|http_502|http_503|http_504|http_403|http_404|"
    r"http_429|non_idempotent|off)\s?)+")

#: Outcomes of a refused value.
DENY = "deny"          # the parser returns the error: webhook denial / Ingress skipped
FALLBACK = "fallback"  # the parser logs and uses a default; kubectl apply succeeds
UNVERIFIED = "unverified"


@record(frozen=True)
class Check:
    """One annotation's validator and the consequence of failing it."""

    kind: str                      # size | int | bool | path | url | options | cidrs | regex
    outcome: str
    instead: str = ""              # for FALLBACK: what the controller uses instead
    remove_spaces: bool = False    # ValidateRegex(..., removeSpace) / trimSpace for options
    options: tuple[str, ...] = ()
    case_sensitive: bool = True
    pattern: re.Pattern[str] | None = None
    #: The parser itself (not only the validator) refuses bad values, so turning
    #: ``--enable-annotation-validation`` off does not let them through.
    parser_checks: bool = False


def _proxy(kind: str, setting: str | None = None, **kw: object) -> Check:
    # proxy/main.go Parse falls back to the ConfigMap value on *any* error (facts §2.3).
    return Check(kind, FALLBACK, instead=f"cm:{setting}" if setting else "the ConfigMap default",
                 **kw)  # type: ignore[arg-type]


CHECKS: dict[str, Check] = {
    # Sizes (SizeRegex, spaces removed first).
    "proxy-body-size": _proxy("size", "proxy-body-size", remove_spaces=True),
    "proxy-buffer-size": _proxy("size", remove_spaces=True),
    "proxy-busy-buffers-size": _proxy("size", remove_spaces=True),
    "proxy-max-temp-file-size": _proxy("size", remove_spaces=True),
    "client-body-buffer-size": Check("size", UNVERIFIED, remove_spaces=True),
    # Integers (ValidateInt = strconv.Atoi; the parser converts with Atoi as well).
    "proxy-read-timeout": _proxy("int", "proxy-read-timeout", parser_checks=True),
    "proxy-send-timeout": _proxy("int", "proxy-send-timeout", parser_checks=True),
    "proxy-connect-timeout": _proxy("int", "proxy-connect-timeout", parser_checks=True),
    "proxy-next-upstream-timeout": _proxy("int", parser_checks=True),
    "proxy-next-upstream-tries": _proxy("int", parser_checks=True),
    "proxy-buffers-number": _proxy("int", parser_checks=True),
    # Options.
    "proxy-buffering": _proxy("options", options=("on", "off"), remove_spaces=True),
    "proxy-request-buffering": _proxy("options", options=("on", "off"), remove_spaces=True),
    "proxy-http-version": _proxy("options", options=("1.0", "1.1"), remove_spaces=True),
    "proxy-next-upstream": _proxy("regex", pattern=_NEXT_UPSTREAM),
    "proxy-cookie-path": _proxy("url", remove_spaces=True),
    "proxy-redirect-from": _proxy("url", remove_spaces=True),
    "proxy-redirect-to": _proxy("url", remove_spaces=True),
    "backend-protocol": Check("options", FALLBACK, instead="HTTP", remove_spaces=True,
                              options=("auto_http", "http", "https", "grpc", "grpcs", "fcgi"),
                              case_sensitive=False, parser_checks=True),
    # Rewrite group (rewrite/main.go swallows errors, facts §2.3).
    "rewrite-target": Check("path", FALLBACK, instead="no rewrite at all (the original URI goes "
                            "to the backend)"),
    "app-root": Check("path", FALLBACK, instead="no app-root redirect"),
    "use-regex": Check("bool", FALLBACK, instead="false", parser_checks=True),
    "ssl-redirect": Check("bool", FALLBACK, instead="the ConfigMap ssl-redirect value",
                          parser_checks=True),
    "force-ssl-redirect": Check("bool", FALLBACK, instead="the ConfigMap force-ssl-redirect value",
                                parser_checks=True),
    "preserve-trailing-slash": Check("bool", FALLBACK, instead="the ConfigMap default",
                                     parser_checks=True),
    # Parsers that propagate the error (facts §2.3).
    "x-forwarded-prefix": Check("path", DENY, remove_spaces=True),
    "permanent-redirect": Check("url", DENY),
    "temporal-redirect": Check("url", DENY),
    # connection/main.go and auth/main.go return the validation error (controller-v1.15.1).
    "connection-proxy-header": Check("options", DENY, options=("close", "keep-alive"),
                                     remove_spaces=True),
    # satisfy/main.go: anything but any/all becomes "" (nginx's default, satisfy all).
    "satisfy": Check("options", FALLBACK, instead="nginx's default (satisfy all)",
                     options=("any", "all"), remove_spaces=True),
    "auth-type": Check("options", DENY, options=("basic", "digest"), remove_spaces=True),
    # Not checked upstream which way these go: say so.
    "affinity": Check("options", UNVERIFIED, options=("cookie",), remove_spaces=True),
    "affinity-mode": Check("options", UNVERIFIED, options=("balanced", "persistent"),
                           remove_spaces=True),
    "limit-allowlist": Check("cidrs", UNVERIFIED, parser_checks=True),
    "limit-whitelist": Check("cidrs", UNVERIFIED, parser_checks=True),
    "auth-signin-redirect-param": Check("url", UNVERIFIED, remove_spaces=True),
    "auth-request-redirect": Check("url", UNVERIFIED, remove_spaces=True),
    "session-cookie-path": Check("url", UNVERIFIED, remove_spaces=True),
}
for _name in ("canary-weight", "canary-weight-total", "auth-tls-verify-depth", "cors-max-age",
              "auth-keepalive", "auth-keepalive-requests", "auth-keepalive-timeout",
              "limit-burst-multiplier", "limit-connections", "limit-rate", "limit-rate-after",
              "limit-rpm", "limit-rps", "permanent-redirect-code", "temporal-redirect-code",
              "proxy-ssl-verify-depth", "upstream-hash-by-subset-size"):
    CHECKS[_name] = Check("int", UNVERIFIED, parser_checks=True)
for _name in ("canary", "auth-tls-pass-certificate-to-upstream", "cors-allow-credentials",
              "enable-cors", "disable-proxy-intercept-errors", "enable-global-auth",
              "auth-always-set-cookie", "auth-keepalive-share-vars", "http2-push-preload",
              "enable-access-log", "enable-rewrite-log", "enable-modsecurity",
              "enable-owasp-core-rules", "enable-opentelemetry",
              "opentelemetry-trust-incoming-span", "from-to-www-redirect", "relative-redirects",
              "ssl-prefer-server-ciphers", "ssl-passthrough", "service-upstream",
              "session-cookie-change-on-failure", "session-cookie-conditional-samesite-none",
              "session-cookie-secure", "upstream-hash-by-subset", "use-port-in-redirects"):
    CHECKS[_name] = Check("bool", UNVERIFIED, parser_checks=True)
# redirect.go returns every non-missing error, canary/main.go logs and defaults (v1.15.1).
for _name in ("permanent-redirect-code", "temporal-redirect-code"):
    CHECKS[_name] = Check("int", DENY, parser_checks=True)
for _name in ("from-to-www-redirect", "relative-redirects"):
    CHECKS[_name] = Check("bool", DENY, parser_checks=True)
CHECKS["canary"] = Check("bool", FALLBACK, instead="false (no canary)", parser_checks=True)
CHECKS["canary-weight"] = Check("int", FALLBACK, instead="0", parser_checks=True)
CHECKS["canary-weight-total"] = Check("int", FALLBACK, instead="100", parser_checks=True)

#: Allow/deny lists: every failure becomes a LocationDeniedError (ipallowlist/ipdenylist main.go
#: at controller-v1.15.1), the Ingress is admitted and its locations answer 503; RG125 says so.
LOCATION_DENIED = frozenset({nginx.ALLOWLIST, nginx.ALLOWLIST_ALIAS, nginx.DENYLIST})

#: Annotations whose validator accepts CR/LF (snippets: ValidateNull; options: trimmed first).
_CRLF_EXEMPT_SUFFIX = "-snippet"


@record(frozen=True)
class Refusal:
    """Why a value is refused, and a better value when one can be derived."""

    reason: str
    suggestion: str | None = None


def refusal(name: str, value: str) -> Refusal | None:
    """Why ingress-nginx refuses ``value`` for annotation ``name`` (None when accepted)."""
    if value == "":
        return None  # checkAnnotation: "We don't run validation against empty values"
    check = CHECKS.get(name)
    if check is None:
        if _MALICIOUS.search(value) and not name.endswith(_CRLF_EXEMPT_SUFFIX):
            return Refusal("contains a line break (CR/LF), which every regex validator refuses "
                           "as a malicious string")
        return None
    if check.kind in ("size", "path", "url", "regex") and _MALICIOUS.search(value):
        return Refusal("contains a line break (CR/LF), which the validator refuses as a "
                       "malicious string")
    judge = _JUDGES[check.kind]
    return judge(check, value)


def _size(check: Check, value: str) -> Refusal | None:
    compact = value.replace(" ", "")
    if _SIZE.fullmatch(compact):
        return None
    return Refusal("is not a size nginx understands (digits with an optional b, k, m or g "
                   "suffix, e.g. 100m)", _suggest_size(compact))


def _suggest_size(value: str) -> str | None:
    m = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*([kmgKMG])(?:i?[bB]?|i)?", value)
    if not m:
        return None
    number, unit = float(m.group(1)), m.group(2).lower()
    if number.is_integer():
        return f"{int(number)}{unit}"
    smaller = {"g": "m", "m": "k"}.get(unit)
    return f"{round(number * 1024)}{smaller}" if smaller else None


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}


def _int(check: Check, value: str) -> Refusal | None:
    if _INT.fullmatch(value):
        return None
    m = re.fullmatch(r"\s*([0-9]+)\s*(s|m|h|sec|secs|seconds)?\s*", value)
    suggestion = None
    if m:
        unit = (m.group(2) or "s")[0]
        suggestion = str(int(m.group(1)) * _DURATION_UNITS[unit])
    return Refusal("is not an integer (timeouts are plain seconds, no unit)", suggestion)


def _bool(check: Check, value: str) -> Refusal | None:
    if value in _GO_BOOLS:
        return None
    lowered = value.strip().lower()
    suggestion = {"yes": "true", "on": "true", "y": "true", "no": "false", "off": "false",
                  "n": "false", "true": "true", "false": "false"}.get(lowered)
    return Refusal("is not a boolean strconv.ParseBool accepts (true/false, 1/0, t/f)",
                   suggestion)


def _path(check: Check, value: str) -> Refusal | None:
    candidate = value.replace(" ", "") if check.remove_spaces else value
    if _PATH_WITH_CAPTURE.fullmatch(candidate):
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", candidate):
            return Refusal("is an absolute URL; only a path is allowed here")
        return None
    bad = sorted({c for c in candidate if not re.fullmatch(r"[" + _ALNUM + r"$]", c)})
    shown = "".join(bad).replace(" ", "<space>")
    return Refusal(f"has characters the RegexPathWithCapture validator refuses ({shown}); only "
                   "letters, digits, - . _ ~ / : and $ are allowed")


def _url(check: Check, value: str) -> Refusal | None:
    candidate = value.replace(" ", "") if check.remove_spaces else value
    if _URL.fullmatch(candidate):
        return None
    bad = sorted({c for c in candidate if not re.fullmatch(r"[" + _ALNUM + r",:?&=]", c)})
    shown = "".join(bad).replace(" ", "<space>")
    return Refusal(f"has characters the URLIsValidRegex validator refuses ({shown}); no $, %, #, "
                   "@, {}, + or spaces")


def _options(check: Check, value: str) -> Refusal | None:
    candidate = value.strip() if check.remove_spaces else value
    options = check.options
    if check.case_sensitive:
        ok = candidate in options
    else:
        ok = candidate.lower() in options
    if ok:
        return None
    suggestion = next((o for o in options if o == candidate.strip().lower()), None)
    shown = ", ".join(o.upper() if not check.case_sensitive else o for o in options)
    return Refusal(f"is not one of the accepted values ({shown})", suggestion)


def _regex(check: Check, value: str) -> Refusal | None:
    assert check.pattern is not None
    if check.pattern.fullmatch(value.replace(" ", "") if check.remove_spaces else value):
        return None
    return Refusal("does not match the values the validator accepts")


def _cidrs(check: Check, value: str) -> Refusal | None:
    bad = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            bad.append(part)
    if not bad:
        return None
    return Refusal("has entries that are not IP addresses or CIDRs: " + ", ".join(bad))


_JUDGES: dict[str, Callable[[Check, str], Refusal | None]] = {
    "size": _size, "int": _int, "bool": _bool, "path": _path, "url": _url,
    "options": _options, "regex": _regex, "cidrs": _cidrs,
}


def fallback_text(check: Check, controller: nginx.Controller) -> str:
    """What the controller uses instead of a refused value, for FALLBACK checks."""
    if check.instead.startswith("cm:"):
        key = check.instead[3:]
        current = controller.setting(key)
        unit = " s" if key.endswith("timeout") and current.isdigit() else ""
        return f"{current}{unit} (the {key} setting)"
    return check.instead


def validation_enabled(controller: nginx.Controller) -> bool:
    """``--enable-annotation-validation`` (shared with the protocol rules via the controller)."""
    return controller.annotation_validation


def annotation_prefix(controller: nginx.Controller) -> str:
    """The prefix this controller reads (``--annotations-prefix``), with a trailing slash."""
    return controller.annotations_prefix
