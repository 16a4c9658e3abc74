"""The HTTP client production runs on: what Runtime builds, and the environment's proxies and CAs."""

from __future__ import annotations

import asyncio
import json
import ssl

import httpx
import pytest
import trustme
from served_sandbox import ServedSandbox

from connector.clients.transport import ApiTransport, RetryPolicy
from connector.config import load_settings
from connector.errors import TransientApiError
from connector.runtime import Runtime


@pytest.fixture(scope="module")
def sandbox():
    served = ServedSandbox(orders=3, seed=5)
    yield served
    served.stop()


async def test_runtime_sends_every_request_through_httpx_own_transport(sandbox, tmp_path, monkeypatch):
    for name, value in ServedSandbox.env().items():
        monkeypatch.setenv(name, value)
    settings = load_settings(sandbox.write_config(tmp_path / "config.yaml", f"sqlite:///{tmp_path / 'db.sqlite'}"))
    sent: list[str] = []
    original = httpx.AsyncHTTPTransport.handle_async_request

    async def spy(self, request):
        sent.append(f"{request.method} {request.url.path}")
        return await original(self, request)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", spy)
    runtime = await Runtime.start(settings)
    try:
        for api in (runtime.bc.transport, runtime.xs.transport):
            assert isinstance(api.client, httpx.AsyncClient)
            assert type(api.client._transport) is httpx.AsyncHTTPTransport
        start_up = len(sent)
        assert start_up > 0  # the X-Series references resolved at start-up went through it
        assert await runtime.bc.count_orders() == 3
        assert sent[start_up:] == ["GET /stores/abc123/v2/orders/count"]
    finally:
        await runtime.aclose()


async def test_proxies_come_from_the_environment(monkeypatch):
    """HTTP_PROXY routes requests through the proxy (absolute-form request line); NO_PROXY exempts a
    host. One local server plays both the proxy (answers 7) and the API host (answers 1)."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        target = head.split(b" ", 2)[1]
        body = json.dumps({"count": 7 if target.startswith(b"http://") else 1}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")

    async def count() -> int:
        api = ApiTransport(api="bigcommerce", base_url=f"http://localhost:{port}/stores/abc", headers={})
        try:
            return (await api.request("GET", "/v2/orders/count")).json()["count"]
        finally:
            await api.aclose()

    try:
        assert await count() == 7
        monkeypatch.setenv("NO_PROXY", "localhost")
        assert await count() == 1
    finally:
        server.close()
        await server.wait_closed()


async def test_a_custom_ca_comes_from_ssl_cert_file(tmp_path, monkeypatch):
    """A store behind a TLS proxy with its own CA: trusted once SSL_CERT_FILE names that CA, refused
    (certificate not verified) while it does not."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
                     b"Connection: close\r\n\r\n{\"count\":2}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)

    async def count() -> int:
        api = ApiTransport(api="bigcommerce", base_url=f"https://localhost:{port}/stores/abc", headers={},
                           retry=RetryPolicy(max_attempts=1))
        try:
            return (await api.request("GET", "/v2/orders/count")).json()["count"]
        finally:
            await api.aclose()

    try:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        with pytest.raises(TransientApiError, match="CERTIFICATE_VERIFY_FAILED"):
            await count()
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        assert await count() == 2
    finally:
        server.close()
        await server.wait_closed()
