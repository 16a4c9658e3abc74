"""Order → X-Series customer: new, returning, guest, and no e-mail at all."""

from __future__ import annotations

import pytest

from sync_world import JANE, line


def customer_creates(world) -> list:
    return world.xs.request_log.matching("POST", "/api/2.0/customers")


async def test_new_customer_is_created_from_the_billing_address(world):
    order_id = world.add_order([line()], customer=JANE)
    await world.cycle()

    sale = world.sale(order_id)
    customer = world.xs.customers[sale["customer_id"]]
    assert {k: customer[k] for k in ("first_name", "last_name", "email", "phone", "physical_address_1",
                                     "physical_city", "physical_state", "physical_postcode",
                                     "physical_country_id")} == {
        "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com", "phone": "5125550101",
        "physical_address_1": "12 Main Street", "physical_city": "Austin", "physical_state": "Texas",
        "physical_postcode": "78701", "physical_country_id": "US",
    }
    assert len(customer_creates(world)) == 1
    assert world.store.customer_binding("jane@example.com").xs_customer_id == customer["id"]


async def test_returning_customer_with_other_case_reuses_the_customer(world):
    first = world.add_order([line()], customer=JANE)
    await world.cycle()
    second = world.add_order([line("MUG-01")], customer={**JANE, "email": "  JANE@Example.COM"})
    third = world.add_order([line("TEE-L")], customer={**JANE, "email": "Jane@example.com"})
    await world.cycle()

    ids = {world.sale(o)["customer_id"] for o in (first, second, third)}
    assert len(ids) == 1 and None not in ids
    assert len(customer_creates(world)) == 1
    assert len(world.xs.customers) == 1


async def test_customer_already_in_the_pos_is_matched_by_email(world):
    existing = world.xs.add_customer(first_name="Jane", last_name="Doe", email="Jane@Example.com")
    order_id = world.add_order([line()], customer=JANE)
    await world.cycle()
    assert world.sale(order_id)["customer_id"] == existing
    assert customer_creates(world) == []
    assert not world.store.customer_binding("jane@example.com").created


async def test_guest_orders_are_matched_or_created_by_email(world):
    known = world.xs.add_customer(first_name="Omar", last_name="Haddad", email="omar@example.com")
    guest_known = {"id": 0, "first_name": "Omar", "last_name": "H", "email": "OMAR@example.com"}
    guest_new = {"id": 0, "first_name": "Ivy", "last_name": "Berg", "email": "ivy@guest.example.com"}
    a = world.add_order([line()], customer=guest_known)
    b = world.add_order([line()], customer=guest_new)
    c = world.add_order([line()], customer={**guest_new, "first_name": "IVY"})  # the same guest again
    await world.cycle()

    assert world.order(a)["customer_id"] == 0
    assert world.sale(a)["customer_id"] == known
    created = world.sale(b)["customer_id"]
    assert created != known and world.xs.customers[created]["email"] == "ivy@guest.example.com"
    assert world.sale(c)["customer_id"] == created
    assert len(customer_creates(world)) == 1


NOBODY = {"id": 0, "first_name": "Walk", "last_name": "In", "email": ""}


def sale_posts(world, sale: dict) -> list[tuple[str, str | None]]:
    """(status, customer_id) of each POST of this sale, refused ones included."""
    return [(r.body["status"], r.body.get("customer_id")) for r in world.xs.request_log.matching("POST", "/register_sales")
            if r.body.get("invoice_number") == sale["invoice_number"]]


@pytest.mark.parametrize("closed_requires_full_payment", [False, True])
async def test_unpaid_orders_without_email_go_on_account_to_a_walk_in_and_are_closed_when_paid(
        world_factory, closed_requires_full_payment):
    # Whether X-Series takes a CLOSED sale paid below its total is open (§13), and such a sale could
    # not take its payment later: on account to a walk-in customer order-sync creates once, either way.
    world = world_factory(xs_options={"closed_requires_full_payment": closed_requires_full_payment})
    paid = world.add_order([line()], customer=NOBODY)
    first = world.add_order([line()], customer=NOBODY, status_id=7)
    second = world.add_order([line("MUG-01", 1, "10.00")], customer=NOBODY, status_id=7,
                             payment_status="")  # a bank transfer: paid when moved on
    report = await world.cycle()

    assert not report.failed
    assert world.sale(paid)["customer_id"] is None and world.sale(paid)["status"] == "CLOSED"
    walk_in = world.sale(first)["customer_id"]
    assert world.xs.customers[walk_in]["customer_code"] == "BIGCOMMERCE-GUEST"
    for order_id in (first, second):
        assert sale_posts(world, world.sale(order_id)) == [("ONACCOUNT", walk_in)]  # nothing refused
    assert len(customer_creates(world)) == 1

    world.set_status(second, 11)  # paid
    report = await world.cycle()
    assert not report.failed
    sale = world.sale(second)
    assert (sale["status"], sale["customer_id"]) == ("ONACCOUNT_CLOSED", walk_in)
    assert sum(p["amount"] for p in sale["payments"]) == sale["total_price"] + sale["total_tax"]
    assert customer_creates(world)[0].body["customer_code"] == "BIGCOMMERCE-GUEST"


async def test_the_walk_in_customer_is_found_not_created_when_x_series_has_it(world_factory):
    # E.g. the store database was rebuilt, or another pair made it: looked up by its code first.
    world = world_factory()
    guest = world.xs.add_customer(first_name="BigCommerce", last_name="Guest", email=None,
                                  customer_code="BIGCOMMERCE-GUEST")
    order_id = world.add_order([line()], customer=NOBODY, status_id=7)
    report = await world.cycle()
    assert not report.failed and world.sale(order_id)["customer_id"] == guest
    assert customer_creates(world) == []


async def test_a_configured_walk_in_customer_is_looked_up_by_its_code(world_factory):
    world = world_factory(xseries_settings={"walk_in_customer": "COUNTER"})
    counter = world.xs.add_customer(first_name="Counter", last_name="Sales", email=None, customer_code="COUNTER")
    order_id = world.add_order([line()], customer=NOBODY, status_id=7)
    report = await world.cycle()
    assert not report.failed
    assert (world.sale(order_id)["status"], world.sale(order_id)["customer_id"]) == ("ONACCOUNT", counter)
    assert customer_creates(world) == []


async def test_a_configured_walk_in_customer_that_does_not_exist_fails_the_order_naming_the_key(world_factory):
    world = world_factory(xseries_settings={"walk_in_customer": "NO-SUCH-CODE"})
    unpaid = world.add_order([line()], customer=NOBODY, status_id=7)
    other = world.add_order([line()], customer=JANE)
    report = await world.cycle()
    assert "xseries.walk_in_customer" in report.failed[unpaid] and "NO-SUCH-CODE" in report.failed[unpaid]
    assert world.sale(unpaid) is None and world.sale(other)["status"] == "CLOSED"
    assert [r.body["email"] for r in customer_creates(world)] == ["jane@example.com"]


async def test_customer_without_last_name_gets_a_placeholder(world):
    order_id = world.add_order([line()], customer={"id": 5, "first_name": "Cher", "last_name": "",
                                                   "email": "cher@example.com"})
    report = await world.cycle()
    assert not report.failed
    customer = world.xs.customers[world.sale(order_id)["customer_id"]]
    assert customer["first_name"] == "Cher" and customer["last_name"]


async def test_a_customer_the_merchant_deleted_is_not_named_on_new_sales(world):
    # E.g. duplicates merged in X-Series: the surviving customer with that e-mail is used instead.
    first = world.add_order([line()], customer=JANE)
    await world.cycle()
    old = world.sale(first)["customer_id"]
    world.xs.customers[old].update(deleted_at="2026-01-10T10:00:00+00:00", version=world.xs.bump_version())
    kept = world.xs.add_customer(first_name="Jane", last_name="Doe", email="jane@example.com")

    second = world.add_order([line("MUG-01")], customer=JANE)
    await world.cycle()

    assert world.sale(second)["customer_id"] == kept
    assert len(customer_creates(world)) == 1
    assert world.store.customer_binding("jane@example.com").xs_customer_id == kept


async def test_the_import_dry_run_counts_the_walk_in_it_would_create(world):
    from connector.history.dry_run import DryRunPlanner
    from connector.sync.binders import walk_in_key

    unpaid = world.add_order([line()], customer=NOBODY, status_id=7)
    rt = await world.runtime()
    planner = DryRunPlanner(rt.deps())
    planner.account(await rt.bc.get_order(unpaid))
    assert planner.report.new_customers == {walk_in_key("BIGCOMMERCE-GUEST")}
    await world.cycle()  # once it exists (bound), a dry run predicts no new customer
    planner = DryRunPlanner(rt.deps())
    planner.account(await rt.bc.get_order(world.add_order([line()], customer=NOBODY, status_id=7)))
    assert planner.report.new_customers == set()


async def test_a_customer_refused_for_its_address_is_created_without_it(world_factory):
    # §5: stricter postal-code validation can 400 on a customer's address; the order is still mirrored.
    world = world_factory(xs_options={"refused_postcodes": frozenset({"7870"})})
    order_id = world.add_order([line("TEE-M", 2)], status_id=10, customer={**JANE, "zip": "7870"})
    report = await world.cycle()

    assert not report.failed, report.failed
    sale = world.sale(order_id)
    customer = world.xs.customers[sale["customer_id"]]
    assert (customer["first_name"], customer["last_name"], customer["email"], customer["phone"]) == (
        "Jane", "Doe", "jane@example.com", "5125550101")
    assert customer["physical_postcode"] is None and customer["physical_address_1"] is None
    assert world.stock("TEE-M") == 48
    [exception] = [e for e in world.store.exceptions() if e.bc_order_id == order_id]
    assert exception.kind == "customer"
    assert "7870" in exception.summary and "without" in exception.summary
    assert len(customer_creates(world)) == 2


@pytest.mark.parametrize("blank", [{"first_name": "  "}, {"last_name": " "}])
async def test_a_billing_name_of_spaces_takes_the_placeholder(world, blank):
    # X-Series requires both names and refuses a blank one: spaces are no name.
    order_id = world.add_order([line()], customer={**JANE, "city": " Austin ", **blank})
    report = await world.cycle()

    assert not report.failed, report.failed
    customer = world.xs.customers[world.sale(order_id)["customer_id"]]
    assert (customer["first_name"], customer["last_name"]) in {("BigCommerce", "Doe"), ("Jane", "Customer")}
    assert customer["physical_city"] == "Austin" and customer["physical_postcode"] == "78701"


async def test_a_refusal_not_about_the_address_keeps_it_and_is_not_resent(world, monkeypatch):
    from connector.sync import binders
    body_of = binders._customer_body
    monkeypatch.setattr(binders, "_customer_body", lambda c: body_of(c).model_copy(update={"first_name": " "}))
    order_id = world.add_order([line()], customer=JANE)
    report = await world.cycle()

    assert "first_name" in report.failed[order_id]
    assert len(customer_creates(world)) == 1  # not re-sent without the address: the address was not refused


async def test_two_mailboxes_that_casefold_alike_are_two_customers(world):
    # "straße@" and "strasse@" are two mailboxes: e-mails compare case-insensitively (lower), never
    # casefolded (ß → ss), here as in the lost-answer search.
    other = world.xs.add_customer(first_name="Other", last_name="Person", email="strasse@example.de")
    order_id = world.add_order([line()], customer={**JANE, "email": "Straße@example.de"})
    report = await world.cycle()

    assert not report.failed, report.failed
    customer = world.xs.customers[world.sale(order_id)["customer_id"]]
    assert customer["id"] != other and customer["email"] == "Straße@example.de"
