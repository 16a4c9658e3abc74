"""Order Protection across the rate-limit wait: the order is read again after the pacer let the
status PUT go, never before a wait. A store's quota is shared with other apps; when it runs low
the PUT may wait seconds (spread over the window) or until the window resets, and staff may ship
the order meanwhile (domain.md §C.7: re-read before every status write)."""

from __future__ import annotations

import httpx
import pytest
import respx

from connector.clients.bigcommerce import BigCommerceClient
from connector.clients.transport import RetryPolicy
from connector.clock import FakeClock
from connector.idv.decision import Outcome
from connector.idv.rules import RulesFile
from connector.mapping.tables import DEFAULTS_DIR
from connector.idv.writer import ProtectedStatusWriter

API = "https://api.bigcommerce.com/stores/abc123"
AWAITING_FULFILLMENT, SHIPPED, DECLINED = 11, 2, 6
SHIPPED_AT = 2.0  # seconds after the connector's first read, staff ship the order


class Store:
    """One order whose status staff change at SHIPPED_AT; every request logged with its time.
    The n-th answer says `left[n]` requests are left in the window (the last one repeated): other
    apps on the store spend the quota too."""

    def __init__(self, clock: FakeClock, left: list[str]) -> None:
        self.clock, self.left = clock, left
        self.log: list[tuple[str, float, int]] = []  # (method, time, status when it arrived)

    def status(self) -> int:
        return SHIPPED if self.clock.monotonic() >= SHIPPED_AT else AWAITING_FULFILLMENT

    def get(self, request: httpx.Request) -> httpx.Response:
        left = self.left[min(len(self.log), len(self.left) - 1)]
        self.log.append(("GET", self.clock.monotonic(), self.status()))
        return httpx.Response(200, json={"id": 1, "status_id": self.status(), "is_deleted": False}, headers={
            "X-Rate-Limit-Requests-Left": left, "X-Rate-Limit-Time-Reset-Ms": "20000",
            "X-Rate-Limit-Requests-Quota": "150", "X-Rate-Limit-Time-Window-Ms": "30000"})

    def put(self, request: httpx.Request) -> httpx.Response:
        self.log.append(("PUT", self.clock.monotonic(), self.status()))
        return httpx.Response(200, json={"id": 1, "status_id": DECLINED})


@respx.mock
@pytest.mark.parametrize("left", [["100", "0"], ["100", "3"], ["0"]],
                         ids=["quota-spent-at-the-guard-read", "quota-low-at-the-guard-read", "quota-spent-first"])
async def test_order_shipped_while_the_put_waited_for_the_quota_is_not_written(left):
    rules = RulesFile.load(DEFAULTS_DIR / "id_verification.yaml").resolve_offline()
    assert SHIPPED in rules.protected
    clock = FakeClock()
    store = Store(clock, left)
    respx.get(f"{API}/v2/orders/1").mock(side_effect=store.get)
    respx.put(f"{API}/v2/orders/1").mock(side_effect=store.put)
    async with BigCommerceClient(store_hash="abc123", access_token="t", clock=clock,
                                 retry=RetryPolicy(seed=1)) as bc:
        result = await ProtectedStatusWriter(bc, rules).apply(1, DECLINED)
    assert bc.transport.pacer.in_flight == 0  # a PUT stopped by its guard read holds no quota
    puts = [(t, status) for method, t, status in store.log if method == "PUT"]
    # Whatever the order of waits, no PUT lands on a Shipped order, and none is sent later than
    # the read just before it (no wait between the guard read and the write).
    assert all(status not in rules.protected for _, status in puts), store.log
    for (method, t, _), (next_method, next_t, _) in zip(store.log, store.log[1:]):
        if next_method == "PUT":
            assert method == "GET" and next_t == t, store.log
    if puts:
        assert result.outcome is Outcome.WRITTEN
    else:
        assert result.outcome is Outcome.SKIPPED_PROTECTED and result.before == SHIPPED
