"""CI cannot go green with the browser tests never run: without Chromium or Playwright they skip on a
developer's machine, and fail where ORDER_SYNC_REQUIRE_BROWSER=1 (.ci/run)."""

from __future__ import annotations

import shutil
import sys

import pytest
from browser_required import chromium_or_skip


@pytest.mark.parametrize("missing", ["chromium", "playwright"])
@pytest.mark.parametrize("required", [None, "1"])
def test_a_missing_browser_skips_unless_required(monkeypatch, missing, required):
    if missing == "chromium":
        monkeypatch.setattr(shutil, "which", lambda name: None)
    else:
        monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
        monkeypatch.setitem(sys.modules, "playwright", None)  # any import of it now fails
        monkeypatch.delitem(sys.modules, "playwright.async_api", raising=False)
    if required:
        monkeypatch.setenv("ORDER_SYNC_REQUIRE_BROWSER", required)
    else:
        monkeypatch.delenv("ORDER_SYNC_REQUIRE_BROWSER", raising=False)
    # Both caught, then told apart: a skip escaping a raises(Failed) would skip this test, not fail it.
    with pytest.raises((pytest.fail.Exception, pytest.skip.Exception), match=f"(?i)no {missing}.*drive a real one") \
            as caught:
        chromium_or_skip()
    assert caught.type is (pytest.fail.Exception if required else pytest.skip.Exception)
    assert ("ORDER_SYNC_REQUIRE_BROWSER=1" in str(caught.value)) == bool(required)
