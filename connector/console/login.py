"""The login form, its check against console.users, and logging out."""

from __future__ import annotations

import logging
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from connector.console.access import local_target
from connector.console.passwords import dummy_hash, verify_password

log = logging.getLogger("connector.console")


async def form(console, request: Request) -> Response:
    user = request.session.get("user")
    if user in console.users():
        if await run_in_threadpool(console.sessions.live, request.session.get("sid"), user):
            return RedirectResponse(local_target(request.query_params.get("next")), status_code=303)
        # Its session ended (logged out, past its day) while the cookie lives on: sent back to the
        # page, LoginRequired would send here again, for ever. Forgotten: the form is shown.
        request.session.clear()
    return console.render(request, "login.html", next=local_target(request.query_params.get("next")))


async def submit(console, request: Request, data) -> Response:
    name = str(data.get("name") or "").strip()
    password = str(data.get("password") or "")
    target = local_target(data.get("next"))
    address = request.client.host if request.client else "unknown"
    # The failures are in the database, shared by every process serving the console.
    wait, attempt = await run_in_threadpool(console.failed_logins.attempt, address, name)
    if attempt is None:
        log.warning("console: login refused, too many failed logins (from %s)", address)
        return console.render(request, "login.html", status_code=429, next=target, name=name,
                              error=f"Too many failed logins: try again in {int(wait) + 1} s.")
    stored = console.users().get(name)
    # scrypt is slow on purpose: off the event loop, so the sync and other pages go on meanwhile.
    good = await run_in_threadpool(verify_password, password, stored or dummy_hash())
    if not good or stored is None:  # counted as failed already, by attempt()
        # An unknown name is not logged: it is sometimes a password typed in the wrong field.
        log.warning("console: failed login (%s, from %s)", f"user {name!r}" if stored else "an unknown user", address)
        return console.render(request, "login.html", status_code=401, next=target, name=name,
                              error="Wrong name or password.")
    await run_in_threadpool(console.failed_logins.succeeded, address, name, attempt)
    # A new session on login: nothing set before it (a planted cookie) carries over.
    request.session.clear()
    sid = await run_in_threadpool(console.sessions.open, name)
    request.session.update(user=name, sid=sid, csrf=secrets.token_urlsafe(32))
    log.info("console: %s logged in from %s", name, address)
    return RedirectResponse(target, status_code=303)


async def logout(console, request: Request, data) -> Response:
    # Ended in the database too: a copy of the cookie (another browser, a stolen one) is out as well.
    await run_in_threadpool(console.sessions.close, request.session.get("sid"))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
