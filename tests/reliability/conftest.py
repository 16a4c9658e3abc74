"""Fixtures of the reliability suites (faults, crashes, failed-order queue).

They reuse the end-to-end world of tests/sync (both simulators in-process on one FakeClock) and its
served sandbox (real processes on localhost), so tests/sync must be importable when this folder is
run alone.
"""

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
    """make(**options) → World on a SQLite file; every world is closed after the test."""
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


# Counts reported by the suites in this run, printed again in pytest's terminal summary.
REPORTED: list[str] = []


@pytest.fixture
def report_counts(record_property):
    """Report a suite's counts (orders, duplicates, missing, faults injected…) three ways, so they
    are seen whatever the output options: printed (shown with -s, and with a failure), recorded
    as test properties (JUnit XML), and repeated in the terminal summary at the end of the run."""

    def report(title: str, counts: dict[str, Any]) -> None:
        text = f"{title}: " + ", ".join(f"{k}={v}" for k, v in counts.items())
        print("\n" + text)
        REPORTED.append(text)
        for key, value in counts.items():
            record_property(key, value)

    return report


def pytest_terminal_summary(terminalreporter) -> None:
    if REPORTED:
        terminalreporter.section("reliability counts")
        for line in REPORTED:
            terminalreporter.write_line(line)
