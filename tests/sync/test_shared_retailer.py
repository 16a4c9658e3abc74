"""Two BigCommerce stores mirrored into one X-Series retailer, each pair on its own register (the
config accepts it): both name their sales BC-<order id> (returns BC-<order id>-R<refund id>) with
source_id the order id, and the stores' order and refund ids overlap. A write whose outcome is
unknown is looked up by invoice number (and source_id): only a sale on our register is ours, so the
other store's sale is never adopted — nor, later, voided."""

from __future__ import annotations

import httpx
import pytest

from connector.sandbox.faults import FaultConfig
from sync_world import line

CANCELLED = 5


def other_register(world) -> dict:
    return next(r for r in world.xs.registers.values() if r["name"] == "Register 2")


async def other_stores_sale(world, invoice: str, source_id: str, quantity: int = 1) -> str:
    """A sale the other store's pair wrote on its own register, under the invoice number and source_id
    ours would carry: its id."""
    xs = world.xs
    price = 10 if quantity > 0 else -10
    body = {"register_id": other_register(world)["id"], "user_id": xs.user_id, "status": "CLOSED", "state": "closed",
            "invoice_number": invoice, "source": "BIGCOMMERCE", "source_id": source_id,
            "register_sale_products": [{"product_id": world.pos_ids["MUG-01"], "quantity": quantity, "price": 10,
                                        "tax": 1.5, "tax_id": xs.default_tax_id}],
            "register_sale_payments": [{"retailer_payment_type_id": next(iter(xs.payment_types)),
                                        "amount": 11.5 if price > 0 else -11.5}]}
    async with httpx.AsyncClient(transport=xs.transport(), base_url=xs.base_url,
                                 headers={"Authorization": f"Bearer {xs.token}"}) as client:
        answer = await client.post("/api/register_sales", json=body)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()["register_sale"]["id"]


def ours(world) -> list[dict]:
    return [s for s in world.xs.sales.values() if s["register_id"] != other_register(world)["id"]]


async def unknown_outcome(world, *, advance: float = 1.0):
    """One cycle whose sale posts time out before X-Series applies them (nothing written, outcome
    unknown to the connector)."""
    world.xs.faults.reconfigure(FaultConfig(share_timeout=1.0, path_filter="/api/register_sales"))
    report = await world.cycle(advance=advance)
    world.xs.faults.reconfigure(FaultConfig())
    return report


@pytest.mark.parametrize("self_numbering", [False, True], ids=["kept-invoice-numbers", "numbers-sales-itself"])
async def test_a_create_of_unknown_outcome_does_not_adopt_the_other_stores_sale(world_factory, self_numbering):
    world = world_factory(xs_options={"registers": 2, "numbers_sales_itself": self_numbering})
    await world.runtime()
    order_id = world.add_order([line("TEE-M", 2)])
    other = await other_stores_sale(world, f"BC-{order_id}", str(order_id))
    other_invoice = world.xs.sales[other]["invoice_number"]
    mugs = world.stock("MUG-01")

    await unknown_outcome(world, advance=60)
    for _ in range(3):
        await world.cycle(advance=60)

    [sale] = ours(world)
    binding = world.store.order_binding(order_id)
    assert binding.sale_id == sale["id"] != other and binding.pending_state is None
    assert world.stock("TEE-M") == 48

    world.set_status(order_id, CANCELLED)  # the merchant cancels our order
    await world.cycle()

    assert world.xs.sales[sale["id"]]["status"] == "VOIDED" and world.stock("TEE-M") == 50
    assert world.xs.sales[other]["status"] == "CLOSED" and world.xs.sales[other]["invoice_number"] == other_invoice
    assert world.stock("MUG-01") == mugs


async def test_a_return_of_unknown_outcome_does_not_adopt_the_other_stores_return(world_factory):
    world = world_factory(xs_options={"registers": 2})
    order_id = world.add_order([line("TEE-M", 2)])
    await world.cycle()
    tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
    refund_id = world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])["id"]
    other = await other_stores_sale(world, f"BC-{order_id}-R{refund_id}", f"{order_id}-R{refund_id}", quantity=-1)

    await unknown_outcome(world, advance=60)
    for _ in range(3):
        await world.cycle(advance=60)

    [ret] = [s for s in ours(world) if s["id"] != world.store.order_binding(order_id).sale_id]
    assert [b.return_sale_id for b in world.store.refund_bindings(order_id)] == [ret["id"]] != [other]
    assert [li["quantity"] for li in ret["line_items"]] == [-1] and world.stock("TEE-M") == 49


async def test_a_payment_of_unknown_outcome_is_found_on_the_register_the_sale_was_written_on(world_factory):
    """The operator moved the pair to another register (xseries.register) while an order's on-account
    sale sat on the old one; the order is paid, the payment lands, its answer is lost. The sale the
    binding names is ours on whichever register: found paid, not paid again (X-Series refuses a closed
    sale's re-post, which parked the order; a server taking it would have taken the money twice)."""
    world = world_factory(xs_options={"registers": 2})
    order_id = world.add_order([line("TEE-M", 2)], status_id=7)  # awaiting payment: on account
    await world.cycle()
    assert world.sale(order_id)["register_id"] != other_register(world)["id"]
    world.xseries_settings["register"] = "Register 2"
    world._main = await world.new_runtime()
    world.set_status(order_id, 11)  # paid
    world.xs.faults.reconfigure(FaultConfig(share_lost_write_response=1.0, path_filter="register_sales"))
    await world.cycle()
    world.xs.faults.reconfigure(FaultConfig())
    for _ in range(3):
        await world.cycle(advance=60)
    sale = world.sale(order_id)
    assert sale["status"] == "ONACCOUNT_CLOSED" and len(sale["payments"]) == 1
    binding = world.store.order_binding(order_id)
    assert binding.pending_state is None and binding.pos_state == "closed"
    assert not world.store.failures()
