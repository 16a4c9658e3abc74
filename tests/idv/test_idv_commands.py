"""The command line and the daemon: id-check, audit, the status summary, the sync and the webhook
server of `order-sync run`."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from connector.cli import build_parser
from connector.clock import SYSTEM_CLOCK
from connector.commands import show_status, sync_once
from connector.config import Settings
from connector.errors import ConfigError
from connector.idv.commands import id_check, show_audit
from connector.idv.webhook import PATH, SIGNATURE_HEADER, signature_for
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.faults import FaultConfig
from connector.sandbox.xseries import XSeriesSimulator
from connector.scheduler import daemon
from idv_world import CUSTOMER, SECRET, cart_line


def test_cli_accepts_the_new_commands():
    args = build_parser().parse_args(["id-check", "101", "failed", "--check-id", "chk-1"])
    assert (args.command, args.order_id, args.event, args.check_id) == ("id-check", 101, "failed", "chk-1")
    args = build_parser().parse_args(["audit", "--order", "101"])
    assert (args.command, args.order) == ("audit", 101)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["id-check", "101", "exploded"])


async def test_id_check_when_disabled_writes_nothing_and_says_so(world):
    order = world.add_order(status_id=11)
    out = io.StringIO()
    code = await id_check(world.settings(enabled=False), order, "failed", "chk-1", out=out,
                          bc_transport=world.transport, clock=world.clock)
    assert code == 0 and "skipped (disabled)" in out.getvalue()
    assert world.bc.request_log == [] and world.status(order) == 11
    assert [e.action for e in world.audit(order)] == ["idv_skipped_disabled"]


async def test_id_check_for_a_missing_order_fails_without_recording(world):
    out = io.StringIO()
    code = await id_check(world.settings(), 999, "passed", None, out=out, bc_transport=world.transport,
                          clock=world.clock)
    assert code == 1 and "not found" in out.getvalue() and world.audit(999) == []


async def test_id_check_whose_write_bigcommerce_refuses_exits_1(world):
    order = world.add_order(status_id=11)
    inner = world.transport

    class RefusePuts(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "PUT":
                return httpx.Response(422, json={"status": 422, "title": "The status cannot be set"})
            return await inner.handle_async_request(request)

    out = io.StringIO()
    code = await id_check(world.settings(), order, "failed", "chk-1", out=out, bc_transport=RefusePuts(),
                          clock=world.clock)
    assert code == 1 and "refused by BigCommerce" in out.getvalue() and world.status(order) == 11


async def test_audit_lists_every_decision_of_an_order(world):
    await world.start()
    a, b = world.add_order(status_id=11), world.add_order(status_id=2)
    await world.event(a, "started", "c1")
    await world.event(a, "submitted", "c1")
    await world.event(a, "started", "c0", at=world.clock.now() - timedelta(hours=1))
    await world.event(b, "failed", "c5")
    out = io.StringIO()
    show_audit(world.settings(), a, None, out=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all(f"order {a}" in line for line in lines)
    assert "→ written; status 11 Awaiting Fulfillment → 12 Manual Verification Required" in lines[0]
    assert "→ unchanged" in lines[1] and "→ skipped (stale event)" in lines[2]
    out = io.StringIO()
    show_audit(world.settings(), None, 1, out=out)
    assert out.getvalue().count("\n") == 1 and "skipped (protected)" in out.getvalue()


async def test_status_summarises_id_verification(world):
    await world.start()
    a, b = world.add_order(status_id=11), world.add_order(status_id=10)
    await world.event(a, "started", "c1")
    await world.event(b, "failed", "c2")
    out = io.StringIO()
    show_status(world.settings(), out=out)
    text = out.getvalue()
    assert "ID verification: on; decisions: written 1, skipped (protected) 1, skipped (disabled) 0" in text
    assert "orders by latest check: in_progress 1, passed 0, failed 1" in text
    assert "webhook: http://127.0.0.1:8787/webhooks/id-verification" in text
    assert "/webhooks/id-verification/default on order-sync's server" in text


def test_new_config_keys_have_defaults_and_are_validated():
    base = {"bigcommerce": {"store_hash": "abc", "access_token": "t"},
            "xseries": {"domain_prefix": "p", "token": "t", "outlet": "o", "register": "r"}}
    conf = Settings.model_validate(base).id_verification
    assert (conf.enabled, conf.webhook_host, conf.webhook_port) == (False, "127.0.0.1", 8787)
    with pytest.raises(Exception, match="webhook_port"):
        Settings.model_validate({**base, "id_verification": {"webhook_port": 70000}})


def _worlds():
    bc = BigCommerceSimulator(clock=SYSTEM_CLOCK, quota=100_000)
    xs = XSeriesSimulator(clock=SYSTEM_CLOCK, rate_limit=100_000)
    xs.add_product(sku="WINE-01", name="Barolo", price_excluding_tax=Decimal("30.00"), inventory=10)
    return bc, xs


def _settings(bc, xs, tmp_path, **idv) -> Settings:
    return Settings.model_validate({
        "bigcommerce": {"store_hash": bc.store_hash, "access_token": bc.access_token, "api_url": bc.base_url},
        "xseries": {"domain_prefix": xs.domain_prefix, "token": xs.token, "api_url": xs.base_url,
                    "outlet": "Main Outlet", "register": "Online Store"},
        "database_url": f"sqlite:///{tmp_path / 'daemon.db'}",
        "sync": {"start_at": SYSTEM_CLOCK.now() - timedelta(hours=1), "interval_seconds": 3600},
        "id_verification": {"enabled": True, "webhook_secret": SECRET, **idv},
    })


async def test_sync_polls_metafields_only_when_enabled_and_reports_a_failed_poll(tmp_path):
    bc, xs = _worlds()
    order = bc.add_order(customer=CUSTOMER, lines=[cart_line()], status_id=11)["id"]
    bc.set_metafield(order, "realid", "verification_status", "failed")
    options = dict(bc_transport=bc.transport(), xs_transport=xs.transport())
    assert await sync_once(_settings(bc, xs, tmp_path, enabled=False), **options) == 0
    assert not bc.request_log.matching("GET", "/metafields") and bc.order(order)["status_id"] == 11
    bc.faults.reconfigure(FaultConfig(share_5xx=1.0, path_filter="/v3/orders/metafields"))
    from connector.clients.transport import RetryPolicy

    assert await sync_once(_settings(bc, xs, tmp_path), retry=RetryPolicy(max_attempts=1), **options) == 1
    out = io.StringIO()  # exit 1 and the log are not all: `status` says why too, as for the daemon
    show_status(_settings(bc, xs, tmp_path), out=out)
    failure = out.getvalue().split("last failure:")[1].splitlines()[0]
    assert "cycle of `sync`" in failure and "ID-verification metafield poll" in failure, failure
    bc.faults.reconfigure(FaultConfig())
    assert await sync_once(_settings(bc, xs, tmp_path), **options) == 0
    assert bc.order(order)["status_id"] == 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_daemon_serves_the_webhook_and_polls_each_cycle(tmp_path):
    bc, xs = _worlds()
    by_webhook = bc.add_order(customer=CUSTOMER, lines=[cart_line()], status_id=11)["id"]
    by_metafield = bc.add_order(customer=CUSTOMER, lines=[cart_line()], status_id=11)["id"]
    bc.set_metafield(by_metafield, "realid", "verification_status", "pending")
    port = _free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(daemon(_settings(bc, xs, tmp_path, webhook_port=port), stop,
                                      bc_transport=bc.transport(), xs_transport=xs.transport()))
    body = json.dumps({"order_id": by_webhook, "event": "failed", "check_id": "chk-1",
                       "occurred_at": SYSTEM_CLOCK.now().isoformat()}).encode()
    try:
        response = None
        async with httpx.AsyncClient() as client:
            for _ in range(500):  # wait (at most ~5 s) for the daemon to listen
                try:
                    response = await client.post(f"http://127.0.0.1:{port}{PATH}", content=body,
                                                 headers={SIGNATURE_HEADER: signature_for(SECRET, body)})
                    break
                except httpx.ConnectError:
                    assert not task.done(), task
                    await asyncio.sleep(0.01)
        assert response is not None and response.status_code == 200
        assert bc.order(by_webhook)["status_id"] == 6
        for _ in range(500):
            if bc.order(by_metafield)["status_id"] == 12:
                break
            await asyncio.sleep(0.01)
        assert bc.order(by_metafield)["status_id"] == 12  # the first cycle's metafield poll
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0
    with pytest.raises(httpx.ConnectError):  # the server stopped with the daemon
        async with httpx.AsyncClient() as client:
            await client.post(f"http://127.0.0.1:{port}{PATH}", content=body)


async def test_daemon_refuses_to_start_on_a_status_name_the_store_does_not_have(tmp_path):
    bc, xs = _worlds()
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "id_verification.yaml").write_text(
        "stages:\n  in_progress: 12\n  passed: 11\n  failed: ID rejected\nprotected: [2]\n")
    settings = _settings(bc, xs, tmp_path).model_copy(update={"mappings_dir": str(folder)})
    with pytest.raises(ConfigError, match="no status named 'ID rejected'"):
        await daemon(settings, asyncio.Event(), bc_transport=bc.transport(), xs_transport=xs.transport())


async def test_daemon_records_a_failed_metafield_poll_for_status(tmp_path):
    """The one-shot sync exits 1 when the metafield poll fails; the daemon goes on with the mirror,
    but `status` must still say the poll failed, not only the log."""
    from connector.clients.transport import RetryPolicy

    bc, xs = _worlds()
    bc.add_order(customer=CUSTOMER, lines=[cart_line()], status_id=11)
    bc.faults.reconfigure(FaultConfig(share_5xx=1.0, path_filter="/v3/orders/metafields"))
    settings = _settings(bc, xs, tmp_path)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon(settings, stop, retry=RetryPolicy(max_attempts=1),
                                      bc_transport=bc.transport(), xs_transport=xs.transport()))
    try:
        out = ""
        for _ in range(500):
            assert not task.done(), task
            buffer = io.StringIO()
            show_status(settings, out=buffer)
            out = buffer.getvalue()
            if "last cycle: started" in out and "last failure: none" not in out:
                break
            await asyncio.sleep(0.01)
        assert "ok" in out.split("last cycle:")[1].splitlines()[0]  # the mirror itself went well
        failure = out.split("last failure:")[1].splitlines()[0]
        assert "cycle of `run`" in failure and "ID-verification metafield poll" in failure
        assert "a later cycle went well" not in failure
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0


async def test_id_check_started_by_a_person_after_a_verdict_starts_the_check_over(world):
    """`id-check ORDER started` without --check-id is a person acting now, after the failed verdict
    of the order's check (a person's or Real ID's): the order goes back to in progress, not judged a
    late step of the finished check and ignored without a word."""
    await world.start()
    order = world.add_order(status_id=11)
    await world.event(order, "started", "chk-1")
    in_progress = world.status(order)
    out = io.StringIO()
    assert await id_check(world.settings(), order, "failed", None, out=out, bc_transport=world.transport,
                          clock=world.clock) == 0
    assert world.status(order) != in_progress
    world.clock.advance(24 * 3600)
    out = io.StringIO()
    code = await id_check(world.settings(), order, "started", None, out=out, bc_transport=world.transport,
                          clock=world.clock)
    assert code == 0 and "stale" not in out.getvalue().lower(), out.getvalue()
    assert world.status(order) == in_progress, out.getvalue()


async def test_an_unreadable_id_verification_table_stops_nothing_while_id_verification_is_off(tmp_path):
    """id_verification.yaml unreadable (here a folder): with ID verification off, sync mirrors and
    id-check says it is off, as with no such file; on, it is a configuration error naming the file."""
    bc, xs = _worlds()
    order = bc.add_order(customer=CUSTOMER, lines=[cart_line()], status_id=11)["id"]
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "id_verification.yaml").mkdir()
    options = dict(bc_transport=bc.transport(), xs_transport=xs.transport())
    off = _settings(bc, xs, tmp_path, enabled=False).model_copy(update={"mappings_dir": tmp_path / "maps"})
    assert await sync_once(off, **options) == 0
    assert xs.sales_of_order(order)
    out = io.StringIO()
    assert await id_check(off, order, "failed", "chk-1", out=out, bc_transport=bc.transport()) == 0
    assert "skipped (disabled)" in out.getvalue()
    on = off.model_copy(update={"id_verification": off.id_verification.model_copy(update={"enabled": True})})
    with pytest.raises(ConfigError, match="id_verification.yaml"):
        await sync_once(on, **options)
