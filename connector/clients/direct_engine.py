"""What ApiTransport needs of an engine to skip httpx: send() a ready request, get a DirectResponse.

Two engines qualify: the HTTP/1.1 engine on asyncio protocols (connector.clients.http11_engine,
production) and the aiohttp one (connector.clients.aiohttp_transport, the fallback). ApiTransport
takes its direct path for any DirectEngine and puts every other engine under httpx.AsyncClient.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connector.clients.direct_response import DirectResponse


class DirectEngine(ABC):
    """The contract (AiohttpTransport's module docstring is its specification):

    - `url` is absolute and already percent-encoded (query included), `body` already encoded,
      `headers` complete but for Host and Content-Length, `timeout` in seconds meaning
      httpx.Timeout(timeout) (the same value for connect, pool wait and each read);
    - redirects are not followed, cookies not kept, gzip/deflate bodies come back decoded;
    - failures raise httpx exceptions that tell "never sent" (ConnectError, ConnectTimeout) from
      "maybe sent" (ReadTimeout, ReadError, RemoteProtocolError) exactly, since ApiTransport
      repeats a write only when it provably never left; a bad URL raises UnsupportedProtocol.
    """

    @abstractmethod
    async def send(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str], timeout: float | None,
    ) -> DirectResponse: ...

    @abstractmethod
    async def aclose(self) -> None: ...
