"""The direct engines ApiTransport can drive: every direct-path test runs on each of them."""

from __future__ import annotations

import asyncio

import pytest

from connector.clients.aiohttp_transport import AiohttpTransport
from connector.clients.http11_engine import Http11Engine

DIRECT_ENGINES = {"http11": Http11Engine, "aiohttp": AiohttpTransport}


@pytest.fixture(params=sorted(DIRECT_ENGINES))
def engine_type(request: pytest.FixtureRequest) -> type:
    """A direct engine class (Http11Engine, the default; AiohttpTransport, the fallback)."""
    return DIRECT_ENGINES[request.param]


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item):
    """The HTTP/1.1 engine's own tests run on both loops it meets: uvloop (the import's) and the
    standard library's. Every other test here keeps the standard loop (one factory: pytest-asyncio
    then leaves the test's id as it was)."""
    factories = {"asyncio": asyncio.new_event_loop}
    if item.path.name != "test_http11_engine.py":
        return factories
    try:
        import uvloop
    except ImportError:  # an optional speed-up: without it, the standard loop is what runs
        return factories
    return {**factories, "uvloop": uvloop.new_event_loop}
