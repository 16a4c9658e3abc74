"""Fixtures of the end-to-end sync tests: `world` and `world_factory` are in tests/conftest.py; here the
world on each database engine."""

from __future__ import annotations

import pytest

from sync_world import World


@pytest.fixture
async def db_world(world_factory, database_url) -> World:
    """A world on each database engine (SQLite file and PostgreSQL)."""
    return world_factory(database_url)
