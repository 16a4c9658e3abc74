"""Schema versions 3 and 5 add the ID-verification tables, and only those, to an existing database;
version 19 gives their checks a time on each clock, version 25 the time of their first event."""

from __future__ import annotations

from sqlalchemy import inspect, text

from connector.store import migrations
from connector.store.db import make_engine

IDV_TABLES = {"idv_check", "idv_metafield_seen", "idv_webhook_delivery", "idv_order_check_id"}


def at_version(path, monkeypatch, version: int):
    """A new SQLite database at `path` migrated up to `version` only (the schema as it then stood)."""
    engine = make_engine(f"sqlite:///{path}")
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", [mig for mig in migrations.MIGRATIONS if mig[0] <= version])
        migrations.migrate(engine)
    return engine


def test_an_existing_database_gets_the_idv_tables_from_version_3(tmp_path, monkeypatch):
    engine = at_version(tmp_path / 'old.db', monkeypatch, 2)
    assert not IDV_TABLES & set(inspect(engine).get_table_names())
    assert migrations.migrate(engine)[0] == 3
    assert IDV_TABLES <= set(inspect(engine).get_table_names())
    columns = {c["name"] for c in inspect(engine).get_columns("idv_check")}
    assert {"bc_order_id", "check_id", "seq", "stage", "last_occurred_at", "superseded"} <= columns
    engine.dispose()


def test_version_1_does_not_create_later_tables(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path / 'v1.db'}")
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        migrations.migrate(engine)
    assert not IDV_TABLES & set(inspect(engine).get_table_names())
    engine.dispose()


def test_a_database_at_version_4_gets_the_check_id_table_from_version_5(tmp_path, monkeypatch):
    engine = at_version(tmp_path / 'v4.db', monkeypatch, 4)
    assert "idv_order_check_id" not in inspect(engine).get_table_names()
    assert 5 in migrations.migrate(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("idv_order_check_id")}
    assert {"bc_order_id", "check_id", "date_modified", "updated_at"} <= columns
    engine.dispose()


def test_version_19_gives_each_check_its_last_time_on_the_clock_of_its_last_event(tmp_path, monkeypatch):
    engine = at_version(tmp_path / 'v18.db', monkeypatch, 18)
    with engine.begin() as conn:  # the table as version 18 made it
        for column in ("happened_at", "metafield_at"):
            conn.execute(text(f"ALTER TABLE idv_check DROP COLUMN {column}"))
        for order, source in ((1, "webhook"), (2, "metafield"), (3, "cli")):
            conn.execute(text(
                "INSERT INTO idv_check (pair, bc_order_id, check_id, seq, stage, event, source, last_occurred_at,"
                " superseded, updated_at) VALUES ('default', :o, 'chk', 1, 'failed', 'failed', :s,"
                " '2026-03-02 09:00:00.000000', false, '2026-03-02 09:00:00.000000')"), {"o": order, "s": source})
    assert migrations.migrate(engine)[0] == 19
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT bc_order_id, happened_at IS NOT NULL, metafield_at IS NOT NULL"
                                 " FROM idv_check ORDER BY bc_order_id")).all()
    assert [tuple(r) for r in rows] == [(1, 1, 0), (2, 0, 1), (3, 1, 0)]
    engine.dispose()


def test_version_25_gives_checks_the_time_of_their_first_event_left_empty(tmp_path, monkeypatch):
    engine = at_version(tmp_path / 'v24.db', monkeypatch, 24)
    with engine.begin() as conn:  # the table as version 24 made it
        conn.execute(text("ALTER TABLE idv_check DROP COLUMN started_at"))
    assert migrations.migrate(engine)[0] == 25
    assert "started_at" in {c["name"] for c in inspect(engine).get_columns("idv_check")}
    engine.dispose()
