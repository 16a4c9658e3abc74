"""Version 20 keys idv_metafield_seen by order, its metafield id and time nullable (a metafield may
come without them: orders.v3.yml requires neither). An order with two metafield ids seen keeps its
latest version; a database from before pairs (version 10 makes the table from the current model)
gets there too. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from connector.store import migrations
from connector.store.db import make_engine

OLD_COLUMNS = ("metafield_id INTEGER NOT NULL, bc_order_id INTEGER NOT NULL, value VARCHAR NOT NULL,"
               " date_modified TIMESTAMP NOT NULL")
ROWS = [  # (metafield id, order, value, date_modified): order 1's metafield was deleted and written anew
    (5, 1, "pending", "2026-03-02 09:00:00.000000"),
    (9, 1, "verified", "2026-03-02 10:00:00.000000"),
    (7, 2, "failed", "2026-03-02 09:30:00.000000"),
]


@pytest.mark.parametrize("before", [19, 9], ids=["keyed-by-pair-and-id", "before-pairs"])
def test_version_20_keys_the_metafields_seen_by_order(database_url, before, monkeypatch):
    engine = make_engine(database_url)
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", [mig for mig in migrations.MIGRATIONS if mig[0] <= before])
        migrations.migrate(engine)
    with engine.begin() as conn:  # the table as version 3 (then 10) made it
        conn.execute(text("DROP TABLE idv_metafield_seen"))
        if before >= 10:
            conn.execute(text(f"CREATE TABLE idv_metafield_seen (pair VARCHAR NOT NULL, {OLD_COLUMNS},"
                              " PRIMARY KEY (pair, metafield_id))"))
        else:
            conn.execute(text(f"CREATE TABLE idv_metafield_seen ({OLD_COLUMNS}, PRIMARY KEY (metafield_id))"))
        pair = ("pair, ", "'default', ") if before >= 10 else ("", "")
        for mid, order, value, at in ROWS:
            conn.execute(text(f"INSERT INTO idv_metafield_seen ({pair[0]}metafield_id, bc_order_id, value, date_modified)"
                              f" VALUES ({pair[1]}:m, :o, :v, :d)"), {"m": mid, "o": order, "v": value, "d": at})
    applied = migrations.migrate(engine)
    assert 20 in applied and applied[-1] == migrations.MIGRATIONS[-1][0] and (before >= 10 or 10 in applied)
    assert inspect(engine).get_pk_constraint("idv_metafield_seen")["constrained_columns"] == ["pair", "bc_order_id"]
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT pair, bc_order_id, metafield_id, value FROM idv_metafield_seen"
                                 " ORDER BY bc_order_id")).all()
        assert [tuple(r) for r in rows] == [("default", 1, 9, "verified"), ("default", 2, 7, "failed")]
        # A metafield answered without id or dates is recorded too.
        conn.execute(text("INSERT INTO idv_metafield_seen (pair, bc_order_id, metafield_id, value, date_modified)"
                          " VALUES ('default', 3, NULL, 'pending', NULL)"))
    assert migrations.migrate(engine) == []
    engine.dispose()


def test_a_new_database_is_keyed_by_order_from_the_start(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert 20 in migrations.migrate(engine)
    assert inspect(engine).get_pk_constraint("idv_metafield_seen")["constrained_columns"] == ["pair", "bc_order_id"]
    engine.dispose()


def test_version_22_keeps_the_check_id_a_metafield_seen_was_decided_for(database_url, monkeypatch):
    """The rows kept before version 22 get no check_id (unknown: the poll then goes by the rest)."""
    engine = make_engine(database_url)
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", [mig for mig in migrations.MIGRATIONS if mig[0] <= 21])
        migrations.migrate(engine)
    with engine.begin() as conn:  # the table as version 20 made it
        conn.execute(text("DROP TABLE idv_metafield_seen"))
        conn.execute(text("CREATE TABLE idv_metafield_seen (pair VARCHAR NOT NULL, bc_order_id INTEGER NOT NULL,"
                          " metafield_id INTEGER, value VARCHAR NOT NULL, date_modified TIMESTAMP,"
                          " PRIMARY KEY (pair, bc_order_id))"))
        conn.execute(text("INSERT INTO idv_metafield_seen (pair, bc_order_id, metafield_id, value, date_modified)"
                          " VALUES ('default', 1, 9, 'failed', NULL)"))
    assert migrations.migrate(engine)[:1] == [22]  # and any later one
    assert "check_id" in {c["name"] for c in inspect(engine).get_columns("idv_metafield_seen")}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO idv_metafield_seen (pair, bc_order_id, metafield_id, value, date_modified,"
                          " check_id) VALUES ('default', 2, 7, 'failed', NULL, 'rid-2')"))
        rows = conn.execute(text("SELECT bc_order_id, check_id FROM idv_metafield_seen ORDER BY bc_order_id")).all()
        assert [tuple(r) for r in rows] == [(1, None), (2, "rid-2")]
    assert migrations.migrate(engine) == []
    engine.dispose()
