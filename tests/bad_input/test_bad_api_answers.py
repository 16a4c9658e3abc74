"""Bad-input corpus, API answers (issue 7 §4): wrong credentials (401), a missing scope (403), and
HTML pages where JSON was expected, through the real command line (`order-sync sync`).

Each case says what the command must do: its exit code (2: a person must fix credentials; 1: the
API is unwell, nothing is lost and the next run goes on; 0: all mirrored), a one-line reason on
stderr that names the API and never a token, and what the store and the POS hold afterwards.
`test_the_daemon_keeps_running_through_bad_input` runs the daemon through the same kinds of trouble.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import pytest

from connector.store.repository import Store
from sync_world import OMAR, World, line, make_world

from cli_world import run_cli, write_config

WRONG_TOKEN = "wrong-token-0123456789"
HTML_502 = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"


def html_on(method: str, path_end: str, status: int, *, only_invoice: str | None = None, applied: bool = True):
    """Answer this request with an HTML page. applied: the API served the request behind the page
    (a proxy lost its answer); else the request never reached it."""
    def edit(request, real_status, body):
        if request.method != method or not request.url.path.endswith(path_end):
            return None
        if only_invoice is not None and only_invoice.encode() not in request.content:
            return None
        return status, HTML_502, "text/html; charset=utf-8"
    edit.before = not applied
    return edit


def every_scope_but(*missing: str) -> set[str]:
    resources = ("retailer", "outlets", "registers", "users", "payment_types", "taxes", "products",
                 "inventory", "customers", "sales", "search")
    return {f"{r}:{a}" for r in resources for a in ("read", "write")} - set(missing)


@dataclass
class Shop:
    world: World
    orders: list[int]  # three orders; the middle one is the target of per-order faults

    @property
    def target(self) -> int:
        return self.orders[1]

    def store(self) -> Store:
        return Store.open(self.world.database_url)


@dataclass
class Case:
    id: str
    exit_code: int
    says: tuple[str, ...]  # fragments of the stderr line
    run: dict = field(default_factory=dict)  # run_cli keyword arguments (tokens, edits)
    prepare: Callable[[Shop], None] | None = None
    config: dict = field(default_factory=dict)
    then: Callable[[Shop], None] | None = None


def nothing_written(shop: Shop) -> None:
    assert shop.world.xs_writes() == 0


def nothing_settled(shop: Shop) -> None:
    """The cursor did not move, no binding is pending: the next run starts where this one did."""
    assert shop.world.xs.sales == {}
    store = shop.store()
    try:
        assert store.cursor() is None and store.pending_bindings() == []
    finally:
        store.close()


def target_failed_rest_mirrored(shop: Shop) -> None:
    store = shop.store()
    try:
        [failure] = store.failures()
        assert failure.bc_order_id == shop.target and failure.step == "write" and not failure.parked
        assert "503" in failure.reason
    finally:
        store.close()
    for order_id in shop.orders:
        assert len(shop.world.sales(order_id)) == (0 if order_id == shop.target else 1)


def all_mirrored_once(shop: Shop) -> None:
    for order_id in shop.orders:
        assert len(shop.world.sales(order_id)) == 1, order_id
    sale_posts = shop.world.xs.request_log.matching("POST", "/api/register_sales")
    assert len(sale_posts) == len(shop.orders)  # the unreadable answer was looked up, not re-sent


CASES = [
    Case("xseries-401-wrong-token", 2, ("credentials error", "X-Series", "access token is wrong"),
         run={"xs_token": WRONG_TOKEN}, then=nothing_written),
    Case("bigcommerce-401-wrong-token", 2, ("credentials error", "BigCommerce", "access token is wrong"),
         run={"bc_token": WRONG_TOKEN}, then=nothing_settled),
    Case("bigcommerce-403-missing-scope", 2, ("credentials error", "BigCommerce", "lacks a required scope"),
         prepare=lambda shop: setattr(shop.world.bc, "scopes", {"store_v2_products_read_only"}),
         then=nothing_settled),
    Case("bigcommerce-403-wrong-store", 2, ("credentials error", "BigCommerce", "wrong store"),
         config={"store_hash": "zzz999"}, then=nothing_settled),
    Case("xseries-403-missing-scope", 2, ("credentials error", "X-Series", "lacks a required scope"),
         prepare=lambda shop: setattr(shop.world.xs, "scopes", every_scope_but("sales:write")),
         then=nothing_settled),
    Case("bigcommerce-html-502-page", 1, ("BigCommerce GET /v2/orders 502", "HTML page instead of JSON",
                                          "nothing was lost"),
         run={"bc_edit": html_on("GET", "/v2/orders", 502)}, then=nothing_settled),
    Case("bigcommerce-html-page-with-200", 1, ("BigCommerce GET /v2/orders 200", "not JSON"),
         run={"bc_edit": html_on("GET", "/v2/orders", 200)}, then=nothing_settled),
    Case("xseries-html-503-at-start-up", 1, ("X-Series GET /api/2.0/outlets 503", "HTML page instead of JSON"),
         run={"xs_edit": html_on("GET", "/api/2.0/outlets", 503)}, then=nothing_written),
    Case("xseries-html-page-with-200-on-a-read", 1, ("X-Series GET /api/2.0/products 200", "not JSON"),
         run={"xs_edit": html_on("GET", "/api/2.0/products", 200)}, then=nothing_settled),
    # Per order: a sale write refused by an HTML 503 page fails that order alone (retried next run);
    # an HTML page in place of the answer to an applied write is looked up, never written twice.
    Case("xseries-html-503-refusing-one-sale-write", 1, ("1 failed",),
         run={"xs_edit": ("POST", 503, False)}, then=target_failed_rest_mirrored),
    Case("xseries-html-503-after-an-applied-sale-write", 0, ("0 failed",),
         run={"xs_edit": ("POST", 503, True)}, then=all_mirrored_once),
    Case("xseries-html-200-after-an-applied-sale-write", 0, ("0 failed",),
         run={"xs_edit": ("POST", 200, True)}, then=all_mirrored_once),
]


def make_shop(tmp_path) -> Shop:
    world = make_world(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    orders = [world.add_order([line("TEE-M", 1)]), world.add_order([line("MUG-01", 2)], customer=OMAR),
              world.add_order([line("BTL-07", 1, "24.00")], customer=None)]
    world.clock.advance(5)
    return Shop(world, orders)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_api_answer(case: Case, tmp_path, monkeypatch, capsys):
    shop = make_shop(tmp_path)
    if case.prepare:
        case.prepare(shop)
    run = dict(case.run)
    if isinstance(run.get("xs_edit"), tuple):  # a fault on the target order's sale write only
        method, status, applied = run["xs_edit"]
        run["xs_edit"] = html_on(method, "/api/register_sales", status, only_invoice=f'"BC-{shop.target}"',
                                 applied=applied)
    config = write_config(shop.world, tmp_path / "config.yaml", **case.config)

    code = run_cli(shop.world, monkeypatch, config, "sync", **run)

    err = capsys.readouterr().err
    assert code == case.exit_code, err
    for fragment in case.says:
        assert fragment in err, (fragment, err)
    for secret in (WRONG_TOKEN, shop.world.bc.access_token, shop.world.xs.token):
        assert secret not in err
    assert "Traceback" not in err
    if case.then:
        case.then(shop)


def test_the_daemon_keeps_running_through_bad_input(tmp_path):
    """The daemon meets a revoked BigCommerce token, then an HTML outage page, then a batch with
    malformed orders; it logs each and carries on, mirrors the good orders, and stops cleanly."""
    from connector.clients.transport import RetryPolicy
    from connector.scheduler import daemon

    from tampering import Tampering

    world = make_world(f"sqlite:///{tmp_path / 'daemon.db'}", tmp_path)
    good = [world.add_order([line("TEE-M", 1)]), world.add_order([line("MUG-01", 1)], customer=OMAR)]
    unknown_status = world.add_order([line("TEE-L", 1)])
    no_total = world.add_order([line("TEE-L", 1)])
    world.clock.advance(5)
    real_token = world.bc.access_token
    world.bc.access_token = "rotated-by-the-merchant"  # the configured token no longer works
    outage = {"on": False}

    def bc_edit(request, status, body):
        path = request.url.path
        if outage["on"] and path.endswith("/v2/orders"):
            return 502, HTML_502, "text/html"
        if request.method == "GET" and path.endswith("/v2/orders") and isinstance(body, list):
            for row in body:
                if row.get("id") == unknown_status:
                    row["status_id"] = 42
                if row.get("id") == no_total:
                    row.pop("total_inc_tax")
            return status, body, "application/json"
        return None

    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger = logging.getLogger("connector")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)

    def cycles(store: Store) -> int:
        run = store.last_cycle("sync")
        return 0 if run is None or run.finished_at is None else run.id

    async def scenario() -> int:
        stop = asyncio.Event()
        settings = world.settings(interval_seconds=1)
        running = asyncio.create_task(daemon(
            settings, stop, bc_transport=Tampering(world.bc.transport(), bc_edit), xs_transport=world.xs.transport(),
            clock=world.clock, retry=RetryPolicy(seed=2, base_delay=0.01)))
        store = Store.open(world.database_url)

        async def next_cycle(after: int) -> int:
            deadline = time.monotonic() + 15
            while cycles(store) <= after:
                assert not running.done(), running.exception()
                assert time.monotonic() < deadline, "the daemon stopped cycling"
                await asyncio.sleep(0.05)
            return cycles(store)

        try:
            done = await next_cycle(0)  # 401: logged, the daemon goes on
            world.bc.access_token = real_token
            outage["on"] = True
            done = await next_cycle(done)  # HTML 502 page: logged, the daemon goes on
            outage["on"] = False
            done = await next_cycle(done)  # the malformed orders fail, the good ones are mirrored
            stop.set()
            return await asyncio.wait_for(running, 15)
        finally:
            store.close()
            stop.set()

    try:
        code = asyncio.run(scenario())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)

    messages = [r.getMessage() for r in records]
    assert code == 0
    assert any("credentials rejected" in m and "access token is wrong" in m for m in messages)
    assert any("nothing lost" in m and "HTML page instead of JSON" in m for m in messages)
    assert any(f"order {unknown_status} failed at map" in m and "unknown BigCommerce status id 42" in m
               for m in messages)
    assert any(f"order {no_total} failed at parse" in m and "total_inc_tax" in m for m in messages)
    for order_id in good:
        assert len(world.sales(order_id)) == 1
    assert world.sales(unknown_status) == [] and world.sales(no_total) == []
    assert any(m == "order-sync daemon stopped" for m in messages)
