"""The console as `order-sync run` serves it (ops_app + console_routes, uvicorn on a free localhost
port in the test's own event loop) over a sync world, and the steps a person takes in Chromium."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from connector.config import Settings
from connector.console.app import console_routes
from connector.console.passwords import hash_password
from connector.idv.server import WebhookServer
from connector.mapping.tables import DEFAULTS_DIR
from connector.runtime import Runtime
from connector.server.metrics import PairMetrics
from connector.server.ops import ops_app
from connector.store.repository import Store

USER, PASSWORD = "ann", "correct horse battery staple"
PASSWORD_HASH = hash_password(PASSWORD)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def console_settings(settings: Settings, **console: Any) -> Settings:
    """The world's settings with the console on, ann its one user."""
    data = settings.model_dump(by_alias=True)
    data["console"] = {"enabled": True, "users": [{"name": USER, "password_hash": PASSWORD_HASH}], **console}
    return Settings.model_validate(data)


def console_app(settings: Settings, runtimes: dict):
    """The ASGI app `order-sync run` serves, console included."""
    return ops_app(runtimes, PairMetrics(runtimes), console_routes(settings, runtimes))


def asgi_client(app) -> httpx.AsyncClient:
    """A client of `app` without a server or a browser."""
    # raise_app_exceptions=False: an unhandled error is the 500 a browser would see.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                             base_url="http://c")


def token_of(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


async def logged_in(client) -> str:
    """ann logged in over `client`: the CSRF token of her session."""
    token = token_of((await client.get("/login")).text)
    answer = await client.post("/login", data={"name": USER, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303
    return token_of((await client.get("/failed")).text)


def pair_config(name: str, world) -> dict:
    """A `pairs:` entry for a sync world's two simulators."""
    return {"name": name,
            "bigcommerce": {"store_hash": world.bc.store_hash, "access_token": world.bc.access_token,
                            "api_url": world.bc.base_url},
            "xseries": {"domain_prefix": world.xs.domain_prefix, "token": world.xs.token,
                        "api_url": world.xs.base_url, "outlet": "Main Outlet", "register": "Online Store"}}


@asynccontextmanager
async def two_pairs(url: str, north, south) -> AsyncIterator[tuple[Settings, dict]]:
    """Pairs north and south (two sync worlds) on one database: their settings and started runtimes."""
    settings = Settings.model_validate({
        "pairs": [pair_config("north", north), pair_config("south", south)], "database_url": url,
        "mappings_dir": str(DEFAULTS_DIR), "sync": {"start_at": north.start_at, "overlap_seconds": 1}})
    store = Store.open(url, clock=north.clock)
    runtimes = {}
    try:
        for view, world in zip(settings.pair_settings(), (north, south)):
            runtimes[view.pair] = await Runtime.start(view, bc_transport=world.bc.transport(),
                                                      xs_transport=world.xs.transport(), clock=north.clock,
                                                      store=store)
        yield settings, runtimes
    finally:
        for runtime in runtimes.values():
            await runtime.aclose()
        store.close()


class ServedConsole:
    def __init__(self, settings: Settings, runtimes: dict) -> None:
        self.settings, self.runtimes = settings, runtimes
        app = ops_app(runtimes, PairMetrics(runtimes), console_routes(settings, runtimes))
        self.server = WebhookServer(app, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.port}"

    async def __aenter__(self) -> "ServedConsole":
        await self.server.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.server.stop()


async def serve(world, **console: Any) -> ServedConsole:
    runtime = await world.runtime()
    return ServedConsole(console_settings(runtime.settings, **console), {runtime.settings.pair: runtime})


async def log_in(page, url: str, *, user: str = USER, password: str = PASSWORD, then: str = "/") -> None:
    await page.goto(url + then)
    await page.fill("input[name=name]", user)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()


async def screenshot(page, name: str) -> None:
    """For a person to look at: tests/artifacts/NAME.png (ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def find_order(page, query: str) -> None:
    """The search box of every page."""
    await page.fill("input[name=q]", query)
    await page.press("input[name=q]", "Enter")
    await page.wait_for_load_state()


async def timeline_actions(page) -> list[str]:
    return [a.strip() for a in await page.locator("table.timeline tr.entry td.action").all_inner_texts()]


def text(html: str) -> str:
    return re.sub(r"\s+", " ", html)
