"""The daemon's HTTP server for the ID-verification webhook (uvicorn, in the daemon's loop). The
socket is bound before uvicorn starts, so a port in use is a clear start-up error (uvicorn would
sys.exit inside the loop); the daemon, not uvicorn, handles signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Iterator

import uvicorn
from starlette.types import ASGIApp

from connector.errors import ConfigError

log = logging.getLogger("connector.idv.server")


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the daemon handles signals


class WebhookServer:
    def __init__(self, app: ASGIApp, host: str, port: int, *,
                 config_keys: str = "id_verification.webhook_host/webhook_port",
                 listening: str = "ID-verification webhook listening on http://{}:{}/webhooks/id-verification") -> None:
        self.host = host
        self.listening = listening
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise ConfigError(
                f"{config_keys}: cannot listen on {host}:{port} ({exc.strerror})"
            ) from None
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("the webhook server stopped while starting")
            await asyncio.sleep(0.01)
        log.info(self.listening.format(self.host, self.port))

    async def stop(self) -> None:
        if self._task is not None:
            self._server.should_exit = True
            await self._task
        self._sock.close()
