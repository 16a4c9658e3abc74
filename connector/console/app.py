"""The console's Starlette app and the one function a server mounts: console_routes()."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.templating import Jinja2Templates

from connector.config import Settings
from connector.console import actions, login, orders, overview, settings_page
from connector.console.access import (
    ConsoleSessions,
    FailedLogins,
    LoginRequired,
    SessionCookies,
    csrf_protected,
    csrf_token,
)
from connector.console.secret import session_key


class IdConvertor(IntegerConvertor):
    """An id in a path: at most 18 digits, a 64-bit integer as the tables' ids are; a longer one is a
    404, not a database error (a 500)."""

    regex = "[0-9]{1,18}"


register_url_convertor("id", IdConvertor())

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass
class Console:
    """What every page reads: the configuration, the pairs' runtimes (pair → Runtime, filled as the
    pairs start) and the state of this process's console."""

    settings: Settings
    runtimes: dict
    templates: Jinja2Templates = field(default_factory=lambda: Jinja2Templates(directory=TEMPLATES))
    failed_logins: FailedLogins | None = None  # in the state database: shared by every process
    sessions: ConsoleSessions | None = None  # likewise
    statuses: dict = field(default_factory=dict)  # pair → (read at, the store's order statuses)

    def users(self) -> dict[str, str]:
        return {u.name: u.password_hash for u in self.settings.console.users}

    def pairs(self) -> list[str]:
        return [view.pair for view in self.settings.pair_settings()]

    def render(self, request: Request, template: str, status_code: int = 200, **context) -> Response:
        context.update(user=request.session.get("user"), csrf=csrf_token(request),
                       flash=request.session.pop("flash", None), pairs=self.pairs())
        return self.templates.TemplateResponse(request, template, context, status_code=status_code)


def console_app(settings: Settings, runtimes: dict, *, failed_logins: FailedLogins | None = None) -> Starlette:
    console = Console(settings, runtimes, failed_logins=failed_logins or FailedLogins(settings.database_url),
                      sessions=ConsoleSessions(settings.database_url))

    def page(handler):
        async def endpoint(request: Request) -> Response:
            return await handler(console, request)
        return endpoint

    def post(handler):
        async def endpoint(request: Request, form) -> Response:
            return await handler(console, request, form)
        return csrf_protected(endpoint)

    routes = [
        Route("/login", page(login.form), methods=["GET"]),
        Route("/login", post(login.submit), methods=["POST"]),
        Route("/logout", post(login.logout), methods=["POST"]),
        Route("/", page(overview.overview_page)),
        Route("/search", page(orders.search)),
        Route("/pairs/{pair}/orders/{order_id:id}", page(orders.order_page)),
        Route("/failed", page(actions.failed_page)),
        Route("/exceptions", page(actions.exceptions_page)),
        Route("/settings", page(settings_page.settings_page)),
        Route("/pairs/{pair}/orders/{order_id:id}/retry", post(actions.retry), methods=["POST"]),
        Route("/pairs/{pair}/exceptions/{exception_id:id}/resolve", post(actions.resolve), methods=["POST"]),
    ]
    # Outermost first: the session cookie, then the login check, then the pages.
    return Starlette(routes=routes, middleware=[
        Middleware(SessionCookies, secret_key=session_key(settings)),
        Middleware(LoginRequired, users=lambda: set(console.users()), sessions=console.sessions),
    ])


def console_routes(settings: Settings, runtimes: dict) -> list[BaseRoute]:
    """The console at / for a server's routes (after its own: /healthz, /metrics… are matched
    first), or nothing when console.enabled is false. `runtimes`: pair → Runtime, filled as pairs start."""
    if not settings.console.enabled:
        return []
    return [Mount("", app=console_app(settings, runtimes))]
