"""Versioned schema migrations, applied in order at start-up and recorded in schema_version.

Each migration is a function of a connection that creates or alters named tables; never
create_all, so an old database and a new one end up with the same schema. A change to an existing
table gets its own version with explicit DDL (ALTER TABLE …).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import Connection, Engine, insert, inspect, literal, or_, select, text, update
from sqlmodel import SQLModel

from connector.store import tables as t
from connector.store.console_tables import ConsoleLoginFailure, ConsoleSecret, ConsoleSession
from connector.store.idv_tables import IdvCheck, IdvMetafieldSeen, IdvOrderCheckId
from connector.store.import_runs import ImportRun
from connector.store.webhook_deliveries import BcWebhookDelivery, IdvWebhookDelivery

Migration = tuple[int, str, Callable[[Connection], None]]


def _create(*models: type[SQLModel]) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        for model in models:
            model.__table__.create(conn, checkfirst=True)

    return apply


def _add_column(table: str, column: str, ddl: str) -> Callable[[Connection], None]:
    """ALTER TABLE … ADD COLUMN, unless the column is there: a database created after the column
    joined the model already has it (tables are created from the current models)."""

    def apply(conn: Connection) -> None:
        if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))

    return apply


# Tables whose key gains the pair in version 10, and those that only gain the column (their key is an id).
_KEYED_BY_PAIR = (t.OrderBinding, t.ProductBinding, t.CustomerBinding, t.XsProduct, t.XsCustomer, t.IndexCursor,
                  t.SyncCursor, t.FailedOrder, t.RefundBinding, IdvCheck, IdvMetafieldSeen, IdvOrderCheckId,
                  BcWebhookDelivery)
_TAGGED_BY_PAIR = ((t.AuditEntry, "ix_audit_order"), (t.OrderException, "ix_order_exception_open"),
                   (t.CycleRun, None), (ImportRun, None))


def _store_pairs(conn: Connection) -> None:
    """Every pair's state keyed by its pair; what a single-pair database holds becomes "default"'s.

    A primary key cannot be altered in place on SQLite, so a keyed table is copied aside, created
    anew from its model and filled again; the id-keyed tables gain the column (and their index its
    first column). A table whose key has the pair already (created after this version) is left alone;
    one that had a pair column outside its key (the webhook deliveries) keeps its values."""
    for model in _KEYED_BY_PAIR:
        table = model.__table__
        if "pair" in inspect(conn).get_pk_constraint(table.name)["constrained_columns"]:
            continue
        if model is IdvMetafieldSeen:  # keyed by order since version 20: two rows of an order become one
            _idv_metafield_seen_by_order(conn)
            continue
        _rebuild(conn, table, pair="'default'")
    for model, old_index in _TAGGED_BY_PAIR:
        table = model.__table__
        _add_column(table.name, "pair", "VARCHAR NOT NULL DEFAULT 'default'")(conn)
        if old_index is not None:
            conn.execute(text(f"DROP INDEX IF EXISTS {old_index}"))
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def _rebuild(conn: Connection, table, pair: str = "pair") -> None:
    """A primary key cannot be altered in place on SQLite: the table is copied aside, created anew
    from its model and filled again. `pair`: the SQL for the pair column (a literal for a table that
    had none); columns the old table lacks take their defaults."""
    had = {c["name"] for c in inspect(conn).get_columns(table.name)}
    if "pair" in had:
        pair = "pair"
    names = ", ".join(c.name for c in table.columns if c.name != "pair" and c.name in had)
    aside = f"{table.name}_before"
    conn.execute(text(f"CREATE TABLE {aside} AS SELECT * FROM {table.name}"))
    conn.execute(text(f"DROP TABLE {table.name}"))
    table.create(conn)
    conn.execute(text(f"INSERT INTO {table.name} (pair, {names}) SELECT {pair}, {names} FROM {aside}"))
    conn.execute(text(f"DROP TABLE {aside}"))


def _rekey(model: type[SQLModel], pair: str = "pair") -> Callable[[Connection], None]:
    """The table rebuilt with its model's primary key, when it has another one; `pair` as in _rebuild."""
    def apply(conn: Connection) -> None:
        table = model.__table__
        if inspect(conn).get_pk_constraint(table.name)["constrained_columns"] != [c.name for c in table.primary_key]:
            _rebuild(conn, table, pair)

    return apply


def _console(conn: Connection) -> None:
    ConsoleSecret.__table__.create(conn, checkfirst=True)
    for index in t.AuditEntry.__table__.indexes:  # ix_audit_pair_action joins the order's index
        index.create(conn, checkfirst=True)


def _hashed_sessions(conn: Connection) -> None:
    """console_session keyed by a hash of the cookie's token: the table is made anew, so the sessions
    so far end and their users log in again. Hashing their tokens in place would keep them alive,
    yet those tokens are at rest in plain text in every backup taken before: ended, they are useless."""
    conn.execute(text("DROP TABLE IF EXISTS console_session"))
    ConsoleSession.__table__.create(conn)


def _procrastinate_schema(conn: Connection) -> None:
    """The job queue of `order-sync worker` (procrastinate's own schema SQL, applied as it ships).
    PostgreSQL only: on SQLite there are no workers. Skipped when the schema is already there (a
    database a procrastinate command set up), since its SQL creates types and cannot run twice."""
    if conn.dialect.name != "postgresql" or inspect(conn).has_table("procrastinate_jobs"):
        return
    from procrastinate.schema import SchemaManager

    # SQLAlchemy hands psycopg a parameter list, so "%" must be doubled (as procrastinate does itself).
    conn.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def _idv_check_clocks(conn: Connection) -> None:
    """idv_check.happened_at and metafield_at: an event's time is compared with times of its own
    clock. A check so far had one time, its last event's: it goes to the column of that event's."""
    table = IdvCheck.__table__
    for column in (table.c.happened_at, table.c.metafield_at):
        _add_column(table.name, column.name, column.type.compile(dialect=conn.dialect))(conn)
    conn.execute(text("UPDATE idv_check SET happened_at = last_occurred_at"
                      " WHERE source <> 'metafield' AND happened_at IS NULL AND metafield_at IS NULL"))
    conn.execute(text("UPDATE idv_check SET metafield_at = last_occurred_at"
                      " WHERE source = 'metafield' AND happened_at IS NULL AND metafield_at IS NULL"))


def _failed_order_modified(conn: Connection) -> None:
    column = t.FailedOrder.__table__.c.date_modified
    _add_column(column.table.name, column.name, column.type.compile(dialect=conn.dialect))(conn)


def _idv_check_started(conn: Connection) -> None:
    """idv_check.started_at, left empty: a check recorded before goes by its last webhook's time."""
    column = IdvCheck.__table__.c.started_at
    _add_column(column.table.name, column.name, column.type.compile(dialect=conn.dialect))(conn)


def _idv_metafield_seen_by_order(conn: Connection) -> None:
    """idv_metafield_seen keyed by order, its metafield id and time nullable: a metafield answered
    without them (orders.v3.yml requires neither) is recorded too. Should one order have had two
    metafield ids seen (the metafield deleted and written anew), its latest version is kept. Run by
    version 10 too, for a table from before pairs (its rows "default"'s): that version creates the
    table from the current model."""
    table = IdvMetafieldSeen.__table__
    if inspect(conn).get_pk_constraint(table.name)["constrained_columns"] == [c.name for c in table.primary_key]:
        return  # created from the current model
    by_pair = "pair" in {c["name"] for c in inspect(conn).get_columns(table.name)}
    pair, same_pair = ("b.pair", "n.pair = b.pair") if by_pair else ("'default'", "1 = 1")
    conn.execute(text("CREATE TABLE idv_metafield_seen_before AS SELECT * FROM idv_metafield_seen"))
    conn.execute(text("DROP TABLE idv_metafield_seen"))
    table.create(conn)
    conn.execute(text(
        "INSERT INTO idv_metafield_seen (pair, bc_order_id, metafield_id, value, date_modified)"
        f" SELECT {pair}, bc_order_id, metafield_id, value, date_modified FROM idv_metafield_seen_before b"
        f" WHERE NOT EXISTS (SELECT 1 FROM idv_metafield_seen_before n WHERE {same_pair}"
        " AND n.bc_order_id = b.bc_order_id AND (n.date_modified > b.date_modified"
        " OR (n.date_modified = b.date_modified AND n.metafield_id > b.metafield_id)))"))
    conn.execute(text("DROP TABLE idv_metafield_seen_before"))


# What the refusals of an inconsistent order say (kind "mapping" before they had "totals" of their own).
_INCONSISTENT = ("the order is inconsistent", "has quantity", "no lines but a total")


def _inconsistent_orders_are_totals(conn: Connection) -> None:
    """Their exceptions from before take the kind they have now: resolving one (the order mirrored
    by hand) must not try the order again (ExceptionBook.resolve_exception retries kind mapping)."""
    table = t.OrderException.__table__
    conn.execute(update(table).where(table.c.kind == "mapping", or_(*(table.c.summary.contains(said)
                                                                       for said in _INCONSISTENT))).values(kind="totals"))


# Each version names exactly the tables it creates, so a table added later never sneaks into an
# old version (create_all would).
def _refunds_from_the_orders_cursor(conn: Connection) -> None:
    """A pair that ran without a refunds cursor (a version before refunds, or none saved yet) reads
    refunds from its orders cursor, as it did: with none, a first run's refund pass starts at go-live,
    which for a store live for months would return refunds staff handled by hand long ago."""
    cursors = t.SyncCursor.__table__
    has_refunds = select(cursors.c.pair).where(cursors.c.name == "refunds")
    conn.execute(insert(cursors).from_select(
        ["pair", "name", "value", "updated_at"],
        select(cursors.c.pair, literal("refunds"), cursors.c.value, cursors.c.updated_at)
        .where(cursors.c.name == "orders", cursors.c.pair.not_in(has_refunds))))


MIGRATIONS: list[Migration] = [
    (1, "initial schema: bindings, indexes, cursor, failures, audit, cycles, leases",
     _create(t.SchemaVersion, t.OrderBinding, t.ProductBinding, t.CustomerBinding, t.XsProduct, t.XsCustomer,
             t.IndexCursor, t.SyncCursor, t.FailedOrder, t.AuditEntry, t.CycleRun, t.Lease)),
    (2, "historical import checkpoints", _create(ImportRun)),
    (3, "ID verification: checks per order, metafield versions seen, webhook deliveries",
     _create(IdvCheck, IdvMetafieldSeen, IdvWebhookDelivery)),
    (4, "order_binding.generation: re-opened orders get a new sale",
     _add_column("order_binding", "generation", "INTEGER NOT NULL DEFAULT 1")),
    (5, "ID verification: the last realid check_id read per order", _create(IdvOrderCheckId)),
    (6, "exceptions a person must see", _create(t.OrderException)),
    (7, "refunds mirrored as returns", _create(t.RefundBinding)),
    (8, "BigCommerce webhook deliveries", _create(BcWebhookDelivery)),
    (9, "order_binding.sale_hash: what the sale showed of its order, to tell an edit",
     _add_column("order_binding", "sale_hash", "VARCHAR")),
    (10, "store pairs: every pair's state keyed by its name; the one pair so far is 'default'", _store_pairs),
    (11, "procrastinate's job queue for order-sync worker (PostgreSQL only)", _procrastinate_schema),
    (12, "the console's generated session key; the audit log indexed by action", _console),
    (13, "the console's failed logins, counted by every process", _create(ConsoleLoginFailure)),
    (14, "BigCommerce webhook deliveries keyed by scope, hash and the event's time", _rekey(BcWebhookDelivery)),
    (15, "BigCommerce webhook deliveries keyed by their order too", _rekey(BcWebhookDelivery)),
    # Left out of version 10; the deliveries kept so far (a replay window's worth) are the one pair's
    # so far, "default", as everything else was then.
    (16, "ID-verification webhook deliveries keyed by their pair", _rekey(IdvWebhookDelivery, pair="'default'")),
    (17, "the console's sessions, ended by logout", _create(ConsoleSession)),
    (18, "the console's sessions kept as a hash of their token; the sessions so far end", _hashed_sessions),
    (19, "ID-verification checks: the time of their last event on each clock", _idv_check_clocks),
    (20, "ID-verification metafields seen keyed by order, their id and time optional", _idv_metafield_seen_by_order),
    (21, "refund_binding.return_body: the return as posted, to void it with its order's sale",
     _add_column("refund_binding", "return_body", "TEXT")),
    (22, "ID-verification metafields seen: the check_id their value was decided for",
     _add_column("idv_metafield_seen", "check_id", "VARCHAR")),
    (23, "failed_order.date_modified: a failed order's last change, on BigCommerce's clock", _failed_order_modified),
    (24, "exceptions of inconsistent orders are of kind totals", _inconsistent_orders_are_totals),
    (25, "ID-verification checks: the time of their first webhook or command-line event", _idv_check_started),
    (26, "a refunds cursor where the orders cursor is and none was saved", _refunds_from_the_orders_cursor),
]

def applied_versions(engine: Engine) -> set[int]:
    if not inspect(engine).has_table("schema_version"):
        return set()
    with engine.connect() as conn:
        return {int(v) for v in conn.execute(text("SELECT version FROM schema_version")).scalars()}


def migrate(engine: Engine) -> list[int]:
    """Apply every migration the database has not had yet, in order. Returns the versions applied.

    Two processes starting together may race here; each migration runs in a transaction and the
    schema_version primary key makes the loser's insert fail, after which it re-reads and goes on.
    """
    applied: list[int] = []
    for version, description, apply in MIGRATIONS:
        if version in applied_versions(engine):
            continue
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "sqlite":  # else pysqlite runs DDL outside the transaction: two
                    conn.exec_driver_sql("BEGIN IMMEDIATE")  # processes would race; now one waits
                apply(conn)
                conn.execute(
                    text("INSERT INTO schema_version (version, description, applied_at) VALUES (:v, :d, :t)"),
                    {"v": version, "d": description, "t": datetime.now(timezone.utc).replace(tzinfo=None)},
                )
            applied.append(version)
        except Exception:
            if version in applied_versions(engine):
                continue  # another process applied it first
            raise
    return applied
