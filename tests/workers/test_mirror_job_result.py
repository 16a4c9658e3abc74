"""A mirror_order job whose order fails: the job still ends (succeeded, in procrastinate's list), the
order is in the failed queue, which owns its retries, and the job's result (the worker's log line
"Job … ended with status: Success … - Result: …") says it was not mirrored, and why."""

from __future__ import annotations

import asyncio

from connector.clients.transport import RetryPolicy
from connector.workers.tasks import PairRuntimes
from sync_world import line


async def test_a_failed_orders_job_says_it_was_not_mirrored(world):
    runtime = await world.runtime()
    failing = world.add_order([line("TEE-L")], default_currency_code="EUR")  # another currency: parked
    good = world.add_order([line("TEE-M", 1)])
    runtimes = PairRuntimes(world.settings(), runtime.store, asyncio.Event(), bc_transport=world.bc.transport(),
                            xs_transport=world.xs.transport(), clock=world.clock,
                            retry=RetryPolicy(seed=2, base_delay=0.01))
    try:
        result = await runtimes.mirror("default", failing, "store/order/created")
        assert await runtimes.mirror("default", good, "store/order/created") == f"order {good} mirrored"
    finally:
        await runtimes.aclose()
    failure = runtime.store.failure(failing)
    assert failure is not None and failure.parked  # the failed queue has it, and decides its retries
    assert result.startswith(f"order {failing} not mirrored: "), result
    assert "EUR" in result and "failed queue" in result
    assert world.sale(failing) is None and world.sale(good) is not None
