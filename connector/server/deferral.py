"""Where a BigCommerce webhook's order goes once it is accepted (issue 17, point 3): a "deferrer".

The receiver (bc_webhooks.py) checks the secret and the `hash`; what happens to the order after
that depends on how order-sync runs:

- `InProcessDeferrer`: an asyncio queue in this process and a `work()` loop that mirrors the order
  (`order-sync run`, and `order-sync serve` until the job queue exists);
- `JobQueueDeferrer` (connector/workers/jobs.py): `order-sync serve` on PostgreSQL, a procrastinate
  job per order for `order-sync worker` to run.

Both keep a queueing lock per order: an order already waiting is not queued a second time (its
job reads the order afresh, so it sees every change the second event announced).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from connector.config import Settings
from connector.runtime import REFUND_SCOPE, Runtime

log = logging.getLogger("connector.server")


class Deferrer(Protocol):
    async def defer(self, pair: str, order_id: int, scope: str) -> bool:
        """Queue a job mirroring this order of this pair; False when one is already waiting."""

    def states(self) -> dict[str, int]:
        """Jobs by state, for the order_sync_jobs{state} gauge ("todo": queued, not started yet)."""


class InProcessDeferrer:
    """Jobs run by `work()` in this process, one order at a time; lost if the process stops (the
    next poll mirrors the order: polling stays the safety net)."""

    def __init__(self, runtimes: dict[str, Runtime]) -> None:
        self.runtimes = runtimes  # pair → Runtime
        self.queue: asyncio.Queue[tuple[str, int, str]] = asyncio.Queue()
        self.queued: set[tuple[str, int, bool]] = set()  # the per-order queueing lock (refunds apart)

    async def defer(self, pair: str, order_id: int, scope: str) -> bool:
        # A refund event waits in its own place: the order's job mirrors the order, not its refunds.
        key = (pair, order_id, scope == REFUND_SCOPE)
        if key in self.queued:
            return False
        self.queued.add(key)
        self.queue.put_nowait((pair, order_id, scope))
        return True

    def states(self) -> dict[str, int]:
        return {"todo": self.queue.qsize()}

    async def work(self) -> None:
        """Mirror queued orders one at a time until cancelled; a failure is the failed queue's."""
        while True:
            pair, order_id, scope = await self.queue.get()
            # Released before the work: an event arriving during it announces a change it may miss.
            self.queued.discard((pair, order_id, scope == REFUND_SCOPE))
            runtime = self.runtimes[pair]
            try:
                await runtime.mirror_event(order_id, scope)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the next poll mirrors it; the receiver goes on
                log.warning("order %s: webhook mirror failed (%s); the next cycle tries again", order_id, exc,
                            extra={"order_id": order_id})


def deferrer_for(settings: Settings, runtimes: dict[str, Runtime]) -> Deferrer:
    """The deferrer of `order-sync serve`: on PostgreSQL, jobs for the workers (`order-sync worker`);
    on SQLite, where no worker can run, serve mirrors the orders itself."""
    from connector.workers.app import is_postgres

    if is_postgres(settings.database_url):
        from connector.workers.app import build_app
        from connector.workers.jobs import JobQueueDeferrer

        return JobQueueDeferrer(build_app(settings))
    return InProcessDeferrer(runtimes)
