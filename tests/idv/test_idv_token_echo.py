"""A status PUT refused with a 4xx whose body echoes the request's X-Auth-Token (a misbehaving API or
proxy: the case cycle._fail masks): the BigCommerce access token is masked in the audit log (console
timeline, `order-sync audit`) and in the 200 answer to the ID-verification webhook's sender."""
import json
import httpx
from connector.idv.webhook import PATH, SIGNATURE_HEADER, signature_for
from connector.logs import register_secrets
from idv_world import SECRET


async def test_a_refusal_echoing_the_token_is_masked_in_audit_and_answer(world):
    await world.start(webhook_tolerance_seconds=300)
    token = world.bc.access_token
    register_secrets([token])  # as the CLI does at start
    order = world.add_order(status_id=11)
    inner = world.client.transport.client._transport

    class EchoingRefusal(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            if request.method == "PUT":
                return httpx.Response(422, json={"status": 422, "title": "Refused",
                                                 "detail": "bad request",
                                                 "errors": {"x-auth-token": request.headers["X-Auth-Token"]}})
            return await inner.handle_async_request(request)

    world.client.transport.client._transport = EchoingRefusal()
    receiver = world.service.webhook_receiver()
    body = json.dumps({"order_id": order, "event": "failed", "check_id": "chk-1",
                       "occurred_at": world.clock.now().isoformat()}).encode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()), base_url="http://x") as c:
        answer = await c.post(PATH, content=body, headers={SIGNATURE_HEADER: signature_for(SECRET, body)})
    reasons = [e.reason for e in world.store.audit_entries(order)]
    assert answer.status_code == 200 and answer.json()["outcome"] == "refused"
    assert "***" in answer.json()["reason"] and any("***" in (r or "") for r in reasons)
    assert token not in answer.text, "the BigCommerce token is sent back to the webhook's sender"
    assert not any(token in (r or "") for r in reasons), "the BigCommerce token is stored in the audit log"
