"""Order lines → X-Series products: custom lines, variants, unknown SKUs, shipping/handling/wrapping."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector.mapping.planned_sale import custom_product_sku
from sync_world import assert_sale_adds_up, line


def product_creates(world) -> list:
    """Product creates: 2.0 for stock-tracked products, 0.9 for the rest (only it can say so)."""
    return [*world.xs.request_log.matching("POST", "/api/2.0/products"),
            *world.xs.request_log.matching("POST", "/api/products")]


def sale_skus(world, sale) -> list[str]:
    return [world.xs.products[li["product_id"]]["sku"] for li in sale["line_items"]]


async def test_custom_lines_with_and_without_sku_get_products_reused_later(world):
    first = world.add_order([
        line("CUSTOM-PRINT", 1, "12.00", product_id=0, name="Custom print"),
        line("", 2, "4.50", product_id=0, name="Gift engraving"),
    ])
    await world.cycle()

    generated = custom_product_sku("Gift engraving")
    print_products = world.products_with_sku("CUSTOM-PRINT")
    engraving_products = world.products_with_sku(generated)
    assert len(print_products) == 1 and len(engraving_products) == 1
    assert engraving_products[0]["name"] == "Gift engraving"
    sale = world.sale(first)
    assert sorted(sale_skus(world, sale)) == sorted(["CUSTOM-PRINT", generated])
    assert_sale_adds_up(sale, world.order(first))
    creates = len(product_creates(world))
    assert creates == 2

    # The same custom items on a later order (the nameless one by the same name) reuse the products.
    second = world.add_order([
        line("", 1, "4.50", product_id=0, name="  gift ENGRAVING "),
        line("custom-print", 1, "12.00", product_id=0, name="Custom print"),
    ])
    await world.cycle()
    assert len(product_creates(world)) == creates
    assert sorted(sale_skus(world, world.sale(second))) == sorted(["CUSTOM-PRINT", generated])


async def test_variant_line_binds_to_the_pos_product_with_that_sku(world_factory):
    # The live SKU search misses hyphenated SKUs (§9.1): the local index must not depend on it.
    world = world_factory(xs_options={"sku_search_misses_hyphens": True})
    parent = world.xs.add_product(sku="JKT", name="Denim Jacket", price_excluding_tax=Decimal("80"))
    variant_id = world.xs.add_product(sku="JKT-Blue-XL", name="Denim Jacket / Blue / XL",
                                      price_excluding_tax=Decimal("80"), inventory=5,
                                      variant_parent_id=parent)
    order_id = world.add_order([line("jkt-blue-xl", 2, "80.00", product_id=140, variant_id=77,
                                     name="Denim Jacket - Blue XL")])

    await world.cycle()

    sale = world.sale(order_id)
    assert [li["product_id"] for li in sale["line_items"]] == [variant_id]
    assert product_creates(world) == []  # found, not created
    assert world.xs.stock(variant_id) == 3
    binding = world.store.product_binding("sku:jkt-blue-xl")
    assert binding.xs_product_id == variant_id and not binding.created


async def test_unknown_sku_is_created_once_and_reused(world):
    first = world.add_order([line("NEW-SKU-1", 1, "15.00", name="New thing")])
    second = world.add_order([line("NEW-SKU-1", 2, "15.00", name="New thing")])
    await world.cycle()

    created = world.products_with_sku("NEW-SKU-1")
    assert len(created) == 1 and len(product_creates(world)) == 1
    assert created[0]["price_excluding_tax"] == Decimal("15.00")
    for order_id in (first, second):
        assert [li["product_id"] for li in world.sale(order_id)["line_items"]] == [created[0]["id"]]
    assert world.store.product_binding("sku:new-sku-1").created


async def test_shipping_handling_wrapping_products_created_untracked_and_reused(world):
    first = world.add_order([line("TEE-M", 1)], shipping_ex_tax=Decimal("7.95"),
                            handling_ex_tax=Decimal("2.00"), wrapping_ex_tax=Decimal("3.00"))
    await world.cycle()

    specials = {sku: world.products_with_sku(sku) for sku in ("bc-shipping", "bc-handling", "bc-gift-wrapping")}
    assert {sku: len(found) for sku, found in specials.items()} == {
        "bc-shipping": 1, "bc-handling": 1, "bc-gift-wrapping": 1}
    assert {found[0]["name"] for found in specials.values()} == {"Shipping", "Handling", "Gift Wrapping"}
    assert all(found[0]["has_inventory"] is False for found in specials.values())
    assert all(not any(key[0] == found[0]["id"] for key in world.xs.inventory) for found in specials.values())
    sale = world.sale(first)
    assert sorted(sale_skus(world, sale)) == sorted(["TEE-M", "bc-shipping", "bc-handling", "bc-gift-wrapping"])
    assert_sale_adds_up(sale, world.order(first))
    assert len(product_creates(world)) == 3

    second = world.add_order([line("MUG-01", 1, "10.00")], shipping_ex_tax=Decimal("5.00"),
                             handling_ex_tax=Decimal("3.50"), wrapping_ex_tax=Decimal("4.95"))
    await world.cycle()

    assert len(product_creates(world)) == 3  # no second create
    sale = world.sale(second)
    assert sorted(sale_skus(world, sale)) == sorted(["MUG-01", "bc-shipping", "bc-handling", "bc-gift-wrapping"])
    assert_sale_adds_up(sale, world.order(second))


async def test_special_products_already_in_the_pos_are_reused(world):
    """A shipping product that exists in X-Series (e.g. from an earlier install) is found by SKU."""
    existing = world.xs.add_product(sku="BC-SHIPPING", name="Shipping", track_inventory=False)
    order_id = world.add_order([line("TEE-M", 1)], shipping_ex_tax=Decimal("5.00"))
    await world.cycle()
    assert product_creates(world) == []
    assert existing in [li["product_id"] for li in world.sale(order_id)["line_items"]]


def a_shirt_family(world) -> tuple[dict, dict, dict]:
    shirt = world.bc.add_catalog_product(sku="OXF", name="Oxford Shirt", price=Decimal("45.00"), variants=[
        {"sku": "OXF-S", "price": None, "option_values": [{"label": "S", "option_display_name": "Size"}]},
        {"sku": "OXF-L", "price": None, "option_values": [{"label": "L", "option_display_name": "Size"}]},
    ])
    return shirt, *shirt["variants"]


async def test_a_lost_answer_to_a_family_create_makes_no_second_family(world):
    # Every answer to a 2.0 product create is lost (applied all the same). Two orders of the same
    # family in one cycle: the first finds its family through the product feed, the second binds.
    from connector.sandbox.faults import FaultConfig

    shirt, small, large = a_shirt_family(world)
    first = world.add_order([line("OXF-S", 1, "45.00", product_id=shirt["id"], variant_id=small["id"])])
    second = world.add_order([line("OXF-L", 1, "45.00", product_id=shirt["id"], variant_id=large["id"])])
    world.xs.faults.reconfigure(FaultConfig(share_lost_write_response=1.0, path_filter="/api/2.0/products"))

    report = await world.cycle()

    assert world.xs.faults.injected["lost_response"] == 1
    assert not report.failed
    assert len(world.xs.request_log.matching("POST", "/api/2.0/products")) == 1
    [s_size], [l_size] = world.products_with_sku("OXF-S"), world.products_with_sku("OXF-L")
    assert world.sale(first)["line_items"][0]["product_id"] == s_size["id"]
    assert world.sale(second)["line_items"][0]["product_id"] == l_size["id"]


async def test_a_lost_product_create_is_found_in_the_product_feed_not_the_search(world):
    # The feed is documented and ordered; the search has quirks (§9.1) and an undocumented `q`.
    from connector.sandbox.faults import FaultConfig

    order_id = world.add_order([line("NEW-SKU-9", 1, "9.00")])
    world.xs.faults.reconfigure(FaultConfig(share_lost_write_response=1.0, path_filter="/api/2.0/products"))
    report = await world.cycle()
    assert not report.failed and world.xs.faults.injected["lost_response"] == 1
    [created] = world.products_with_sku("NEW-SKU-9")
    assert world.sale(order_id)["line_items"][0]["product_id"] == created["id"]
    assert world.xs.request_log.matching("GET", "/api/2.0/search") == []


async def test_a_product_the_merchant_deleted_is_not_sold_again(world):
    # The binding outlives the product: a later order must not name a deleted product (a server
    # may refuse it, parking every order of that SKU), but the live one with its SKU, or a new one.
    first = world.add_order([line("NEW-SKU-1", 1, "15.00", name="New thing")])
    await world.cycle()
    [old] = world.products_with_sku("NEW-SKU-1")
    world.xs.delete_product(old["id"])

    second = world.add_order([line("NEW-SKU-1", 1, "15.00", name="New thing")])
    report = await world.cycle()

    assert not report.failed
    [new] = [p for p in world.products_with_sku("NEW-SKU-1") if not p["deleted_at"]]
    assert new["id"] != old["id"]
    assert world.sale(first)["line_items"][0]["product_id"] == old["id"]
    assert world.sale(second)["line_items"][0]["product_id"] == new["id"]
    assert world.store.product_binding("sku:new-sku-1").xs_product_id == new["id"]

    # Merchant re-made it by hand instead: that live product is bound, nothing is created.
    world.xs.delete_product(new["id"])
    remade = world.xs.add_product(sku="new-sku-1", name="New thing", price_excluding_tax=Decimal("15"))
    creates = len(product_creates(world))
    third = world.add_order([line("NEW-SKU-1", 1, "15.00", name="New thing")])
    await world.cycle()
    assert world.sale(third)["line_items"][0]["product_id"] == remade
    assert len(product_creates(world)) == creates


async def test_a_digital_variant_is_made_untracked_not_as_a_stock_tracked_family(world):
    """The 2.0 create makes a family's products stock-tracked: an e-book sold in formats moves no stock."""
    ebook = world.bc.add_catalog_product(sku="EBK", name="Ebook", price=Decimal("10.00"), variants=[
        {"sku": "EBK-PDF", "price": None, "option_values": [{"label": "PDF", "option_display_name": "Size"}]},
        {"sku": "EBK-EPUB", "price": None, "option_values": [{"label": "EPUB", "option_display_name": "Size"}]},
    ])
    pdf = ebook["variants"][0]
    order_id = world.add_order([{**line("EBK-PDF", 2, "10.00", product_id=ebook["id"], variant_id=pdf["id"],
                                        name="Ebook"), "type": "digital"}])
    report = await world.cycle()
    assert not report.failed
    product_id = world.sale(order_id)["line_items"][0]["product_id"]
    assert world.xs.products[product_id]["has_inventory"] is False
    assert world.products_with_sku("EBK-EPUB") == []  # no family made


async def test_a_variant_whose_product_left_the_catalogue_is_made_on_its_own(world):
    """The order's product was deleted from BigCommerce's catalogue since (an old order, an import):
    its line is made from the order's own data, not held for a family that cannot be read."""
    order_id = world.add_order([{**line("GONE-S", 1, "10.00", product_id=4242, variant_id=99, name="Old Shirt"),
                                 "product_options": [{"display_name": "Size", "display_value": "S"}]}])
    report = await world.cycle()
    assert not report.failed, report.failed
    [made] = world.products_with_sku("GONE-S")
    assert world.sale(order_id)["line_items"][0]["product_id"] == made["id"]


def staff_make_it_first(world, rt, create: str, sku: str, *, made: bool = True) -> list:
    """Staff (or another pair on the same retailer) make `sku` after the cycle read the product
    index, just before order-sync's create `create`: X-Series refuses the create (422, SKU in use).
    `made` False: the refusal names a product no read finds (yet). Returns the id made, once made."""
    from connector.errors import PermanentApiError

    real, made_ids = getattr(rt.xs, create), []

    async def racing(*args, **kwargs):
        if not made_ids:
            made_ids.append(world.xs.add_product(sku=sku, name="Made by staff", price_excluding_tax=Decimal("15"),
                                                 inventory=5) if made else None)
            if not made:
                raise PermanentApiError(f"SKU {sku} is already in use", api="xseries", method="POST",
                                        path="/api/2.0/products", status=422)
        return await real(*args, **kwargs)

    setattr(rt.xs, create, racing)
    return made_ids


async def test_a_product_made_meanwhile_with_the_lines_sku_is_sold_not_parked(world):
    rt = await world.runtime()
    made = staff_make_it_first(world, rt, "create_product", "NEW-B")
    order_id = world.add_order([line("NEW-B", 1, "15.00", name="Thing B")])
    report = await world.cycle()
    assert not report.failed, report.failed
    assert world.sale(order_id)["line_items"][0]["product_id"] == made[0]
    assert not world.store.product_binding("sku:new-b").created  # staff's, not order-sync's


async def test_an_untracked_product_made_meanwhile_is_sold_not_parked(world):
    rt = await world.runtime()
    made = staff_make_it_first(world, rt, "create_untracked_product", "ENGRAVE-1")
    order_id = world.add_order([line("ENGRAVE-1", 1, "5.00", product_id=0, name="Engraving")])
    report = await world.cycle()
    assert not report.failed, report.failed
    assert world.sale(order_id)["line_items"][0]["product_id"] == made[0]


async def test_a_variant_made_meanwhile_is_sold_not_parked(world):
    """The family create is refused for the line's own SKU, then the line's own create too."""
    shirt, small, _ = a_shirt_family(world)
    rt = await world.runtime()
    made = staff_make_it_first(world, rt, "create_product", "OXF-S")
    order_id = world.add_order([line("OXF-S", 1, "45.00", product_id=shirt["id"], variant_id=small["id"])])
    report = await world.cycle()
    assert not report.failed, report.failed
    assert world.sale(order_id)["line_items"][0]["product_id"] == made[0]


async def test_a_sku_in_use_by_no_product_found_is_retried_not_parked(world):
    rt = await world.runtime()
    staff_make_it_first(world, rt, "create_product", "NEW-C", made=False)
    order_id = world.add_order([line("NEW-C", 1, "15.00", name="Thing C")])
    report = await world.cycle()
    assert report.failed
    assert [f.parked for f in world.store.failures() if f.bc_order_id == order_id] == [False]
    await world.cycle(advance=3600)  # the next attempt creates it
    assert world.sale(order_id)["line_items"][0]["product_id"] == world.products_with_sku("NEW-C")[0]["id"]


async def test_a_catalogue_line_makes_the_product_a_custom_line_made_stock_tracked(world):
    """A phone order's custom line "LAMP-01" came first (made untracked); the catalogue's LAMP-01 is
    stock: X-Series counts it from the first catalogue sale on (a merchant's own untracked product
    stays as the merchant made it)."""
    service = world.xs.add_product(sku="FITTING", name="Fitting", track_inventory=False)
    world.add_order([line("LAMP-01", 1, "30.00", product_id=0, name="Desk lamp")])
    await world.cycle()
    [lamp] = world.products_with_sku("LAMP-01")
    assert lamp["has_inventory"] is False

    order_id = world.add_order([line("LAMP-01", 3, "30.00", product_id=555, name="Desk lamp"),
                                line("FITTING", 1, "5.00", product_id=556, name="Fitting")])
    report = await world.cycle()
    assert not report.failed, report.failed
    assert [li["product_id"] for li in world.sale(order_id)["line_items"]] == [lamp["id"], service]
    assert world.xs.products[lamp["id"]]["has_inventory"] is True
    assert world.xs.stock(lamp["id"]) == -3
    assert world.xs.products[service]["has_inventory"] is False
    assert world.products_with_sku("LAMP-01") == [lamp]


@pytest.mark.parametrize("same_process", [True, False])
async def test_a_sku_the_merchant_moved_to_another_product_is_sold_on_that_one(world, same_process):
    """The merchant renames the bound product's SKU (NEW-A → NEW-A-OLD) and makes a new NEW-A: the
    line's units are sold on the product that now carries the SKU, in a running daemon too."""
    from connector.sandbox.xseries_products import write_product_09

    world.add_order([line("NEW-A", 1, "15.00", name="Thing A")])
    await world.cycle()
    [old] = world.products_with_sku("NEW-A")
    write_product_09(world.xs, {"id": old["id"], "sku": "NEW-A-OLD"})
    new = world.xs.add_product(sku="NEW-A", name="Thing A (new)", price_excluding_tax=Decimal("15"), inventory=10)
    order_id = world.add_order([line("NEW-A", 2, "15.00", name="Thing A")])
    report = await world.cycle(runtime=None if same_process else await world.new_runtime())
    assert not report.failed, report.failed
    assert world.sale(order_id)["line_items"][0]["product_id"] == new
    assert world.xs.stock(new) == 8
    assert world.store.product_binding("sku:new-a").xs_product_id == new


async def test_a_moved_sku_is_seen_by_a_process_whose_cache_holds_the_old_product(world):
    """Process 1 sold NEW-A (its cache: sku:new-a → the product). The merchant moves NEW-A to a new
    product; process 2's cycle refreshes the shared index (and its cursor). Process 1's next NEW-A
    order is sold on the new product: its cached binding is checked against the index's SKU."""
    from connector.sandbox.xseries_products import write_product_09

    first = await world.runtime()
    world.add_order([line("NEW-A", 1, "15.00", name="Thing A")])
    await world.cycle(runtime=first)
    [old] = world.products_with_sku("NEW-A")
    write_product_09(world.xs, {"id": old["id"], "sku": "NEW-A-OLD"})
    new = world.xs.add_product(sku="NEW-A", name="Thing A (new)", price_excluding_tax=Decimal("15"), inventory=10)
    await world.cycle(runtime=await world.new_runtime())  # nothing to write; the index refreshed there
    order_id = world.add_order([line("NEW-A", 2, "15.00", name="Thing A")])
    assert not (await world.cycle(runtime=first)).failed
    assert world.sale(order_id)["line_items"][0]["product_id"] == new


async def test_a_moved_sku_whose_new_product_failed_once_is_not_sold_on_the_old_one(world):
    """The merchant renamed NEW-A's product only; the product order-sync then makes for NEW-A fails once
    (503): the retry makes it, rather than taking the renamed product back from the cache."""
    from connector.errors import TransientApiError
    from connector.sandbox.xseries_products import write_product_09

    runtime = await world.runtime()
    world.add_order([line("NEW-A", 1, "15.00", name="Thing A")])
    await world.cycle()
    [old] = world.products_with_sku("NEW-A")
    write_product_09(world.xs, {"id": old["id"], "sku": "NEW-A-OLD"})
    create, calls = runtime.xs.create_product, []

    async def fails_once(*args, **options):
        calls.append(1)
        if len(calls) == 1:
            raise TransientApiError("503", api="xseries", method="POST", path="/api/2.0/products", status=503)
        return await create(*args, **options)

    runtime.xs.create_product = fails_once
    order_id = world.add_order([line("NEW-A", 2, "15.00", name="Thing A")])
    assert (await world.cycle()).failed
    assert not (await world.cycle(advance=3600)).failed
    [made] = world.products_with_sku("NEW-A")
    assert world.sale(order_id)["line_items"][0]["product_id"] == made["id"] != old["id"]
