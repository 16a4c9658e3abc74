"""The X-Series client tests' `client` (an XSeriesClient on the module's `clock`) and `api` (the respx
mock of its base URL). The BigCommerce client's modules define their own of both."""

from __future__ import annotations

import pytest
import respx

from connector.clients.transport import RetryPolicy
from connector.clients.xseries import XSeriesClient
from connector.clock import FakeClock

BASE = "https://shop.retail.lightspeed.app"
TOKEN = "lsxs_pt_SECRET-TOKEN-1234"


@pytest.fixture
async def client(clock: FakeClock):
    xs = XSeriesClient(domain_prefix="shop", token=TOKEN, clock=clock, retry=RetryPolicy(seed=7))
    yield xs
    await xs.aclose()


@pytest.fixture
def api():
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock
