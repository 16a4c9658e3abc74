"""A sale write whose outcome is unknown and whose sale the invoice number does not find is looked up
by the dates it may carry (GET /api/2.0/search date_from/date_to, documented "UTC timestamp. Format:
2016-08-08T12:00:00Z"): sent in that form, and a refusal of that look-up (400/422) says nothing of
whether the sale landed — the write stays pending and is looked up again, never parked as refused."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from connector.sandbox.faults import FaultConfig
from connector.sandbox.xseries_refusals import bad_request
from sync_world import line, lose_next_sale_answer


def date_searches(world) -> list:
    return [r for r in world.xs.request_log.matching("GET", "search") if "date_from" in r.query]


async def test_a_create_of_unknown_outcome_is_looked_up_by_dates_in_the_documented_form(world_factory):
    world = world_factory()
    order_id = world.add_order([line("TEE-M", 1)])
    world.xs.faults.reconfigure(FaultConfig(share_timeout=1.0, path_filter="/api/register_sales"))
    await world.cycle()  # the create times out before X-Series applies it
    world.xs.faults.reconfigure(FaultConfig())

    for _ in range(3):
        await world.cycle(advance=600)

    [sale] = world.sales(order_id)
    assert world.store.order_binding(order_id).sale_id == sale["id"] and world.store.failure(order_id) is None
    searched = date_searches(world)
    assert searched and all(r.status == 200 for r in searched)
    for request in searched:
        query = parse_qs(request.query)
        assert all(value.endswith("Z") and "+" not in value for value in query["date_from"] + query["date_to"])


@pytest.mark.parametrize("landed", [False, True], ids=["nothing-written", "landed-self-numbered"])
async def test_a_refused_date_search_leaves_the_write_pending_not_parked(world_factory, monkeypatch, landed):
    world = world_factory(xs_options={"numbers_sales_itself": landed})
    world.add_order([line("MUG-01", 1, "10.00", product_id=112)])
    await world.cycle()  # the retailer holds a sale already: the date search has one to read
    order_id = world.add_order([line("TEE-M", 1)])
    matches = world.xs._sale_matches

    def refusing_dates(sale, query):
        if "date_from" in query:
            raise bad_request("bad date_from")
        return matches(sale, query)

    monkeypatch.setattr(world.xs, "_sale_matches", refusing_dates)
    if landed:  # the sale lands, its answer is lost: only the date search can find it
        lost = lose_next_sale_answer(world)
    else:  # the create times out before X-Series applies it
        world.xs.faults.reconfigure(FaultConfig(share_timeout=1.0, path_filter="/api/register_sales"))
    await world.cycle()
    world.xs.faults.reconfigure(FaultConfig())
    for _ in range(2):
        await world.cycle(advance=600)

    failure = world.store.failure(order_id)
    assert failure is not None and not failure.parked
    assert world.store.order_binding(order_id).pending_state == "closed"
    assert len(world.sales(order_id)) == (1 if landed else 0)  # nothing written again meanwhile

    monkeypatch.setattr(world.xs, "_sale_matches", matches)  # the search answers again
    for _ in range(3):
        await world.cycle(advance=3600)

    [sale] = world.sales(order_id)
    binding = world.store.order_binding(order_id)
    assert binding.sale_id == sale["id"] and binding.pending_state is None
    assert world.store.failure(order_id) is None and world.stock("TEE-M") == 49
    assert not landed or lost
