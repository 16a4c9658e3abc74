"""The ID-verification webhook's paths on order-sync's server: each pair's own, and the old path
without a pair, which a configuration of one pair answers whatever that pair is called."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse

from connector.server.ops import idv_routes


class Receiver:
    def __init__(self, name: str) -> None:
        self.name = name

    async def receive(self, request):
        return PlainTextResponse(self.name)


@pytest.mark.parametrize("pairs, old_path", [(["shop"], (200, "shop")), (["shop", "default"], (200, "default")),
                                              (["shop", "outlet"], (404, None))])
async def test_the_old_path_is_the_only_pairs_else_the_default_pairs(pairs, old_path):
    receivers = {pair: Receiver(pair) for pair in pairs}
    app = Starlette(routes=idv_routes(receivers, (), pairs))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://server") as client:
        answer = await client.post("/webhooks/id-verification", content=b"{}")
        assert answer.status_code == old_path[0]
        if old_path[1]:
            assert answer.text == old_path[1]
        for pair in pairs:  # each pair's own path, always
            assert (await client.post(f"/webhooks/id-verification/{pair}", content=b"{}")).text == pair
