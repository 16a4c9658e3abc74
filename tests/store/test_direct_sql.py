"""The order path's driver-level statements (connector.store.direct_sql) against SQLAlchemy's view."""

from dataclasses import asdict
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from connector.store.repository import Store
from connector.store.tables import AuditEntry, CustomerBinding, OrderBinding, OrderBindingRow

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


def a_row(order_id: int = 41, **changes) -> OrderBindingRow:
    values = dict(bc_order_id=order_id, invoice_number=f"BC-{order_id}", pos_state="closed", bc_status_id=11,
                  content_hash="h" * 64, bc_date_modified=T0, created_at=T0, updated_at=T0, sale_id="s-1",
                  generation=2, pending_state=None, sale_body='{"status":"CLOSED","note":"é ✓"}')
    values.update(changes)
    return OrderBindingRow(**values)


def test_a_row_written_directly_reads_back_the_same_through_sqlalchemy(store):
    row = a_row()
    store.save_order_binding(row)
    with store.session() as s:
        orm = s.get(OrderBinding, 41)
    orm_values = {k: getattr(orm, k) for k in asdict(row)}
    assert orm_values == asdict(row) | {"updated_at": row.updated_at}
    assert orm.bc_date_modified == T0 and orm.bc_date_modified.tzinfo is not None


def test_a_row_written_through_sqlalchemy_reads_back_the_same_directly(store):
    orm = OrderBinding(**asdict(a_row(42, pending_state="voided", sale_body=None)))
    with store.session() as s:
        s.add(orm)
        s.commit()
    got = store.order_binding(42)
    assert asdict(got) == asdict(a_row(42, pending_state="voided", sale_body=None))
    assert got.created_at == T0 and got.created_at.utcoffset().total_seconds() == 0
    assert store.order_binding(43) is None


def test_booleans_and_an_audit_entry_written_directly(store):
    store.bind_new_customer("ann@example.com", "c-1", audit=dict(
        platform="xseries", action="create_customer", bc_order_id=9, target_id="c-1",
        reason="new", after="ann@example.com", detail={"n": 1}))
    with store.session() as s:
        binding = s.get(CustomerBinding, "ann@example.com")
        entry = s.exec(AuditEntry.__table__.select()).one()
    assert binding.created is True and binding.xs_customer_id == "c-1"
    assert entry.platform == "xseries" and entry.bc_order_id == 9 and entry.detail == '{"n": 1}'
    assert store.customer_id("ann@example.com") == "c-1"
    assert store.indexed_customer_id(" Ann@Example.com ") == "c-1"


def test_a_failed_transaction_writes_nothing(store):
    with pytest.raises(RuntimeError):
        with store.sql.transaction():
            store.sql.run(store._q.binding_upsert, store._q.binding_values(a_row(50)))
            raise RuntimeError("crash between two statements")
    assert store.order_binding(50) is None
    store.save_order_binding(a_row(50))  # and the connection is usable afterwards
    assert store.order_binding(50).invoice_number == "BC-50"


def test_a_settle_that_fails_keeps_the_lease_held(store):
    """The lease is released with the settling write, and only counts as released once it commits."""
    handle = type("Handle", (), {"key": "order:60", "owner": store.leases.owner, "released": False})()
    assert store.leases.try_acquire("order:60")
    bad = a_row(60, invoice_number=None)  # NOT NULL: the transaction fails
    with pytest.raises(Exception):
        store.settle_order(bad, audit=None, lease=handle)
    assert handle.released is False
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT owner FROM lease WHERE key = 'order:60'")).scalar() == store.leases.owner


@pytest.mark.postgres
def test_a_lost_postgres_connection_is_replaced(postgres_url, clock):
    store = Store.open(postgres_url, clock=clock)
    try:
        store.save_order_binding(a_row(70))
        pid = store.sql._connection().info.backend_pid
        with store.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
        with pytest.raises(Exception):
            store.order_binding(70)  # the statement that finds the connection gone
        assert store.order_binding(70).invoice_number == "BC-70"  # a new connection
        assert store.sql._connection().info.backend_pid != pid
    finally:
        store.close()


@pytest.mark.parametrize("moment", [
    datetime(2026, 3, 1, 12, 0, 0, 0, tzinfo=timezone.utc),
    datetime(2026, 3, 1, 23, 30, 0, 5, tzinfo=timezone(timedelta(hours=-5))),  # another offset
    datetime(999, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
])
def test_datetimes_are_stored_exactly_as_sqlalchemy_stores_them(store, moment):
    """Written directly, read by SQLAlchemy, and the raw stored value is SQLAlchemy's own."""
    store.save_order_binding(a_row(80, bc_date_modified=moment))
    with store.session() as s:
        orm = s.get(OrderBinding, 80)
        s.add(OrderBinding(**asdict(a_row(81, bc_date_modified=moment))))
        s.commit()
    assert orm.bc_date_modified == moment and orm.bc_date_modified.tzinfo == timezone.utc
    with store.engine.connect() as conn:
        raw = conn.execute(text("SELECT bc_order_id, bc_date_modified FROM order_binding "
                                "WHERE bc_order_id IN (80, 81) ORDER BY bc_order_id")).all()
    assert raw[0][1] == raw[1][1]
    assert store.order_binding(81).bc_date_modified == moment


def test_a_naive_datetime_is_refused(store):
    with pytest.raises(ValueError, match="naive"):
        store.save_order_binding(a_row(90, bc_date_modified=datetime(2026, 1, 1)))


def _parameters_by_loop(prepared, values):
    """What Prepared.parameters did before it was generated: a loop over names and converters."""
    values = {**prepared.constants, **values}
    converted = [conv(values[n]) if conv is not None else values[n]
                 for n, conv in zip(prepared.names, prepared.converters)]
    return tuple(converted) if prepared.positional else dict(zip(prepared.names, converted))


def test_generated_parameter_builders_give_what_the_loop_gave(store):
    """Every order-path statement, on both databases: same values, same converters, constants kept
    unless given (the generated builders in direct_sql replace that loop for speed)."""
    samples = {"at": T0, "created_at": T0, "updated_at": T0, "expires_at": T0 + timedelta(seconds=5),
               "now": T0, "bc_date_modified": T0 - timedelta(days=400), "created": True, "deleted": False}
    prepared = [p for p in vars(store._q).values() if hasattr(p, "parameters")]
    prepared += [store.leases._acquire, store.leases._release]
    assert len(prepared) >= 14
    for p in prepared:
        values = {n: samples.get(n, f"value of {n}" if "id" not in n else 7) for n in p.names
                  if n not in p.constants}
        assert p.parameters(values) == _parameters_by_loop(p, values), p.sql
        for name in p.constants:  # a constant given by the caller wins, as with the loop
            given = {**values, name: 3}
            assert p.parameters(given) == _parameters_by_loop(p, given), p.sql
    with pytest.raises(KeyError):
        store._q.binding_upsert.parameters({"bc_order_id": 1})  # a missing value is an error, not a NULL


@pytest.mark.parametrize("detail", [
    {"total": __import__("decimal").Decimal("10.50"), "lines": 3, "unpaid": False, "at": T0},
    {"z": {"b": [1, None, "é ✓"], "a": 1.5}, "a": None},
])
def test_audit_details_are_written_as_json_dumps_writes_them(store, detail):
    import json

    store.audit(platform="connector", action="record", bc_order_id=3, detail=detail)
    assert store.audit_entries(bc_order_id=3)[-1].detail == json.dumps(detail, default=str, sort_keys=True)
