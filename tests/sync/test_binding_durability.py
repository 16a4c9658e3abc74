"""A customer or a plain product order-sync creates in X-Series is bound in the store before the next
X-Series request goes out, so a crash from then on never creates it again. (A variant family's
products are bound after an index refresh; a crash there finds them in the index, not created twice.)

Why a test: a change that defers those bindings (to save a commit per order, say) must still commit
them before any request, also one of another order while this one waits for a lease its process
holds. Checked at every request X-Series receives, against what another connection reads committed.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import create_engine, text

from connector.sandbox.faults import FaultConfig
from sync_world import JANE, OMAR, line


async def test_what_order_sync_created_is_bound_before_the_next_request(db_world):
    world = db_world
    catalogue = set(world.xs.products)
    orders = [world.add_order([line("NEW-1", product_id=201), line("TEE-M")], customer=JANE),
              world.add_order([line("NEW-1", product_id=201), line("NEW-2", product_id=202)], customer=OMAR)]
    # The first product create (NEW-1) is answered late, then not at all: its order looks it up with
    # reads while holding its lease, and the other order, its customer just created, waits for that lease.
    world.xs.faults.reconfigure(FaultConfig(share_lost_write_response=1.0, path_filter="/api/2.0/products"))
    engine = create_engine(world.database_url)  # another connection: only what is committed
    unbound: list[tuple[str, set[str]]] = []
    answer = world.xs._answer

    async def checked(request, entry):
        created = set(world.xs.customers) | {id for id, p in world.xs.products.items()
                                             if id not in catalogue and p["sku"] != "NEW-1"}  # its answer lost
        with engine.connect() as conn:
            bound = {row[0] for row in conn.execute(text(
                "SELECT xs_customer_id FROM customer_binding UNION SELECT xs_product_id FROM product_binding"))}
        if created - bound:
            unbound.append((f"{request.method} {request.url.path}", created - bound))
        creates = len(world.xs.request_log.matching("POST", "/api/2.0/products"))
        if creates > 1:
            world.xs.faults.reconfigure(FaultConfig())
        try:
            return await answer(request, entry)
        finally:
            if creates == 1 and request.method == "POST" and "products" in request.url.path:
                await asyncio.sleep(0.05)

    world.xs._answer = checked
    try:
        report = await world.cycle()
    finally:
        engine.dispose()
    assert not report.failed and all(world.sale(o) for o in orders)
    assert len(world.xs.customers) == 2 and len(set(world.xs.products) - catalogue) == 2
    assert unbound == []
