"""Issue 18: `order-sync run` in the embedded mode, and `order-sync serve`, serve the console at /
next to /healthz when console.enabled, and only then."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connector.clients.transport import RetryPolicy
from connector.console.app import console_routes
from connector.scheduler import daemon
from connector.server.serve import serve
from served_console import PASSWORD, USER, console_settings, log_in
from sync_world import line
from served_sandbox import free_port, wait_until_healthy


async def run_daemon(world, settings, command: str = "run"):
    """`order-sync run` (the daemon) or `order-sync serve`, in-process on the world's simulators."""
    stop = asyncio.Event()
    main = daemon if command == "run" else serve
    task = asyncio.create_task(main(settings, stop, bc_transport=world.bc.transport(),
                                    xs_transport=world.xs.transport(), clock=world.clock,
                                    retry=RetryPolicy(seed=2, base_delay=0.01)))
    return stop, task


@pytest.mark.parametrize("command", ["run", "serve"])
async def test_run_and_serve_serve_the_console(world, page, command):
    """The embedded daemon, and `order-sync serve` (the fleet's server, which runs no cycle)."""
    order = world.add_order([line("TEE-M", 1)])
    port = free_port()
    settings = console_settings(world.settings(interval_seconds=1 if command == "run" else 300))
    settings.server.port = port  # server.enabled stays false: the console alone starts run's server
    stop, task = await run_daemon(world, settings, command)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            await wait_until_healthy(client, task, command)
            assert (await client.get("/")).headers["location"] == "/login?next=%2F"
        await log_in(page, url, then=f"/pairs/default/orders/{order}")
        assert f"Order {order}" in await page.inner_text("h1")
        assert USER in await page.inner_text("header")
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0


async def test_the_console_is_off_unless_enabled(world):
    settings = world.settings(interval_seconds=1)
    assert console_routes(settings, {}) == []
    port = free_port()
    settings.server.enabled, settings.server.port = True, port
    stop, task = await run_daemon(world, settings)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await wait_until_healthy(client, task, "the daemon's server")
            assert (await client.get("/")).status_code == 404
            assert (await client.post("/login", data={"name": USER, "password": PASSWORD})).status_code == 404
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0
