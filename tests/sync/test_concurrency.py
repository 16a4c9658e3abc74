"""Two processes on one database: each sale, product and customer is created once."""

from __future__ import annotations

import asyncio
import multiprocessing
import traceback
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import event

from connector.mapping.status_table import PosState
from connector.mapping.tables import MappingTables
from connector.store.repository import Store
from served_sandbox import ServedSandbox, order_sync
from sync_world import line


def a_contended_store(world, orders: int = 30) -> list[int]:
    """Orders that share new SKUs, new customers and the special lines, so both processes want to
    create the same things at the same moment."""
    skus = ["NEW-A", "NEW-B", "NEW-C", "TEE-M"]
    emails = [f"shopper{n}@example.com" for n in range(5)]
    ids = []
    for n in range(orders):
        customer = {"id": n % 5 + 1, "first_name": "Shopper", "last_name": str(n % 5), "email": emails[n % 5]}
        ids.append(world.add_order(
            [line(skus[n % 4], 1 + n % 2, "12.00"), line(skus[(n + 1) % 4], 1, "12.00")],
            customer=customer, status_id=(11, 2, 7, 5)[n % 4], shipping_ex_tax=Decimal("5.00"),
            handling_ex_tax=Decimal("2.00") if n % 3 == 0 else Decimal(0),
        ))
    return ids


async def test_two_processes_at_once_create_everything_once(db_world):
    world = db_world
    ids = a_contended_store(world)
    one, two = await world.new_runtime(), await world.new_runtime()
    assert one.store is not two.store and one.store.engine is not two.store.engine
    world.clock.advance(1)

    reports = await asyncio.gather(one.cycle().run(), two.cycle().run())

    assert not any(r.failed for r in reports)
    assert sum(r.written for r in reports) == len(ids)
    for order_id in ids:
        assert len(world.sales(order_id)) == 1, order_id
    for sku in ("NEW-A", "NEW-B", "NEW-C", "bc-shipping", "bc-handling", "TEE-M"):
        assert len(world.products_with_sku(sku)) == 1, sku
    emails = Counter(c["email"] for c in world.xs.customers.values())
    assert emails and max(emails.values()) == 1
    creates = Counter(e.action for e in one.store.audit_entries() if e.platform == "xseries")
    assert creates == {"create_sale": len(ids), "create_product": 5, "create_customer": 5}


def test_two_sync_processes_against_a_served_sandbox(tmp_path, database_url):
    """Two real `sync` processes started at once on one fresh database (a SQLite file, PostgreSQL)."""
    sandbox = ServedSandbox(orders=60, seed=3)
    try:
        config = sandbox.write_config(tmp_path / "config.yaml", database_url)
        processes = [order_sync("sync", "--config", str(config), cwd=tmp_path) for _ in range(2)]
        results = [p.communicate(timeout=120) for p in processes]
        codes = [p.returncode for p in processes]
        summary = sandbox.summary()
    finally:
        sandbox.stop()
    assert codes == [0, 0], "\n".join(
        line for _, err in results for line in err.splitlines()
        if "connector/" in line or "Error" in line or "WARNING" in line)

    statuses = MappingTables.load(None).statuses
    per_source = summary["sales_per_source_id"]
    assert per_source and max(per_source.values()) == 1, {k: v for k, v in per_source.items() if v > 1}
    should_have_sale = {order_id for order_id, status_id in summary["orders"].items()
                        if statuses.pos_state(status_id) is not PosState.NOT_IMPORTED}
    assert should_have_sale and should_have_sale == set(per_source)
    print(f"\n2 processes: {len(summary['orders'])} orders, {len(summary['sales'])} sales, "
          f"{sum(v - 1 for v in per_source.values())} duplicates")


@pytest.mark.parametrize("table", ["xs_product", "index_cursor", "sync_cursor"])
async def test_a_row_written_by_another_process_mid_write_does_not_crash_the_cycle(db_world, table):
    """Another process inserts the same row between our look-up and our INSERT (both indexing the
    POS catalogue, or moving the cursor, for the first time): the cycle carries on."""
    world = db_world
    order_id = world.add_order([line("TEE-M")])
    other, ours = await world.new_runtime(), await world.new_runtime()
    interleaved: list[str] = []

    def the_other_process_writes_first(conn, cursor, statement, parameters, context, executemany):
        if interleaved or not statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
            return
        interleaved.append(statement)
        if table == "xs_product":
            other.store.upsert_indexed_products([
                {"id": pid, "sku_key": p["sku"].casefold(), "name": p["name"], "version": p["version"],
                 "deleted": False}
                for pid, p in world.xs.products.items()
            ])
        elif table == "index_cursor":
            other.store.set_index_version("products", 1)
        else:
            other.store.set_cursor(world.clock.now())

    event.listen(ours.store.engine, "before_cursor_execute", the_other_process_writes_first)
    # The index is written on the driver directly (connector.store.direct_sql), not through the
    # engine: there, the other process writes just before our transaction starts.
    upsert = ours.store.upsert_indexed_products

    def upsert_after_the_other_process(rows):
        the_other_process_writes_first(None, None, "INSERT INTO XS_PRODUCT (id)", None, None, True)
        return upsert(rows)

    ours.store.upsert_indexed_products = upsert_after_the_other_process
    world.clock.advance(1)
    report = await ours.cycle().run()

    assert interleaved, "the interleaving did not happen"
    assert report.completed and not report.failed
    assert len(world.sales(order_id)) == 1
    assert ours.store.indexed_product_id("MUG-01") is not None


def _open_store_and_write(database_url: str, barrier, answers) -> None:
    """One "process" starting up: open (and migrate) the store, then write a little."""
    try:
        barrier.wait(timeout=30)
        store = Store.open(database_url)
        for _ in range(3):
            store.audit(platform="connector", action="start", reason="a process started")
        store.close()
        answers.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test, with where it happened
        where = [line.strip() for line in traceback.format_exc().splitlines() if "connector/" in line]
        answers.put(f"{type(exc).__name__}: {str(exc).splitlines()[0]} at {where[-2:]}")


def test_processes_starting_together_on_a_fresh_database(database_url, tmp_path):
    """Four processes open a database nobody has created yet at the same instant: every one starts
    (SQLite: the WAL switch and the schema migrations must not race; PostgreSQL: the migrations)."""
    context = multiprocessing.get_context("fork")
    urls = [database_url] if database_url.startswith("postgresql") else [
        f"sqlite:///{tmp_path / f'fresh{n}.db'}" for n in range(3)]
    for url in urls:
        barrier, queue = context.Barrier(4), context.Queue()
        processes = [context.Process(target=_open_store_and_write, args=(url, barrier, queue)) for _ in range(4)]
        for p in processes:
            p.start()
        answers = [queue.get(timeout=60) for _ in processes]
        for p in processes:
            p.join(timeout=30)
        assert answers == ["ok"] * 4, answers
        store = Store.open(url)
        assert store.count_audit(action="start") == 12
        store.close()
