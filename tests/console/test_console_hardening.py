"""The console against hostile or odd input, over httpx's ASGI transport (no browser): ids too large
for the database, a non-ASCII CSRF token, guesses sent at once, a copied cookie after logout, values
from orders rendered, a name longer than the throttle's index takes, a cookie outliving its session,
huge forms. None may be a 500, a way in, a redirect loop, or a server's memory or disk filled."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from served_console import PASSWORD, USER, asgi_client as client_of, console_app, console_settings, logged_in, \
    token_of
from sync_world import line

HUGE = "9" * 25  # matches {order_id:int}; not an int64
CHUNK = 4096


class Sent:
    """A request body of `head` then `chunks` chunks of CHUNK bytes (`fill`), counting what the server read."""

    def __init__(self, chunks: int, head: bytes, fill: bytes = b"a" * CHUNK) -> None:
        self.chunks, self.head, self.fill, self.read = chunks, head, fill, 0

    async def __aiter__(self):
        for i in range(self.chunks):
            chunk = (self.head if i == 0 else b"") + self.fill
            self.read += len(chunk)
            yield chunk


async def app_of(world, **console):
    runtime = await world.runtime()
    return console_app(console_settings(runtime.settings, **console), {runtime.settings.pair: runtime})


async def test_a_huge_order_id_in_the_path_is_not_a_500(world):
    async with client_of(await app_of(world)) as client:
        await logged_in(client)
        answer = await client.get(f"/pairs/default/orders/{HUGE}")
        assert answer.status_code in (400, 404), answer.status_code


async def test_a_huge_invoice_number_in_the_search_is_not_a_500(world):
    async with client_of(await app_of(world)) as client:
        await logged_in(client)
        answer = await client.get("/search", params={"q": "BC-" + HUGE})
        assert answer.status_code in (200, 400, 404), answer.status_code


async def test_retry_and_resolve_of_a_huge_id_are_not_a_500(world):
    async with client_of(await app_of(world)) as client:
        csrf = await logged_in(client)
        retry = await client.post(f"/pairs/default/orders/{HUGE}/retry", data={"csrf_token": csrf})
        resolve = await client.post(f"/pairs/default/exceptions/{HUGE}/resolve", data={"csrf_token": csrf})
        assert (retry.status_code, resolve.status_code) in [(a, b) for a in (303, 400, 404) for b in (303, 400, 404)], \
            (retry.status_code, resolve.status_code)


async def test_a_non_ascii_csrf_token_is_a_403_not_a_500(world):
    async with client_of(await app_of(world)) as client:
        await client.get("/login")
        answer = await client.post("/login", data={"name": USER, "password": PASSWORD, "csrf_token": "é"})
        assert answer.status_code == 403, answer.status_code


async def test_parallel_wrong_passwords_get_no_more_than_the_limit_of_checks(world):
    """5 failures per name per 5 minutes: 30 guesses sent at once must not all be checked."""
    app = await app_of(world)
    async with client_of(app) as client:
        token = token_of((await client.get("/login")).text)

        async def guess(i):
            return (await client.post("/login", data={"name": USER, "password": f"guess {i}",
                                                      "csrf_token": token})).status_code

        statuses = await asyncio.gather(*(guess(i) for i in range(30)))
    checked = statuses.count(401)
    assert checked <= 5, f"{checked} passwords checked within the 5-failure limit: {statuses}"


async def test_a_session_cookie_is_dead_after_logout(world):
    async with client_of(await app_of(world)) as client:
        csrf = await logged_in(client)
        stolen = client.cookies["order_sync_console"]
        out = await client.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
    async with client_of(await app_of(world)) as other:
        other.cookies.set("order_sync_console", stolen)
        answer = await other.get("/settings")
        assert answer.status_code == 303, "the logged-out cookie still opens the console"


async def test_a_cookie_outliving_its_session_gets_the_login_form_not_a_redirect_loop(world):
    runtime = await world.runtime()
    app = console_app(console_settings(runtime.settings), {runtime.settings.pair: runtime})
    async with client_of(app) as client:
        await logged_in(client)
        # The day's session ends in the database; the browser still holds the cookie (a flash renews its Max-Age).
        with runtime.store.engine.begin() as conn:
            conn.execute(text("UPDATE console_session SET expires_at = :t"),
                         {"t": datetime.now(timezone.utc) - timedelta(seconds=1)})
        sent = await client.get("/failed")
        assert sent.status_code == 303 and sent.headers["location"].startswith("/login")
        form = await client.get(sent.headers["location"])
        assert form.status_code == 200 and 'name="password"' in form.text, "sent back to /failed: a redirect loop"
        await logged_in(client)  # and logging in again opens the console


async def test_a_huge_login_form_is_refused_unread(world):
    urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
    async with client_of(await app_of(world)) as client:
        token = token_of((await client.get("/login")).text)
        # 8 MB in fields of 4 KB (Starlette's own limits: 1000 fields of 1 MB each).
        body = Sent(2048, f"csrf_token={token}&name={USER}".encode(), b"&f=" + b"a" * (CHUNK - 3))
        answer = await client.post("/login", content=body, headers=urlencoded)
        assert answer.status_code == 413 and body.read <= 16 * 1024 + CHUNK, f"{body.read} bytes read"
        # A file part (spooled to disk if parsed): not a form the console sends.
        body = Sent(2048, b'--XX\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n')
        answer = await client.post("/login", content=body, headers={"Content-Type": "multipart/form-data; boundary=XX"})
        assert answer.status_code == 415 and body.read <= CHUNK * 2, f"{body.read} bytes read"
        csrf = await logged_in(client)  # a form of the usual size is read as before
        retry = await client.post("/pairs/default/orders/1/retry", content=Sent(2048, f"csrf_token={csrf}&back=".encode()),
                                  headers=urlencoded)
        assert retry.status_code == 413


async def test_order_values_are_escaped(world):
    world.overlap_seconds = 1
    order = world.add_order([line("TEE-L")], default_currency_code="EUR")  # parked, with an exception
    await world.cycle()
    runtime = await world.runtime()
    runtime.store.audit(platform="connector", action="note", bc_order_id=order,
                        reason="<script>alert(1)</script>")
    async with client_of(await app_of(world)) as client:
        await logged_in(client)
        page = (await client.get(f"/pairs/default/orders/{order}")).text
        assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


async def test_a_long_random_login_name_is_not_a_500(db_world):
    """The name is stored as the throttle's key (console_login_failure, btree index on key)."""
    import secrets as _s
    async with client_of(await app_of(db_world)) as client:
        token = token_of((await client.get("/login")).text)
        answer = await client.post("/login", data={"name": _s.token_urlsafe(20000), "password": "x",
                                                   "csrf_token": token})
        assert answer.status_code in (401, 400, 413, 429), answer.status_code
