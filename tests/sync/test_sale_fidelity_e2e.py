"""Issue 15 end to end: what lands in X-Series is what the merchant's accountant expects.

Each test mirrors BigCommerce-shaped orders (the simulator builds them as a store does) through the
whole sync into the X-Series simulator, and reads the sale back as X-Series keeps it.
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from sync_world import assert_sale_adds_up, cents, line, sale_paid

RATES = (("Sales Tax", D("0.1")), ("Standard VAT", D("0.2")), ("Reduced VAT", D("0.05")))


def tax_name(world, tax_id: str) -> str:
    return world.xs.taxes[tax_id]["name"]


def type_name(world, type_id: str) -> str:
    return world.xs.payment_types[type_id]["name"]


def sale_detail(world, order_id: int) -> dict:
    """The detail of the order's create_sale audit entry."""
    [entry] = [e for e in world.store.audit_entries(order_id) if e.action == "create_sale"]
    return json.loads(entry.detail) if isinstance(entry.detail, str) else entry.detail


# --- 1. tenders ------------------------------------------------------------------------------

async def test_gift_certificate_and_store_credit_are_their_own_payments(world):
    # 100.00 incl. tax: 30.00 by gift certificate, 10.00 by store credit, 60.00 by card.
    order_id = world.add_order([line("MUG-01", 1, "100.00")], tax_rate=D(0), gift_certificate_amount=D("30.00"),
                               store_credit_amount=D("10.00"))
    await world.cycle()
    sale = world.sale(order_id)
    assert_sale_adds_up(sale, world.order(order_id))
    paid = sorted((type_name(world, p["retailer_payment_type_id"]), p["amount"]) for p in sale["payments"])
    # defaults/payment_methods.yaml: gift_certificate → Other, store_credit → Store Credit.
    assert paid == [("Credit Card", D("60.00")), ("Other", D("30.00")), ("Store Credit", D("10.00"))]
    assert sale_detail(world, order_id)["tenders"] == ["gift_certificate", "store_credit",
                                                                             "method"]


async def test_tenders_paying_more_than_the_total_are_refused_readably(world):
    order_id = world.add_order([line("MUG-01", 1, "20.00")], tax_rate=D(0), gift_certificate_amount=D("15.00"),
                               store_credit_amount=D("10.00"))
    report = await world.cycle()
    assert "more than the order's total" in report.failed[order_id] and f"order {order_id}" in report.failed[order_id]
    assert world.sale(order_id) is None


async def test_a_tender_without_its_own_type_falls_back_to_default_with_a_start_up_warning(
        world_factory, tmp_path, caplog):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "payment_methods.yaml").write_text("default: Other\nmethods:\n  Credit Card: Credit Card\n")
    world = world_factory(mappings_dir=mappings)
    order_id = world.add_order([line("MUG-01", 1, "50.00")], tax_rate=D(0), store_credit_amount=D("5.00"))
    await world.cycle()
    assert "names no payment type for store_credit" in caplog.text
    paid = sorted((type_name(world, p["retailer_payment_type_id"]), p["amount"]) for p in world.sale(order_id)["payments"])
    assert paid == [("Credit Card", D("45.00")), ("Other", D("5.00"))]


# --- 2. discounts and cost -------------------------------------------------------------------

async def test_order_discount_is_a_sale_discount_line_and_product_discount_stays_on_its_line(world_factory):
    world = world_factory(xs_options={"extra_taxes": RATES})
    discounted = {**line("MUG-01", 2, "10.00"), "unit_discount": D("1.50"), "cost_price": D("4.00")}
    order_id = world.add_order([discounted, line("TEE-M", 1, "20.00")], coupons=[{"code": "SAVE5", "amount": D("5.50")}])
    await world.cycle()
    sale = world.sale(order_id)
    assert_sale_adds_up(sale, world.order(order_id))
    by_product = {}
    for item in sale["line_items"]:
        by_product.setdefault(item["product_id"], []).append(item)
    [mug] = by_product[world.pos_ids["MUG-01"]]
    assert (mug["quantity"], mug["price"], mug["discount"], mug["cost"]) == (2, D("8.50"), D("1.50"), D("4.00"))
    [discount] = by_product[world.xs.discount_product_id]
    # 5.50 off incl. 10 % tax: 5.00 of price, 0.50 of tax, as one line of quantity −1.
    assert (discount["quantity"], discount["price"], discount["tax"]) == (-1, D("5.00"), D("0.50"))
    assert tax_name(world, discount["tax_id"]) == "Sales Tax"
    assert sale_paid(sale) == cents(world.order(order_id)["total_inc_tax"])


async def test_an_order_discount_over_two_rates_gives_one_discount_line_per_rate(world_factory):
    world = world_factory(xs_options={"extra_taxes": RATES})
    lines = [{**line("MUG-01", 1, "40.00"), "tax_rate": D("0.2")}, {**line("TEE-M", 1, "60.00"), "tax_rate": D("0.05")}]
    order_id = world.add_order(lines, discount=D("10.00"))
    await world.cycle()
    sale = world.sale(order_id)
    assert_sale_adds_up(sale, world.order(order_id))
    discounts = [li for li in sale["line_items"] if li["product_id"] == world.xs.discount_product_id]
    assert sorted(tax_name(world, li["tax_id"]) for li in discounts) == ["Reduced VAT", "Standard VAT"]
    assert all(li["quantity"] == -1 and li["price"] > 0 for li in discounts)


# --- 3. tax by rate --------------------------------------------------------------------------

async def test_each_line_carries_the_tax_of_its_rate_untaxed_lines_no_tax(world_factory):
    world = world_factory(xs_options={"extra_taxes": RATES})
    lines = [{**line("MUG-01", 1, "10.00"), "tax_rate": D("0.2")}, {**line("TEE-M", 2, "20.00"), "tax_rate": D("0.05")},
             {**line("BTL-07", 1, "24.00"), "tax_rate": D("0")}]
    order_id = world.add_order(lines, tax_rate=D("0.2"), shipping_ex_tax=D("5.00"))
    await world.cycle()
    sale = world.sale(order_id)
    assert_sale_adds_up(sale, world.order(order_id))
    taxes = {world.xs.products[li["product_id"]]["sku"]: tax_name(world, li["tax_id"]) for li in sale["line_items"]}
    assert taxes == {"MUG-01": "Standard VAT", "TEE-M": "Reduced VAT", "BTL-07": "No Tax", "bc-shipping": "Standard VAT"}
    assert sale_detail(world, order_id)["default_tax_lines"] == []


async def test_a_rate_x_series_lacks_uses_the_tax_class_table_else_the_default_audited(world_factory, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "taxes.yaml").write_text("classes:\n  4: Reduced VAT\n")
    world = world_factory(mappings_dir=mappings, xs_options={"extra_taxes": RATES})
    # 8.25 % (no X-Series tax has it): shipping of tax class 4 → Reduced VAT; the line → the default, audited.
    order_id = world.add_order([line("MUG-01", 1, "10.00")], tax_rate=D("0.0825"), shipping_ex_tax=D("4.00"),
                               charge_tax_class_id=4)
    await world.cycle()
    sale = world.sale(order_id)
    taxes = {world.xs.products[li["product_id"]]["sku"]: tax_name(world, li["tax_id"]) for li in sale["line_items"]}
    assert taxes == {"MUG-01": "GST", "bc-shipping": "Reduced VAT"}
    assert sale_detail(world, order_id)["default_tax_lines"] == ["MUG-01"]


async def test_taxes_yaml_naming_an_unknown_tax_is_a_start_up_error_with_file_and_line(world_factory, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "taxes.yaml").write_text("classes:\n  2: Reduced VAT\n  3: Luxury Tax\n")
    world = world_factory(mappings_dir=mappings, xs_options={"extra_taxes": RATES})
    world.add_order([line("MUG-01")])
    try:
        await world.cycle()
    except Exception as exc:  # noqa: BLE001 - the ConfigError is what is checked
        assert "taxes.yaml:3" in str(exc) and "Luxury Tax" in str(exc), exc
    else:
        raise AssertionError("an unknown X-Series tax in taxes.yaml must stop the start-up")


# --- 4. tax-inclusive stores exact -----------------------------------------------------------

async def test_tax_inclusive_units_each_sum_to_the_unit_price(world_factory):
    world = world_factory(tax_inclusive=True, xs_options={"extra_taxes": RATES})
    order_id = world.add_order([line("MUG-01", 3, "10.00")], tax_rate=D("0.2"))
    await world.cycle()
    sale = world.sale(order_id)
    assert_sale_adds_up(sale, world.order(order_id))
    [mug] = sale["line_items"]
    assert mug["quantity"] == 3 and mug["price"] + mug["tax"] == D("10.00")
    assert tax_name(world, mug["tax_id"]) == "Standard VAT"


# --- 5. products as the catalogue has them ---------------------------------------------------

async def test_a_product_first_seen_discounted_is_created_at_its_list_price_with_its_cost(world):
    item = {**line("LAMP-9", 1, "100.00", product_id=301, name="Desk Lamp"), "unit_discount": D("27.27"),
            "cost_price": D("41.00")}
    order_id = world.add_order([item])
    await world.cycle()
    [lamp] = world.products_with_sku("LAMP-9")
    assert (lamp["price_excluding_tax"], lamp["supply_price"], lamp["has_inventory"]) == (D("100.00"), D("41.00"), True)
    [sold] = world.sale(order_id)["line_items"]
    assert (sold["price"], sold["discount"]) == (D("72.73"), D("27.27"))


async def test_variants_become_one_family_named_by_their_options(world):
    shirt = world.bc.add_catalog_product(sku="OXF", name="Oxford Shirt", price=D("45.00"), variants=[
        {"sku": "OXF-S", "price": None, "option_values": [{"label": "S", "option_display_name": "Size"}]},
        {"sku": "OXF-L", "price": D("49.00"), "option_values": [{"label": "L", "option_display_name": "Size"}]},
    ])
    small, large = shirt["variants"]
    first = world.add_order([line("OXF-L", 1, "49.00", product_id=shirt["id"], variant_id=large["id"],
                                  name="Oxford Shirt")])
    await world.cycle()
    second = world.add_order([line("OXF-S", 2, "45.00", product_id=shirt["id"], variant_id=small["id"],
                                   name="Oxford Shirt")])
    await world.cycle()
    [l_size], [s_size] = world.products_with_sku("OXF-L"), world.products_with_sku("OXF-S")
    assert l_size["variant_parent_id"] == s_size["variant_parent_id"] is not None
    assert (l_size["variant_name"], s_size["variant_name"]) == ("Oxford Shirt / L", "Oxford Shirt / S")
    assert (l_size["price_excluding_tax"], s_size["price_excluding_tax"]) == (D("49.00"), D("45.00"))
    assert world.sale(first)["line_items"][0]["product_id"] == l_size["id"]
    assert world.sale(second)["line_items"][0]["product_id"] == s_size["id"]
    assert len(world.xs.request_log.matching("POST", "/api/2.0/products")) == 1  # one family create


async def test_catalogue_products_without_skus_never_share_a_product(world):
    first = world.add_order([line("", 1, "10.00", product_id=501, name="Plain Tote")])
    second = world.add_order([line("", 1, "12.00", product_id=502, name="Plain Tote")])
    await world.cycle()
    ids = {world.sale(o)["line_items"][0]["product_id"] for o in (first, second)}
    assert len(ids) == 2
    assert {world.xs.products[i]["sku"] for i in ids} == {"bc-501-0", "bc-502-0"}


async def test_custom_gift_certificate_and_charge_products_are_not_stock_tracked(world):
    custom = line("", 1, "12.00", product_id=0, name="Engraving")
    gift = {**line("", 1, "25.00", product_id=0, name="$25 Gift Certificate"), "type": "giftcertificate"}
    order_id = world.add_order([custom, gift, line("MUG-01")], shipping_ex_tax=D("5.00"), handling_ex_tax=D("1.00"),
                               wrapping_ex_tax=D("2.00"), fees=[{"name": "Package Protection", "amount": D("2.50")}])
    await world.cycle()
    sale = world.sale(order_id)
    assert_sale_adds_up(sale, world.order(order_id))
    products = [world.xs.products[li["product_id"]] for li in sale["line_items"]]
    untracked = {p["sku"] for p in products if not p["has_inventory"]}
    assert {"bc-shipping", "bc-handling", "bc-gift-wrapping", "bc-fee"} <= untracked
    assert len(untracked) == 6 and world.stock("MUG-01") == 29  # only the mug moved stock
    assert world.xs.request_log.matching("POST", "/api/products")  # through the 0.9 create


# --- 6. fees ---------------------------------------------------------------------------------

async def test_fees_become_their_own_taxed_lines(world_factory):
    world = world_factory(xs_options={"extra_taxes": RATES})
    order_id = world.add_order([line("MUG-01", 1, "10.00")], tax_rate=D("0.1"),
                               fees=[{"name": "Package Protection", "amount": D("2.50"), "tax_rate": D("0.2")},
                                     {"name": "Eco fee", "amount": D("0.10")}])
    await world.cycle()
    sale = world.sale(order_id)
    assert_sale_adds_up(sale, world.order(order_id))
    fees = [li for li in sale["line_items"] if world.xs.products[li["product_id"]]["sku"] == "bc-fee"]
    assert sorted((li["price"], tax_name(world, li["tax_id"])) for li in fees) == [
        (D("0.10"), "Sales Tax"), (D("2.50"), "Standard VAT")]
    [mug] = [li for li in sale["line_items"] if li["product_id"] == world.pos_ids["MUG-01"]]
    assert mug["price"] == D("10.00")  # no fee hidden in an item's price
    assert "Fee: Package Protection" in sale["note"]


# --- 7. currency -----------------------------------------------------------------------------

async def test_an_order_in_another_currency_is_parked_never_posted(world):
    euro = world.add_order([line("MUG-01")], default_currency_code="EUR")
    dollars = world.add_order([line("MUG-01")])
    report = await world.cycle()
    assert "in EUR but X-Series keeps USD" in report.failed[euro]
    [failure] = world.store.failures()
    assert failure.bc_order_id == euro and failure.parked
    assert world.sale(euro) is None and world.sale(dollars) is not None
    # A person must see it (issue 16, point 5): one open exception, not one per re-read.
    await world.cycle()
    [exc] = world.store.exceptions()
    assert (exc.bc_order_id, exc.kind) == (euro, "currency") and "EUR" in exc.summary


# --- 8. fulfilment ---------------------------------------------------------------------------

async def test_sales_carry_delivery_or_pickup_and_the_note_says_how_and_where(world):
    shipped = world.add_order([line("MUG-01")], shipping_method="UPS Ground", customer_message="Leave at the door")
    collected = world.add_order([line("MUG-01")], pickup=True)
    digital = world.add_order([{**line("EBOOK-1", 1, "9.00", product_id=610, name="E-book"), "type": "digital"}])
    await world.cycle()
    sale = world.sale(shipped)
    assert sale["attributes"] == ["delivery"]
    assert "Shipping: UPS Ground" in sale["note"] and "12 Main Street" in sale["note"]
    assert "Customer message: Leave at the door" in sale["note"]
    assert world.sale(collected)["attributes"] == ["pickup"]
    assert world.sale(digital)["attributes"] == []


# --- 9. re-opened sales ----------------------------------------------------------------------

async def test_a_reopened_order_gets_a_sale_with_its_own_source_id(world_factory):
    # The duplicate-source_id refusal a live X-Series may apply is on (reference §8.4).
    world = world_factory(xs_options={"reject_duplicate_source_id": True})
    order_id = world.add_order([line("MUG-01")])
    await world.cycle()
    world.set_status(order_id, 6)  # Declined: voided
    await world.cycle()
    world.set_status(order_id, 11)  # a new ID check passed: closed again
    report = await world.cycle()
    assert not report.failed, report.failed
    first, second = world.sales(order_id)
    assert (first["source_id"], first["status"]) == (str(order_id), "VOIDED")
    assert (second["source_id"], second["invoice_number"]) == (f"{order_id}-2", f"BC-{order_id}-2")
    assert second["status"] == "CLOSED" and world.stock("MUG-01") == 29


async def test_a_server_refusing_closed_with_delivery_gets_plain_sales_once_refused(world_factory):
    # §8.1's table gives closed + delivery its own legacy status (DISPATCHED_CLOSED); this server
    # refuses CLOSED (or ONACCOUNT) sent with an attribute the status does not name.
    world = world_factory(xs_options={"status_names_attributes": True})
    shipped = world.add_order([line("MUG-01")])
    collected = world.add_order([line("MUG-01")], pickup=True)
    unpaid = world.add_order([line("TEE-M", 2)], status_id=7, payment_status="")  # a bank transfer
    report = await world.cycle()
    assert not report.failed, report.failed
    for order_id in (shipped, collected):
        assert (world.sale(order_id)["status"], world.sale(order_id)["attributes"]) == ("CLOSED", [])
    assert (world.sale(unpaid)["status"], world.sale(unpaid)["attributes"]) == ("ONACCOUNT", ["onaccount"])
    assert world.stock("MUG-01") == 28 and world.stock("TEE-M") == 48
    posts = world.xs.request_log.matching("POST", "register_sales")
    assert len(posts) == 4  # one refusal, then each sale once: the rest go without the attribute

    world.set_status(unpaid, 11)  # paid: the plain on-account sale is closed
    report = await world.cycle()
    assert not report.failed, report.failed
    assert (world.sale(unpaid)["status"], world.sale(unpaid)["attributes"]) == ("ONACCOUNT_CLOSED", ["onaccount"])


async def test_a_refused_fulfilment_attribute_is_learned_once_per_process_not_per_cycle(world_factory):
    # Each cycle (and each webhook mirror) builds its own MirrorDeps; one refused POST of a ~1.2 req/s
    # quota per cycle, forever, is what a daemon on such a server paid before this was the client's.
    world = world_factory(xs_options={"status_names_attributes": True})
    for _ in range(2):
        world.add_order([line("MUG-01")])
        assert not (await world.cycle()).failed
    runtime = await world.runtime()
    await runtime.mirror_event(world.add_order([line("MUG-01")], pickup=True), "store/order/created")
    refused = [e for e in world.xs.request_log.matching("POST", "register_sales") if e.status >= 400]
    assert len(refused) == 1
    # Another process (or another store pair's Runtime) learns it for itself.
    world.add_order([line("MUG-01")])
    await world.cycle(runtime=await world.new_runtime())
    assert len([e for e in world.xs.request_log.matching("POST", "register_sales") if e.status >= 400]) == 2


async def test_a_sale_x_series_totals_otherwise_than_its_lines_is_an_exception(world_factory):
    # §13: whether a tax-inclusive retailer's line price is read excluding tax is unverified. This
    # X-Series reads it as tax-inclusive, so the on-account sale it keeps is short by its tax.
    world = world_factory(tax_inclusive=True, xs_options={"line_price_includes_tax": True})
    unpaid = world.add_order([line("TEE-M", 2, "23.00")], status_id=7, tax_rate=D("0.15"))
    report = await world.cycle()
    assert not report.failed, report.failed
    assert world.sale(unpaid)["status"] == "ONACCOUNT"  # written once and bound: never written again
    [exc] = world.store.exceptions()
    assert (exc.bc_order_id, exc.kind) == (unpaid, "amount") and "-6.00" in exc.summary, exc.summary
    assert (await world.cycle()).written == 0 and len(world.store.exceptions()) == 1


async def test_a_tax_inclusive_sale_x_series_totals_as_sent_opens_no_exception(world_factory):
    world = world_factory(tax_inclusive=True)
    unpaid = world.add_order([line("TEE-M", 2, "23.00")], status_id=7, tax_rate=D("0.15"))
    assert not (await world.cycle()).failed
    assert world.sale(unpaid)["status"] == "ONACCOUNT" and world.store.exceptions() == []


@pytest.mark.parametrize("attributes", ["some", "none"])
async def test_a_cycle_creating_several_families_reads_the_variant_attributes_once(world, attributes):
    if attributes == "none":  # a fresh store: no family can be made, and the list is read once all the same
        world.xs.variant_attributes.clear()
    lines = []
    for sku, name in (("OXF", "Oxford Shirt"), ("POLO", "Polo Shirt")):
        product = world.bc.add_catalog_product(sku=sku, name=name, price=D("45.00"), variants=[
            {"sku": f"{sku}-S", "price": None, "option_values": [{"label": "S", "option_display_name": "Size"}]},
            {"sku": f"{sku}-L", "price": None, "option_values": [{"label": "L", "option_display_name": "Size"}]},
        ])
        lines.append(line(f"{sku}-L", 1, "45.00", product_id=product["id"], variant_id=product["variants"][1]["id"],
                          name=name))
    for order_line in lines:
        world.add_order([order_line])
    assert not (await world.cycle()).failed
    # Two creates either way: a family each, or (no attributes) each sold variant on its own.
    assert len(world.xs.request_log.matching("POST", "/api/2.0/products")) == 2
    assert bool(world.products_with_sku("OXF-L")[0]["variant_parent_id"]) is (attributes == "some")
    assert len(world.xs.request_log.matching("GET", "/api/2.0/variant_attributes")) == 1
