"""Who may see the console: the session cookie, login required on every page, CSRF on every POST,
and the limit on failed logins. The cookie is Starlette's SessionMiddleware (signed by
itsdangerous), HttpOnly and SameSite=Strict, and Secure when the request came over TLS."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote

from sqlalchemy import Engine, delete, insert, select, text
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from connector.server.bodies import read_limited
from connector.store.db import make_engine
from connector.store.migrations import migrate
from connector.store.console_tables import ConsoleLoginFailure, ConsoleSession

COOKIE = "order_sync_console"
SESSION_SECONDS = 12 * 3600  # a working day; then the login form again
LOGIN_PATH = "/login"
CSRF_FIELD = "csrf_token"
URLENCODED = "application/x-www-form-urlencoded"  # what a browser sends for the console's forms
FORM_BYTES = 16 * 1024  # the console's forms carry a few short fields


class SessionCookies:
    """SessionMiddleware twice: the cookie gets Secure when the request came over TLS (uvicorn sets
    the scheme from X-Forwarded-Proto behind a trusted proxy), and stays usable over plain local HTTP."""

    def __init__(self, app: ASGIApp, secret_key: str) -> None:
        options = dict(session_cookie=COOKIE, max_age=SESSION_SECONDS, same_site="strict")
        self.plain = SessionMiddleware(app, secret_key, https_only=False, **options)
        self.tls = SessionMiddleware(app, secret_key, https_only=True, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = self.tls if scope.get("scheme") in ("https", "wss") else self.plain
        await chosen(scope, receive, send)


class LoginRequired:
    """Every path but the login form's redirects to it without a logged-in user that the config
    still lists (a user taken out of console.users is out at once), in a session not ended."""

    def __init__(self, app: ASGIApp, users: Callable[[], set[str]], sessions: "ConsoleSessions") -> None:
        self.app = app
        self.users = users
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != LOGIN_PATH:
            session = scope["session"]
            user = session.get("user")
            if user not in self.users() or not await run_in_threadpool(self.sessions.live, session.get("sid"), user):
                target = scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
                response = RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use; every form carries it."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def checked_form(request: Request) -> FormData:
    """The POST's form, once its CSRF token matches the session's; else 403. Anyone can send one (a
    login's is read before any check): only a form as the console sends it is read, urlencoded (else
    415: no file part spooled to disk) and of at most FORM_BYTES (else 413, the rest left unread)."""
    if request.headers.get("content-type", "").partition(";")[0].strip().lower() != URLENCODED:
        raise HTTPException(415, "the console takes only its own forms")
    body = await read_limited(request, FORM_BYTES)
    if body is None:
        raise HTTPException(413, "form too large")
    # As Starlette's FormParser reads one: names and values percent-decoded as UTF-8.
    form = FormData(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    given, expected = form.get(CSRF_FIELD), request.session.get("csrf")
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 403).
    if not isinstance(given, str) or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return form


def csrf_protected(handler: Callable[[Request, FormData], Awaitable]) -> Callable[[Request], Awaitable]:
    """Every POST route is registered through this: the token is checked before the handler runs."""
    async def endpoint(request: Request):
        return await handler(request, await checked_form(request))

    return endpoint


def local_target(value: object, default: str = "/") -> str:
    """A redirect target of this site only (never //host or http://…)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


class _StateTable:
    """A console table in the state database, shared by every process serving the console. Its
    methods block on the database: call them off the event loop."""

    def __init__(self, database_url: str, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.database_url, self.clock = database_url, clock
        self._engine: Engine | None = None

    def _connect(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.database_url)
            migrate(self._engine)
        return self._engine


class ConsoleSessions(_StateTable):
    """Logins, each until logout or SESSION_SECONDS after it: the signed cookie only names one, by a
    random token of which the database keeps only a hash (_digest)."""

    def open(self, user: str) -> str:
        now, sid = self.clock(), secrets.token_urlsafe(32)
        with self._connect().begin() as conn:
            conn.execute(delete(_SESSIONS).where(_SESSIONS.c.expires_at <= now))  # ended
            conn.execute(insert(_SESSIONS).values(token_hash=_digest(sid), user=user,
                                                  expires_at=now + timedelta(seconds=SESSION_SECONDS)))
        return sid

    def live(self, sid: object, user: str) -> bool:
        if not isinstance(sid, str):
            return False
        # Looked up by the digest: the index lookup's timing tells at most how much of a digest
        # matches, which does not help find a token that hashes to it.
        with self._connect().connect() as conn:
            return conn.execute(select(_SESSIONS.c.user).where(
                _SESSIONS.c.token_hash == _digest(sid), _SESSIONS.c.user == user,
                _SESSIONS.c.expires_at > self.clock())).first() is not None

    def close(self, sid: object) -> None:
        if isinstance(sid, str):
            with self._connect().begin() as conn:
                conn.execute(delete(_SESSIONS).where(_SESSIONS.c.token_hash == _digest(sid)))


def _digest(sid: str) -> str:
    """What the database keeps of a session's token. A plain SHA-256 suffices (no salt, no slow hash):
    the token is 256 random bits, so there is no dictionary to try against it."""
    return hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()


class FailedLogins(_StateTable):
    """At most `limit` failed logins per client address and per user name in `window` seconds;
    past that, logins are refused (even with the right password) until the oldest failure ages out.

    The failures are kept in the state database (console_login_failure), not in this process: every
    process serving the console (`run`, several `serve` behind a proxy) counts them together."""

    def __init__(self, database_url: str, limit: int = 5, window: float = 300.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        super().__init__(database_url, clock)
        self.limit, self.window = limit, timedelta(seconds=window)

    def attempt(self, address: str, name: str) -> tuple[float, datetime | None]:
        """(0, its time) when a login may be tried now, counted as failed until succeeded() says
        otherwise; else (how long until one may, None). Counted before the password is checked, in
        one transaction that concurrent attempts wait for: guesses sent at once get no more checks
        than the limit (checked first and counted after, each passed the count of none)."""
        now = self.clock()
        with self._connect().begin() as conn:
            if conn.dialect.name == "postgresql":  # SQLite's first write already serializes writers
                conn.execute(text(f"LOCK TABLE {_FAILURES.name} IN SHARE ROW EXCLUSIVE MODE"))
            conn.execute(delete(_FAILURES).where(_FAILURES.c.at <= now - self.window))  # aged out
            waits = []
            for key in _keys(address, name):
                # The newest `limit` failures in the window: when there are that many, a login may be
                # tried again once the oldest of them ages out.
                recent = select(_FAILURES.c.at).where(_FAILURES.c.key == key, _FAILURES.c.at > now - self.window)
                times = conn.execute(recent.order_by(_FAILURES.c.at.desc()).limit(self.limit)).scalars().all()
                if len(times) >= self.limit:
                    waits.append((self.window - (now - times[-1])).total_seconds())
            if waits:
                return max(waits), None
            conn.execute(insert(_FAILURES), [{"key": key, "at": now} for key in _keys(address, name)])
        return 0.0, now

    def succeeded(self, address: str, name: str, at: datetime) -> None:
        """The attempt counted at `at` was a good login: it is not a failure."""
        with self._connect().begin() as conn:
            conn.execute(delete(_FAILURES).where(_FAILURES.c.key.in_(_keys(address, name)), _FAILURES.c.at == at))

_FAILURES = ConsoleLoginFailure.__table__
_SESSIONS = ConsoleSession.__table__


def _keys(address: str, name: str) -> tuple[str, str]:
    # A name longer than any user's is cut: the key column is indexed (PostgreSQL refuses an index
    # row over 8 KB), and no such name is a user's anyway.
    return f"address {address}", f"user {name.casefold()[:200]}"
