"""The key that signs the console's session cookie: console.session_secret when the config gives
one, else a key generated once and kept in the state database (table console_secret), so every
process on the database and every restart accept the same sessions."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from sqlalchemy import select

from connector.config import Settings
from connector.store.db import dialect_insert, make_engine
from connector.store.migrations import migrate
from connector.store.console_tables import ConsoleSecret

NAME = "session"
_TABLE = ConsoleSecret.__table__


def session_key(settings: Settings) -> str:
    given = settings.console.session_secret
    if given is not None and given.get_secret_value():
        return given.get_secret_value()
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            # Two processes starting together: the first key written wins, both read it back.
            conn.execute(dialect_insert(conn.dialect.name)(_TABLE).values(
                name=NAME, value=secrets.token_urlsafe(48), created_at=datetime.now(timezone.utc),
            ).on_conflict_do_nothing(index_elements=["name"]))
            return conn.execute(select(_TABLE.c.value).where(_TABLE.c.name == NAME)).scalar_one()
    finally:
        engine.dispose()
