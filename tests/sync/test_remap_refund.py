"""A mapping table edited (and the daemon restarted) after an order's sale was written: a refund of
that order gives the money and the tax back under what the sale took them under, not the new mapping."""

from __future__ import annotations

import shutil
from decimal import Decimal as D

from connector.mapping.tables import DEFAULTS_DIR
from sync_world import line
from test_refunds import paid_by_type, product_line, returns
from test_sale_fidelity_e2e import RATES, tax_name


async def restarted(world, mappings, name: str, old: str, new: str) -> None:
    """The operator edits mappings/<name> and restarts the daemon."""
    path = mappings / name
    path.write_text(path.read_text().replace(old, new))
    world._main = None
    await world.runtime()


async def test_a_refund_after_a_payment_remap_pays_back_under_the_sale_s_payment_types(world_factory, tmp_path):
    mappings = tmp_path / "mappings"
    shutil.copytree(DEFAULTS_DIR, mappings)
    world = world_factory(mappings_dir=mappings)
    # 44.00: 10.00 by store credit, 34.00 by PayPal (Other)
    order_id = world.add_order([line("TEE-M", 2)], payment_method="PayPal", store_credit_amount=D("10.00"))
    await world.cycle()
    assert paid_by_type(world, world.sale(order_id)) == {"Store Credit": D("10.00"), "Other": D("34.00")}
    await restarted(world, mappings, "payment_methods.yaml", "PayPal: Other", "PayPal: Credit Card")
    tee = product_line(world, order_id, "TEE-M")
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 2}],
                    payments=[{"provider_id": "storecredit", "amount": "10.00"},
                              {"provider_id": "paypal", "amount": "34.00"}])
    await world.cycle()
    [ret] = returns(world, order_id)
    assert paid_by_type(world, ret) == {"Store Credit": D("-10.00"), "Other": D("-34.00")}


async def test_a_refund_after_a_tax_remap_gives_the_tax_back_under_the_sale_s_tax(world_factory, tmp_path):
    mappings = tmp_path / "mappings"
    shutil.copytree(DEFAULTS_DIR, mappings)
    (mappings / "taxes.yaml").write_text("classes:\n  4: Reduced VAT\n")
    world = world_factory(mappings_dir=mappings, xs_options={"extra_taxes": RATES})
    # 8.25 %: no X-Series tax has it, so the shipping's tax class (4) picks its tax
    order_id = world.add_order([line("MUG-01", 1, "10.00")], tax_rate=D("0.0825"), shipping_ex_tax=D("4.00"),
                               charge_tax_class_id=4)
    await world.cycle()
    sold = {world.xs.products[li["product_id"]]["sku"]: tax_name(world, li["tax_id"])
            for li in world.sale(order_id)["line_items"]}
    assert sold["bc-shipping"] == "Reduced VAT"
    await restarted(world, mappings, "taxes.yaml", "4: Reduced VAT", "4: Standard VAT")
    world.bc.refund(order_id, [{"item_type": "SHIPPING", "requested_amount": "4.33"}])
    await world.cycle()
    [ret] = returns(world, order_id)
    assert [tax_name(world, li["tax_id"]) for li in ret["line_items"]] == ["Reduced VAT"]
