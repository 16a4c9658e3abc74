"""Fixtures of the end-to-end sync tests: worlds (see sync_world.py) on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from sync_world import World, make_world


@pytest.fixture
async def world_factory(tmp_path):
    """make(database_url=None, **options) → World; every world is closed after the test."""
    worlds: list[World] = []

    def make(database_url: str | None = None, **options: Any) -> World:
        url = database_url or f"sqlite:///{tmp_path / f'world{len(worlds)}.db'}"
        world = make_world(url, tmp_path, **options)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        await world.close()


@pytest.fixture
async def world(world_factory) -> World:
    """A world on SQLite: for tests where the database engine does not matter."""
    return world_factory()


@pytest.fixture
async def db_world(world_factory, database_url) -> World:
    """A world on each database engine (SQLite file and PostgreSQL)."""
    return world_factory(database_url)
