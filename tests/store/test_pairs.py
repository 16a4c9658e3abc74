"""Store pairs (issue 17, point 1): each pair's state is its own, and a database made before pairs
becomes pair "default"'s with nothing lost."""

from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, Integer, MetaData, String, Table, inspect, text
from sqlmodel import select

from connector.store import migrations
from connector.store.repository import Store
from connector.idv.webhook import SqlDeliveryLog
from connector.store.tables import OrderBinding, RefundBinding
from connector.store.webhook_deliveries import BcWebhookDelivery, IdvWebhookDelivery
from connector.store.types import UTCDateTime

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _binding(order_id: int, sale_id: str, now: datetime) -> OrderBinding:
    return OrderBinding(bc_order_id=order_id, sale_id=sale_id, invoice_number=f"BC-{order_id}", pos_state="closed",
                        bc_status_id=11, content_hash="h", bc_date_modified=T0, created_at=now, updated_at=now)


def _fill(store: Store, sale: str) -> None:
    """One row of each kind of a pair's state, every one of them for order 12."""
    now = store.clock.now()
    store.save_order_binding(_binding(12, sale, now))
    store.bind_product("sku:tee", f"{sale}-product", "TEE", created=True, name="Tee",
                       audit={"platform": "xseries", "action": "create_product", "target_id": f"{sale}-product"})
    store.bind_customer("ann@example.com", f"{sale}-customer", created=False)
    store.set_cursor(T0)
    store.set_index_version("products", 5)
    store.record_failure(13, step="write", reason=f"{sale} failed", permanent=False, max_attempts=3)
    store.audit(platform="xseries", action="create_sale", bc_order_id=12, target_id=sale)
    store.open_exception(12, "edit", f"{sale} edited")
    store.save_refund_binding(RefundBinding(refund_id=1, bc_order_id=12, invoice_number="BC-12-R1",
                                            return_sale_id=f"{sale}-return", outcome="returned",
                                            created_at=now, updated_at=now))
    run = store.start_cycle("sync", None, None)
    store.finish_cycle(run, seen=1, written=1, failed=0, outcome="ok")
    with store.session() as s:  # as the webhook receiver records an accepted event
        s.add(BcWebhookDelivery(pair=store.pair, hash="h" * 40, scope="store/order/created", bc_order_id=12,
                                received_at=now))
        s.commit()


def test_two_pairs_in_one_database_keep_their_own_state(database_url, clock):
    north = Store.open(database_url, clock=clock, pair="north")
    south = north.for_pair("south")
    try:
        _fill(north, "n")
        assert south.order_binding(12) is None and south.cursor() is None
        assert south.product_id("sku:tee") is None and south.customer_id("ann@example.com") is None
        assert south.indexed_product_id("TEE") is None and south.index_version("products") == 0
        assert south.failures() == [] and south.audit_entries() == [] and south.exceptions() == []
        assert south.refund_binding(1) is None and south.last_cycle("sync") is None
        assert south.resolve_exception(north.exceptions()[0].id, by="ann") is None  # not south's to resolve

        _fill(south, "s")  # the same order, product, refund ids: other rows
        for store, sale in ((north, "n"), (south, "s")):
            assert store.order_binding(12).sale_id == sale
            assert store.product_id("sku:tee") == f"{sale}-product"
            assert store.indexed_product_id("TEE") == f"{sale}-product"
            assert store.customer_id("ann@example.com") == f"{sale}-customer"
            assert [f.reason for f in store.failures()] == [f"{sale} failed"]
            assert [(e.action, e.target_id) for e in store.audit_entries()][:2] == [
                ("create_product", f"{sale}-product"), ("create_sale", sale)]
            assert [e.summary for e in store.exceptions()] == [f"{sale} edited"]
            assert store.refund_binding(1).return_sale_id == f"{sale}-return"
            assert store.count_bindings_by_state() == {"closed": 1}
            assert store.count_open_exceptions() == 1
            assert store.last_cycle("sync").orders_written == 1
    finally:
        north.close()


async def test_leases_of_two_pairs_do_not_exclude_each_other(database_url, clock):
    north = Store.open(database_url, clock=clock, pair="north")
    south = north.for_pair("south")
    try:
        async with north.leases.hold("order:12"):
            async with south.leases.hold("order:12", wait_seconds=0.5):
                pass  # south's order 12 is another order
    finally:
        north.close()


def _rows(engine, table: str, order_by: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY {order_by}")).mappings().all()
    return [dict(r) for r in rows]


_CHECKED = {"order_binding": "bc_order_id", "product_binding": "key", "customer_binding": "email_key",
            "xs_product": "id", "sync_cursor": "name", "index_cursor": "name", "failed_order": "bc_order_id",
            "audit_log": "id", "order_exception": "id", "refund_binding": "refund_id", "cycle_run": "id",
            "bc_webhook_delivery": "hash"}


def _unpair(engine) -> None:
    """Make the database what version 9 left: the same tables without the pair column."""
    with engine.begin() as conn:
        for model, _ in migrations._TAGGED_BY_PAIR:
            for index in model.__table__.indexes:
                conn.execute(text(f"DROP INDEX {index.name}"))
            conn.execute(text(f"ALTER TABLE {model.__table__.name} DROP COLUMN pair"))
        for model in migrations._KEYED_BY_PAIR:
            table = model.__table__
            # The webhook deliveries had the column, outside their key; the other tables had none.
            had_pair = table.name == "bc_webhook_delivery"
            columns = [c._copy() for c in table.columns if c.name != "pair"]
            if had_pair:
                columns.append(Column("pair", String, nullable=False))
            names = ", ".join(c.name for c in columns)
            conn.execute(text(f"CREATE TABLE old_copy AS SELECT {names} FROM {table.name}"))
            conn.execute(text(f"DROP TABLE {table.name}"))
            old = Table(table.name, MetaData(), *columns)
            old.create(conn)
            conn.execute(text(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM old_copy"))
            conn.execute(text("DROP TABLE old_copy"))
        conn.execute(text("CREATE INDEX ix_audit_order ON audit_log (bc_order_id, id)"))
        conn.execute(text("DELETE FROM schema_version WHERE version >= 10"))


def test_a_single_pair_database_becomes_pair_default_with_nothing_lost(database_url, clock):
    store = Store.open(database_url, clock=clock)
    try:
        _fill(store, "d")
        before = {t: _rows(store.engine, t, key) for t, key in _CHECKED.items()}
        _unpair(store.engine)
        assert "pair" not in {c["name"] for c in inspect(store.engine).get_columns("order_binding")}
        assert migrations.migrate(store.engine) == [v for v, _, _ in migrations.MIGRATIONS if v >= 10]

        after = {t: _rows(store.engine, t, key) for t, key in _CHECKED.items()}
        # Migration 26 adds a refunds cursor at the orders cursor (none was saved in this one).
        [orders] = [row for row in after["sync_cursor"] if row["name"] == "orders"]
        added = {**orders, "name": "refunds"}
        assert added in after["sync_cursor"] and not any(row["name"] == "refunds" for row in before["sync_cursor"])
        after["sync_cursor"] = [row for row in after["sync_cursor"] if row != added]
        assert after == before  # every row, every value, and each one "default"'s
        assert all(row["pair"] == "default" for rows in after.values() for row in rows)
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("audit_log")}
        assert "ix_audit_pair_order" in indexes and "ix_audit_order" not in indexes
        # The store reads it as before, and goes on writing (autoincrement ids go on from the last).
        assert store.order_binding(12).sale_id == "d" and store.cursor() == T0
        store.audit(platform="connector", action="record", bc_order_id=14)
        assert store.audit_entries()[-1].id > before["audit_log"][-1]["id"]
        clock.advance(timedelta(seconds=1).total_seconds())
        store.record_failure(13, step="write", reason="again", permanent=False, max_attempts=3)
        assert store.failures()[0].attempts == 2
    finally:
        store.close()


def test_webhook_deliveries_are_rekeyed_by_scope_hash_time_and_order_keeping_their_rows(database_url, clock):
    """Migrations 14 and 15: a database whose deliveries were keyed (pair, hash) keeps every row, each
    with created_at 0, under the key (pair, scope, hash, created_at, bc_order_id)."""
    store = Store.open(database_url, clock=clock)
    try:
        with store.engine.begin() as conn:
            conn.execute(text("DROP TABLE bc_webhook_delivery"))
            old = Table("bc_webhook_delivery", MetaData(), Column("pair", String, primary_key=True),
                        Column("hash", String, primary_key=True), Column("scope", String, nullable=False),
                        Column("bc_order_id", Integer, nullable=False), Column("received_at", UTCDateTime()))
            old.create(conn)
            conn.execute(old.insert(), [{"pair": "default", "hash": "h" * 40, "scope": "store/order/created",
                                         "bc_order_id": 12, "received_at": T0}])
            conn.execute(text("DELETE FROM schema_version WHERE version >= 14"))
        assert migrations.migrate(store.engine) == [v for v, _, _ in migrations.MIGRATIONS if v >= 14]
        key = inspect(store.engine).get_pk_constraint("bc_webhook_delivery")["constrained_columns"]
        assert key == ["pair", "scope", "hash", "created_at", "bc_order_id"]
        with store.session() as s:
            [row] = s.exec(select(BcWebhookDelivery)).all()
        assert row.model_dump() == {"pair": "default", "scope": "store/order/created", "hash": "h" * 40,
                                    "created_at": 0, "bc_order_id": 12, "received_at": T0}
    finally:
        store.close()


def test_idv_webhook_deliveries_are_rekeyed_by_pair_keeping_their_rows_as_defaults(database_url, clock):
    """Migration 16: deliveries keyed by digest alone keep every row, each the "default" pair's (a
    replay of one is still refused there), under the key (pair, digest)."""
    store = Store.open(database_url, clock=clock)
    try:
        with store.engine.begin() as conn:
            conn.execute(text("DROP TABLE idv_webhook_delivery"))
            old = Table("idv_webhook_delivery", MetaData(), Column("digest", String, primary_key=True),
                        Column("received_at", UTCDateTime(), nullable=False))
            old.create(conn)
            conn.execute(old.insert(), [{"digest": "d" * 64, "received_at": T0}])
            conn.execute(text("DELETE FROM schema_version WHERE version = 16"))
        assert migrations.migrate(store.engine) == [16]
        key = inspect(store.engine).get_pk_constraint("idv_webhook_delivery")["constrained_columns"]
        assert key == ["pair", "digest"]
        with store.session() as s:
            [row] = s.exec(select(IdvWebhookDelivery)).all()
        assert row.model_dump() == {"pair": "default", "digest": "d" * 64, "received_at": T0}
        keep = timedelta(minutes=10)
        assert not SqlDeliveryLog(store).claim("d" * 64, T0, keep)  # default's replay, as before
        assert SqlDeliveryLog(store.for_pair("north")).claim("d" * 64, T0, keep)
    finally:
        store.close()
