"""Bad-input corpus, orders (issue 7 §4): malformed and unusual BigCommerce orders in one batch.

Every case below is one order planted in the same store, between good orders, and mirrored in one
cycle. Each case has one expectation:
- Parked(step, fragments): the order is set aside at once (a permanent failure) with a reason that
  names the bad field or figure, and the log line about it names the order;
- Mirrored(check): the data is unusual but valid: the order becomes exactly one sale that adds up
  to the order's total, and `check` holds;
- Unreadable(): the order has no usable id: an error is logged and nothing is written for it.
Whatever the bad orders, every good order of the batch is mirrored (test_the_rest_of_the_batch…),
and a second cycle writes nothing and retries none of the parked orders.

The malformations are made on the JSON the client receives (the simulator stays consistent), the
way a broken or changed API answer would arrive.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import pytest

from connector.logs import current_order_id
from connector.store.repository import Store
from connector.sync.order_mirror import Outcome
from sync_world import JANE, OMAR, POS_CATALOG, World, assert_sale_adds_up, line, make_world

from tampering import start_runtime

DELETE = object()


# ---- the malformations -----------------------------------------------------------------------

def order_fields(**changes: Any) -> Callable[[dict], None]:
    def edit(order: dict) -> None:
        for key, value in changes.items():
            if value is DELETE:
                order.pop(key, None)
            else:
                order[key] = value
    return edit


def billing(**changes: Any) -> Callable[[dict], None]:
    def edit(order: dict) -> None:
        for key, value in changes.items():
            if value is DELETE:
                order["billing_address"].pop(key, None)
            else:
                order["billing_address"][key] = value
    return edit


def first_line(**changes: Any) -> Callable[[dict], None]:
    def edit(order: dict) -> None:
        item = order["consignments"]["shipping"][0]["line_items"][0]
        for key, value in changes.items():
            if value is DELETE:
                item.pop(key, None)
            else:
                item[key] = value
    return edit


def no_lines(order: dict) -> None:
    """An order the store answers without a line, embedded or at /products (bc_edit empties that):
    consignments holding no line item alone are "not embedded", and /products is read."""
    for consignment in order["consignments"]["shipping"]:
        consignment["line_items"] = []
    order["items_total"] = 0


def money_plus(field_name: str, amount: str) -> Callable[[dict], None]:
    def edit(order: dict) -> None:
        order[field_name] = f"{Decimal(order[field_name]) + Decimal(amount):.4f}"
    return edit


# ---- expectations ----------------------------------------------------------------------------

@dataclass
class Parked:
    step: str
    fragments: tuple[str, ...]


@dataclass
class Mirrored:
    check: Callable[["Batch", int, dict], None] | None = None


@dataclass
class Unreadable:
    pass


@dataclass
class Case:
    id: str
    expect: Parked | Mirrored | Unreadable
    lines: list[dict] = field(default_factory=lambda: [line("TEE-M", 1)])
    edit: Callable[[dict], None] | None = None
    order: dict = field(default_factory=dict)  # add_order keyword arguments


def parse_error(*fragments: str) -> Parked:
    return Parked("parse", ("invalid data", *fragments))


def mapping_error(*fragments: str) -> Parked:
    return Parked("map", fragments)


# ---- checks for the valid-but-unusual orders -----------------------------------------------

def customer_of(batch: "Batch", sale: dict) -> dict | None:
    return batch.world.xs.customers.get(sale["customer_id"]) if sale["customer_id"] else None


def product_of(batch: "Batch", sale: dict, index: int = 0) -> dict:
    return batch.world.xs.products[sale["line_items"][index]["product_id"]]


def sold_as(sku: str) -> Callable:
    """Every line of the sale is the POS product with this SKU (no new product was made)."""
    def check(batch: "Batch", order_id: int, sale: dict) -> None:
        assert {li["product_id"] for li in sale["line_items"]} == {batch.world.pos_ids[sku]}
    return check


def new_product_named(sku: str, name: str | None = None) -> Callable:
    def check(batch: "Batch", order_id: int, sale: dict) -> None:
        products = batch.world.products_with_sku(sku)
        assert len(products) == 1 and products[0]["sku"] == sku, products
        assert products[0]["id"] in {li["product_id"] for li in sale["line_items"]}
        if name is not None:
            assert products[0]["name"] == name
    return check


def without_customer(batch: "Batch", order_id: int, sale: dict) -> None:
    assert sale["customer_id"] is None


def customer_named(first: str, last: str, email: str | None = None) -> Callable:
    def check(batch: "Batch", order_id: int, sale: dict) -> None:
        customer = customer_of(batch, sale)
        assert customer is not None and (customer["first_name"], customer["last_name"]) == (first, last)
        if email is not None:
            assert customer["email"] == email
    return check


def same_customer_as_jane(batch: "Batch", order_id: int, sale: dict) -> None:
    janes = [c for c in batch.world.xs.customers.values() if (c["email"] or "").casefold() == "jane@example.com"]
    assert len(janes) == 1 and sale["customer_id"] == janes[0]["id"]


def units(sku: str, quantity: int) -> Callable:
    def check(batch: "Batch", order_id: int, sale: dict) -> None:
        pid = batch.world.pos_ids[sku]
        assert sum(li["quantity"] for li in sale["line_items"] if li["product_id"] == pid) == quantity
    return check


def custom_product(batch: "Batch", order_id: int, sale: dict) -> None:
    assert (product_of(batch, sale)["sku"] or "").startswith("bc-custom-")


def keyed_by_ids(batch: "Batch", order_id: int, sale: dict) -> None:
    # A catalogue line without a SKU gets a product keyed by its product and variant ids, never by
    # its name (two such products never share one, issue 15).
    item = batch.world.bc.products(order_id)[0]
    assert product_of(batch, sale)["sku"] == f"bc-{item['product_id']}-{item['variant_id'] or 0}"


BIG_ORDER_LINES = [line(sku, 1 + i % 3, POS_CATALOG[sku][1]) for i, sku in
                   zip(range(2000), ["TEE-M", "TEE-L", "MUG-01", "BTL-07"] * 500)]


def big_order(batch: "Batch", order_id: int, sale: dict) -> None:
    assert sum(li["quantity"] for li in sale["line_items"]) == sum(li["quantity"] for li in BIG_ORDER_LINES)


# ---- the corpus --------------------------------------------------------------------------------

CASES = [
    # Missing fields
    Case("missing-total_inc_tax", parse_error("total_inc_tax", "Field required"), edit=order_fields(total_inc_tax=DELETE)),
    Case("missing-total_tax", parse_error("total_tax", "Field required"), edit=order_fields(total_tax=DELETE)),
    Case("missing-billing_address", parse_error("billing_address"), edit=order_fields(billing_address=DELETE)),
    Case("missing-status_id", parse_error("status_id", "Field required"), edit=order_fields(status_id=DELETE)),
    Case("missing-date_modified", parse_error("date_modified"), edit=order_fields(date_modified=DELETE)),
    Case("missing-date_created", parse_error("date_created"), edit=order_fields(date_created=DELETE)),
    Case("missing-customer_id", parse_error("customer_id"), edit=order_fields(customer_id=DELETE)),
    Case("missing-id", Unreadable(), edit=order_fields(id=DELETE)),
    Case("missing-line-quantity", parse_error("line", "quantity"), edit=first_line(quantity=DELETE)),
    Case("missing-line-total_inc_tax", parse_error("line", "total_inc_tax"), edit=first_line(total_inc_tax=DELETE)),
    Case("missing-line-product_id", parse_error("line", "product_id"), edit=first_line(product_id=DELETE)),
    Case("missing-line-sku", Mirrored(keyed_by_ids), edit=first_line(sku=DELETE)),
    Case("missing-payment_method", Mirrored(), edit=order_fields(payment_method=DELETE)),
    Case("missing-consignments", Mirrored(sold_as("TEE-M")), edit=order_fields(consignments=DELETE)),
    Case("missing-email", Mirrored(without_customer), edit=billing(email=DELETE)),
    # Wrong types
    Case("id-not-a-number", Unreadable(), edit=order_fields(id="order-seven")),
    Case("id-a-boolean", Unreadable(), edit=order_fields(id=True)),
    Case("status_id-a-word", parse_error("status_id"), edit=order_fields(status_id="shipped")),
    Case("total-null", parse_error("total_inc_tax", "not a money value"), edit=order_fields(total_inc_tax=None)),
    Case("total-a-json-number", Mirrored(), edit=order_fields(total_inc_tax=22.0, total_tax=2)),
    Case("total-a-boolean", parse_error("total_inc_tax"), edit=order_fields(total_inc_tax=True)),
    Case("billing_address-a-string", parse_error("billing_address"), edit=order_fields(billing_address="12 Main St")),
    Case("date_created-not-a-date", parse_error("date_created", "RFC-2822"), edit=order_fields(date_created="yesterday")),
    Case("date_modified-iso-not-rfc2822", parse_error("date_modified", "RFC-2822"),
         edit=order_fields(date_modified="2026-01-10T12:00:00")),
    Case("quantity-a-word", parse_error("line", "quantity"), edit=first_line(quantity="two")),
    Case("product_id-a-word", parse_error("line", "product_id"), edit=first_line(product_id="tee")),
    Case("discount-a-word", parse_error("discount_amount"), edit=order_fields(discount_amount="ten")),
    # Embedded line items that are not objects: read again from /orders/{id}/products instead.
    Case("line_items-not-objects", Mirrored(sold_as("TEE-M")),
         edit=lambda o: o["consignments"]["shipping"][0].update(line_items=[7])),
    # Quantities
    Case("negative-quantity", parse_error("line", "quantity", "greater than or equal to 0"),
         edit=first_line(quantity=-1)),
    Case("fractional-quantity", parse_error("line", "quantity", "fractional"), edit=first_line(quantity=1.5)),
    # With items_total to match: embedded quantities that do not add up to it are a partial embed,
    # read again from /products.
    Case("zero-quantity", mapping_error("quantity 0"), edit=lambda o: (first_line(quantity=0)(o), o.update(items_total=0))),
    # Statuses
    Case("unknown-status-id", mapping_error("unknown BigCommerce status id 99"), edit=order_fields(status_id=99)),
    Case("negative-status-id", mapping_error("unknown BigCommerce status id -1"), edit=order_fields(status_id=-1)),
    # Money
    Case("thousands-separator-total", parse_error("total_inc_tax", "1,234.00"), edit=order_fields(total_inc_tax="1,234.00")),
    Case("thousands-separator-line-price", parse_error("line", "price_ex_tax", "1,020.0000"),
         edit=first_line(price_ex_tax="1,020.0000")),
    Case("currency-symbol", parse_error("total_inc_tax", "$22.00"), edit=order_fields(total_inc_tax="$22.00")),
    Case("decimal-comma", parse_error("total_inc_tax", "22,0000"), edit=order_fields(total_inc_tax="22,0000")),
    Case("money-nan", parse_error("total_inc_tax", "NaN"), edit=order_fields(total_inc_tax="NaN")),
    Case("money-infinity", parse_error("subtotal_inc_tax", "Infinity"), edit=order_fields(subtotal_inc_tax="Infinity")),
    Case("money-empty", parse_error("total_tax", "empty money value"), edit=order_fields(total_tax="")),
    Case("money-six-places", Mirrored(), edit=order_fields(total_inc_tax="22.000049")),
    # Totals
    Case("lines-below-total", mapping_error("add up to 22.00", "order's total is 32.00", "inconsistent"),
         edit=money_plus("total_inc_tax", "10")),
    Case("tax-does-not-add-up", mapping_error("order's total is 22.00 (3.00 tax)"), edit=money_plus("total_tax", "1")),
    Case("total-one-cent-off", Mirrored(), edit=money_plus("total_inc_tax", "0.01")),
    Case("no-lines-but-a-total", mapping_error("no lines but a total of 22.00"), edit=no_lines),
    Case("negative-total", mapping_error("order's total is -22.00"), edit=order_fields(total_inc_tax="-22.0000")),
    # Names, SKUs, e-mails: unusual but valid
    Case("non-ascii-names", Mirrored(customer_named("Zoë", "Þórsdóttir-Łukasik")),
         order={"customer": {**OMAR, "id": 31, "first_name": "Zoë", "last_name": "Þórsdóttir-Łukasik",
                             "email": "zoe@example.is"}},
         lines=[line("CRM-BRL", 1, "9.00", name="Crème brûlée set — für Zwei")]),
    Case("emoji-names", Mirrored(new_product_named("GIFT-🎁", "🎁 Gift box ✨")),
         order={"customer": {**OMAR, "id": 32, "first_name": "Ana 🌸", "last_name": "Núñez", "email": "ana@example.com"}},
         lines=[line("GIFT-🎁", 1, "12.00", name="🎁 Gift box ✨")]),
    Case("cjk-sku", Mirrored(new_product_named("茶-抹茶-01", "抹茶")), lines=[line("茶-抹茶-01", 2, "8.00", name="抹茶")]),
    Case("sku-with-inner-space", Mirrored(new_product_named("TEE M")), lines=[line("TEE M", 1, "20.00")]),
    Case("sku-with-outer-spaces", Mirrored(sold_as("MUG-01")), lines=[line("  MUG-01 ", 1, "10.00")]),
    Case("sku-lower-case", Mirrored(sold_as("TEE-L")), lines=[line("tee-l", 1, "20.00")]),
    Case("sku-hyphens-new", Mirrored(new_product_named("NEW-ITEM-2-B")), lines=[line("NEW-ITEM-2-B", 1, "3.00")]),
    Case("sku-hyphens-new-again", Mirrored(new_product_named("NEW-ITEM-2-B")), lines=[line("new-item-2-b", 2, "3.00")]),
    Case("duplicate-skus", Mirrored(units("TEE-M", 3)), lines=[line("TEE-M", 1), line("TEE-M", 2)]),
    Case("duplicate-skus-differing-case", Mirrored(units("BTL-07", 2)),
         lines=[line("BTL-07", 1, "24.00"), line("btl-07", 1, "24.00")]),
    Case("order-of-2000-lines", Mirrored(big_order), lines=BIG_ORDER_LINES),
    Case("empty-email", Mirrored(without_customer), order={"customer": {**OMAR, "id": 33, "email": ""}}),
    Case("blank-email", Mirrored(without_customer), order={"customer": {**OMAR, "id": 34, "email": "   "}}),
    Case("email-other-case-and-spaces", Mirrored(same_customer_as_jane),
         order={"customer": {**JANE, "email": "  Jane@EXAMPLE.com "}}),
    Case("customer-without-names", Mirrored(customer_named("BigCommerce", "Customer", "nameless@example.com")),
         order={"customer": {"id": 35, "first_name": "", "last_name": "", "email": "nameless@example.com"}}),
    Case("custom-line-emoji-no-sku", Mirrored(custom_product),
         lines=[line("", 1, "4.50", product_id=0, name="Engraving ✍️")]),
    Case("blank-line-name", Mirrored(new_product_named("BLANK-NAME-1", "BLANK-NAME-1")),
         lines=[line("BLANK-NAME-1", 1, "5.00", name="   ")]),
    Case("unknown-payment-method", Mirrored(), order={"payment_method": "Bitcoin ₿"}),
    Case("unknown-extra-fields", Mirrored(),
         edit=lambda o: (o.update(new_api_field={"x": 1}), first_line(loyalty_points=7)(o))),
]

assert len({c.id for c in CASES}) == len(CASES)


# ---- the batch ---------------------------------------------------------------------------------

@dataclass
class Batch:
    world: World
    store: Store
    ids: dict[str, int]  # case id → order id
    good: list[int]
    first_writes: int
    second: Any
    second_writes: int
    records: list[logging.LogRecord]
    sales: dict[int, list[dict]]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "order_id", None) is None:
            record.order_id = current_order_id.get()
        record.rendered = record.getMessage()
        self.records.append(record)


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Batch:
    tmp = tmp_path_factory.mktemp("bad_orders")
    world = make_world(f"sqlite:///{tmp / 'bad.db'}", tmp)
    ids: dict[str, int] = {}
    edits: dict[int, Callable[[dict], None]] = {}
    good: list[int] = [world.add_order([line("TEE-M", 1)], customer=JANE)]
    for case in CASES:
        world.clock.advance(1)
        kwargs = {"customer": OMAR, **case.order}
        order_id = world.add_order(case.lines, **kwargs)
        ids[case.id] = order_id
        if case.edit is not None:
            edits[order_id] = case.edit
        good.append(world.add_order([line("MUG-01", 1)], customer=None))

    def bc_edit(request, status, body):
        path = request.url.path
        if request.method != "GET" or "/v2/orders" not in path or path.endswith("/count"):
            return None
        parts = path.rstrip("/").split("/")
        if parts[-1] == "products" and parts[-2].isdigit() and edits.get(int(parts[-2])) is no_lines:
            return (200, [], "application/json")
        rows = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
        touched = False
        for row in rows:
            if isinstance(row, dict) and row.get("id") in edits:
                edits[row["id"]](row)
                touched = True
        return (status, body, "application/json") if touched else None

    capture = _Capture()
    logger = logging.getLogger("connector")
    logger.addHandler(capture)
    old_level = logger.level
    logger.setLevel(logging.INFO)

    async def run():
        runtime = await start_runtime(world, bc_edit=bc_edit)
        try:
            world.clock.advance(1)
            await runtime.cycle().run()
            first_writes = world.xs_writes()
            world.clock.advance(3600)
            second = await runtime.cycle().run()
            return first_writes, second
        finally:
            await world.close()

    try:
        first_writes, second = asyncio.run(run())
    finally:
        logger.removeHandler(capture)
        logger.setLevel(old_level)
    sales: dict[int, list[dict]] = {}
    for sale in world.xs.sales.values():
        sales.setdefault(int(sale["source_id"]), []).append(sale)
    store = Store.open(world.database_url)
    yield Batch(world, store, ids, good, first_writes, second, world.xs_writes(), capture.records, sales)
    store.close()


def test_the_corpus_has_at_least_50_order_cases():
    assert len(CASES) >= 50
    assert Counter(type(c.expect).__name__ for c in CASES).keys() == {"Parked", "Mirrored", "Unreadable"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_order(batch: Batch, case: Case):
    order_id = batch.ids[case.id]
    failure = next((f for f in batch.store.failures() if f.bc_order_id == order_id), None)
    sales = batch.sales.get(order_id, [])
    expect = case.expect
    if isinstance(expect, Parked):
        assert failure is not None, f"order {order_id} was not recorded as failed"
        assert (failure.step, failure.permanent, failure.parked, failure.attempts) == (expect.step, True, True, 1)
        for fragment in expect.fragments:
            assert fragment in failure.reason, (fragment, failure.reason)
        assert sales == []
        # The error names the order: in the log line about it, and in the reason where the data
        # layer raised it (parse and mapping errors).
        lines = [r for r in batch.records if r.levelno >= logging.WARNING and f"order {order_id} " in r.rendered]
        assert lines and all(r.order_id == order_id for r in lines)
        assert failure.reason in lines[0].rendered
        assert f"order {order_id}" in failure.reason
        if expect.step == "map":  # a mapping error needs a person: it is an open exception too
            kinds = {e.kind for e in batch.store.exceptions() if e.bc_order_id == order_id}
            inconsistent = any(why in failure.reason for why in ("add up", "inconsistent", "has quantity", "no lines"))
            assert kinds == ({"totals"} if inconsistent else {"mapping"}), (order_id, kinds)
    elif isinstance(expect, Mirrored):
        assert failure is None, failure.reason
        assert len(sales) == 1, f"order {order_id} has {len(sales)} sales"
        sale = sales[0]
        assert sale["invoice_number"] == f"BC-{order_id}" and sale["status"] == "CLOSED"
        assert_sale_adds_up(sale, _served_order(batch, case, order_id))
        if expect.check is not None:
            expect.check(batch, order_id, sale)
    else:
        assert failure is None and sales == []
        # Named by what the merchant can find it by, in place of the id it lacks.
        created = batch.world.order(order_id)["date_created"]
        errors = [r for r in batch.records if r.levelno >= logging.ERROR and "without a usable id" in r.rendered
                  and created in r.rendered]
        assert errors, "no error was logged for the order without an id"


def _served_order(batch: Batch, case: Case, order_id: int) -> dict:
    """The order as the client saw it (the edit applied), for the money checks."""
    order = batch.world.order(order_id)
    if case.edit is not None:
        order["consignments"] = {"shipping": [{"line_items": batch.world.bc.products(order_id)}]}
        case.edit(order)
    return order


def test_the_rest_of_the_batch_is_mirrored(batch: Batch):
    for order_id in batch.good:
        assert len(batch.sales.get(order_id, [])) == 1, order_id
    # No sale or failure under an id the store does not have (a malformed id is never coerced).
    assert set(batch.sales) <= set(batch.world.bc.orders)
    assert {f.bc_order_id for f in batch.store.failures()} <= set(batch.world.bc.orders)
    assert not [f for f in batch.store.failures() if f.bc_order_id in batch.good]


def test_a_second_cycle_writes_nothing_and_retries_no_parked_order(batch: Batch):
    assert batch.second_writes == batch.first_writes
    assert batch.second.written == 0 and batch.second.outcomes[Outcome.CREATED] == 0
    parked = {f.bc_order_id for f in batch.store.failures()}
    assert parked == {batch.ids[c.id] for c in CASES if isinstance(c.expect, Parked)}
    assert all(f.attempts == 1 for f in batch.store.failures())
