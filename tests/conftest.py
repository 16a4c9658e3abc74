"""Shared fixtures: stores on SQLite and PostgreSQL.

PostgreSQL tests skip with a reason when no server answers, unless ORDER_SYNC_REQUIRE_POSTGRES=1
(set by .ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from connector.clock import FakeClock
from connector.store.repository import Store

PG_URL = os.environ.get("ORDER_SYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {PG_URL} is not reachable ({type(exc).__name__}: {exc})"


_PG_PROBLEM: str | None | bool = False


def postgres_url_or_skip() -> str:
    """A fresh schema on the test server for one test; skip (or fail in CI) without a server."""
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _postgres_available()
    if _PG_PROBLEM:
        if os.environ.get("ORDER_SYNC_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here (ORDER_SYNC_REQUIRE_POSTGRES=1): {_PG_PROBLEM}")
        pytest.skip(_PG_PROBLEM)
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def drop_postgres_schema(url: str) -> None:
    import psycopg

    schema = url.rsplit("%3D", 1)[1]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'order-sync.db'}"
        return
    url = postgres_url_or_skip()
    yield url
    drop_postgres_schema(url)


@pytest.fixture
def postgres_url():
    """PostgreSQL only, for what SQLite has no counterpart of (a server that drops connections)."""
    url = postgres_url_or_skip()
    yield url
    drop_postgres_schema(url)


@pytest.fixture
def store(database_url, clock):
    s = Store.open(database_url, clock=clock)
    yield s
    s.close()


# ---- end-to-end worlds (tests/sync/sync_world.py), shared by the sync, reliability and
# bad-input suites ------------------------------------------------------------------------------
SYNC_TESTS = str(Path(__file__).resolve().parent / "sync")
if SYNC_TESTS not in sys.path:
    sys.path.insert(0, SYNC_TESTS)


@pytest.fixture
async def world_factory(tmp_path):
    """make(database_url=None, **options) → World (both simulators in-process on one FakeClock);
    every world is closed after the test."""
    from sync_world import make_world

    worlds: list = []

    def make(database_url: str | None = None, **options: Any):
        url = database_url or f"sqlite:///{tmp_path / f'world{len(worlds)}.db'}"
        world = make_world(url, tmp_path, **options)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        await world.close()


@pytest.fixture
async def world(world_factory):
    """A world on SQLite: for tests where the database engine does not matter."""
    return world_factory()


@pytest.fixture
async def db_world(world_factory, database_url):
    """A world on each database engine (SQLite file and PostgreSQL)."""
    return world_factory(database_url)


@pytest.fixture(autouse=True)
def restore_logging():
    """connector.cli.main() installs its own root handler; put pytest's back after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# The reliability suites' counts (tests/reliability/conftest.py report_counts), printed again at the
# end of the run. They travel in the test reports' user_properties, so under pytest-xdist the
# controller, which runs no test and loads only this conftest, prints the workers' counts too.
RELIABILITY_COUNTS: list[str] = []


def pytest_runtest_logreport(report) -> None:
    if report.when == "call":  # every phase's report carries the test's properties
        RELIABILITY_COUNTS.extend(value for key, value in report.user_properties if key == "reliability_counts")


def pytest_terminal_summary(terminalreporter) -> None:
    if RELIABILITY_COUNTS:
        terminalreporter.section("reliability counts")
        for line in RELIABILITY_COUNTS:
            terminalreporter.write_line(line)
