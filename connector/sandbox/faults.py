"""Fault injection and request logging shared by both simulators.

A seeded FaultInjector may add latency, answer 5xx or 429, time out (the request is NOT applied), or
apply a write and then lose its response. The request log records what the server received.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request

from connector.clock import Clock


@dataclass
class FaultConfig:
    """Shares are probabilities in [0, 1] applied per request."""

    latency_seconds: float = 0.0
    share_5xx: float = 0.0
    share_429: float = 0.0
    share_timeout: float = 0.0
    # Only for writes (POST/PUT/DELETE): the write is applied, then the response is dropped.
    share_lost_write_response: float = 0.0
    # Only for writes: applied at once, answered this much later (a slow network on the way back:
    # the client has not heard yet while the write already exists).
    answer_delay_seconds: float = 0.0
    # Restrict the faults to paths containing this text (None: all paths).
    path_filter: str | None = None
    seed: int = 0


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: str
    body: Any
    headers: dict[str, str]
    at: datetime
    at_monotonic: float
    status: int | None = None  # None: no answer reached the client (timeout / lost response)
    fault: str | None = None
    body_is_json: bool = True  # False: the body was not JSON and is kept as text


class SimulatedTimeout(Exception):
    """Raised inside a simulator to make the client see no answer: httpx.ReadTimeout in process
    (connector.sandbox.transport), a dropped connection when served (connector.sandbox.serve)."""


class FaultInjector:
    def __init__(self, config: FaultConfig | None = None) -> None:
        self.injected: dict[str, int] = {"5xx": 0, "429": 0, "timeout": 0, "lost_response": 0}
        self.reconfigure(config or FaultConfig())

    def reconfigure(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)

    def applies_to(self, path: str) -> bool:
        return self.config.path_filter is None or self.config.path_filter in path

    async def delay(self) -> None:
        if self.config.latency_seconds > 0:
            await asyncio.sleep(self.config.latency_seconds)

    def pick_before(self, path: str) -> str | None:
        """A fault that stops the request before it is applied: '5xx', '429', 'timeout' or None."""
        if not self.applies_to(path):
            return None
        roll = self.rng.random()
        for name in ("5xx", "429", "timeout"):
            share = getattr(self.config, f"share_{name}")
            if roll < share:
                self.injected[name] += 1
                return name
            roll -= share
        return None

    def lose_response(self, method: str, path: str) -> bool:
        """After a write was applied: should its response be lost?"""
        if method in ("GET", "HEAD") or not self.applies_to(path):
            return False
        if self.rng.random() < self.config.share_lost_write_response:
            self.injected["lost_response"] += 1
            return True
        return False


class RequestLog(list):
    """A list of LoggedRequest with a few helpers for tests."""

    def record(self, request: Request, raw: bytes, clock: Clock, secret_header: str) -> LoggedRequest:
        # The credential header is masked.
        try:
            body, is_json = (json.loads(raw) if raw else None), True
        except ValueError:
            body, is_json = raw.decode("utf-8", "replace"), False
        entry = LoggedRequest(
            method=request.method, path=request.url.path, query=request.url.query, body=body,
            headers={k: ("***" if k.lower() == secret_header else v) for k, v in request.headers.items()},
            at=clock.now(), at_monotonic=clock.monotonic(), body_is_json=is_json,
        )
        self.append(entry)
        return entry

    def matching(self, method: str | None = None, contains: str | None = None) -> list[LoggedRequest]:
        return [
            r for r in self
            if (method is None or r.method == method) and (contains is None or contains in r.path)
        ]

    def writes(self) -> list[LoggedRequest]:
        return [r for r in self if r.method not in ("GET", "HEAD")]
