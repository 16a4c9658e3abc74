"""BigCommerceClient against the BigCommerce simulator, sharing one FakeClock, with a tiny quota.

The simulator counts a store-wide quota of 5 requests per 10 s window and answers 429 past it; a
seeded fault injector adds a few 429s of its own. From the simulator's request log (what the
server received, and when) this checks that the client's pacer never sends into a spent window,
and that after a 429 nothing is sent before the announced reset.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
import pytest

sim_module = pytest.importorskip("connector.sandbox.bigcommerce")

from connector.clients.bigcommerce import BigCommerceClient  # noqa: E402
from connector.clients.transport import RetryPolicy  # noqa: E402
from connector.clock import FakeClock  # noqa: E402
from connector.sandbox.faults import FaultConfig  # noqa: E402

UTC = timezone.utc
QUOTA = 5
WINDOW_MS = 10_000


@dataclass
class Answer:
    at: float
    status: int
    left: int | None
    reset: float | None  # seconds


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests to the simulator and notes each answer's time and rate-limit headers."""

    def __init__(self, inner: httpx.AsyncBaseTransport, clock: FakeClock) -> None:
        self.inner = inner
        self.clock = clock
        self.answers: list[Answer] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        left = response.headers.get("x-rate-limit-requests-left")
        reset = response.headers.get("x-rate-limit-time-reset-ms")
        self.answers.append(Answer(
            at=self.clock.monotonic(), status=response.status_code,
            left=None if left is None else int(left), reset=None if reset is None else int(reset) / 1000,
        ))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_pacer_keeps_the_client_inside_the_quota_against_the_simulator():
    clock = FakeClock()
    sim = sim_module.BigCommerceSimulator(
        clock=clock, quota=QUOTA, window_ms=WINDOW_MS,
        # A little real latency lets concurrent requests overlap inside the in-process server.
        faults=FaultConfig(share_429=0.12, path_filter="/v2/orders", seed=7, latency_seconds=0.0005),
    )
    start = datetime(2025, 6, 1, tzinfo=UTC)
    for i in range(16):
        sim.add_order(
            customer=None, date_created=start + timedelta(hours=i),
            lines=[{"name": "Towel", "sku": f"T-{i}", "product_id": 1, "variant_id": 2,
                    "unit_price": "10.00", "quantity": 1 + i % 3}],
        )
    recorder = RecordingTransport(sim.transport(), clock)
    client = BigCommerceClient(
        store_hash=sim.store_hash, access_token=sim.access_token, api_url=sim.base_url,
        http_transport=recorder, clock=clock, retry=RetryPolicy(seed=1),
    )
    seen: list[int] = []
    async with client:
        # Four 4-hour windows of the timeline; each listed order is then re-read, five at a time.
        for w in range(4):
            since, until = start + timedelta(hours=4 * w), start + timedelta(hours=4 * w + 3, minutes=59)
            orders = [o async for o in client.iter_orders_modified(since, until)]
            again = await asyncio.gather(*(client.get_order(o.id) for o in orders))
            assert [o.id for o in again] == [o.id for o in orders]
            assert all(o.lines_included and o.lines for o in again)
            seen += [o.id for o in orders]
        await client.update_order_status(seen[0], 12)

    assert sorted(seen) == sorted(sim.orders)
    received = [entry.at_monotonic for entry in sim.request_log]
    assert len(received) > 4 * QUOTA  # the run spans several quota windows
    assert sim.faults.injected["429"] >= 1

    # Every 429 the server sent was an injected one: the client never overran the quota itself.
    refused = [e for e in sim.request_log if e.status == 429]
    assert refused and all(e.fault == "429" for e in refused)

    # Once an answer said the window was spent, nothing arrived before that window's reset.
    spent = [a for a in recorder.answers if a.status == 200 and a.left == 0]
    assert spent, "the run never used a whole window; the test would prove nothing"
    for answer in spent:
        early = [t for t in received if answer.at < t < answer.at + answer.reset]
        assert early == [], f"requests at {early} inside a spent window ending at {answer.at + answer.reset}"

    # After a 429, the next request came only after the reset the 429 announced.
    for answer in (a for a in recorder.answers if a.status == 429):
        assert answer.reset is not None and answer.reset > 0
        later = [t for t in received if t > answer.at]
        assert later and min(later) >= answer.at + answer.reset
