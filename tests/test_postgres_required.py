"""CI cannot go green with the PostgreSQL tests never run: without a server they skip on a developer's
machine, and fail where ORDER_SYNC_REQUIRE_POSTGRES=1 (.ci/run)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("required", [None, "1"])
def test_an_unreachable_postgresql_skips_unless_required(request, monkeypatch, required):
    # The root conftest as pytest loaded it (every conftest module is named "conftest").
    root = next(p for p in request.config.pluginmanager.get_plugins()
                if str(getattr(p, "__file__", "")).endswith("tests/conftest.py"))
    monkeypatch.setattr(root, "_PG_PROBLEM", "PostgreSQL at pg.invalid is not reachable (test)")
    if required:
        monkeypatch.setenv("ORDER_SYNC_REQUIRE_POSTGRES", required)
    else:
        monkeypatch.delenv("ORDER_SYNC_REQUIRE_POSTGRES", raising=False)
    # Both caught, then told apart: a skip escaping a raises(Failed) would skip this test, not fail it.
    with pytest.raises((pytest.fail.Exception, pytest.skip.Exception), match="not reachable") as caught:
        root.postgres_url_or_skip()
    assert caught.type is (pytest.fail.Exception if required else pytest.skip.Exception)
    assert ("ORDER_SYNC_REQUIRE_POSTGRES=1" in str(caught.value)) == bool(required)
