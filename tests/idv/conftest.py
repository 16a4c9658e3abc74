"""Fixtures of the ID-verification tests (see idv_world.py)."""

from __future__ import annotations

import pytest

from idv_world import IdvWorld


@pytest.fixture
async def world(tmp_path):
    w = IdvWorld(tmp_path)
    yield w
    await w.close()
