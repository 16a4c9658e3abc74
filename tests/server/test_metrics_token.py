"""/metrics behind server.metrics_token: when the key is set, `order-sync serve` and `order-sync run`
answer /metrics only to `Authorization: Bearer <token>` (401 otherwise); unset, /metrics answers
everyone as before, and the process says once, at start, that it is open."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr

from connector.config import load_settings
from connector.errors import ConfigError
from connector.scheduler import daemon
from connector.server.serve import serve
from served_sandbox import free_port, wait_until_healthy  # tests/sync, on the path

TOKEN = "a-scraper-token-from-the-environment"
OPEN_WARNING = "/metrics answers without a token"


@asynccontextmanager
async def served(entry, world, token: str | None):
    """serve (or run, with server.enabled) on a free port, server.metrics_token as given: a client
    of it once healthy; the process is stopped after and must exit 0."""
    port = free_port()
    settings = world.settings(interval_seconds=300)
    settings.server.enabled, settings.server.port = True, port
    if token is not None:  # else left as the configuration leaves it
        settings.server.metrics_token = SecretStr(token)
    stop = asyncio.Event()
    running = world.launch(entry, settings, stop)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await wait_until_healthy(client, running)
            yield client
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 10) == 0


def open_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and OPEN_WARNING in r.getMessage()]


@pytest.mark.parametrize("entry", [serve, daemon], ids=["serve", "run"])
async def test_a_metrics_token_is_required_once_set(world, caplog, entry):
    caplog.set_level(logging.INFO)
    async with served(entry, world, TOKEN) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": "Bearer"}, {"Authorization": f"Bearer {TOKEN}x"}):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401, (headers, refused.status_code)
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "order_sync_" not in refused.text
        good = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert good.status_code == 200 and "order_sync_orders_failed" in good.text
        # Health stays open to the service manager and the proxy's checks.
        assert (await client.get("/healthz")).status_code == 200
    assert open_warnings(caplog) == []
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("entry", [serve, daemon], ids=["serve", "run"])
async def test_without_a_token_metrics_stays_open_and_the_start_says_so_once(world, caplog, entry):
    caplog.set_level(logging.INFO)
    async with served(entry, world, None) as client:
        for _ in range(2):
            page = await client.get("/metrics")
            assert page.status_code == 200 and "order_sync_orders_failed" in page.text
    (warning,) = open_warnings(caplog)
    assert "server.metrics_token" in warning.getMessage() and "internal" in warning.getMessage()


CONFIG = """\
bigcommerce: {store_hash: abc123, access_token: "${BC_TOKEN}"}
xseries: {domain_prefix: mystore, token: "${XS_TOKEN}", outlet: Main Outlet, register: Online Store}
server:
  metrics_token: ${ORDER_SYNC_METRICS_TOKEN}
"""
ENV = {"BC_TOKEN": "bc", "XS_TOKEN": "xs"}


def test_the_token_comes_from_the_environment_and_is_a_secret(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    settings = load_settings(path, environ={**ENV, "ORDER_SYNC_METRICS_TOKEN": TOKEN})
    assert settings.server.metrics_token.get_secret_value() == TOKEN
    assert TOKEN in settings.secrets() and TOKEN not in repr(settings)  # masked in the logs
    with pytest.raises(ConfigError) as unset:  # named, but not set: not quietly open
        load_settings(path, environ=ENV)
    assert "server.metrics_token" in str(unset.value) and "ORDER_SYNC_METRICS_TOKEN" in str(unset.value)
    with pytest.raises(ConfigError) as empty:  # set, but empty: a token anyone could send
        load_settings(path, environ={**ENV, "ORDER_SYNC_METRICS_TOKEN": ""})
    assert "server.metrics_token" in str(empty.value)
