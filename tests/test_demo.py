"""`order-sync demo` as a merchant reads it (issue 14, point 8).

The demo runs once, in-process, on a temporary database, with its output captured; the two
simulators it builds are kept (by subclassing them in connector.demo) so the tests can check that
what the demo prints is what X-Series holds. What is checked: every money figure has exactly two
decimals; the stock levels printed include the products order-sync created, and only those go below
zero, with the explanation; and one order walks through ID verification — check failed → Declined →
sale voided (stock back) → new check passed → Awaiting Fulfillment → a new sale BC-<id>-2 — through
the real engine (it audits every decision).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from connector import demo
from connector.config import Settings
from connector.idv.commands import show_audit
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.xseries import XSeriesSimulator
from connector.store.repository import Store

DECIMAL_NUMBER = re.compile(r"\d+\.\d+")
MONEY = re.compile(r"\d+\.\d{2}")
STOCK = re.compile(r"(-?\d+) +→ +(-?\d+) \(([+-]?\d+)\)")
WALK_START = re.compile(r"order (\d+), Awaiting Fulfillment, total (\d+\.\d{2}): sale BC-\1 CLOSED, total \2")


@dataclass
class DemoRun:
    output: str
    bc: BigCommerceSimulator
    xs: XSeriesSimulator
    db: Path
    settings: Settings


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> DemoRun:
    made: dict[str, object] = {}

    class KeptBigCommerce(BigCommerceSimulator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made["bc"] = self

    class KeptXSeries(XSeriesSimulator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made["xs"] = self

    def kept_settings(*args, **kwargs):
        made["settings"] = settings_of(*args, **kwargs)
        return made["settings"]

    settings_of = demo.demo_settings
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo, "BigCommerceSimulator", KeptBigCommerce)
        mp.setattr(demo, "XSeriesSimulator", KeptXSeries)
        mp.setattr(demo, "demo_settings", kept_settings)
        assert demo.run_demo(orders=40, seed=7, db_path=str(db), out=out) == 0
    return DemoRun(out.getvalue(), made["bc"], made["xs"], db, made["settings"])


def walked_order(run: DemoRun) -> int:
    found = WALK_START.search(run.output)
    assert found, "the ID-verification walk-through does not name its order:\n" + run.output
    return int(found.group(1))


def test_every_money_figure_has_exactly_two_decimals(run):
    figures = DECIMAL_NUMBER.findall(run.output)
    # Not vacuous: the order table alone prints one total per order.
    assert len(figures) >= 40
    wrong = [f for f in figures if not MONEY.fullmatch(f)]
    assert wrong == [], f"amounts without exactly two decimals: {wrong}"


def test_order_totals_are_rounded_to_the_cent_not_cut(run):
    # BigCommerce sends "47.3000"; the table shows the same amount, to the cent, per order.
    rows = dict(re.findall(r"^ *(\d+)  .* (\d+\.\d{2})$", run.output, flags=re.MULTILINE))
    assert set(map(int, rows)) == set(run.bc.orders)
    for order_id, printed in rows.items():
        total = Decimal(str(run.bc.order(int(order_id))["total_inc_tax"]))
        assert Decimal(printed) == total.quantize(Decimal("0.01")), order_id


def test_only_products_order_sync_created_go_below_zero_and_the_demo_says_why(run):
    figures = STOCK.findall(run.output)
    assert len(figures) >= 10, "the demo prints stock moves"
    for before, after, delta in figures:
        assert int(after) - int(before) == int(delta)
    section = run.output.split("stock at 'Main Outlet'", 1)[1].split("\n\n", 1)[0]
    lines = re.findall(r"^  (\S+) +(-?\d+) +→ +(-?\d+) \(-?\d+\)(  \*)?$", section, flags=re.MULTILINE)
    store = Store.open(run.settings.database_url)
    made = {b.sku for b in store.product_bindings() if b.created}
    store.engine.dispose()
    for sku, before, after, star in lines:
        # The seeded outlet holds enough for every order on a product X-Series had: none of those is
        # negative. A product order-sync created had no stock counted: it starts at 0, marked.
        assert bool(star) == (sku in made), sku
        assert int(after) >= 0 or star, sku
        assert not star or int(before) == 0, sku
    assert any(star for *_, star in lines), "the showcase's shirt is created on its first sale"
    assert demo.CREATED_STOCK_NOTE in section
    assert (demo.NEGATIVE_STOCK_NOTE in section) == any(int(after) < 0 for _, _, after, _ in lines)


def test_printed_stock_levels_are_the_simulators(run):
    section = run.output.split("stock at 'Main Outlet'", 1)[1].split("\n\n", 1)[0]
    by_sku = {p["sku"]: pid for pid, p in run.xs.products.items()}
    lines = re.findall(r"^  (\S+) +(-?\d+) +→ +(-?\d+)", section, flags=re.MULTILINE)
    assert lines
    for sku, _, after in lines:
        assert run.xs.stock(by_sku[sku]) == Decimal(after), sku


def test_a_negative_stock_level_comes_with_its_explanation():
    out = io.StringIO()
    demo.print_stock_moves(demo.Printer(out), [("MUG-1", Decimal(2), Decimal(-3))])
    assert "2 →     -3 (-5)" in out.getvalue() and demo.NEGATIVE_STOCK_NOTE in out.getvalue()
    out = io.StringIO()
    demo.print_stock_moves(demo.Printer(out), [("MUG-1", Decimal(5), Decimal(0))])
    assert demo.NEGATIVE_STOCK_NOTE not in out.getvalue()
    # Below zero past the rows shown (the table shows 25): still said, and explained.
    out = io.StringIO()
    moves = [(f"SKU-{i:02}", Decimal(5), Decimal(4)) for i in range(25)] + [("ZZ-1", Decimal(0), Decimal(-1))]
    demo.print_stock_moves(demo.Printer(out), moves, {"ZZ-1"})
    assert "… and 1 more (1 below zero)" in out.getvalue() and demo.NEGATIVE_STOCK_NOTE in out.getvalue()
    assert demo.CREATED_STOCK_NOTE in out.getvalue()


def test_the_demo_runs_with_id_verification_on(run):
    assert run.settings.id_verification.enabled
    assert "ID verification on" in run.output.splitlines()[0]
    # Tests and benchmarks that share demo_settings keep it off, its default.
    plain = demo.demo_settings(run.bc, run.xs, "sqlite://", datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert not plain.id_verification.enabled


def test_id_verification_walk_through_is_printed_step_by_step(run):
    order_id = walked_order(run)
    text = run.output
    steps = [
        f"1. Real ID check rid-{order_id}-1 started: BigCommerce status Awaiting Fulfillment → "
        "Manual Verification Required (written)",
        f"sale BC-{order_id} CLOSED",
        f"2. Real ID check rid-{order_id}-1 failed: BigCommerce status Manual Verification Required → "
        "Declined (written)",
        f"sale BC-{order_id} VOIDED",
        "stock back:",
        f"3. Real ID check rid-{order_id}-2 passed: BigCommerce status Declined → Awaiting Fulfillment (written)",
        f"new sale BC-{order_id}-2 CLOSED",
        f"BC-{order_id} stays VOIDED",
        "stock out again:",
    ]
    at = 0
    for step in steps:  # in this order
        found = text.find(step, at)
        assert found >= 0, f"missing (or out of order): {step!r}\n{text}"
        at = found + len(step)
    back = STOCK.findall(text.split("stock back:", 1)[1].split("\n", 1)[0])
    again = STOCK.findall(text.split("stock out again:", 1)[1].split("\n", 1)[0])
    assert back and [int(d) for *_, d in back] == [-int(d) for *_, d in again]
    assert all(int(d) > 0 for *_, d in back)


def test_the_voided_sale_and_the_new_sale_are_in_x_series(run):
    order_id = walked_order(run)
    sales = {s["invoice_number"]: s for s in run.xs.sales_of_order(order_id)}
    assert set(sales) == {f"BC-{order_id}", f"BC-{order_id}-2"}
    # Each generation its own source_id (a live X-Series may refuse a duplicate).
    assert (sales[f"BC-{order_id}"]["source_id"], sales[f"BC-{order_id}-2"]["source_id"]) == (
        str(order_id), f"{order_id}-2")
    assert sales[f"BC-{order_id}"]["status"] == "VOIDED"
    assert sales[f"BC-{order_id}-2"]["status"] == "CLOSED"
    first, second = sales[f"BC-{order_id}"], sales[f"BC-{order_id}-2"]
    assert [(l["product_id"], l["quantity"]) for l in first["line_items"]] == \
           [(l["product_id"], l["quantity"]) for l in second["line_items"]]
    assert run.bc.order(order_id)["status_id"] == 11  # Awaiting Fulfillment, after the new check
    # The table's row for the order shows its current sale.
    assert re.search(rf"^ +{order_id}  Awaiting Fulfillment +closed +CLOSED +BC-{order_id}-2 ", run.output,
                     flags=re.MULTILINE)


def test_each_verdict_went_through_the_engine_and_was_audited(run):
    order_id = walked_order(run)
    out = io.StringIO()
    assert run.settings.database_url == f"sqlite:///{run.db}"
    assert show_audit(run.settings, order_id, None, out=out) == 0
    audit = out.getvalue()
    # In this order: each verdict written, and the X-Series write the next sync made of it.
    expected = [
        rf"ID check rid-{order_id}-1: started \(cli, [^)]*\) → written; status [^;]* → (12 )?Manual Verification",
        rf"ID check rid-{order_id}-1: failed \(cli, [^)]*\) → written; status [^;]* → (6 )?Declined",
        r"xseries void_sale [^;]*; CLOSED → VOIDED",
        rf"ID check rid-{order_id}-2: passed \(cli, [^)]*\) → written; status [^;]* → (11 )?Awaiting Fulfillment",
        r"xseries create_sale [^;]*; - → CLOSED; order re-opened",
    ]
    at = 0
    for pattern in expected:
        found = re.compile(pattern).search(audit, at)
        assert found, (pattern, audit)
        at = found.end()


def test_the_demo_shows_a_split_tender_order_a_variant_and_a_fee(run):
    shown = dict(re.findall(r"order (\d+) \((split tender|a variant|a fee)\): BC-\1 CLOSED", run.output))
    assert set(shown.values()) == {"split tender", "a variant", "a fee"}
    by_what = {what: int(order_id) for order_id, what in shown.items()}
    [split] = run.xs.sales_of_order(by_what["split tender"])
    paid = sorted((run.xs.payment_types[p["retailer_payment_type_id"]]["name"], p["amount"]) for p in split["payments"])
    assert paid == [("Credit Card", Decimal("59.00")), ("Other", Decimal("25.00")), ("Store Credit", Decimal("15.00"))]
    # The gift certificate is named as BigCommerce gave it, beside the X-Series type it is mapped to.
    assert "paid 25.00 by Other (BigCommerce: gift certificate)" in run.output
    assert "paid 15.00 by Store Credit\n" in run.output and "paid 59.00 by Credit Card\n" in run.output
    [variant] = run.xs.sales_of_order(by_what["a variant"])
    product = run.xs.products[variant["line_items"][0]["product_id"]]
    assert product["variant_name"] == "Oxford Shirt / L" and product["variant_parent_id"]
    # X-Series keeps the price after the discount (40.00) and the discount (5.00) on the line.
    [shirts] = variant["line_items"]
    assert (shirts["price"], shirts["discount"], shirts["tax"]) == (Decimal("40.00"), Decimal("5.00"), Decimal("4.00"))
    assert "Oxford Shirt / L (variant of a family): 2 × (45.00 less 5.00 off + 4.00 Sales Tax) = 88.00" in run.output
    [fee] = run.xs.sales_of_order(by_what["a fee"])
    assert any(run.xs.products[li["product_id"]]["sku"] == "bc-fee" for li in fee["line_items"])
    assert "Fee: 1 × (2.50 + 0.25 Sales Tax) = 2.75" in run.output


SHOWCASE_LINE = re.compile(r"^    .*: (-?\d+) × \((\d+\.\d{2})(?: less (\d+\.\d{2}) off)? \+ (\d+\.\d{2}) [^)]*\) = (-?\d+\.\d{2})$",
                           flags=re.MULTILINE)


def test_every_showcase_line_adds_up_as_printed(run):
    """Read literally, each line comes to its total, and a sale's lines to what was paid."""
    showcase = run.output.split("three sales as X-Series keeps them", 1)[1]
    lines = SHOWCASE_LINE.findall(showcase)
    assert len(lines) >= 6, showcase
    for units, price, off, tax, total in lines:
        assert Decimal(units) * (Decimal(price) - Decimal(off or 0) + Decimal(tax)) == Decimal(total), showcase
    for block in re.split(r"\n  (?=order|its refund)", showcase)[1:]:
        came_to = sum(Decimal(total) for *_, total in SHOWCASE_LINE.findall(block))
        paid = sum(Decimal(m) for m in re.findall(r"(?:paid|refunded) (\d+\.\d{2}) by", block))
        assert abs(came_to) == paid, block


def test_the_demo_shows_a_refund_becoming_a_return(run):
    """Issue 16: the merchant refunds one of the two shirts; X-Series gets a return for that sale."""
    order_id = int(re.search(r"the merchant refunds one shirt of order (\d+)", run.output).group(1))
    assert re.search(r"cycle \d+: .*; refunds returned 1", run.output)
    [sale] = run.xs.sales_of_order(order_id)
    [ret] = run.xs.sales_of_order(order_id, returns=True)
    assert ret["return_for"] == sale["id"] and ret["invoice_number"].startswith(f"BC-{order_id}-R")
    assert [li["quantity"] for li in ret["line_items"]] == [-1]
    assert ret["total_price"] + ret["total_tax"] == Decimal("-44.00")
    assert f"its refund: return {ret['invoice_number']} CLOSED for {sale['invoice_number']}, total -44.00" in run.output
    assert "refunded 44.00 by Credit Card" in run.output
    [refund] = [r for r in run.bc.refunds.values() if r["order_id"] == order_id]
    assert f"total -44.00 (BigCommerce refund {refund['id']}, reason: too small)" in run.output


def test_refunded_orders_without_refund_records_are_explained(run):
    """The seeded Refunded / Partially Refunded orders carry no refund: their sales stay whole, and
    the demo says why rather than leave a merchant to wonder."""
    unrefunded = sorted(o for o, order in run.bc.orders.items() if order["status_id"] in (4, 14)
                        and not any(r["order_id"] == o for r in run.bc.refunds.values()))
    assert unrefunded  # the seed has some
    for order_id in unrefunded:
        assert not run.xs.sales_of_order(order_id, returns=True)
    named = ", ".join(str(o) for o in unrefunded)
    assert re.search(rf"^orders? {named} \(Refunded or Partially Refunded\) carr(y|ies) no refund records in the seeded"
                     r" store: no return is written \(a status alone never moves money\)$", run.output,
                     flags=re.MULTILINE), run.output
