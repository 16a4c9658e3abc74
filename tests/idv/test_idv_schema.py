"""Schema versions 3 and 5 add the ID-verification tables, and only those, to an existing database."""

from __future__ import annotations

from sqlalchemy import inspect

from connector.store import migrations
from connector.store.db import make_engine

IDV_TABLES = {"idv_check", "idv_metafield_seen", "idv_webhook_delivery", "idv_order_check_id"}


def test_an_existing_database_gets_the_idv_tables_from_version_3(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", [mig for mig in migrations.MIGRATIONS if mig[0] < 3])
        migrations.migrate(engine)
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
    engine = make_engine(f"sqlite:///{tmp_path / 'v4.db'}")
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", [mig for mig in migrations.MIGRATIONS if mig[0] <= 4])
        migrations.migrate(engine)
    assert "idv_order_check_id" not in inspect(engine).get_table_names()
    assert 5 in migrations.migrate(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("idv_order_check_id")}
    assert {"bc_order_id", "check_id", "date_modified", "updated_at"} <= columns
    engine.dispose()
