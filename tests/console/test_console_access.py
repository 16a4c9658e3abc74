"""Issue 18, point 5: no page without login (a redirect to the login form), wrong passwords refused
and rate-limited, the session cookie HttpOnly and SameSite=Strict (Secure behind TLS), and every POST
refused (403) without its CSRF token — in a real browser."""

from __future__ import annotations

import httpx

from served_console import PASSWORD, USER, log_in, screenshot, serve
from sync_world import line

PAGES = ["/", "/failed", "/exceptions", "/settings", "/search?q=1", "/pairs/default/orders/100"]


async def test_every_page_asks_for_a_login_first(world, page):
    order = world.add_order([line("TEE-M")])
    await world.cycle()
    async with await serve(world) as console:
        for path in PAGES:
            await page.goto(console.url + path)
            assert "/login?next=" in page.url, path
            assert await page.is_visible("input[name=password]")
            assert "order-sync console" in await page.inner_text("h1")
        await screenshot(page, "console-login")
        # The buttons' POSTs too: nothing is done, the login form is the answer.
        answer = await page.request.post(console.url + f"/pairs/default/orders/{order}/retry",
                                         form={"csrf_token": "x"}, max_redirects=0)
        assert answer.status == 303 and answer.headers["location"].startswith("/login")

        # After logging in, the page first asked for.
        await page.goto(console.url + f"/pairs/default/orders/{order}")
        await page.fill("input[name=name]", USER)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_load_state()
        assert page.url == console.url + f"/pairs/default/orders/{order}"
        assert f"Order {order}" in await page.inner_text("h1")

        # Logging out ends the session: the pages ask for the login again.
        await page.click("text=Log out")
        await page.wait_for_load_state()
        await page.goto(console.url + "/")
        assert "/login" in page.url


async def test_wrong_passwords_are_refused_and_then_rate_limited(world, page):
    async with await serve(world) as console:
        await log_in(page, console.url, password="guess")
        assert "/login" in page.url and "Wrong name or password" in await page.inner_text("[role=alert]")
        await log_in(page, console.url, user="mallory", password=PASSWORD)
        assert "Wrong name or password" in await page.inner_text("[role=alert]")
        for attempt in range(4):
            await log_in(page, console.url, password=f"guess {attempt}")
        # Five failures for ann: now even her right password waits.
        await log_in(page, console.url)
        assert "/login" in page.url and "Too many failed logins" in await page.inner_text("[role=alert]")
        await screenshot(page, "console-login-limited")
        answer = await page.request.get(console.url + "/", max_redirects=0)
        assert answer.status == 303


async def test_the_session_cookie_is_httponly_strict_and_secure_behind_tls(world, page):
    async with await serve(world) as console:
        await log_in(page, console.url)
        assert await page.inner_text("h1") == "Overview"
        [cookie] = await page.context.cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
        assert USER not in cookie["value"] or "." in cookie["value"]  # signed, not a bare name
        # Behind a TLS proxy (X-Forwarded-Proto from a trusted address), the cookie is Secure.
        async with httpx.AsyncClient(base_url=console.url) as client:
            login = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
            assert "; secure" in login.headers["set-cookie"].lower()
            assert "httponly" in login.headers["set-cookie"].lower()
            plain = await client.get("/login")
            assert "secure" not in plain.headers["set-cookie"].lower()


async def test_a_post_without_its_csrf_token_is_refused(world, page):
    world.overlap_seconds = 1
    order = world.add_order([line("TEE-L")], default_currency_code="EUR")  # parked, with an exception
    await world.cycle()
    [exception] = world.store.exceptions()
    async with await serve(world) as console:
        await log_in(page, console.url)
        retry = console.url + f"/pairs/default/orders/{order}/retry"
        resolve = console.url + f"/pairs/default/exceptions/{exception.id}/resolve"
        for url in (retry, resolve):
            missing = await page.request.post(url, form={"back": "/"})
            wrong = await page.request.post(url, form={"csrf_token": "forged", "back": "/"})
            assert missing.status == 403 and wrong.status == 403
            assert "CSRF" in await wrong.text()
        # Nothing was done: still parked, still open, nothing audited.
        assert world.store.failures()[0].parked and world.store.count_open_exceptions() == 1
        assert {e.action for e in world.store.audit_entries(order)} & {"retry_requested", "resolve_exception"} == set()
        # The page's own token (from its form) is accepted.
        await page.goto(console.url + "/failed")
        token = await page.get_attribute("input[name=csrf_token]", "value")
        done = await page.request.post(retry, form={"csrf_token": token, "back": "/failed"})
        assert done.ok and not world.store.failures()[0].parked
        # Logging in is a POST too: a login without the form's token is refused.
        async with httpx.AsyncClient(base_url=console.url) as client:
            await client.get("/login")
            refused = await client.post("/login", data={"name": USER, "password": PASSWORD})
            assert refused.status_code == 403


async def test_the_failed_login_limit_is_shared_by_every_process_on_the_database(world, page):
    """Two servers (as `run` and a `serve`, or two `serve` behind a proxy) on one database: the
    failures made on one count on the other, so running more servers does not multiply the limit."""
    async with await serve(world) as first, await serve(world) as second:
        for attempt in range(5):
            await log_in(page, first.url, password=f"guess {attempt}")
            assert "Wrong name or password" in await page.inner_text("[role=alert]")
        await log_in(page, second.url)  # the right password, on the other server
        assert "/login" in page.url and "Too many failed logins" in await page.inner_text("[role=alert]")
