"""Order → X-Series customer: new, returning, guest, and no e-mail at all."""

from __future__ import annotations

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


async def test_order_without_email_becomes_a_sale_without_customer(world):
    nobody = {"id": 0, "first_name": "Walk", "last_name": "In", "email": ""}
    paid = world.add_order([line()], customer=nobody)
    unpaid = world.add_order([line()], customer=nobody, status_id=7)  # on account needs a customer
    report = await world.cycle()

    assert not report.failed
    assert world.sale(paid)["customer_id"] is None and world.sale(paid)["status"] == "CLOSED"
    sale = world.sale(unpaid)
    assert sale["customer_id"] is None and sale["status"] == "CLOSED" and sale["payments"] == []
    assert customer_creates(world) == []


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
