"""Who closes the store: Runtime.aclose closes the one it opened, never one it was given (a fleet's
pairs share one engine, Store.for_pair)."""

from __future__ import annotations

import pytest

from connector.errors import ConfigError
from connector.runtime import Runtime
from connector.store.repository import Store


async def test_aclose_closes_the_store_it_opened_and_leaves_a_given_one_open(world):
    owned = await Runtime.start(world.settings(), bc_transport=world.bc.transport(),
                                xs_transport=world.xs.transport(), clock=world.clock)
    pool = owned.store.engine.pool
    assert owned.store.failures() == []
    await owned.aclose()
    assert owned.store.engine.pool is not pool  # disposed (dispose() puts a fresh pool in its place)
    owned.store.close()  # closing again, as callers did, is harmless

    given = await world.runtime()  # its Store opened by the world and passed in
    pool = given.store.engine.pool
    await given.aclose()
    assert given.store.engine.pool is pool and given.store.failures() == []


async def test_a_start_that_fails_closes_the_store_it_opened(world, monkeypatch):
    closed, close = [], Store.close
    monkeypatch.setattr(Store, "close", lambda store: (closed.append(store.pair), close(store)))

    async def refused(*_):
        raise ConfigError("xseries.outlet: no outlet named 'Main Outlet'")

    monkeypatch.setattr("connector.runtime.resolve_pos_refs", refused)
    with pytest.raises(ConfigError):
        await Runtime.start(world.settings(), bc_transport=world.bc.transport(),
                            xs_transport=world.xs.transport(), clock=world.clock)
    assert closed == ["default"]
