"""The HTML report in a real browser: the broken hop is drawn red, the healthy route green."""

from __future__ import annotations

from pathlib import Path

import pytest

from raygate.doctor import core
from raygate.report import html
from raygate.sources.files import load_text
from tests.doctor import cluster

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.e2e


def _page(objs) -> str:
    loaded = load_text(cluster.dump(objs), "snapshot.yaml")
    d = core.diagnose(core.Gathered(loaded.objects, "snapshot", "snapshot.yaml"),
                      expect_ips=[cluster.GATEWAY_IP])
    return html.format(d.result, lanes=d.lanes)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        yield b
        b.close()


def _open(browser, tmp_path: Path, text: str):
    f = tmp_path / "doctor.html"
    f.write_text(text)
    page = browser.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("request", lambda r: failed.append(r.url) if not r.url.startswith("file:") else None)
    page.goto(f.as_uri())
    return page, failed


def test_broken_hop_is_red(browser, tmp_path: Path):
    page, requests = _open(browser, tmp_path, _page(cluster.today()))
    lane = page.locator('section.lane[data-role="Dashboard"]').filter(has_text="/ray/").first
    assert lane.get_attribute("data-status") == "fail"
    endpoints = lane.locator('g.hop[data-hop="endpoints"]')
    assert endpoints.get_attribute("data-status") == "fail"
    assert "RG252" in endpoints.get_attribute("data-codes")
    # Red as rendered, not just as a class name.
    stroke = endpoints.locator("rect").evaluate("r => getComputedStyle(r).stroke")
    assert stroke == "rgb(207, 34, 46)"
    assert "does not have any active Endpoint" in endpoints.locator("title").text_content()
    service = lane.locator('g.hop[data-hop="service"]')
    assert service.locator("rect").evaluate("r => getComputedStyle(r).stroke") == "rgb(26, 127, 55)"
    # The finding is written beside the picture, with its fix.
    why = lane.locator('ol.why li[data-hop="endpoints"]').first.inner_text()
    assert "RG252" in why and "fix:" in why
    assert requests == []  # self-contained: nothing fetched
    page.close()


def test_healthy_routes_are_green(browser, tmp_path: Path):
    page, requests = _open(browser, tmp_path, _page(cluster.healthy()))
    lanes = page.locator("section.lane")
    assert lanes.count() >= 2
    for i in range(lanes.count()):
        assert lanes.nth(i).get_attribute("data-status") == "ok"
    assert page.locator('g.hop[data-status="fail"]').count() == 0
    assert page.locator("text=Findings by layer").count() == 1
    assert requests == []
    page.close()
