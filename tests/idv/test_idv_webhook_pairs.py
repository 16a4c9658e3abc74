"""The ID-verification webhook's replay store on a fleet's database: each pair's deliveries are its
own, so one pair's event is never refused as a replay of another's."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import httpx
import pytest
from sqlmodel import select

from connector.clock import FakeClock
from connector.config import load_settings
from connector.errors import ConfigError
from connector.idv.decision import Outcome
from connector.idv.webhook import PATH, SIGNATURE_HEADER, SqlDeliveryLog, WebhookReceiver, signature_for
from connector.store.repository import Store
from connector.store.webhook_deliveries import IdvWebhookDelivery
import idv_world

# Each store's Real ID app signs with its own secret: a configuration sharing one is refused
# (tests/test_config_idv_secrets.py), since the body names no store.
SECRETS = {"north": "north-app-secret", "south": "south-app-secret"}


class RecordingEngine:
    """Stands in for a pair's IdvEngine: what reached it is what the receiver let through."""

    def __init__(self) -> None:
        self.events: list = []

    async def handle(self, event):
        self.events.append(event)
        return SimpleNamespace(outcome=Outcome.WRITTEN, order_id=event.order_id, check_id=event.check_id,
                               before=11, after=12, reason="test")


def _receiver(store: Store, engine: RecordingEngine, clock: FakeClock) -> WebhookReceiver:
    return WebhookReceiver(engine=engine, secret=SECRETS[store.pair], tolerance_seconds=300, clock=clock,
                           deliveries=SqlDeliveryLog(store))


async def _post(receiver: WebhookReceiver, body: bytes, secret: str) -> int:
    transport = httpx.ASGITransport(app=receiver.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://order-sync.local") as client:
        response = await client.post(PATH, content=body, headers={SIGNATURE_HEADER: signature_for(secret, body)})
    return response.status_code


async def test_one_pairs_delivery_is_refused_by_another_and_each_pairs_replays_are_its_own(database_url):
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))
    north = Store.open(database_url, clock=clock, pair="north")
    south = north.for_pair("south")
    try:
        north_engine, south_engine = RecordingEngine(), RecordingEngine()
        north_hook, south_hook = _receiver(north, north_engine, clock), _receiver(south, south_engine, clock)
        # Two merchants' orders 100, both passed at the same second: the same body from two senders.
        body = json.dumps({"order_id": 100, "event": "passed", "check_id": "chk-1",
                           "occurred_at": clock.now().isoformat()}).encode()

        assert await _post(north_hook, body, SECRETS["north"]) == 200
        assert await _post(south_hook, body, SECRETS["north"]) == 401  # north's event never moves south's order
        assert south_engine.events == []
        assert await _post(south_hook, body, SECRETS["south"]) == 200  # south's own, not a replay of north's
        assert await _post(north_hook, body, SECRETS["north"]) == 409  # north's replay is still refused
        assert (len(north_engine.events), len(south_engine.events)) == (1, 1)

        with north.session() as s:
            rows = sorted(row.pair for row in s.exec(select(IdvWebhookDelivery)))
        assert rows == ["north", "south"]
    finally:
        north.close()


def test_forgetting_and_expiring_a_delivery_touch_only_the_pairs_own(database_url):
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))
    north = Store.open(database_url, clock=clock, pair="north")
    south = north.for_pair("south")
    try:
        north_log, south_log = (SqlDeliveryLog(s, configured=["north", "south"]) for s in (north, south))
        now, keep = clock.now(), timedelta(minutes=10)
        assert north_log.claim("d1", now, keep) and south_log.claim("d1", now, keep)
        north_log.release("d1")  # north's handling failed: north may be sent it again, south's stays
        assert north_log.claim("d1", now, keep) and not south_log.claim("d1", now, keep)

        later = now + timedelta(minutes=5)
        # South keeps its deliveries for a shorter window: its clean-up must not drop north's.
        assert south_log.claim("d2", later, timedelta(minutes=1))
        assert not north_log.claim("d1", later, keep)
    finally:
        north.close()


async def test_expiry_drops_the_day_old_deliveries_of_a_pair_this_process_does_not_know(world):
    """A removed pair receives nothing: its rows a day old protect nothing, and none of its own claims
    would ever expire them. Younger ones stay: in a rolling change of the config file the pair may be
    one the other deployment has just added, still receiving, with a window longer than ours."""
    await world.start(webhook_tolerance_seconds=300)  # the window kept: 10 minutes
    receiver, now = world.service.webhook_receiver(), world.clock.now()
    with world.store.session() as s:
        for pair, digest, minutes in (("gone", "old", 24 * 60 + 1), ("gone", "young", 11),
                                      ("default", "mine-old", 11), ("default", "mine", 9)):
            s.add(IdvWebhookDelivery(pair=pair, digest=digest, received_at=now - timedelta(minutes=minutes)))
        s.commit()
    order = world.add_order(status_id=11)
    body = json.dumps({"order_id": order, "event": "started", "check_id": "chk-1",
                       "occurred_at": now.isoformat()}).encode()
    assert await _post(receiver, body, idv_world.SECRET) == 200
    assert await _post(receiver, body, idv_world.SECRET) == 409  # a replay is still refused
    with world.store.session() as s:
        rows = {(row.pair, row.digest) for row in s.exec(select(IdvWebhookDelivery))}
    assert {row for row in rows if len(row[1]) < 64} == {("gone", "young"), ("default", "mine")}


def test_a_replay_window_longer_than_the_day_other_deployments_keep_is_refused(tmp_path):
    """Other deployments forget an unknown pair's deliveries after a day: a window whose replays
    must be remembered longer (2 × 12 h) would be open to replays there."""
    config = tmp_path / "config.yaml"
    base = ("bigcommerce: {store_hash: abc123, access_token: t}\n"
            "xseries: {domain_prefix: mystore, token: t, outlet: Main Outlet, register: Online Store}\n"
            "id_verification:\n  webhook_tolerance_seconds: %d\n")
    config.write_text(base % 43200)
    assert load_settings(config, environ={}).id_verification.webhook_tolerance_seconds == 43200
    config.write_text(base % 43201)
    with pytest.raises(ConfigError) as err:
        load_settings(config, environ={})
    assert "config.yaml:4: id_verification.webhook_tolerance_seconds" in str(err.value)
