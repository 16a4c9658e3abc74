"""Issue 18, point 5: the session cookie is signed with console.session_secret when given, else
with a key order-sync generates once and keeps in its state database (migration 12), which every
process on that database shares."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from connector.console.app import console_app
from connector.console.secret import session_key
from connector.store import migrations
from connector.store.db import make_engine
from connector.store.migrations import applied_versions, migrate
from served_console import PASSWORD, USER, console_settings


def settings_on(world, **console):
    return console_settings(world.settings(), **console)


async def logged_in_cookie(app) -> str:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c") as client:
        form = (await client.get("/login")).text
        token = form.split('name="csrf_token" value="')[1].split('"')[0]
        answer = await client.post("/login", data={"name": USER, "password": PASSWORD, "csrf_token": token})
        assert answer.status_code == 303
        return client.cookies["order_sync_console"]


async def page_status(app, cookie: str) -> int:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c",
                                 cookies={"order_sync_console": cookie}) as client:
        return (await client.get("/settings")).status_code


async def test_the_generated_key_is_kept_in_the_database(db_world):
    settings = settings_on(db_world)
    key = session_key(settings)
    assert len(key) >= 48 and session_key(settings) == key  # generated once
    engine = make_engine(settings.database_url)
    try:
        assert 12 in applied_versions(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT value FROM console_secret")).scalars().all() == [key]
    finally:
        engine.dispose()
    # A session made by one process is good in another (a restart) on the same database.
    runtime = await db_world.runtime()
    cookie = await logged_in_cookie(console_app(settings, {"default": runtime}))
    assert await page_status(console_app(settings, {"default": runtime}), cookie) == 200


async def test_a_given_secret_signs_the_cookie(world, monkeypatch):
    runtime = await world.runtime()
    given = settings_on(world, session_secret="a secret from the environment")
    assert session_key(given) == "a secret from the environment"
    assert "a secret from the environment" in given.secrets()
    cookie = await logged_in_cookie(console_app(given, {"default": runtime}))
    assert await page_status(console_app(given, {"default": runtime}), cookie) == 200
    # Signed with another key (the generated one): not a session here, the login form instead.
    assert await page_status(console_app(settings_on(world), {"default": runtime}), cookie) == 303


def test_a_migration_numbered_below_an_applied_one_is_still_applied(tmp_path, monkeypatch):
    """A database that got 12 before 11 existed (11 and 12 were written side by side) still gets 11."""
    engine = make_engine(f"sqlite:///{tmp_path / 'gap.db'}")
    try:
        everything = list(migrations.MIGRATIONS)
        with monkeypatch.context() as m:
            m.setattr(migrations, "MIGRATIONS", [mig for mig in everything if mig[0] != 11])
            migrate(engine)
        assert 11 not in applied_versions(engine) and 12 in applied_versions(engine)
        ran = []
        monkeypatch.setattr(migrations, "MIGRATIONS", [
            (v, d, (lambda conn: ran.append(11)) if v == 11 else apply) for v, d, apply in everything])
        assert migrate(engine) == [11] and ran == [11]
        assert migrate(engine) == []
    finally:
        engine.dispose()
