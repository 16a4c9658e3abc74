"""Refunds held for a person (X-Series refused their return for good): the console offers what
`retry-failed --order` does — a Retry button on the order's page and on the refund's exception — and
the overview counts them as `status` does (no browser: httpx's ASGI transport)."""

from __future__ import annotations

import io
import re

from connector import commands
from served_console import USER, asgi_client, console_app, console_settings, logged_in
from test_refund_refused import RefusedReturns, a_refunded_order, returns


def held_line(world) -> str:
    out = io.StringIO()
    commands.show_status(world.settings(), out=out)
    return next(line for line in out.getvalue().splitlines() if line.startswith("refunds held for a person"))


def held_on_overview(page: str) -> str:
    return re.search(r'class="held-refund-count">([^<]*)<', page).group(1)


def exception_row(page: str, exception_id: int) -> str:
    return re.search(rf'<tr id="exception-default-{exception_id}">.*?</tr>', page, re.S).group(0)


async def test_a_held_refund_is_retried_from_the_console_and_counted_as_status_does(db_world):
    world = db_world
    runtime = await world.runtime()
    order_id = await a_refunded_order(world)
    refusals = RefusedReturns(runtime)
    assert (await world.cycle(advance=60)).refunds["refused"] == 1
    [exception] = world.store.exceptions()
    retry_form = f'action="/pairs/default/orders/{order_id}/retry"'

    async with asgi_client(console_app(console_settings(runtime.settings), {runtime.settings.pair: runtime})) as c:
        csrf = await logged_in(c)
        assert held_line(world).startswith("refunds held for a person: 1 ")
        assert held_on_overview((await c.get("/")).text) == "1 held"
        assert retry_form in exception_row((await c.get("/exceptions")).text, exception.id)
        order_page = (await c.get(f"/pairs/default/orders/{order_id}")).text
        assert retry_form in order_page and 'class="held-refunds"' in order_page

        answer = await c.post(f"/pairs/default/orders/{order_id}/retry",
                              data={"csrf_token": csrf, "back": "/exceptions"})
        assert (answer.status_code, answer.headers["location"]) == (303, "/exceptions")
        # As `retry-failed --order`: due again at the next cycle, audited with who asked.
        [binding] = world.store.refund_bindings(order_id)
        assert binding.outcome == "retry"
        [asked] = [e for e in world.store.audit_entries(order_id) if e.action == "retry_requested"]
        assert f"by {USER} (console)" in asked.reason
        assert held_line(world) == "refunds held for a person: 0"
        assert held_on_overview((await c.get("/")).text) == "0 held"
        assert retry_form not in exception_row((await c.get("/exceptions")).text, exception.id)
        assert retry_form not in (await c.get(f"/pairs/default/orders/{order_id}")).text

    refusals.stop()
    assert (await world.cycle(advance=60)).refunds["returned"] == 1
    assert len(returns(world, order_id)) == 1


async def test_no_retry_for_a_refund_whose_exception_was_resolved_nor_for_other_exceptions(world):
    runtime = await world.runtime()
    order_id = await a_refunded_order(world)
    RefusedReturns(runtime)
    await world.cycle(advance=60)
    [refund_exception] = world.store.exceptions()
    other = world.store.open_exception(order_id, "amount", "the sale's total is 0.01 away from its lines")
    async with asgi_client(console_app(console_settings(runtime.settings), {runtime.settings.pair: runtime})) as c:
        await logged_in(c)
        exceptions = (await c.get("/exceptions")).text
        assert "/retry" in exception_row(exceptions, refund_exception.id)
        assert "/retry" not in exception_row(exceptions, other.id)

        # Resolved: returned by hand, or not to be returned; posting it again could return it twice.
        world.store.resolve_exception(refund_exception.id, by="merchant")
        assert "/retry" not in (await c.get(f"/pairs/default/orders/{order_id}")).text
        assert held_on_overview((await c.get("/")).text) == "0 held"
        assert held_line(world) == "refunds held for a person: 0"
