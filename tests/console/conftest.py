"""The console's browser tests: headless Chromium from the system's packages, driven by Playwright
(which downloads nothing here). Without a Chromium they skip, saying why."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
async def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium; .ci/run installs it):"
                    " the console's browser tests drive a real one")
    playwright = pytest.importorskip("playwright.async_api", reason="Playwright is in the test extra")
    async with playwright.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser):
    # Low: full-page screenshots then end where the page does, with no blank below.
    context = await browser.new_context(viewport={"width": 1100, "height": 300})
    page = await context.new_page()
    yield page
    await context.close()
