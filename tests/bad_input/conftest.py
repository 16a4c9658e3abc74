"""Fixtures of the bad-input corpus: the end-to-end world of tests/sync (importable when this
folder runs alone), and pytest's logging restored after a test ran the command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

SYNC_TESTS = str(Path(__file__).resolve().parent.parent / "sync")
if SYNC_TESTS not in sys.path:
    sys.path.insert(0, SYNC_TESTS)

from sync_world import World, make_world  # noqa: E402


@pytest.fixture(autouse=True)
def restore_logging():
    """connector.cli.main() installs its own root handler; put pytest's back after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
async def world_factory(tmp_path):
    worlds: list[World] = []

    def make(**options: Any) -> World:
        world = make_world(f"sqlite:///{tmp_path / f'world{len(worlds)}.db'}", tmp_path, **options)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        await world.close()


@pytest.fixture
async def world(world_factory) -> World:
    return world_factory()
