"""/docs in a real headless browser (Debian's chromium, driven by Playwright): the page loads
with every request answered, lists every operation of /openapi.json, and "Try it out" on
/healthz gets a 200 from the served service."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from tests.support.served import ServedApp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[ServedApp]:
    app = ServedApp(database_url=database_url).start()
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_the_page_loads_everything_it_asks_for_and_lists_every_operation(served, page):
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    page.on("response", lambda r: failed.append(f"{r.url}: {r.status}") if r.status >= 400
            else None)
    page.goto(f"{served.url}/docs", wait_until="networkidle")
    page.wait_for_selector(".opblock")

    document = httpx.get(f"{served.url}/openapi.json").json()
    expected = sorted((method.upper(), path) for path, ops in document["paths"].items()
                      for method in ops)
    shown = sorted(zip(page.locator(".opblock-summary-method").all_inner_texts(),
                       page.locator(".opblock-summary-path").evaluate_all(
                           "nodes => nodes.map(n => n.dataset.path)"), strict=True))
    assert shown == expected
    assert failed == []
    assert len(expected) > 30


def test_try_it_out_on_healthz_gets_200(served, page):
    page.goto(f"{served.url}/docs#/default/healthz", wait_until="networkidle")
    operation = page.locator("#operations-default-healthz")
    operation.wait_for()
    if not operation.locator(".try-out__btn").is_visible():
        operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator(".execute").click()
    status = operation.locator(".live-responses-table td.response-col_status:not(.col_header)")
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert '"status": "ok"' in operation.locator(".live-responses-table .microlight").first \
        .inner_text()
