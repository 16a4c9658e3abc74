"""Start-up resolution of the configured outlet, register, user, payment types and taxes."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal

import httpx
import pytest

from connector.clients.transport import RetryPolicy
from connector.clients.xseries import XSeriesClient
from connector.clock import FakeClock
from connector.config_sections import XSeriesSettings
from connector.errors import ConfigError
from connector.mapping.payment_table import PaymentTable
from connector.sandbox.xseries import XSeriesSimulator
from connector.sync.pos_refs import resolve_pos_refs


async def refs_of(sim: XSeriesSimulator, clock: FakeClock, *, transport: httpx.AsyncBaseTransport | None = None,
                  **settings_given):
    settings = XSeriesSettings.model_validate({"domain_prefix": sim.domain_prefix, "token": sim.token,
                                               "outlet": "Main Outlet", "register": "Online Store", **settings_given})
    async with XSeriesClient(domain_prefix=sim.domain_prefix, token=sim.token, api_url=sim.base_url,
                             http_transport=transport or sim.transport(), clock=clock,
                             retry=RetryPolicy(seed=1)) as xs:
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


# --- the default user (no xseries.user) ----------------------------------------------------------

def _token_user(sim: XSeriesSimulator, **fields) -> str:
    """A user made after the seeded admin and made the token's own: the first admin (the seeded one,
    listed first by version) and the token's user are then two users."""
    user_id = sim.new_id()
    sim.users[user_id] = {**sim.users[sim.user_id], "id": user_id, "username": "sync@example.com",
                          "display_name": "Order Sync", "email": "sync@example.com", "account_type": "manager",
                          "is_primary_user": False, "version": sim.bump_version(), **fields}
    sim.user_id = user_id
    return user_id


class _Answer(httpx.AsyncBaseTransport):
    """The simulator, except that GET /api/2.0/user is answered with `status`."""

    def __init__(self, sim: XSeriesSimulator, status: int) -> None:
        self.inner, self.status = sim.transport(), status

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/2.0/user":
            return httpx.Response(self.status, json={"error": "not here"})
        return await self.inner.handle_async_request(request)


def _user_calls(sim: XSeriesSimulator) -> list[str]:
    return [r.path for r in sim.request_log if r.path.startswith("/api/2.0/user")]


@pytest.mark.parametrize("as_list", [False, True])  # the spec's schema says an object, its examples a list
async def test_without_a_configured_user_sales_go_under_the_tokens_own_user(as_list, caplog):
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))
    sim = XSeriesSimulator(clock=clock, current_user_as_list=as_list)
    first_admin = sim.user_id
    mine = _token_user(sim)

    with caplog.at_level(logging.INFO, logger="connector.sync"):
        refs = await refs_of(sim, clock)

    assert refs.user_id == mine != first_admin
    assert "Order Sync, the token's own user" in caplog.text
    assert _user_calls(sim) == ["/api/2.0/user"]  # one call at start-up, as /users was before


async def test_a_token_user_restricted_to_another_outlet_falls_back_to_an_admin_who_may_sell_there(caplog):
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))
    sim = XSeriesSimulator(clock=clock)
    elsewhere = sim.new_id()  # an outlet that is not the config's
    sim.users[sim.user_id]["restricted_outlet_ids"] = [elsewhere]  # the first admin, of that outlet only
    here = _token_user(sim, account_type="admin", display_name="Admin Here", restricted_outlet_ids=[])
    _token_user(sim, restricted_outlet_ids=[elsewhere])  # the token's own user, of that outlet too

    with caplog.at_level(logging.INFO, logger="connector.sync"):
        refs = await refs_of(sim, clock)

    assert refs.user_id == here  # neither the token's user nor the first admin may sell at the outlet
    assert "Admin Here, the first admin (GET /api/2.0/user: Order Sync is restricted to other outlets)" in caplog.text


async def test_a_deleted_token_user_falls_back_to_the_first_admin(caplog):
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))
    sim = XSeriesSimulator(clock=clock)
    first_admin = sim.user_id
    _token_user(sim, deleted_at="2026-02-01T00:00:00+00:00")

    with caplog.at_level(logging.INFO, logger="connector.sync"):
        refs = await refs_of(sim, clock)

    assert refs.user_id == first_admin
    assert "Online Shop, the first admin (GET /api/2.0/user: Order Sync is deleted)" in caplog.text


@pytest.mark.parametrize("status", [403, 404, 405])
async def test_without_the_current_user_endpoint_the_first_admin_is_used(status, caplog):
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))
    sim = XSeriesSimulator(clock=clock)
    first_admin = sim.user_id
    _token_user(sim)

    with caplog.at_level(logging.INFO, logger="connector.sync"):
        refs = await refs_of(sim, clock, transport=_Answer(sim, status))

    assert refs.user_id == first_admin
    assert f"Online Shop, the first admin (GET /api/2.0/user: it answered {status})" in caplog.text
    # /user never reached the simulator; /users is read to its empty page (§6)
    assert _user_calls(sim) == ["/api/2.0/users", "/api/2.0/users"]


async def test_a_configured_user_is_looked_up_by_name_not_by_the_token():
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))
    sim = XSeriesSimulator(clock=clock)
    first_admin = sim.user_id
    _token_user(sim)

    refs = await refs_of(sim, clock, user="api@example.com")

    assert refs.user_id == first_admin and _user_calls(sim) == ["/api/2.0/users", "/api/2.0/users"]


async def test_a_register_in_a_three_decimal_currency_is_refused_at_start_up():
    """order-sync keeps amounts in cents: a Kuwaiti dinar store (3 decimals) would be posted rounded."""
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))
    with pytest.raises(ConfigError) as refused:
        await refs_of(XSeriesSimulator(clock=clock, currency="KWD"), clock)
    assert "KWD" in str(refused.value) and "cents" in str(refused.value)
