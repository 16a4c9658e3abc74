from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, text

from connector.store.migrations import MIGRATIONS, applied_versions, migrate
from connector.store.repository import Store
from connector.store.tables import OrderBinding

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_migrations_recorded_and_idempotent(store):
    assert applied_versions(store.engine) == {version for version, *_ in MIGRATIONS}
    assert migrate(store.engine) == []  # nothing left to apply
    tables = set(inspect(store.engine).get_table_names())
    assert {"order_binding", "product_binding", "customer_binding", "sync_cursor", "failed_order",
            "audit_log", "lease", "schema_version"} <= tables


def test_cursor_only_moves_forward_and_stays_aware(store):
    assert store.cursor() is None
    store.set_cursor(T0)
    store.set_cursor(T0 - timedelta(hours=1))
    assert store.cursor() == T0
    assert store.cursor().tzinfo is not None
    store.set_cursor(T0 + timedelta(seconds=1))
    assert store.cursor() == T0 + timedelta(seconds=1)


def test_order_binding_roundtrip(store, clock):
    now = clock.now()
    store.save_order_binding(OrderBinding(
        bc_order_id=7, sale_id=None, invoice_number="BC-7", pos_state="not_imported", pending_state="closed",
        bc_status_id=11, content_hash="h", bc_date_modified=T0, created_at=now, updated_at=now))
    b = store.order_binding(7)
    assert b.pending_state == "closed" and b.bc_date_modified == T0
    assert [p.bc_order_id for p in store.pending_bindings()] == [7]
    b.pending_state, b.sale_id, b.pos_state = None, "sale-1", "closed"
    store.save_order_binding(b)
    assert store.count_bindings_by_state() == {"closed": 1}
    assert store.order_bindings([7, 8]).keys() == {7}


def test_failure_backoff_and_parking(store, clock):
    row = store.record_failure(5, step="write", reason="HTTP 500", permanent=False, max_attempts=3)
    assert row.attempts == 1 and not row.parked and row.next_attempt_at == clock.now()
    assert [f.bc_order_id for f in store.due_failures()] == [5]
    row = store.record_failure(5, step="write", reason="HTTP 500", permanent=False, max_attempts=3)
    assert row.next_attempt_at == clock.now() + timedelta(minutes=1)
    assert store.due_failures() == []
    clock.advance(61)
    assert [f.bc_order_id for f in store.due_failures()] == [5]
    row = store.record_failure(5, step="write", reason="HTTP 500", permanent=False, max_attempts=3)
    assert row.parked
    clock.advance(86400)
    assert store.due_failures() == []
    assert store.unpark(5) == 1
    assert [f.bc_order_id for f in store.due_failures()] == [5]


def test_permanent_failure_is_parked_at_once(store):
    row = store.record_failure(9, step="map", reason="no payment type", permanent=True, max_attempts=5)
    assert row.parked and store.due_failures() == []


def test_failures_and_exceptions_a_page_at_a_time(store):
    """The console's pages: `limit` rows after the key `after`, in key order, a pair's own only."""
    other = store.for_pair("other")
    for order_id in (30, 10, 20, 40):
        store.record_failure(order_id, step="write", reason="HTTP 500", permanent=True, max_attempts=1)
        other.record_failure(order_id + 1, step="write", reason="HTTP 500", permanent=True, max_attempts=1)
    assert [f.bc_order_id for f in store.failures(limit=2)] == [10, 20]
    assert [f.bc_order_id for f in store.failures(after=20, limit=2)] == [30, 40]
    assert [f.bc_order_id for f in store.failures(after=40, limit=2)] == []
    assert [f.bc_order_id for f in store.failures(after=15)] == [20, 30, 40]
    ids = [store.open_exception(order_id, "currency", "in EUR").id for order_id in (1, 2, 3, 4)]
    other.open_exception(9, "currency", "in EUR")
    store.resolve_exception(ids[1], by="ann")
    assert [x.id for x in store.exceptions(limit=2)] == [ids[0], ids[2]]
    assert [x.id for x in store.exceptions(after=ids[0], limit=2)] == [ids[2], ids[3]]
    assert [x.id for x in store.exceptions(after=ids[3])] == []
    assert [x.id for x in store.exceptions(open_only=False, after=ids[0], limit=1)] == [ids[1]]


def test_the_failure_summary_counts_in_sql_what_the_rows_say(store):
    """failed, parked and the oldest first failure of the pair (the overview's and /metrics'),
    another pair's rows not counted; none at all: zeros and no date."""
    assert store.failure_summary() == (0, 0, None)
    other = store.for_pair("other")
    first = store.clock.now()
    store.record_failure(5, step="write", reason="HTTP 500", permanent=False, max_attempts=10)
    store.clock.advance(60)
    store.record_failure(6, step="map", reason="no tax", permanent=True, max_attempts=10)
    store.record_failure(7, step="write", reason="HTTP 500", permanent=False, max_attempts=10)
    other.record_failure(8, step="map", reason="no tax", permanent=True, max_attempts=10)
    failures = store.failures()
    assert store.failure_summary() == (sum(not f.parked for f in failures), sum(f.parked for f in failures),
                                       min(f.first_failed_at for f in failures)) == (2, 1, first)
    assert store.failure_summary()[2].tzinfo is not None


def test_audit_is_append_only_log(store):
    store.audit(platform="xseries", action="create_sale", bc_order_id=1, target_id="s1", before=None,
                after="CLOSED", detail={"total": "10.00"})
    store.audit(platform="connector", action="record", bc_order_id=2, reason="x")
    entries = store.audit_entries()
    assert [(e.action, e.bc_order_id) for e in entries] == [("create_sale", 1), ("record", 2)]
    assert store.audit_entries(bc_order_id=1)[0].detail == '{"total": "10.00"}'
    assert store.count_audit(platform="xseries") == 1


def test_leases_are_exclusive_across_stores_and_expire(database_url, clock):
    a = Store.open(database_url, clock=clock)
    b = Store.open(database_url, clock=clock)
    try:
        assert a.leases.try_acquire("order:1")
        assert not b.leases.try_acquire("order:1")
        assert a.leases.try_acquire("order:1")  # re-entrant for its owner
        a.leases.release("order:1")
        assert b.leases.try_acquire("order:1")
        clock.advance(a.leases.ttl.total_seconds() + 1)  # b "died" holding it
        assert a.leases.try_acquire("order:1")
    finally:
        a.close()
        b.close()


async def test_hold_serialises_tasks(store):
    import asyncio

    inside = 0
    peak = 0

    async def worker():
        nonlocal inside, peak
        async with store.leases.hold("sku:abc"):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.001)
            inside -= 1

    await asyncio.gather(*(worker() for _ in range(5)))
    assert peak == 1


def test_an_old_database_gets_the_generation_column(tmp_path, monkeypatch):
    """A database made before version 4 (order_binding without `generation`) is altered in place."""

    from connector.store import migrations
    from connector.store.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TABLE order_binding (bc_order_id INTEGER PRIMARY KEY, sale_id VARCHAR, invoice_number VARCHAR NOT NULL,"
            " pos_state VARCHAR NOT NULL, pending_state VARCHAR, bc_status_id INTEGER NOT NULL,"
            " content_hash VARCHAR NOT NULL, sale_body TEXT, bc_date_modified DATETIME NOT NULL,"
            " created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL)"))
        conn.execute(text("INSERT INTO order_binding VALUES (1, 's1', 'BC-1', 'closed', NULL, 11, 'h', NULL,"
                          " '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", [mig for mig in migrations.MIGRATIONS if mig[0] < 4])
        migrations.migrate(engine)
    assert migrations.migrate(engine)[0] == 4  # and whatever came after it
    store = Store(engine)
    assert store.order_binding(1).generation == 1


async def test_a_held_lease_is_renewed_so_it_never_lapses_while_in_use(database_url, clock):
    import asyncio

    from connector.store.leases import Leases

    a = Store.open(database_url, clock=clock)
    b = Store.open(database_url, clock=clock)
    a.leases = Leases(a.engine, clock=clock, ttl_seconds=0.4)  # renewed every 0.1 s of real time
    try:
        async with a.leases.hold("order:7"):
            for _ in range(3):
                clock.advance(0.3)  # each step alone is within the ttl; together they are not
                await asyncio.sleep(0.15)  # a renewal happens meanwhile
                assert not b.leases.try_acquire("order:7")
        assert b.leases.try_acquire("order:7")  # released on exit
    finally:
        a.close()
        b.close()


async def test_in_process_locks_are_dropped_when_no_longer_used(store):
    import asyncio

    async def hold(key):
        async with store.leases.hold(key):
            await asyncio.sleep(0)

    await asyncio.gather(*(hold(f"order:{i % 7}") for i in range(50)))
    assert len(store.leases._local) == 0


def test_binding_caches_are_bounded(store, clock):
    from connector.store.product_customer_bindings import _Lru

    store._product_ids = _Lru(3)
    for i in range(10):
        store.bind_product(f"sku:{i}", f"p{i}", f"S{i}", created=True)
    assert len(store._product_ids) == 3
    assert store.product_id("sku:0") == "p0"  # evicted, read back from the store




@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"])
def test_an_in_memory_database_is_refused(url):
    from connector.errors import ConfigError
    from connector.store.db import make_engine

    with pytest.raises(ConfigError, match="in-memory"):
        make_engine(url)


def test_the_default_sqlite_store_is_in_wal_mode(tmp_path):
    """WAL (issue 4): `order-sync status` and a second process read while a cycle writes."""
    from sqlalchemy import text

    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        store.close()
    import sqlite3

    # WAL is a property of the file: a connection that is not ours sees it too.
    raw = sqlite3.connect(tmp_path / "state.db")
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_exceptions_of_inconsistent_orders_opened_before_they_had_their_kind_become_totals(store, monkeypatch):
    """Opened as kind mapping by an older version: resolving one would try its order again (parked
    again, a new exception); migration 24 gives them kind totals, and leaves real mapping ones be."""
    from connector.store import migrations

    inconsistent = store.open_exception(1, "mapping", "order 1: gift certificates (500.00) and store credit (0)"
                                        " paid 500.00, more than the order's total (20.00); the order is inconsistent")
    quantity = store.open_exception(2, "mapping", "order 2: line 'TEE-M' has quantity 0")
    unmapped = store.open_exception(3, "mapping", "order 3: payment method 'Bitcoin' has no mapping")
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM schema_version WHERE version = 24"))
    assert migrations.migrate(store.engine) == [24]
    kinds = {e.id: e.kind for e in store.exceptions()}
    assert (kinds[inconsistent.id], kinds[quantity.id], kinds[unmapped.id]) == ("totals", "totals", "mapping")
