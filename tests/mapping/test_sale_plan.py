"""build_sale_plan: the pure order → SalePlan function (Decimal math, no I/O)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import MappingError
from connector.mapping.sale_plan import build_sale_plan, custom_product_sku, order_content_hash
from connector.mapping.status_table import PosState
from connector.mapping.tables import MappingTables
from connector.values import cents

D = Decimal
TABLES = MappingTables.load(None)
WHEN = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)


def bc_line(inc: str, tax: str, quantity: int = 1, *, sku: str = "TEE-M", product_id: int = 111,
            discounted: str | None = None, name: str = "Tee", line_id: int = 1) -> SimpleNamespace:
    return SimpleNamespace(
        id=line_id, product_id=product_id, variant_id=0, sku=sku, name=name, quantity=quantity,
        total_inc_tax=D(inc), total_tax=D(tax),
        discounted_total_inc_tax=D(discounted) if discounted is not None else None,
    )


def bc_order(lines, *, total_inc: str, total_tax: str, status_id: int = 11, order_id: int = 4242,
             shipping: tuple[str, str] = ("0", "0"), handling: tuple[str, str] = ("0", "0"),
             wrapping: tuple[str, str] = ("0", "0"), payment_status: str = "captured",
             email: str = "jane@example.com") -> SimpleNamespace:
    return SimpleNamespace(
        id=order_id, status_id=status_id, status="Awaiting Fulfillment", lines=lines,
        total_inc_tax=D(total_inc), total_tax=D(total_tax),
        shipping_cost_inc_tax=D(shipping[0]), shipping_cost_tax=D(shipping[1]),
        handling_cost_inc_tax=D(handling[0]), handling_cost_tax=D(handling[1]),
        wrapping_cost_inc_tax=D(wrapping[0]), wrapping_cost_tax=D(wrapping[1]),
        payment_method="Credit Card", payment_status=payment_status, date_created=WHEN,
        billing_address=SimpleNamespace(
            email=email, first_name="Jane", last_name="Doe", phone="", company="", street_1="1 Main St",
            street_2="", city="Austin", state="Texas", zip="78701", country_iso2="US",
        ),
    )


def plan_of(order):
    return build_sale_plan(order, TABLES.statuses, TABLES.specials)


def totals(plan) -> tuple[Decimal, Decimal]:
    return (sum((li.quantity * (li.unit_price + li.unit_tax) for li in plan.lines), D(0)),
            sum((li.quantity * li.unit_tax for li in plan.lines), D(0)))


def test_simple_order_one_line_per_item():
    plan = plan_of(bc_order([bc_line("22.00", "2.00", 2)], total_inc="22.00", total_tax="2.00"))
    assert plan.invoice_number == "BC-4242" and plan.pos_state is PosState.CLOSED and not plan.unpaid
    [li] = plan.lines
    assert (li.quantity, li.unit_price, li.unit_tax, li.sku, li.kind) == (2, D("10.00"), D("1.00"), "TEE-M", "product")
    assert totals(plan) == (D("22.00"), D("2.00"))


def test_amounts_that_do_not_divide_by_the_quantity_are_split():
    # 3 × 10.00 + 10 % tax, less a 5.00 discount: 28.00 paid, tax scaled to 2.5454… → 2.55
    plan = plan_of(bc_order([bc_line("33.00", "3.00", 3, discounted="28.00")], total_inc="28.00",
                            total_tax="2.55"))
    assert [(li.quantity, li.unit_price, li.unit_tax) for li in plan.lines] == [
        (2, D("8.48"), D("0.85")), (1, D("8.49"), D("0.85")),
    ]
    assert totals(plan) == (D("28.00"), D("2.55"))
    assert sum(li.quantity for li in plan.lines) == 3


def test_rounding_residue_goes_to_the_largest_and_most_taxed_lines():
    # Each line's tax rounds up (0.335 → 0.34) but the order's tax was rounded once: 1.00.
    lines = [bc_line("3.685", "0.335", line_id=1, sku="A"), bc_line("3.685", "0.335", line_id=2, sku="B"),
             bc_line("7.37", "0.33", line_id=3, sku="C")]
    plan = plan_of(bc_order(lines, total_inc="14.74", total_tax="1.00"))
    assert totals(plan) == (D("14.74"), D("1.00"))
    by_sku = {li.sku: li for li in plan.lines}
    # 3.69 + 3.69 + 7.37 = 14.75: the cent comes off the largest line (C);
    # 0.34 + 0.34 + 0.33 = 1.01: the tax cent comes off the first most-taxed line (A).
    assert (by_sku["C"].unit_price + by_sku["C"].unit_tax, by_sku["C"].unit_tax) == (D("7.36"), D("0.33"))
    assert (by_sku["A"].unit_price + by_sku["A"].unit_tax, by_sku["A"].unit_tax) == (D("3.69"), D("0.33"))
    assert (by_sku["B"].unit_price + by_sku["B"].unit_tax, by_sku["B"].unit_tax) == (D("3.69"), D("0.34"))


def test_inconsistent_order_is_refused_with_a_message_naming_it():
    with pytest.raises(MappingError) as caught:
        plan_of(bc_order([bc_line("50.00", "5.00")], total_inc="100.00", total_tax="5.00", order_id=777))
    message = str(caught.value)
    assert "order 777" in message and "100.00" in message and "inconsistent" in message
    assert caught.value.order_id == 777


def test_unknown_status_is_refused_naming_the_order():
    with pytest.raises(MappingError, match=r"order 31: unknown BigCommerce status id 15"):
        plan_of(bc_order([bc_line("1.00", "0")], total_inc="1.00", total_tax="0", status_id=15, order_id=31))


def test_special_lines_are_untracked_and_zero_costs_leave_no_line():
    order = bc_order([bc_line("11.00", "1.00")], total_inc="25.30", total_tax="2.30",
                     shipping=("8.80", "0.80"), wrapping=("5.50", "0.50"))
    plan = plan_of(order)
    kinds = {li.kind: li for li in plan.lines}
    assert set(kinds) == {"product", "shipping", "wrapping"}
    assert kinds["shipping"].sku == "bc-shipping" and kinds["shipping"].product_key == "special:shipping"
    assert not kinds["shipping"].track_inventory and not kinds["wrapping"].track_inventory
    assert kinds["product"].track_inventory
    assert (kinds["wrapping"].unit_price, kinds["wrapping"].unit_tax) == (D("5.00"), D("0.50"))
    assert totals(plan) == (D("25.30"), D("2.30"))


def test_custom_lines_get_stable_skus():
    with_sku = bc_line("5.00", "0", product_id=0, sku=" CUSTOM-PRINT ", name="Custom print")
    without = bc_line("4.50", "0", product_id=0, sku="", name="Gift engraving", line_id=2)
    plan = plan_of(bc_order([with_sku, without], total_inc="9.50", total_tax="0"))
    assert [(li.kind, li.sku, li.product_key) for li in plan.lines] == [
        ("custom", "CUSTOM-PRINT", "sku:custom-print"),
        ("custom", custom_product_sku("Gift engraving"), "sku:" + custom_product_sku("gift engraving")),
    ]
    assert custom_product_sku(" GIFT engraving ") == custom_product_sku("Gift engraving")


@pytest.mark.parametrize("status_id,payment_status,unpaid", [
    (7, "pending", True), (11, "pending", True), (11, "captured", False), (2, "", False), (5, "void", True),
])
def test_unpaid_orders(status_id, payment_status, unpaid):
    plan = plan_of(bc_order([bc_line("1.00", "0")], total_inc="1.00", total_tax="0", status_id=status_id,
                            payment_status=payment_status))
    assert plan.unpaid is unpaid


def test_order_without_email_plans_no_customer():
    plan = plan_of(bc_order([bc_line("1.00", "0")], total_inc="1.00", total_tax="0", email="  "))
    assert plan.customer.email is None and plan.customer.email_key is None


def test_content_hash_follows_what_the_sale_depends_on():
    base = bc_order([bc_line("1.00", "0")], total_inc="1.00", total_tax="0")
    same = bc_order([bc_line("1.00", "0")], total_inc="1.00", total_tax="0")
    assert order_content_hash(base) == order_content_hash(same)
    same.status = "Renamed label"  # a custom label is not worth a write
    assert order_content_hash(base) == order_content_hash(same)
    for change in ({"status_id": 2}, {"total_inc_tax": D("2.00")}, {"payment_status": "refunded"}):
        other = bc_order([bc_line("1.00", "0")], total_inc="1.00", total_tax="0")
        for key, value in change.items():
            setattr(other, key, value)
        assert order_content_hash(other) != order_content_hash(base), change


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(st.tuples(st.integers(1, 9), st.integers(1, 20000)), min_size=1, max_size=5),
    rate=st.sampled_from([D("0"), D("0.0825"), D("0.10"), D("0.15")]),
    discount_share=st.integers(0, 30),
    shipping=st.integers(0, 2000),
)
def test_plans_always_add_up_exactly(items, rate, discount_share, shipping):
    """Built like BigCommerce builds an order (4-place money, a percentage discount spread over the
    lines), every plan adds up to the order's total and tax exactly, with no negative unit."""
    lines, total_inc, total_tax = [], D(0), D(0)
    for index, (qty, unit_cents) in enumerate(items):
        unit_ex = D(unit_cents) / 100
        line_ex = unit_ex * qty
        line_tax = (line_ex * rate).quantize(D("0.0001"))
        line_inc = line_ex + line_tax
        paid = (line_inc * (100 - discount_share) / 100).quantize(D("0.0001"))
        paid_tax = line_tax * paid / line_inc
        lines.append(bc_line(str(line_inc), str(line_tax), qty, discounted=str(paid), line_id=index,
                             sku=f"S{index}"))
        total_inc += paid
        total_tax += paid_tax
    ship_ex = D(shipping) / 100
    ship_tax = (ship_ex * rate).quantize(D("0.01"))
    total_inc += ship_ex + ship_tax
    total_tax += ship_tax
    order = bc_order(lines, total_inc=str(total_inc.quantize(D("0.0001"))),
                     total_tax=str(total_tax.quantize(D("0.0001"))),
                     shipping=(str(ship_ex + ship_tax), str(ship_tax)))
    plan = plan_of(order)
    assert totals(plan) == (cents(order.total_inc_tax), cents(order.total_tax))
    assert all(li.unit_price >= 0 and li.unit_tax >= 0 for li in plan.lines)
    assert sum(li.quantity for li in plan.lines if li.kind == "product") == sum(q for q, _ in items)


def test_tax_residue_never_makes_a_tax_exempt_line_taxed():
    """The tax residue goes to a taxed line: a tax-exempt line (here the largest) keeps zero tax."""
    lines = [bc_line("100.00", "0", sku="EXEMPT", line_id=1), bc_line("1.105", "0.105", sku="A", line_id=2),
             bc_line("1.105", "0.105", sku="B", line_id=3)]
    plan = plan_of(bc_order(lines, total_inc="102.21", total_tax="0.21"))
    assert totals(plan) == (D("102.21"), D("0.21"))
    by_sku = {li.sku: li for li in plan.lines}
    assert by_sku["EXEMPT"].unit_tax == 0
    assert all(li.unit_tax >= 0 for li in plan.lines)


def test_the_content_hash_is_the_sha256_of_the_sorted_json_of_what_the_sale_depends_on():
    """Stored in every binding: the same text as json.dumps(…, sort_keys=True) ever gave."""
    import hashlib
    import json

    order = bc_order([bc_line("21.65", "1.65", 2, name="Tée ✓")], total_inc="21.65", total_tax="1.65")
    payload = {
        "status": 11, "total_inc_tax": "21.65", "total_tax": "1.65", "payment_method": "Credit Card",
        "payment_status": "captured", "email": "jane@example.com",
        "lines": [[1, 111, 0, "TEE-M", 2, "21.65"]], "costs": ["0", "0", "0"],
    }
    assert order_content_hash(order) == hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
