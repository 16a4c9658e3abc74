"""A worker's job on a lost state database fails (review, item 7). PairRuntimes caught the refusal
as it does an API down: the job ended 'succeeded' (procrastinate) with "nothing lost (retrying next
sync)", though no retry gets past it; the README says a worker's job fails, naming reconcile --adopt."""

from __future__ import annotations

import logging

import pytest

from connector.errors import LostStateError
from connector.store.repository import Store
from sync_world import line, make_world


async def test_a_job_on_a_lost_state_database_fails_and_says_it_needs_a_person(tmp_path, caplog):
    world = make_world(f"sqlite:///{tmp_path / 'state.db'}", tmp_path)
    orders = [world.add_order([line()]) for _ in range(3)]
    await world.cycle(advance=2)
    assert all(world.sale(order_id) for order_id in orders)
    await world.close()
    world.database_url = f"sqlite:///{tmp_path / 'lost.db'}"  # the state database is lost
    store = Store.open(world.database_url, clock=world.clock)
    runtimes = world.pair_runtimes(store)
    try:
        with caplog.at_level(logging.ERROR, logger="connector.workers"):
            with pytest.raises(LostStateError, match="reconcile --adopt"):
                await runtimes.sync("default", 1)
            with pytest.raises(LostStateError):  # a webhook's job too
                await runtimes.mirror("default", orders[0], "store/order/updated")
    finally:
        await runtimes.aclose()
        store.close()
    lines = [r.getMessage() for r in caplog.records]
    assert any("pair default: sync refused, needs a person: the state database is empty" in m for m in lines)
    assert not any("nothing lost" in m for m in lines)
