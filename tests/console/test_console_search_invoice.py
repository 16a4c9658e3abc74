"""The search box on an X-Series that numbers sales itself (knob numbers_sales_itself): staff type the
invoice number the POS shows, which is not ours (BC-<order>) but the one X-Series answered with, kept
in the sale's audit entry. A number that is both an order id and such an invoice shows both, not
one of them (no browser: httpx's ASGI transport)."""

from __future__ import annotations

import re

from served_console import asgi_client, console_app, console_settings, logged_in
from sync_world import line


async def searched(client, query: str) -> str:
    """Where the search goes: an order page's path, or the results page's links."""
    answer = await client.get("/search", params={"q": query})
    if answer.status_code == 303:
        return answer.headers["location"]
    assert answer.status_code == 200
    return " ".join(re.findall(r'<li><a href="([^"]+)"', answer.text)) or "no match"


async def self_numbering_world(world_factory, database_url, **register):
    world = world_factory(database_url, xs_options={"numbers_sales_itself": True})
    for reg in world.xs.registers.values():
        reg.update(**register)
    runtime = await world.runtime()
    orders = [world.add_order([line("TEE-M", 1)]) for _ in range(3)]
    await world.cycle()
    app = console_app(console_settings(runtime.settings), {runtime.settings.pair: runtime})
    return world, orders, app


async def test_the_invoice_number_x_series_gave_finds_its_order(world_factory, database_url):
    world, orders, app = await self_numbering_world(world_factory, database_url)
    async with asgi_client(app) as client:
        await logged_in(client)
        for order_id in orders:
            [sale] = world.sales(order_id)
            shown = sale["invoice_number"]  # OS-1, OS-2…: what staff read in X-Series
            assert not shown.endswith(f"BC-{order_id}")
            for typed in (shown, shown.lower(), f" {shown} "):
                assert await searched(client, typed) == f"/pairs/default/orders/{order_id}", typed
            assert await searched(client, f"BC-{order_id}") == f"/pairs/default/orders/{order_id}"
        assert await searched(client, "OS-99") == "no match"
        assert await searched(client, "OS-") == "no match"  # no prefix match


async def test_a_number_that_is_an_order_id_and_an_invoice_shows_both(world_factory, database_url):
    # The register's last number 100, the world's first order 100: each sale is numbered as the
    # next order's id (100's sale is 101).
    world, orders, app = await self_numbering_world(world_factory, database_url, invoice_prefix="",
                                                    invoice_suffix="", invoice_sequence=100)
    first, second, third = orders
    assert first == 100
    assert [world.sales(o)[0]["invoice_number"] for o in orders] == [str(second), str(third), str(third + 1)]
    async with asgi_client(app) as client:
        await logged_in(client)
        # 101: order 101, and the invoice of order 100's sale.
        answer = await client.get("/search", params={"q": str(second)})
        assert answer.status_code == 200
        assert await searched(client, str(second)) == (f"/pairs/default/orders/{second} "
                                                       f"/pairs/default/orders/{first}")
        assert f"invoice {second}" in answer.text
        # 103: no order 103, the invoice of order 102's sale.
        assert await searched(client, str(third + 1)) == f"/pairs/default/orders/{third}"
        # 100: order 100 only (no sale was numbered 100).
        assert await searched(client, str(first)) == f"/pairs/default/orders/{first}"

