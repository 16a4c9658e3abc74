"""Start-up resolution of the configured outlet, register, user, payment types and taxes."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from connector.clients.transport import RetryPolicy
from connector.clients.xseries import XSeriesClient
from connector.clock import FakeClock
from connector.config import XSeriesSettings
from connector.mapping.payment_table import PaymentTable
from connector.sandbox.xseries import XSeriesSimulator
from connector.sync.pos_refs import resolve_pos_refs


async def refs_of(sim: XSeriesSimulator, clock: FakeClock):
    settings = XSeriesSettings.model_validate({"domain_prefix": sim.domain_prefix, "token": sim.token,
                                               "outlet": "Main Outlet", "register": "Online Store"})
    async with XSeriesClient(domain_prefix=sim.domain_prefix, token=sim.token, api_url=sim.base_url,
                             http_transport=sim.transport(), clock=clock, retry=RetryPolicy(seed=1)) as xs:
        return await resolve_pos_refs(xs, settings, PaymentTable({}, "Cash"))


async def test_tax_free_lines_take_the_retailers_own_no_tax_group():
    # A store whose zero-rate tax is not called "No Tax", with another zero-rate tax listed first
    # (e.g. UK "Zero Rated" VAT, which is not "exempt"): the retailer names its tax-free tax.
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))
    sim = XSeriesSimulator(clock=clock, extra_taxes=(("Zero Rated", Decimal(0)),))
    sim.taxes[sim.no_tax_id].update(name="Tax Exempt", display_name="Tax Exempt", version=sim.bump_version())

    refs = await refs_of(sim, clock)

    assert sim.retailer["no_tax_group_id"] == sim.no_tax_id
    assert refs.no_tax_id == sim.no_tax_id and refs.taxes.zero_id == sim.no_tax_id
    assert refs.default_tax_id == sim.default_tax_id
