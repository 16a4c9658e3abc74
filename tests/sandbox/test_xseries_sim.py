"""The X-Series simulator behaves like the reference says the live API does (xseries-api.md)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector.clock import FakeClock
from connector.sandbox.faults import FaultConfig
from connector.sandbox.xseries import XSeriesSimulator
from connector.values import parse_rfc2822

AUTH = {"Authorization": "Bearer xs-test-token"}


def client(sim: XSeriesSimulator, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=sim.transport(), base_url=sim.base_url,
                             headers=AUTH if headers is None else headers)


def make_sim(**kwargs: Any) -> XSeriesSimulator:
    kwargs.setdefault("clock", FakeClock())
    return XSeriesSimulator(**kwargs)


def sale_body(sim: XSeriesSimulator, lines: list[tuple[str, int]], *, status: str | None = "CLOSED",
              paid: Decimal | None = None, customer_id: str | None = None, **extra: Any) -> dict:
    """A 0.9 register_sales body: each line at price 10 + tax 1.5; paid in full unless told."""
    total = sum(Decimal("11.5") * qty for _, qty in lines)
    body: dict[str, Any] = {
        "register_id": sim.main_register_id,
        "user_id": sim.user_id,
        "register_sale_products": [
            {"product_id": pid, "quantity": qty, "price": 10, "tax": 1.5, "tax_id": sim.default_tax_id}
            for pid, qty in lines
        ],
        "register_sale_payments": [] if paid == 0 else [
            {"retailer_payment_type_id": sim.payment_type_ids["Credit Card"],
             "amount": float(paid if paid is not None else total)}
        ],
    }
    if status is not None:
        body["status"] = status
    if customer_id is not None:
        body["customer_id"] = customer_id
    body.update(extra)
    return body


async def post_sale(c: httpx.AsyncClient, body: dict) -> httpx.Response:
    return await c.post("/api/register_sales", json=body)


# --- auth and scopes ---------------------------------------------------------------------------

async def test_missing_or_wrong_token_is_401_and_token_never_logged():
    sim = make_sim()
    async with client(sim, headers={}) as c:
        r = await c.get("/api/2.0/outlets")
    assert r.status_code == 401
    assert r.json() == {"error": "Access token is not valid"}
    async with client(sim, headers={"Authorization": "Bearer wrong"}) as c:
        assert (await c.get("/api/2.0/outlets")).status_code == 401
    async with client(sim) as c:
        assert (await c.get("/api/2.0/outlets")).status_code == 200
    assert sim.request_log[-1].headers["authorization"] == "***"
    assert all("xs-test-token" not in str(entry.headers) for entry in sim.request_log)


async def test_missing_write_scope_is_403_and_nothing_created():
    sim = make_sim(scopes={"products:read", "sales:read"})
    async with client(sim) as c:
        assert (await c.get("/api/2.0/products")).status_code == 200
        r = await c.post("/api/2.0/products", json={"name": "X"})
        assert r.status_code == 403 and r.json() == {"error": "permission denied"}
        assert (await c.get("/api/2.0/search", params={"type": "customers"})).status_code == 403
    assert list(sim.products) == [sim.discount_product_id]


# --- reference data ------------------------------------------------------------------------------

async def test_reference_data_is_exposed_with_the_documented_names():
    sim = make_sim(registers=2)
    async with client(sim) as c:
        outlets = (await c.get("/api/2.0/outlets")).json()["data"]
        registers = (await c.get("/api/2.0/registers")).json()["data"]
        users = (await c.get("/api/2.0/users")).json()["data"]
        me = (await c.get("/api/2.0/user")).json()["data"]
        ptypes = (await c.get("/api/2.0/payment_types")).json()["data"]
        taxes = (await c.get("/api/2.0/taxes")).json()["data"]
        retailer = (await c.get("/api/2.0/retailer")).json()["data"]
    assert [o["name"] for o in outlets] == ["Main Outlet"] and outlets[0]["id"] == sim.main_outlet_id
    assert [r["name"] for r in registers] == ["Online Store", "Register 2"]
    assert {r["outlet_id"] for r in registers} == {sim.main_outlet_id}
    assert users[0]["display_name"] == "Online Shop" and users[0]["email"] == "api@example.com"
    assert me["id"] == sim.user_id
    assert {p["name"]: p["id"] for p in ptypes} == sim.payment_type_ids
    assert set(sim.payment_type_ids) == {"Cash", "Credit Card", "Other", "Store Credit"}
    by_name = {t["name"]: t for t in taxes}
    assert by_name["No Tax"]["id"] == sim.no_tax_id and by_name["No Tax"]["rates"][0]["rate"] == 0
    assert by_name["GST"]["id"] == sim.default_tax_id and by_name["GST"]["is_default"] is True
    assert retailer["tax_exclusive"] is True
    assert sim.rate_limit == 300 * 2 + 50


async def test_current_user_as_list_knob():
    sim = make_sim(current_user_as_list=True)
    async with client(sim) as c:
        data = (await c.get("/api/2.0/user")).json()["data"]
    assert isinstance(data, list) and data[0]["id"] == sim.user_id


# --- version paging ------------------------------------------------------------------------------

async def test_version_paging_after_is_exclusive_and_empty_page_ends():
    sim = make_sim()
    ids = [sim.add_product(sku=f"S{i}", name=f"P{i}") for i in range(5)]
    seen: list[str] = []
    after = sim.products[sim.discount_product_id]["version"]  # the store's own product comes first
    pages = 0
    async with client(sim) as c:
        while True:
            body = (await c.get("/api/2.0/products", params={"after": after, "page_size": 2})).json()
            pages += 1
            if not body["data"]:
                assert body["version"] == {"min": None, "max": None}
                break
            versions = [p["version"] for p in body["data"]]
            assert versions == sorted(versions) and min(versions) > after
            assert body["version"] == {"min": min(versions), "max": max(versions)}
            seen += [p["id"] for p in body["data"]]
            after = body["version"]["max"]
        assert seen == ids  # nothing repeated, nothing skipped
        assert pages == 4  # 2 + 2 + 1 + the empty page

        # A change bumps the version, so the feed shows the changed object again.
        sim.delete_product(ids[1])
        changed = (await c.get("/api/2.0/products", params={"after": after, "deleted": "true"})).json()
        assert [p["id"] for p in changed["data"]] == [ids[1]]
        assert changed["data"][0]["version"] > after and changed["data"][0]["deleted_at"]
        # Deleted products leave the default list.
        default = (await c.get("/api/2.0/products")).json()["data"]
        assert ids[1] not in [p["id"] for p in default]
        # `before` bounds from above (exclusive).
        first_two = (await c.get("/api/2.0/products",
                                 params={"before": sim.products[ids[2]]["version"]})).json()["data"]
        assert [p["id"] for p in first_two] == [sim.discount_product_id, ids[0]]


async def test_products_by_exact_sku_and_bad_cursor():
    sim = make_sim()
    pid = sim.add_product(sku="ABC-1", name="Widget")
    sim.add_product(sku="ABC-12", name="Other")
    async with client(sim) as c:
        found = (await c.get("/api/2.0/products", params={"sku": "ABC-1", "page_size": 1})).json()
        assert [p["id"] for p in found["data"]] == [pid]
        assert (await c.get("/api/2.0/products", params={"after": "x"})).status_code == 400


# --- products and customers ----------------------------------------------------------------------

async def test_product_create_answers_the_new_id_in_a_list():
    sim = make_sim()
    async with client(sim) as c:
        r = await c.post("/api/2.0/products", json={"name": "Shipping", "sku": "bc-shipping", "price_excluding_tax": 0})
        assert r.status_code == 200
        (new_id,) = r.json()["data"]
        product = (await c.get(f"/api/2.0/products/{new_id}")).json()["data"]
        # The 2.0 body cannot say track_inventory: what it creates is stock-tracked.
        assert product["sku"] == "bc-shipping" and product["has_inventory"] is True

        r = await c.post("/api/2.0/products", json={
            "name": "Mug", "sku": "MUG", "price_including_tax": 11.5,
            "inventory": [{"outlet_id": sim.main_outlet_id, "current_amount": 7}],
        })
        (mug,) = r.json()["data"]
        assert sim.stock(mug) == 7
        assert sim.products[mug]["price_excluding_tax"] == Decimal("10.00000")
        inv = (await c.get(f"/api/2.0/products/{mug}/inventory")).json()["data"]
        assert inv[0]["inventory_level"] == 7 and inv[0]["outlet_id"] == sim.main_outlet_id

        both = await c.post("/api/2.0/products", json={
            "name": "X", "price_excluding_tax": 1, "price_including_tax": 1.15})
        assert both.status_code == 422
        assert (await c.post("/api/2.0/products", json={"sku": "nameless"})).status_code == 422
        duplicate = await c.post("/api/2.0/products", json={"name": "Mug 2", "sku": "mug"})
        assert duplicate.status_code == 422
    assert len(sim.products) == 3  # the two and the store's Discount product


async def test_customer_create_is_201_with_the_object():
    sim = make_sim()
    async with client(sim) as c:
        r = await c.post("/api/2.0/customers", json={
            "first_name": "Tony", "last_name": "Stark", "email": "tony@example.com"})
        assert r.status_code == 201
        data = r.json()["data"]
        assert data["id"] in sim.customers and data["email"] == "tony@example.com"
        assert data["customer_code"].startswith("Tony-") and data["balance"] == 0
        missing = await c.post("/api/2.0/customers", json={"first_name": "Tony"})
        assert missing.status_code == 422
    assert len(sim.customers) == 1


# --- search --------------------------------------------------------------------------------------

async def test_search_products_by_lowercase_sku():
    sim = make_sim()
    pid = sim.add_product(sku="ABC", name="Alpha")
    sim.add_product(sku="XYZ", name="Other")
    async with client(sim) as c:
        found = (await c.get("/api/2.0/search", params={"type": "products", "sku": "abc"})).json()
        assert [p["id"] for p in found["data"]] == [pid]
        upper = (await c.get("/api/2.0/search", params={"type": "products", "sku": "ABC"})).json()
        assert upper["data"] == []
        both = (await c.get("/api/2.0/search",
                            params=[("type", "products"), ("sku", "abc"), ("sku", "xyz")])).json()
        assert len(both["data"]) == 2
        assert (await c.get("/api/2.0/search", params={"sku": "abc"})).status_code == 400


@pytest.mark.parametrize("misses_hyphens", [False, True])
async def test_hyphen_knob_hides_hyphenated_skus_from_sku_search_but_not_from_q(misses_hyphens):
    sim = make_sim(sku_search_misses_hyphens=misses_hyphens)
    pid = sim.add_product(sku="NGH-ROOM", name="Room")
    plain = sim.add_product(sku="PLAIN", name="Plain")
    async with client(sim) as c:
        by_sku = (await c.get("/api/2.0/search", params={"type": "products", "sku": "ngh-room"})).json()
        by_q = (await c.get("/api/2.0/search", params={"type": "products", "q": "NGH-ROOM"})).json()
        plain_hit = (await c.get("/api/2.0/search", params={"type": "products", "sku": "plain"})).json()
    assert [p["id"] for p in by_sku["data"]] == ([] if misses_hyphens else [pid])
    assert [p["id"] for p in by_q["data"]] == [pid]
    assert [p["id"] for p in plain_hit["data"]] == [plain]


async def test_search_customers_by_email_case_insensitive_and_sales_by_invoice_number():
    sim = make_sim()
    cid = sim.add_customer(first_name="Ann", last_name="Lee", email="Ann@Example.com")
    sim.add_customer(first_name="Bob", last_name="Roe", email="bob@example.com")
    pid = sim.add_product(sku="A", name="A", inventory=10)
    async with client(sim) as c:
        found = (await c.get("/api/2.0/search", params={"type": "customers", "email": "ann@example.COM"})).json()
        assert [x["id"] for x in found["data"]] == [cid]
        await post_sale(c, sale_body(sim, [(pid, 1)], invoice_number="BC-1001"))
        await post_sale(c, sale_body(sim, [(pid, 1)], invoice_number="BC-1002"))
        found = (await c.get("/api/2.0/search", params={"type": "sales", "invoice_number": "BC-1002"})).json()
        assert [s["invoice_number"] for s in found["data"]] == ["BC-1002"]
        assert "line_items" in found["data"][0]  # the 2.0 sale shape
        paged = (await c.get("/api/2.0/search", params={"type": "sales", "offset": 1, "page_size": 1})).json()
        assert [s["invoice_number"] for s in paged["data"]] == ["BC-1002"]
        # register_id and state are sale search keys of 2026-07 only (§8.4), not of 2.0: not filtered on.
        newer = (await c.get("/api/2.0/search", params={"type": "sales", "invoice_number": "BC-1002",
                                                         "register_id": "elsewhere", "state": "voided"})).json()
        assert [s["invoice_number"] for s in newer["data"]] == ["BC-1002"]


async def test_search_reads_sale_dates_only_in_the_documented_utc_form():
    """The search's date_from/date_to: "UTC timestamp. Format: 2016-08-08T12:00:00Z" (Postman
    collection, Search); another form (an offset, a fraction, a plain date) is refused 400."""
    sim = make_sim()
    pid = sim.add_product(sku="A", name="A", inventory=10)
    async with client(sim) as c:
        await post_sale(c, sale_body(sim, [(pid, 1)], invoice_number="BC-1001"))
        now = sim.clock.now()
        low, high = now - timedelta(hours=1), now + timedelta(hours=1)
        documented = {"type": "sales", "date_from": f"{low:%Y-%m-%dT%H:%M:%S}Z", "date_to": f"{high:%Y-%m-%dT%H:%M:%S}Z"}
        found = await c.get("/api/2.0/search", params=documented)
        assert found.status_code == 200 and [s["invoice_number"] for s in found.json()["data"]] == ["BC-1001"]
        for other in (f"{low:%Y-%m-%dT%H:%M:%S}+00:00", f"{low:%Y-%m-%dT%H:%M:%S}.000Z", f"{low:%Y-%m-%d}"):
            refused = await c.get("/api/2.0/search", params={**documented, "date_from": other})
            assert refused.status_code == 400, other


# --- sales: stock, transitions, knobs ----------------------------------------------------------

async def test_closing_decrements_stock_and_voiding_restores_it():
    sim = make_sim()
    tracked = sim.add_product(sku="T", name="Tracked", inventory=10)
    untracked = sim.add_product(sku="SHIP", name="Shipping", track_inventory=False)
    async with client(sim) as c:
        r = await post_sale(c, sale_body(sim, [(tracked, 3), (untracked, 1)], source="BIGCOMMERCE",
                                         source_id="bc-1"))
        assert r.status_code == 200
        sale = r.json()["register_sale"]
        assert sale["status"] == "CLOSED" and sale["state"] == "closed"
        assert sale["total_price"] == 40 and sale["total_tax"] == 6
        assert sale["invoice_number"] == "OS-1"
        assert sim.stock(tracked) == 7
        assert sim.stock(untracked) == 0  # not tracked, not counted

        void = dict(sale_body(sim, [(tracked, 3), (untracked, 1)], status="VOIDED"), id=sale["id"])
        r = await post_sale(c, void)
        assert r.status_code == 200
        voided = r.json()["register_sale"]
        assert voided["status"] == "VOIDED" and voided["register_sale_payments"] == []
        assert sim.stock(tracked) == 10
        read = (await c.get(f"/api/2.0/sales/{sale['id']}")).json()["data"]
        assert read["status"] == "VOIDED" and read["state"] == "voided" and read["payments"] == []


async def test_parked_sale_moves_no_stock_until_closed_and_update_replaces_lines():
    sim = make_sim()
    a = sim.add_product(sku="A", name="A", inventory=10)
    b = sim.add_product(sku="B", name="B", inventory=10)
    async with client(sim) as c:
        r = await post_sale(c, sale_body(sim, [(a, 1), (b, 2)], status="SAVED", paid=Decimal(0)))
        saved = r.json()["register_sale"]
        assert sim.stock(a) == 10 and sim.stock(b) == 10
        keep_line = next(line for line in saved["register_sale_products"] if line["product_id"] == b)
        update = sale_body(sim, [(b, 2)], status="CLOSED")
        update["id"] = saved["id"]
        update["register_sale_products"][0]["id"] = keep_line["id"]
        r = await post_sale(c, update)
        closed = r.json()["register_sale"]
        # Not a patch: the line for A was not posted, so it is gone; B's line kept its id.
        assert [line["id"] for line in closed["register_sale_products"]] == [keep_line["id"]]
        assert closed["invoice_number"] == saved["invoice_number"]
        assert sim.stock(a) == 10 and sim.stock(b) == 8
        assert len(sim.sales) == 1


@pytest.mark.parametrize("new_status", ["SAVED", "ONACCOUNT", "CLOSED", "LAYBY_CLOSED"])
async def test_closed_sale_can_only_become_voided(new_status):
    sim = make_sim()
    pid = sim.add_product(sku="A", name="A", inventory=10)
    cid = sim.add_customer(first_name="A", last_name="B", email=None)
    async with client(sim) as c:
        sale = (await post_sale(c, sale_body(sim, [(pid, 1)], customer_id=cid))).json()["register_sale"]
        version = sim.sales[sale["id"]]["version"]
        r = await post_sale(c, dict(sale_body(sim, [(pid, 5)], status=new_status, customer_id=cid),
                                    id=sale["id"]))
    assert r.status_code == 422
    assert "only be voided" in r.json()["message"]
    assert sim.sales[sale["id"]]["status"] == "CLOSED"
    assert sim.sales[sale["id"]]["version"] == version
    assert sim.stock(pid) == 9


async def test_voided_sale_is_frozen_but_repeating_the_void_is_harmless():
    sim = make_sim()
    pid = sim.add_product(sku="A", name="A", inventory=10)
    async with client(sim) as c:
        sale = (await post_sale(c, sale_body(sim, [(pid, 2)]))).json()["register_sale"]
        void = dict(sale_body(sim, [(pid, 2)], status="VOIDED"), id=sale["id"])
        assert (await post_sale(c, void)).status_code == 200
        version = sim.sales[sale["id"]]["version"]
        again = await post_sale(c, void)
        assert again.status_code == 200 and again.json()["register_sale"]["status"] == "VOIDED"
        assert sim.sales[sale["id"]]["version"] == version
        assert sim.stock(pid) == 10  # restored once, not twice
        reopen = await post_sale(c, dict(sale_body(sim, [(pid, 2)], status="CLOSED"), id=sale["id"]))
        assert reopen.status_code == 422
        assert "VOIDED" in reopen.json()["message"]
    assert sim.sales[sale["id"]]["status"] == "VOIDED" and sim.stock(pid) == 10


async def test_on_account_sale_takes_stock_and_charges_the_customer():
    sim = make_sim()
    pid = sim.add_product(sku="A", name="A", inventory=10)
    cid = sim.add_customer(first_name="A", last_name="B", email="a@example.com")
    async with client(sim) as c:
        no_customer = await post_sale(c, sale_body(sim, [(pid, 2)], status="ONACCOUNT", paid=Decimal(0)))
        assert no_customer.status_code == 422
        r = await post_sale(c, sale_body(sim, [(pid, 2)], status=None, paid=Decimal(0), customer_id=cid,
                                         state="pending", register_sale_attributes=["onaccount"]))
        assert r.status_code == 200
        sale = r.json()["register_sale"]
        assert sale["status"] == "ONACCOUNT" and sale["register_sale_attributes"] == ["onaccount"]
        assert sim.stock(pid) == 8
        assert sim.customers[cid]["balance"] == Decimal("-23.0")
        # Paid later: ONACCOUNT_CLOSED. Stock is not taken a second time; the balance clears.
        paid = dict(sale_body(sim, [(pid, 2)], status="ONACCOUNT_CLOSED", customer_id=cid), id=sale["id"])
        r = await post_sale(c, paid)
        assert r.json()["register_sale"]["state"] == "closed"
        assert sim.stock(pid) == 8
        assert sim.customers[cid]["balance"] == 0


async def test_status_and_state_must_agree_and_one_is_required():
    sim = make_sim()
    pid = sim.add_product(sku="A", name="A", inventory=10)
    async with client(sim) as c:
        clash = await post_sale(c, sale_body(sim, [(pid, 1)], state="voided"))
        assert clash.status_code == 400
        neither = await post_sale(c, sale_body(sim, [(pid, 1)], status=None))
        assert neither.status_code == 400
        state_only = await post_sale(c, sale_body(sim, [(pid, 1)], status=None, state="closed"))
        assert state_only.json()["register_sale"]["status"] == "CLOSED"
        exclusive = await post_sale(c, sale_body(sim, [(pid, 1)], status="AWAITING_PICKUP",
                                                 register_sale_attributes=["delivery"]))
        assert exclusive.status_code == 400
    assert len(sim.sales) == 1 and sim.stock(pid) == 9


async def test_sale_validation_refuses_before_changing_anything():
    sim = make_sim()
    pid = sim.add_product(sku="A", name="A", inventory=10)
    async with client(sim) as c:
        no_register = sale_body(sim, [(pid, 1)])
        del no_register["register_id"]
        r = await post_sale(c, no_register)
        assert r.status_code == 400 and set(r.json()) == {"error", "message"}
        no_user = sale_body(sim, [(pid, 1)])
        del no_user["user_id"]
        assert (await post_sale(c, no_user)).status_code == 400
        unknown_product = sale_body(sim, [("00000000-0000-4000-8000-000000000000", 1)])
        assert (await post_sale(c, unknown_product)).status_code == 422
        unknown_tax = sale_body(sim, [(pid, 1)])
        unknown_tax["register_sale_products"][0]["tax_id"] = "nope"
        assert (await post_sale(c, unknown_tax)).status_code == 422
        money_as_string = sale_body(sim, [(pid, 1)])
        money_as_string["register_sale_products"][0]["price"] = "10.00"
        assert (await post_sale(c, money_as_string)).status_code == 400
        unknown_payment_type = sale_body(sim, [(pid, 1)])
        unknown_payment_type["register_sale_payments"][0]["retailer_payment_type_id"] = "nope"
        assert (await post_sale(c, unknown_payment_type)).status_code == 422
        unknown_sale = dict(sale_body(sim, [(pid, 1)]), id="00000000-0000-4000-8000-000000000000")
        assert (await post_sale(c, unknown_sale)).status_code == 404
    assert sim.sales == {} and sim.stock(pid) == 10
    assert sim.registers[sim.main_register_id]["invoice_sequence"] == 0


async def test_money_is_parsed_exactly():
    sim = make_sim()
    pid = sim.add_product(sku="A", name="A", inventory=10)
    body = sale_body(sim, [(pid, 3)])
    body["register_sale_products"][0].update(price=0.1, tax=0.015)
    body["register_sale_payments"][0]["amount"] = 0.35
    async with client(sim) as c:
        sale = (await post_sale(c, body)).json()["register_sale"]
    stored = sim.sales[sale["id"]]
    assert stored["total_price"] == Decimal("0.3") and stored["total_tax"] == Decimal("0.045")


@pytest.mark.parametrize("knob", [False, True])
async def test_duplicate_source_id_knob(knob):
    sim = make_sim(reject_duplicate_source_id=knob)
    pid = sim.add_product(sku="A", name="A", inventory=10)
    async with client(sim) as c:
        first = await post_sale(c, sale_body(sim, [(pid, 1)], source_id="bc-7"))
        second = await post_sale(c, sale_body(sim, [(pid, 1)], source_id="bc-7"))
    assert first.status_code == 200
    assert second.status_code == (422 if knob else 200)
    assert len(sim.sales_for_source_id("bc-7")) == (1 if knob else 2)
    assert sim.stock(pid) == (9 if knob else 8)


@pytest.mark.parametrize("knob", [False, True])
async def test_full_payment_knob(knob):
    sim = make_sim(closed_requires_full_payment=knob)
    pid = sim.add_product(sku="A", name="A", inventory=10)
    async with client(sim) as c:
        short = await post_sale(c, sale_body(sim, [(pid, 2)], paid=Decimal("5")))
        exact = await post_sale(c, sale_body(sim, [(pid, 2)]))
    assert short.status_code == (422 if knob else 200)
    assert exact.status_code == 200
    assert len(sim.sales) == (1 if knob else 2)


async def test_invoice_numbers_follow_the_register_sequence():
    sim = make_sim()
    pid = sim.add_product(sku="A", name="A", inventory=100)
    async with client(sim) as c:
        numbers = []
        for extra in ({}, {}, {"invoice_number": "OS-100"}, {}, {"invoice_number": "BC-55"}):
            numbers.append((await post_sale(c, sale_body(sim, [(pid, 1)], **extra))).json()
                           ["register_sale"]["invoice_number"])
    assert numbers == ["OS-1", "OS-2", "OS-100", "OS-101", "BC-55"]


async def test_09_read_and_20_read():
    sim = make_sim(sale_read_completed_only=True)
    pid = sim.add_product(sku="A", name="A", inventory=10)
    async with client(sim) as c:
        parked = (await post_sale(c, sale_body(sim, [(pid, 1)], status="SAVED"))).json()["register_sale"]
        r09 = (await c.get(f"/api/register_sales/{parked['id']}")).json()
        assert [s["id"] for s in r09["register_sales"]] == [parked["id"]]
        assert r09["register_sales"][0]["status"] == "SAVED"
        # The 2.0 single read is documented for completed sales only: knob on → 404 for parked.
        assert (await c.get(f"/api/2.0/sales/{parked['id']}")).status_code == 404
        assert (await c.get("/api/register_sales/unknown")).status_code == 404


# --- rate limit ----------------------------------------------------------------------------------

async def test_rate_limit_headers_429_with_http_date_and_window_reset():
    clock = FakeClock()
    sim = make_sim(clock=clock, rate_limit=3, window_seconds=300)
    async with client(sim) as c:
        remaining = []
        for _ in range(3):
            r = await c.get("/api/2.0/outlets")
            assert r.headers["X-RateLimit-Limit"] == "3"
            remaining.append(r.headers["X-RateLimit-Remaining"])
            clock.advance(0.25)
        assert remaining == ["2", "1", "0"]

        limited = await c.get("/api/2.0/outlets")
        assert limited.status_code == 429
        assert limited.json() == {"error": "Too Many Requests", "message": "Rate limiting enforced"}
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        retry_at = parse_rfc2822(limited.headers["Retry-After"])
        assert limited.headers["Retry-After"].endswith(" GMT")
        # The window started at t=0 and ends at t=300; now is t=0.75. Whole seconds: exactly 300.
        assert retry_at == clock._start + timedelta(seconds=300)

        # The limit holds until the window ends, then a fresh quota starts.
        clock.advance(298.5)
        again = await c.get("/api/2.0/outlets")
        assert again.status_code == 429
        clock.advance(1.0)  # t = 300.25: a new window
        r = await c.get("/api/2.0/outlets")
        assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "2"


async def test_retry_after_rounds_up_to_the_next_whole_second():
    clock = FakeClock()
    clock.advance(0.4)  # the window starts at a fractional second
    sim = make_sim(clock=clock, rate_limit=1, window_seconds=10)
    async with client(sim) as c:
        await c.get("/api/2.0/taxes")
        limited = await c.get("/api/2.0/taxes")
    retry_at = parse_rfc2822(limited.headers["Retry-After"])
    # The window ends at 10.4 s: an HTTP-date of 10 s would be too early; 11 s is the answer.
    assert retry_at == clock._start + timedelta(seconds=11)


# --- fault injection ---------------------------------------------------------------------------

async def test_timeout_fault_applies_nothing():
    sim = make_sim(faults=FaultConfig(share_timeout=1.0, path_filter="register_sales"))
    pid = sim.add_product(sku="A", name="A", inventory=10)
    async with client(sim) as c:
        assert (await c.get("/api/2.0/outlets")).status_code == 200  # other paths unaffected
        with pytest.raises(httpx.ReadTimeout):
            await post_sale(c, sale_body(sim, [(pid, 1)]))
    assert sim.sales == {} and sim.stock(pid) == 10
    entry = sim.request_log.matching("POST", "register_sales")[0]
    assert entry.status is None and entry.fault == "timeout"
    assert entry.body["register_id"] == sim.main_register_id


async def test_lost_response_fault_applies_the_write():
    sim = make_sim(faults=FaultConfig(share_lost_write_response=1.0))
    pid = sim.add_product(sku="A", name="A", inventory=10)
    async with client(sim) as c:
        with pytest.raises(httpx.ReadTimeout):
            await post_sale(c, sale_body(sim, [(pid, 1)], source_id="bc-9"))
        assert (await c.get("/api/2.0/outlets")).status_code == 200  # reads are never "lost"
    assert len(sim.sales_for_source_id("bc-9")) == 1 and sim.stock(pid) == 9
    entry = sim.request_log.writes()[0]
    assert entry.status is None and entry.fault == "lost_response"
    assert sim.faults.injected["lost_response"] == 1


async def test_injected_5xx_and_429_apply_nothing():
    sim = make_sim(faults=FaultConfig(share_5xx=1.0))
    pid = sim.add_product(sku="A", name="A", inventory=10)
    async with client(sim) as c:
        r = await post_sale(c, sale_body(sim, [(pid, 1)]))
        assert r.status_code == 500 and "error" in r.json()
        sim.faults.reconfigure(FaultConfig(share_429=1.0))
        r = await post_sale(c, sale_body(sim, [(pid, 1)]))
        assert r.status_code == 429 and "Retry-After" in r.headers
    assert sim.sales == {} and sim.stock(pid) == 10
    assert [e.fault for e in sim.request_log] == ["5xx", "429"]
    assert [e.status for e in sim.request_log] == [500, 429]
