"""The console's browser tests: headless Chromium from the system's packages, driven by Playwright
(which downloads nothing here). Without them they skip, saying why; in CI they fail (browser_required)."""

from __future__ import annotations

import pytest
from browser_required import chromium_or_skip


@pytest.fixture
async def browser():
    executable, playwright = chromium_or_skip()
    async with playwright.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=executable, headless=True)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser):
    # Low: full-page screenshots then end where the page does, with no blank below.
    context = await browser.new_context(viewport={"width": 1100, "height": 300})
    page = await context.new_page()
    yield page
    await context.close()
