"""ApiTransport on httpx: what an answer may cost (size, time), redirects, and errors that name the
host. Every test drives the client as production builds it (httpx's own transport), with respx
standing in for the server."""

from __future__ import annotations

import asyncio
import gzip

import httpx
import pytest
import respx

from connector.clients.transport import MAX_RESPONSE_BYTES, ApiTransport, RetryPolicy
from connector.clock import FakeClock
from connector.errors import PermanentApiError, TransientApiError, UnknownWriteOutcome

BASE = "https://api.example.test/stores/abc"
CHUNK = 64 * 1024


def transport(**kwargs) -> ApiTransport:
    return ApiTransport(api="bigcommerce", base_url=BASE, headers={"X-Auth-Token": "t"}, clock=FakeClock(),
                        retry=RetryPolicy(seed=1, max_attempts=2, base_delay=0.01), **kwargs)


class Endless(httpx.AsyncByteStream):
    """A body far longer than any limit (it does end, so that a client without the limit would
    read it whole and the test fail rather than hang), counting what the client took from it."""

    def __init__(self, chunk: bytes = b"x" * CHUNK, pause: float = 0.0, chunks: int = 800) -> None:
        self.chunk, self.pause, self.chunks, self.sent = chunk, pause, chunks, 0

    async def __aiter__(self):
        for _ in range(self.chunks):
            if self.pause:
                await asyncio.sleep(self.pause)
            self.sent += len(self.chunk)
            yield self.chunk


@respx.mock
async def test_the_client_is_httpx_on_its_own_transport():
    api = transport()
    assert isinstance(api.client, httpx.AsyncClient)
    assert type(api.client._transport) is httpx.AsyncHTTPTransport
    respx.get(f"{BASE}/v2/orders/count").respond(200, json={"count": 3})
    assert (await api.request("GET", "/v2/orders/count")).json() == {"count": 3}
    await api.aclose()


@respx.mock
async def test_an_endless_answer_is_refused_at_the_cap_not_buffered():
    body = Endless()
    respx.get(f"{BASE}/v2/orders").respond(200, stream=body)
    api = transport()
    with pytest.raises(PermanentApiError, match="limit"):
        await api.request("GET", "/v2/orders")
    # Stopped reading right after the cap: at most one chunk beyond it was taken.
    assert MAX_RESPONSE_BYTES < body.sent <= MAX_RESPONSE_BYTES + CHUNK
    await api.aclose()


@respx.mock
async def test_a_gzip_bomb_is_counted_decoded():
    # 40 MiB of zeros compress to about 40 KiB: small on the wire, over the cap once decoded.
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024))
    assert len(bomb) < MAX_RESPONSE_BYTES // 100
    respx.get(f"{BASE}/v2/orders").respond(200, content=bomb, headers={"Content-Encoding": "gzip"})
    api = transport()
    with pytest.raises(PermanentApiError, match="limit"):
        await api.request("GET", "/v2/orders")
    await api.aclose()


@respx.mock
async def test_an_announced_oversize_answer_is_refused_before_reading():
    body = Endless()
    respx.get(f"{BASE}/v2/orders").respond(
        200, stream=body, headers={"Content-Length": str(MAX_RESPONSE_BYTES + 1)})
    api = transport()
    with pytest.raises(PermanentApiError, match="announced"):
        await api.request("GET", "/v2/orders")
    assert body.sent == 0
    await api.aclose()


@respx.mock
async def test_an_oversize_answer_to_a_sale_write_leaves_its_outcome_unknown():
    respx.post(f"{BASE}/sales").respond(200, stream=Endless())
    api = transport(max_response_bytes=CHUNK * 4)
    with pytest.raises(UnknownWriteOutcome):
        await api.request("POST", "/sales", json={"a": 1}, safe_to_repeat=False)
    await api.aclose()


@respx.mock
async def test_a_trickling_server_cannot_hold_an_attempt_past_its_deadline():
    # A byte every 20 ms resets every per-read timeout; only the attempt's deadline ends it.
    reads = respx.get(f"{BASE}/v2/orders").mock(
        side_effect=lambda request: httpx.Response(200, stream=Endless(b"[", pause=0.02, chunks=100)))
    api = transport(deadline=0.3)
    with pytest.raises(TransientApiError, match="no complete answer from api.example.test after 2"):
        await api.request("GET", "/v2/orders")
    assert reads.call_count == 2  # retried once, as any read
    await api.aclose()


@respx.mock
async def test_a_trickled_answer_to_a_sale_write_is_an_unknown_outcome_never_retried():
    writes = respx.post(f"{BASE}/sales").mock(
        side_effect=lambda request: httpx.Response(201, stream=Endless(b" ", pause=0.02, chunks=100)))
    api = transport(deadline=0.3)
    with pytest.raises(UnknownWriteOutcome, match="deadline"):
        await api.request("POST", "/sales", json={"a": 1}, safe_to_repeat=False)
    assert writes.call_count == 1
    await api.aclose()


@respx.mock
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_an_error_never_a_success(status):
    respx.get(f"{BASE}/v2/orders").respond(
        status, json=[{"id": 1}], headers={"Location": "https://login.example.test/"})
    api = transport()
    with pytest.raises(PermanentApiError, match=f"answered {status} redirecting to https://login.example.test/"):
        await api.request("GET", "/v2/orders")
    await api.aclose()


@respx.mock
async def test_a_redirected_write_is_an_unknown_outcome():
    route = respx.post(f"{BASE}/sales").respond(303, headers={"Location": "/sales/9"})
    api = transport()
    with pytest.raises(UnknownWriteOutcome):
        await api.request("POST", "/sales", json={"a": 1}, safe_to_repeat=False)
    assert route.call_count == 1
    await api.aclose()


@respx.mock
async def test_a_connection_error_names_the_host():
    respx.get(f"{BASE}/v2/orders").mock(side_effect=httpx.ConnectError("Connection refused"))
    api = transport()
    with pytest.raises(TransientApiError) as caught:
        await api.request("GET", "/v2/orders")
    assert "could not connect to api.example.test" in str(caught.value)
    assert "Connection refused" in str(caught.value)
    await api.aclose()
