"""The event loop every command runs on: uvloop where it is installed, else asyncio's own.

Why: an import spends much of its CPU in the event loop and its socket transports — waking tasks,
reading answers, writing requests. On uvloop (libuv, in C) the same import costs about a quarter
less connector CPU per order (2.8 → 2.1 ms on the 2-core benchmark machine, issue 6, before the
other savings). uvloop is a dependency wherever it builds (not on Windows); the connector does
not depend on it for correctness, only for speed, so `ORDER_SYNC_EVENT_LOOP=asyncio` picks the
standard loop (to rule the loop out when chasing a problem).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

ENV_VAR = "ORDER_SYNC_EVENT_LOOP"
CHOICES = ("uvloop", "asyncio")


def loop_name() -> str:
    """The loop `run` will use: the environment's choice, else uvloop if importable."""
    wanted = os.environ.get(ENV_VAR, "").strip().lower()
    if wanted and wanted not in CHOICES:
        raise ValueError(f"{ENV_VAR}={wanted!r}: use one of {', '.join(CHOICES)}")
    if wanted == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if wanted == "uvloop":
            raise ValueError(f"{ENV_VAR}=uvloop but uvloop is not installed") from None
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main) on the chosen loop."""
    if loop_name() == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    return asyncio.run(main)


def running_loop(known: asyncio.AbstractEventLoop | None) -> asyncio.AbstractEventLoop:
    """The running loop, from a caller that remembers the last one it saw (`known`).

    Why: asyncio.get_running_loop() asks the OS for the process id on every call (CPython checks
    for a fork), and the order path asked for the loop five times per order (group commit, lease,
    HTTP request): one system call each. A loop that is running on this thread is the one the
    caller runs on (one loop per thread), so `known` is returned when it is running; only when it
    is not (first use, a new command, a test's new loop) is the loop looked up.
    """
    if known is not None and known.is_running():
        return known
    return asyncio.get_running_loop()
