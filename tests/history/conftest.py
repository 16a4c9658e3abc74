from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from connector.clients.transport import RetryPolicy
from connector.clock import FakeClock
from connector.demo import demo_settings
from connector.runtime import Runtime
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.seed import SeedSpec, SeededStore, seed_store
from connector.sandbox.xseries import XSeriesSimulator
from connector.store.repository import Store


@dataclass
class ImportWorld:
    clock: FakeClock
    bc: BigCommerceSimulator
    xs: XSeriesSimulator
    seeded: SeededStore
    database_url: str

    def settings(self, *, enabled: bool = True):
        s = demo_settings(self.bc, self.xs, self.database_url, self.clock.now())
        s.historical_import.enabled = enabled
        return s

    async def runtime(self) -> Runtime:
        return await Runtime.start(
            self.settings(), bc_transport=self.bc.transport(), xs_transport=self.xs.transport(),
            clock=self.clock, retry=RetryPolicy(seed=1, base_delay=0.01), store=Store.open(self.database_url, clock=self.clock),
        )


def make_world(database_url: str, orders: int = 60, seed: int = 5) -> ImportWorld:
    clock = FakeClock()
    bc = BigCommerceSimulator(clock=clock)
    xs = XSeriesSimulator(clock=clock, rate_limit=100_000)
    seeded = seed_store(bc, xs, SeedSpec(orders=orders, seed=seed, start=clock.now() - timedelta(days=60)))
    clock.advance(3600)
    return ImportWorld(clock, bc, xs, seeded, database_url)


@pytest.fixture
def import_world(database_url) -> ImportWorld:
    return make_world(database_url)
