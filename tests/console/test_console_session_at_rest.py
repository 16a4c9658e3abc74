"""The console's sessions at rest (migration 18): the state database keeps a hash of each session's
token, never the token the cookie carries, so whoever reads the database (a backup, a read-only
analyst) cannot log in with what it holds, even with the cookie-signing key it may also hold."""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from datetime import datetime, timedelta, timezone

import itsdangerous
from sqlalchemy import Column, DateTime, MetaData, String, Table, insert, select, text

from connector.console.app import console_app
from connector.console.secret import session_key
from connector.store.db import make_engine
from connector.store.migrations import migrate
from served_console import USER, console_settings
from test_console_secret import logged_in_cookie, page_status

COOKIE_SIGNER = itsdangerous.TimestampSigner  # what Starlette's SessionMiddleware signs with


def session_of(cookie: str, key: str) -> dict:
    return json.loads(b64decode(COOKIE_SIGNER(key).unsign(cookie)))


def cookie_of(session: dict, key: str) -> str:
    """A cookie as the console would sign it: what someone holding the signing key can make."""
    return COOKIE_SIGNER(key).sign(b64encode(json.dumps(session).encode())).decode()


def stored_sessions(url: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text("SELECT * FROM console_session"))]
    finally:
        engine.dispose()


async def test_the_database_keeps_no_copy_of_the_session_token(db_world):
    settings = console_settings(db_world.settings())
    runtime = await db_world.runtime()
    key = session_key(settings)  # the generated one, itself kept in the database

    cookie = await logged_in_cookie(console_app(settings, {"default": runtime}))
    session = session_of(cookie, key)
    rows = stored_sessions(settings.database_url)
    assert len(rows) == 1
    stored = [str(value) for value in rows[0]]
    assert not any(session["sid"] in value or cookie in value for value in stored), \
        "the session's token is in the database"
    # The cookie still opens the console, in another process on the same database too.
    assert await page_status(console_app(settings, {"default": runtime}), cookie) == 200
    # Each stored value, signed into a cookie as the token, opens nothing.
    for value in stored:
        forged = cookie_of({**session, "sid": value}, key)
        assert await page_status(console_app(settings, {"default": runtime}), forged) == 303, \
            f"a value read from console_session ({value[:12]}…) logs in"


async def test_the_migration_ends_the_sessions_stored_in_plain_text(db_world):
    """A database whose sessions were kept before migration 18 (their token in plain text, in the
    `id` column): the migration ends them all, and a cookie naming one is sent to the login form."""
    settings = console_settings(db_world.settings())
    runtime = await db_world.runtime()
    key = session_key(settings)
    engine = make_engine(settings.database_url)
    old = Table("console_session", MetaData(), Column("id", String, primary_key=True),
                Column("user", String, nullable=False), Column("expires_at", DateTime(timezone=True), nullable=False))
    try:
        with engine.begin() as conn:  # the table as version 17 made it, with a live session
            conn.execute(text("DROP TABLE console_session"))
            old.create(conn)
            conn.execute(text("DELETE FROM schema_version WHERE version >= 18"))
            conn.execute(insert(old).values(id="an-old-token", user=USER,
                                            expires_at=datetime.now(timezone.utc) + timedelta(hours=1)))
        assert migrate(engine)[0] == 18  # and the later versions, whose tables stay as they are
        with engine.connect() as conn:
            assert conn.execute(select(text("count(*)")).select_from(text("console_session"))).scalar() == 0
    finally:
        engine.dispose()
    cookie = cookie_of({"user": USER, "sid": "an-old-token", "csrf": "x"}, key)
    assert await page_status(console_app(settings, {"default": runtime}), cookie) == 303
    # A login after the migration is a session again.
    fresh = await logged_in_cookie(console_app(settings, {"default": runtime}))
    assert await page_status(console_app(settings, {"default": runtime}), fresh) == 200
