"""The controller knowledge in ``backends/ingress_nginx.py`` against ingress-nginx v1.15.1.

Each expectation is what the Go code does at tag controller-v1.15.1 (file named in the test),
including the corners a Python re-implementation gets wrong by default: Go's ``$``, base-0
ParseInt, the untrimmed store blocklist, the Exact/Prefix asymmetry of checkOverlap.
"""

from __future__ import annotations

import pytest

from raygate.backends import ingress_nginx as nginx
from raygate.objects import KubeObject, ObjectSet, Origin


@pytest.mark.parametrize("raw,value", [
    ("3600", "3600"), ("+5", "5"), ("0x3c", "60"), ("010", "8"), ("0o17", "15"), ("0b11", "3"),
    ("1_000", "1000"), ("", "0"),          # mapstructure: "" decodes as 0
    ("3600s", None), ("20k", None), ("1.5", None), (" 60", None), ("1__0", None), ("_1", None),
    ("9223372036854775808", None),          # out of range for int64
])
def test_configmap_ints_decode_like_strconv_parseint_base_0(raw: str, value: str | None) -> None:
    decoded = nginx.decode_config_value("proxy-read-timeout", raw)
    assert decoded.value == value
    if value is None:
        assert decoded.error.startswith("cannot parse 'proxy-read-timeout' as int: strconv.ParseInt")


@pytest.mark.parametrize("raw,value", [("true", "true"), ("T", "true"), ("0", "false"),
                                       ("", "false"), ("yes", None), ("on", None)])
def test_configmap_bools_decode_like_strconv_parsebool(raw: str, value: str | None) -> None:
    assert nginx.decode_config_value("allow-snippet-annotations", raw).value == value


def test_an_undecodable_key_keeps_its_default_and_the_others_apply() -> None:
    cm = KubeObject({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "c", "namespace": "ingress-nginx"},
                     "data": {"proxy-read-timeout": "3600s", "proxy-send-timeout": "3600",
                              "strict-validate-path-type": "no"}}, Origin("t"))
    controller = nginx.Controller(None, 0, nginx.LAST_RELEASE, True, {}, dict(cm.get("data")), cm)
    assert controller.setting("proxy-read-timeout") == "60"
    assert controller.setting("proxy-send-timeout") == "3600"
    assert controller.strict_path_type is True
    assert [e.key for e in controller.config_errors()] == ["proxy-read-timeout",
                                                           "strict-validate-path-type"]


@pytest.mark.parametrize("value,written", [
    ("1m", True), ("0", True), ("512k", True), ("8G", True), (" 100m ", True),
    ("100Mi", False), ("100 m", False), ("104857600b", False), ("1.5g", False), ("", False),
    ("100m\n", True),  # TrimSpace first
])
def test_template_writes_body_size_only_for_nginx_offsets(value: str, written: bool) -> None:
    assert nginx.template_writes_size(value) is written


def test_body_size_follows_validator_then_configmap_then_template() -> None:
    def controller(config: dict, flags: dict | None = None) -> nginx.Controller:
        return nginx.Controller(None, 0, nginx.LAST_RELEASE, True, flags or {}, config, None)
    assert nginx.body_size(controller({}), "100Mi").effective == "1m"       # refused -> default
    assert nginx.body_size(controller({"proxy-body-size": "200m"}), "100Mi").effective == "200m"
    assert nginx.body_size(controller({}), "100 m").effective == "1m"        # admitted, unwritten
    assert nginx.body_size(controller({"proxy-body-size": "100Mi"}), None).effective == "1m"
    assert nginx.body_size(controller({}), "2k").effective == "2k"
    off = controller({"proxy-body-size": "200m"}, {"--enable-annotation-validation": "false"})
    assert nginx.body_size(off, "100Mi").effective == "1m"                  # unchecked, unwritten


@pytest.mark.parametrize("value,denied", [
    ("10.0.0.0/24", False), ("2.2.2.2/32,1.1.1.1/32,3.3.3.0/24", False), ("10.0.0.1", False),
    ("10.0.0.0/8, 192.168.0.0/16", False), ("::1/128", False),
    ("ww", True), ("", True), ("10.0.0.0/24,", True), ("10.0.0.0/33", True), ("office-lan", True),
])
def test_allowlists_that_deny_every_location(value: str, denied: bool) -> None:
    key = nginx.PREFIX + nginx.ALLOWLIST
    assert (nginx.source_range_denial({key: value}, nginx.ALLOWLIST) is not None) is denied


def test_blocklist_words_are_trimmed_by_the_webhook_only() -> None:
    anns = {nginx.PREFIX + "custom-headers": "another_directive"}
    words = "invalid_directive, another_directive"
    assert nginx.blocklist_hit(anns, words, nginx.PREFIX, webhook=True) is not None
    assert nginx.blocklist_hit(anns, words, nginx.PREFIX, webhook=False) is None
    # A trailing comma is an empty word, found in every value.
    assert nginx.blocklist_hit(anns, "x,", nginx.PREFIX, webhook=True)[1] == ""


@pytest.mark.parametrize("value,refused", [
    ("   root    blabla/lala ;", True), ("   alias    blabla/lala ;", True),
    ("alias #\n/lalala/1/;", True), ("location /etc/nginx/lalala", True),
    ("ssl_cert /var/run/secrets/kubernetes.io/lalala; xpto", True), ("set_by_lua lala", True),
    ("/test/mypage1", False), ("/etc/ray", False),
])
def test_deep_inspection_matches_upstream_check_regex_cases(value: str, refused: bool) -> None:
    # internal/ingress/inspector/rules_test.go TestCheckRegex
    assert nginx.deep_inspect_value(value) is refused


def test_redirect_and_app_root_values_the_parsers_drop() -> None:
    assert nginx.temporal_redirect_ignored("http://ok.com") is None
    assert nginx.temporal_redirect_ignored("ok.com") is not None          # redirect_test.go
    assert nginx.temporal_redirect_ignored("/ray/") is not None
    assert nginx.app_root_ignored("/demo") is None                          # rewrite main_test.go
    assert "invalid URI for request" in nginx.app_root_ignored("demo")
    assert "only allows absolute paths" in nginx.app_root_ignored("https://x.example.com/")


def _ing(name: str, path: str, ptype: str = "Prefix", **ann: str) -> KubeObject:
    return KubeObject({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                       "metadata": {"name": name, "namespace": "ray",
                                    "annotations": {nginx.PREFIX + k: v for k, v in ann.items()}},
                       "spec": {"rules": [{"host": "h", "http": {"paths": [{
                           "path": path, "pathType": ptype,
                           "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}},
                      Origin("t"))


def test_overlap_exact_and_prefix_depend_on_which_came_first() -> None:
    # getBackendServers adds both; updateServerLocations gives the Prefix one no exact twin
    # when an Exact location exists. checkOverlap then matches on the path alone.
    assert nginx.overlaps([_ing("a", "/ray"), _ing("b", "/ray", "Exact")]) == []
    (o,) = nginx.overlaps([_ing("a", "/ray", "Exact"), _ing("b", "/ray")])
    assert o.ingress.name == "b" and o.existing.name == "a"
    assert o.denial == 'host "h" and path "/ray" is already defined in ingress ray/a'


def test_overlap_respects_canary_and_regex() -> None:
    assert nginx.overlaps([_ing("a", "/"), _ing("b", "/", canary="true")]) == []
    assert len(nginx.overlaps([_ing("a", "/", canary="true"), _ing("b", "/", canary="true")])) == 1
    assert nginx.overlaps([_ing("a", "/", canary="false"), _ing("b", "/", canary="false")]) == []
    # use-regex keeps /ray as it is, so /ray/ is a different location.
    assert nginx.overlaps([_ing("a", "/ray", **{"use-regex": "true"}), _ing("b", "/ray/")]) == []
    assert len(nginx.overlaps([_ing("a", "/ray"), _ing("b", "/ray/")])) == 1


def test_store_order_is_oldest_first_then_reverse_name() -> None:
    a, b = _ing("a", "/"), _ing("b", "/")
    assert sorted([a, b], key=nginx.sort_key)[0].name == "b"


def test_controller_flags() -> None:
    objects = ObjectSet([KubeObject({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "c", "namespace": "ingress-nginx"},
        "spec": {"template": {"spec": {"containers": [{
            "image": "registry.k8s.io/ingress-nginx/controller:v1.15.1",
            "args": ["/nginx-ingress-controller", "--annotations-prefix=custom.io",
                     "--disable-catch-all", "--deep-inspect=false", "--watch-namespace=ray"]}]}}}},
        Origin("t"))])
    (c,) = nginx.find_controllers(objects)
    assert not c.admission_webhook and c.annotations_prefix == "custom.io/"
    assert c.disable_catch_all and not c.deep_inspect
    assert c.watches_namespace(ObjectSet(()), "ray") and not c.watches_namespace(ObjectSet(()), "default")
