"""Whether the console's browser tests can run: the system's Chromium and Playwright, or else a skip
saying why — a failure when ORDER_SYNC_REQUIRE_BROWSER=1 (set by .ci/run), so CI cannot go green with
these tests never run (as ORDER_SYNC_REQUIRE_POSTGRES=1 does for PostgreSQL's)."""

from __future__ import annotations

import os
import shutil
from types import ModuleType

import pytest


def chromium_or_skip() -> tuple[str, ModuleType]:
    """The Chromium to launch and playwright.async_api; skip (or fail in CI) without either."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    problem, playwright = None, None
    if chromium is None:
        problem = "no Chromium on this machine (apt-get install chromium; .ci/run installs it)"
    else:
        try:
            import playwright.async_api as playwright
        except ImportError:
            problem = "no Playwright (it is in the test extra: pip install -e '.[test]')"
    if problem:
        problem += ": the console's browser tests drive a real one"
        if os.environ.get("ORDER_SYNC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"a browser is required here (ORDER_SYNC_REQUIRE_BROWSER=1): {problem}")
        pytest.skip(problem)
    return chromium, playwright
