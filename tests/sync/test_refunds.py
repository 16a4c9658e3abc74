"""Issue 16, point 1: BigCommerce refunds become X-Series returns — stock and money right, each
refund mirrored exactly once."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from connector.sandbox.faults import FaultConfig
from connector.sync.cycle import SyncCycle
from connector.sync.order_mirror import Outcome
from sync_world import line

CENT = Decimal("0.01")


def returns(world, order_id: int) -> list[dict]:
    return world.xs.sales_of_order(order_id, returns=True)


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def total_of(sale: dict) -> Decimal:
    return money(Decimal(str(sale["total_price"])) + Decimal(str(sale["total_tax"])))


def paid_by_type(world, sale: dict) -> dict[str, Decimal]:
    names = {t["id"]: t["name"] for t in world.xs.payment_types.values()}
    result: dict[str, Decimal] = {}
    for p in sale["payments"]:
        name = names[p["retailer_payment_type_id"]]
        result[name] = result.get(name, Decimal(0)) + money(p["amount"])
    return result


async def mirrored(world, lines, **kwargs) -> tuple[int, dict]:
    order_id = world.add_order(lines, **kwargs)
    await world.cycle()
    return order_id, world.sale(order_id)


def product_line(world, order_id: int, sku: str) -> dict:
    return next(p for p in world.bc.products(order_id) if p["sku"] == sku)


async def a_refund_of_tees(world, units: int) -> int:
    """An order of two tees, mirrored, then `units` of them refunded; its id."""
    order_id, _ = await mirrored(world, [line("TEE-M", 2)])
    tee = product_line(world, order_id, "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": units}])
    return order_id


async def test_a_full_refund_returns_every_unit_and_all_the_money(db_world):
    world = db_world
    order_id, sale = await mirrored(world, [line("TEE-M", 2), line("MUG-01", 1, "10.00")],
                                    shipping_ex_tax=Decimal("5.00"))
    assert (world.stock("TEE-M"), world.stock("MUG-01")) == (48, 29)
    order = world.order(order_id)
    refund = world.bc.refund(order_id, [
        {"item_type": "PRODUCT", "item_id": product_line(world, order_id, "TEE-M")["id"], "quantity": 2},
        {"item_type": "PRODUCT", "item_id": product_line(world, order_id, "MUG-01")["id"], "quantity": 1},
        {"item_type": "SHIPPING", "requested_amount": order["shipping_cost_inc_tax"]},
    ], reason="changed my mind")
    assert world.order(order_id)["status_id"] == 4

    report = await world.cycle()

    assert report.refunds["returned"] == 1 and not report.refunds_failed and not report.failed
    [ret] = returns(world, order_id)
    assert ret["invoice_number"] == f"BC-{order_id}-R{refund['id']}" and ret["return_for"] == sale["id"]
    assert ret["status"] == "CLOSED" and ret["customer_id"] == sale["customer_id"]
    assert total_of(ret) == -money(order["total_inc_tax"]) == -money(refund["total_amount"])
    assert sum(money(p["amount"]) for p in ret["payments"]) == total_of(ret)
    assert (world.stock("TEE-M"), world.stock("MUG-01")) == (50, 30)  # every unit back on the shelf
    assert world.sale(order_id)["status"] == "CLOSED" and world.sale(order_id)["version"] == sale["version"]
    [binding] = world.store.refund_bindings(order_id)
    assert (binding.outcome, binding.return_sale_id, binding.pending) == ("returned", ret["id"], False)
    created = [e for e in world.store.audit_entries(order_id) if e.action == "create_return"]
    assert len(created) == 1 and created[0].target_id == ret["id"]

    writes = world.xs_writes()
    world.clock.advance(60)
    again = await world.cycle()  # the refund is re-read (overlap) and the order too: nothing written
    assert again.written == 0 and world.xs_writes() == writes and len(returns(world, order_id)) == 1


async def test_a_partial_refund_of_one_of_three_units(db_world):
    world = db_world
    order_id, sale = await mirrored(world, [line("TEE-M", 3)])
    tee = product_line(world, order_id, "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    assert world.order(order_id)["status_id"] == 14  # Partially Refunded

    await world.cycle()

    [ret] = returns(world, order_id)
    assert [(i["quantity"], money(i["price"]), money(i["tax"])) for i in ret["line_items"]] == [
        (-1, Decimal("20.00"), Decimal("2.00"))]
    assert total_of(ret) == Decimal("-22.00") and paid_by_type(world, ret) == {"Credit Card": Decimal("-22.00")}
    assert world.stock("TEE-M") == 48


@pytest.mark.parametrize("charge", ["shipping", "wrapping"])
async def test_a_charge_refund_gives_money_back_on_its_product_and_no_stock(world, charge):
    cost = {"shipping_ex_tax": Decimal("5.00")} if charge == "shipping" else {"wrapping_ex_tax": Decimal("5.00")}
    order_id, sale = await mirrored(world, [line("TEE-M", 1)], **cost)
    tee = product_line(world, order_id, "TEE-M")
    item = ({"item_type": "SHIPPING", "requested_amount": "5.50"} if charge == "shipping"
            else {"item_type": "GIFT_WRAPPING", "item_id": tee["id"]})  # wrapping: BigCommerce's own amount
    world.bc.refund(order_id, [item])

    await world.cycle()

    [ret] = returns(world, order_id)
    [returned] = ret["line_items"]
    sku = "bc-shipping" if charge == "shipping" else "bc-gift-wrapping"
    assert returned["product_id"] == next(p["id"] for p in world.xs.products.values() if p["sku"] == sku)
    assert (returned["quantity"], money(returned["price"]), money(returned["tax"])) == (
        -1, Decimal("5.00"), Decimal("0.50"))
    assert total_of(ret) == Decimal("-5.50") and world.stock("TEE-M") == 49


async def test_an_order_level_amount_goes_on_the_refund_product_untaxed(world):
    order_id, sale = await mirrored(world, [line("TEE-M", 1)])
    world.bc.refund(order_id, [{"item_type": "ORDER", "requested_amount": "3.00"}],
                    payments=[{"provider_id": "storecredit", "amount": "3.00"}], reason="goodwill")

    await world.cycle()

    [ret] = returns(world, order_id)
    [item] = ret["line_items"]
    refund_product = next(p for p in world.xs.products.values() if p["sku"] == "bc-refund")
    assert item["product_id"] == refund_product["id"] and not refund_product["has_inventory"]
    assert (item["quantity"], money(item["price"]), money(item["tax"])) == (-1, Decimal("3.00"), Decimal("0.00"))
    assert paid_by_type(world, ret) == {"Store Credit": Decimal("-3.00")}  # the tender it went back to
    assert "goodwill" in ret["note"] and world.stock("TEE-M") == 49


@pytest.mark.parametrize("case", ["never-imported", "voided"])
async def test_a_refund_of_an_order_without_a_live_sale_writes_nothing(world, case):
    # Never imported: an order in another currency is parked, never posted.
    kwargs = {"default_currency_code": "EUR"} if case == "never-imported" else {"status_id": 5}
    order_id = world.add_order([line("TEE-M", 1)], **kwargs)
    await world.cycle()
    writes = world.xs_writes()
    tee = product_line(world, order_id, "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])

    report = await world.cycle()

    assert report.refunds["recorded"] == 1 and world.xs_writes() == writes
    assert returns(world, order_id) == []
    [binding] = world.store.refund_bindings(order_id)
    assert binding.outcome == "recorded" and "nothing to return" in binding.reason
    assert [e.action for e in world.store.audit_entries(order_id)].count("record_refund") == 1


async def test_a_refund_of_an_order_whose_sale_is_still_to_come_waits_for_the_sale(world):
    # The order's sale write failed (X-Series down): the order is in the failed queue, its retry
    # to come. Its refund must wait for the sale, not be recorded as one with nothing to return.
    order_id = world.add_order([line("TEE-M", 2)])
    world.xs.faults.reconfigure(FaultConfig(share_5xx=1.0, path_filter="register_sales"))
    await world.cycle()
    tee = product_line(world, order_id, "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])

    report = await world.cycle()
    assert world.sales(order_id) == [] and not world.store.failures()[0].parked
    assert report.refunds["recorded"] == 0 and len(report.refunds_failed) == 1

    world.xs.faults.reconfigure(FaultConfig())
    await world.cycle(advance=3600)  # the order's retry is due: its sale is written, then the refund
    assert len(world.sales(order_id)) == 1
    [ret] = returns(world, order_id)
    assert [i["quantity"] for i in ret["line_items"]] == [-1] and total_of(ret) == Decimal("-22.00")


async def test_an_order_placed_and_refunded_while_a_cycle_runs_is_returned_after_its_sale(world, monkeypatch):
    # The merchant places an order and refunds part of it while a cycle runs: after the window's
    # end (fixed at the cycle's start), before the cycle reads the refunds. The order is the next
    # window's; so is its refund, which must not be taken now, when the order has no sale yet.
    await world.cycle()
    placed: list[int] = []
    read_refunds = SyncCycle.mirror_refunds

    async def merchant_acts_meanwhile(self, report, created_since):
        if not placed:
            world.clock.advance(1)
            placed.append(order_id := world.add_order([line("TEE-M", 2)]))
            tee = product_line(world, order_id, "TEE-M")
            world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
        return await read_refunds(self, report, created_since)

    monkeypatch.setattr(SyncCycle, "mirror_refunds", merchant_acts_meanwhile)
    await world.cycle()
    await world.cycle()

    [order_id] = placed
    assert len(world.sales(order_id)) == 1
    [ret] = returns(world, order_id)
    assert [i["quantity"] for i in ret["line_items"]] == [-1] and total_of(ret) == Decimal("-22.00")


async def test_a_lost_answer_to_the_return_write_makes_no_second_return(db_world):
    world = db_world
    order_id = await a_refund_of_tees(world, 2)
    world.xs.faults.reconfigure(FaultConfig(share_lost_write_response=1.0, path_filter="register_sales"))

    report = await world.cycle()

    assert report.refunds["returned"] == 1 and world.xs.faults.injected["lost_response"] == 1
    world.xs.faults.reconfigure(FaultConfig())
    await world.cycle()
    assert len(returns(world, order_id)) == 1 and world.stock("TEE-M") == 50


async def test_a_return_write_that_timed_out_is_looked_up_then_written_once(db_world):
    world = db_world
    order_id = await a_refund_of_tees(world, 1)
    world.xs.faults.reconfigure(FaultConfig(share_timeout=1.0, path_filter="register_sales"))

    report = await world.cycle()

    assert report.refunds_failed and returns(world, order_id) == []
    assert world.store.refund_bindings(order_id)[0].pending
    world.xs.faults.reconfigure(FaultConfig())
    report = await world.cycle()
    assert report.refunds["returned"] == 1 and not report.refunds_failed
    assert len(returns(world, order_id)) == 1 and world.stock("TEE-M") == 49


async def test_without_restock_the_money_goes_back_and_the_stock_stays(world):
    runtime = await world.new_runtime()
    runtime.settings.refunds.restock = False
    order_id = world.add_order([line("TEE-M", 2)])
    await world.cycle(runtime=runtime)
    tee = product_line(world, order_id, "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 2}])

    await world.cycle(runtime=runtime)

    [ret] = returns(world, order_id)
    assert total_of(ret) == Decimal("-44.00") and world.stock("TEE-M") == 48


@pytest.mark.parametrize("status_id", [4, 14], ids=["refunded", "partially-refunded"])
async def test_a_move_to_refunded_without_a_refund_object_writes_nothing(world, status_id):
    order_id, sale = await mirrored(world, [line("TEE-M", 2)])
    writes = world.xs_writes()
    world.set_status(order_id, status_id)  # marked refunded by hand: no refund in BigCommerce

    report = await world.cycle()

    assert report.outcomes[Outcome.RECORDED] == 1 and not report.refunds
    assert world.xs_writes() == writes and returns(world, order_id) == [] and world.stock("TEE-M") == 48
    last = world.store.audit_entries(order_id)[-1]
    assert last.action == "record" and "never from the status alone" in last.reason


async def test_a_register_that_refuses_return_for_still_gets_the_return(world_factory):
    """Whether the 0.9 sale body takes return_for is unverified (reference §8.2): refused for it,
    the return is posted again without it, once."""
    world = world_factory(xs_options={"accepts_return_for": False})
    order_id, sale = await mirrored(world, [line("TEE-M", 2)])
    tee = product_line(world, order_id, "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])

    report = await world.cycle()

    assert report.refunds["returned"] == 1 and not report.refunds_failed
    [ret] = returns(world, order_id)
    assert ret["return_for"] is None and total_of(ret) == Decimal("-22.00") and world.stock("TEE-M") == 49
    posts = world.xs.request_log.matching("POST", "/api/register_sales")
    assert [p.status for p in posts[-2:]] == [400, 200]



async def test_a_return_refused_without_naming_return_for_is_posted_again_without_it():
    """A strict server need not say which field it refuses: any 400/422 of the return (nothing was
    applied) posts it once more without return_for; a second refusal is the error."""
    import json
    from types import SimpleNamespace

    from connector.clients.xseries_sale_models import RegisterSale, WrittenSale
    from connector.errors import PermanentApiError
    from connector.sync.refund_mirror import RefundMirror

    class StrictXs:
        invoices_affixed = False

        def __init__(self, refusals: int) -> None:
            self.refusals, self.bodies = refusals, []

        async def create_sale_document(self, encoded: bytes, answer, before_send=None):
            self.bodies.append(json.loads(encoded))
            if len(self.bodies) <= self.refusals:
                raise PermanentApiError("the body is not valid", api="xseries", method="POST",
                                        path="/api/register_sales", status=422, body={"errors": ["invalid"]})
            return WrittenSale(id="return-1", status="CLOSED")

    body = RegisterSale(register_id="r", user_id="u", status="CLOSED", state="closed", return_for="sale-1")
    refs = SimpleNamespace(invoice_affixes=("", ""))
    store = SimpleNamespace(save_refund_binding=lambda binding: None,
                            leases=SimpleNamespace(before_send=lambda lease, margin: None))
    xs, binding = StrictXs(refusals=1), SimpleNamespace(return_body=None)
    written, _ = await RefundMirror(SimpleNamespace(xs=xs, refs=refs, store=store, lease_margin=None))._write(body, binding, None)
    assert written.id == "return-1"
    assert [b.get("return_for") for b in xs.bodies] == ["sale-1", None]
    assert json.loads(binding.return_body) == xs.bodies[-1]  # kept as the post that landed was sent
    xs = StrictXs(refusals=2)
    with pytest.raises(PermanentApiError):
        await RefundMirror(SimpleNamespace(xs=xs, refs=refs, store=store, lease_margin=None))._write(body, binding, None)
    assert len(xs.bodies) == 2
    # A register with an invoice prefix: refused as it is and without return_for, the return goes
    # with the prefix (return_for kept), and the client's later sales and returns go so at once.
    xs = StrictXs(refusals=2)
    affixed = SimpleNamespace(invoice_affixes=("OS-", ""))
    written, _ = await RefundMirror(SimpleNamespace(xs=xs, refs=affixed, store=store, lease_margin=None))._write(body.model_copy(
        update={"invoice_number": "BC-7-R9"}), binding, None)
    assert [(b["invoice_number"], b.get("return_for")) for b in xs.bodies] == [
        ("BC-7-R9", "sale-1"), ("BC-7-R9", None), ("OS-BC-7-R9", "sale-1")]
    assert written.id == "return-1" and xs.invoices_affixed


async def test_a_refund_x_series_cannot_express_is_an_exception_a_person_sees(world):
    """Issue 16, point 5: refunds X-Series cannot express are opened as exceptions, once, and
    nothing is written (here its payments say less went back than the refund's total)."""
    order_id, _ = await mirrored(world, [line("TEE-M", 2)])
    tee = product_line(world, order_id, "TEE-M")
    refund = world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    world.bc.refunds[refund["id"]]["payments"][0]["amount"] = 10.0  # of the 22.00 it gave back
    writes = world.xs_writes()

    report = await world.cycle()

    assert report.refunds["exception"] == 1 and world.xs_writes() == writes and returns(world, order_id) == []
    [exc] = world.store.exceptions()
    assert (exc.bc_order_id, exc.kind) == (order_id, "refund") and "add up" in exc.summary
    assert [e.action for e in world.store.audit_entries(order_id)].count("open_exception") == 1
    world.clock.advance(60)
    await world.cycle()  # read again within the overlap: settled, not opened twice
    assert len(world.store.exceptions()) == 1 and world.xs_writes() == writes


async def test_a_refund_that_cannot_be_read_is_an_exception_and_the_others_go_on(world):
    """Bad input in the refunds list (a refund whose amount is no number) must not stop the refunds
    of every cycle: it is an exception a person sees, once, and the refunds after it are returned."""
    bad_order, _ = await mirrored(world, [line("TEE-M", 2)])
    good_order, _ = await mirrored(world, [line("TEE-M", 2)])
    for order_id in (bad_order, good_order):
        tee = product_line(world, order_id, "TEE-M")
        refund = world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
        if order_id == bad_order:
            world.bc.refunds[refund["id"]]["total_amount"] = "twenty-two"

    report = await world.cycle()

    assert len(returns(world, good_order)) == 1 and returns(world, bad_order) == []
    [exc] = world.store.exceptions()
    assert (exc.bc_order_id, exc.kind) == (bad_order, "refund") and "could not be read" in exc.summary, exc.summary
    assert list(report.refunds_failed) == [refund["id"] - 1]
    world.clock.advance(60)
    await world.cycle()  # read again within the overlap: not opened twice, nothing written twice
    assert len(world.store.exceptions()) == 1 and len(returns(world, good_order)) == 1


async def test_refunds_of_orders_the_cycle_read_cost_no_read_of_their_own(world):
    # Issue 16's budget: a refund moves its order (Refunded / Partially Refunded), so the cycle has
    # just read it; reading it again for each refund would cost a BigCommerce call per refund.
    order_ids = [world.add_order([line("TEE-M", 2)]) for _ in range(2)]
    await world.cycle()
    for order_id, units in zip(order_ids, (1, 2)):
        world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": product_line(world, order_id, "TEE-M")["id"],
                                    "quantity": units}])
    before = len(world.bc.request_log)
    report = await world.cycle()
    assert report.refunds["returned"] == 2 and not report.refunds_failed
    reads = [r.path for r in world.bc.request_log[before:] if r.method == "GET"]
    assert not [p for p in reads if p in {f"/stores/{world.bc.store_hash}/v2/orders/{i}" for i in order_ids}], reads


async def test_returns_of_units_at_several_rates_give_back_the_refunds_tax_to_the_cent(world_factory):
    """A tax-inclusive store, three lines at 10, 20 and 5 %: BigCommerce rounds each item's tax to
    cents, the sale's units carry their line's tax over its units. X-Series totals each return from
    its lines: its tax is the refund's, and its total (before, the tax was a cent off in 23 of 60
    such returns)."""
    world = world_factory(tax_inclusive=True, xs_options={"extra_taxes": (
        ("Sales Tax", Decimal("0.1")), ("Standard VAT", Decimal("0.2")), ("Reduced VAT", Decimal("0.05")))})
    rng = random.Random(5)
    for case in range(12):
        lines = [{**line(f"S{case}-{n}", rng.randint(2, 6), str(Decimal(rng.randint(100, 9999)) / 100),
                         product_id=1000 + case * 10 + n), "tax_rate": rate}
                 for n, rate in enumerate([Decimal("0.1"), Decimal("0.2"), Decimal("0.05")])]
        order_id = world.add_order(lines)
        await world.cycle()
        refund = world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": p["id"],
                                             "quantity": rng.randint(1, p["quantity"])}
                                            for p in world.bc.products(order_id)])
        report = await world.cycle()
        assert report.refunds["returned"] == 1
        [ret] = returns(world, order_id)
        assert (total_of(ret), money(ret["total_tax"])) == (-money(refund["total_amount"]), -money(refund["total_tax"]))
