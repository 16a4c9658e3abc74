"""An ID-verification delivery that was not decided must not stay recorded as received: the
sender's retry would be refused 409 as a replay, and the webhook would never decide the verdict."""

from __future__ import annotations

import asyncio
import json

import httpx

from connector.idv.webhook import PATH, SIGNATURE_HEADER, signature_for
from idv_world import SECRET


def _body(world, order_id: int) -> bytes:
    return json.dumps({"order_id": order_id, "event": "failed", "check_id": "chk-1",
                       "occurred_at": world.clock.now().isoformat()}).encode()


class HangingOnce:
    """The engine, whose first event never finishes (the server stops while it is handled)."""

    def __init__(self, engine) -> None:
        self.engine, self.calls = engine, 0

    async def handle(self, event):
        self.calls += 1
        if self.calls == 1:
            await asyncio.Event().wait()
        return await self.engine.handle(event)


async def test_a_delivery_cut_off_while_handled_is_accepted_when_sent_again(world):
    await world.start()
    order = world.add_order(status_id=11)
    receiver = world.service.webhook_receiver()
    receiver.engine = engine = HangingOnce(receiver.engine)
    body = _body(world, order)
    headers = {SIGNATURE_HEADER: signature_for(SECRET, body)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()),
                                 base_url="http://order-sync.local") as client:
        first = asyncio.create_task(client.post(PATH, content=body, headers=headers))
        while engine.calls == 0:
            await asyncio.sleep(0.01)
        first.cancel()  # order-sync stops: the sender gets no answer and sends it again
        await asyncio.gather(first, return_exceptions=True)
        again = await client.post(PATH, content=body, headers=headers)
    assert again.status_code == 200 and world.status(order) == 6


async def test_an_event_for_an_order_not_found_yet_is_accepted_when_sent_again(world):
    """404: BigCommerce does not show the order (yet); the sender may retry once it does."""
    await world.start()
    receiver = world.service.webhook_receiver()
    shown = world.add_order(status_id=11)
    missing = shown + 1  # the next order the store will number
    body = _body(world, missing)
    headers = {SIGNATURE_HEADER: signature_for(SECRET, body)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()),
                                 base_url="http://order-sync.local") as client:
        assert (await client.post(PATH, content=body, headers=headers)).status_code == 404
        assert world.add_order(status_id=11) == missing
        again = await client.post(PATH, content=body, headers=headers)
    assert again.status_code == 200 and world.status(missing) == 6
