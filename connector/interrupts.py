"""How every command runs on the event loop, and how Ctrl-C and SIGTERM stop it.

A Ctrl-C during `import-history` once took 4.5 minutes: a 263 s quota wait was not cut short. Here
the first SIGINT or SIGTERM is acknowledged at once, sets the command's stop event (no new order
starts), makes every wait on the system clock raise `Stopping` (a wait is never a write in flight:
the next run settles an order stopped there), gives the orders in hand `GRACE_SECONDS` to finish and
then cancels the command, as a crash would leave it; a backstop ends the process anyway within 5 s.
A second Ctrl-C quits at once (os._exit). Exit codes: 130 for SIGINT; for SIGTERM the caller's
`sigterm_exit` (0 for the daemon, whose normal stop it is; 143 for one-shot commands).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import signal
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

from connector.logs import JsonFormatter

log = logging.getLogger("connector.interrupts")

EXIT_SIGINT = 128 + signal.SIGINT  # 130: what a shell reports for a command ended by Ctrl-C
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143: a one-shot command stopped before it finished
# For the orders in hand to finish, well within the 5 s a stop may take (ORDER_SYNC_STOP_GRACE).
GRACE_SECONDS = 2.0
BACKSTOP_AFTER_GRACE = 2.5
# Waits this long or longer are logged: a quiet 4-minute quota wait looks like a hang.
ANNOUNCE_WAITS_FROM = 10.0


class Stopping(BaseException):
    """A wait was cut short because the command is stopping. A BaseException, like cancellation, so
    the order path's `except Exception` does not record a stop as a failure of the order."""


def grace_seconds() -> float:
    raw = os.environ.get("ORDER_SYNC_STOP_GRACE", "").strip()
    try:
        return max(0.0, float(raw)) if raw else GRACE_SECONDS
    except ValueError:
        return GRACE_SECONDS


class StopScope:
    """The stop state of one command run: its event, the signal seen, the command's task."""

    def __init__(self, grace: float = GRACE_SECONDS) -> None:
        self.event = asyncio.Event()
        self.grace = grace
        self.signum: int | None = None
        self.main: asyncio.Task | None = None

    @contextlib.contextmanager
    def active(self) -> Iterator["StopScope"]:
        """Make this the scope of the code run inside (and of the tasks it creates)."""
        token = _scope.set(self)
        try:
            yield self
        finally:
            _scope.reset(token)

    async def wait(self, seconds: float) -> None:
        """Sleep `seconds`, or until the stop, which raises Stopping in the waiting task."""
        if self.event.is_set():
            raise Stopping()
        if seconds >= ANNOUNCE_WAITS_FROM:
            log.info("waiting %.0fs for the API (quota or retry); Ctrl-C or SIGTERM stops now, "
                     "nothing is lost", seconds)
        try:
            async with asyncio.timeout(seconds):
                await self.event.wait()
        except TimeoutError:
            return
        raise Stopping()

    def begin_stop(self) -> None:
        """After the first signal: stop new work and waits, start the grace, then acknowledge (last, so
        that a failing stderr cannot undo the stop)."""
        if self.event.is_set():
            return
        self.event.set()  # which ends every wait()
        asyncio.get_running_loop().call_later(self.grace, self._grace_over)
        name = "Ctrl-C" if self.signum == signal.SIGINT else "SIGTERM"
        again = " (Ctrl-C again quits at once)" if self.signum == signal.SIGINT else ""
        announce(f"order-sync: {name}: stopping after the orders in hand…{again}")

    def _grace_over(self) -> None:
        if self.main is not None and not self.main.done():
            log.warning("the orders in hand did not finish within %.1fs: stopping them; the next run "
                        "settles them (nothing is lost or written twice)", self.grace)
            self.main.cancel()


_scope: contextvars.ContextVar[StopScope | None] = contextvars.ContextVar("order_sync_stop", default=None)


def stop_event() -> asyncio.Event:
    """The running command's stop event; outside `run`, a new event nobody sets."""
    scope = _scope.get()
    return scope.event if scope is not None else asyncio.Event()


async def sleep(seconds: float) -> None:
    """The system clock's sleep: cut short by a stop when inside `run`."""
    scope = _scope.get()
    if scope is None:
        await asyncio.sleep(seconds)
    else:
        await scope.wait(seconds)


def announce(message: str) -> None:
    """A line for the person at the terminal: on stderr as the log lines are (JSON when they are
    JSON, so every line stays parseable), whatever the log level."""
    if any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers):
        line = JsonFormatter().format(log.makeRecord(log.name, logging.WARNING, __file__, 0, message, (), None))
    elif os.isatty(2):
        # Over the import's progress bar, which ends no line of its own (it is drawn again after).
        line = "\r\033[K" + message
    else:
        line = message
    try:
        # os.write, not print: in a signal handler, print could re-enter an interrupted write.
        os.write(2, (line + "\n").encode())
    except OSError:
        pass  # stderr closed (its reader is gone): the stop must go on all the same


def run(main: Coroutine[Any, Any, Any], *, sigterm_exit: int = EXIT_SIGTERM) -> Any:
    """Run a command's coroutine with the stop handling above: its result, or the signal's exit code."""
    scope = StopScope(grace_seconds())
    loop_ready = threading.Event()
    runner = asyncio.Runner()

    def exit_code() -> int:
        return EXIT_SIGINT if scope.signum == signal.SIGINT else sigterm_exit

    def quit_late() -> None:
        announce("order-sync: could not stop in time; quitting (the next run settles what was in hand)")
        os._exit(exit_code())

    # Started by the first signal: whatever happens on the loop, a stop never hangs.
    backstop = threading.Timer(scope.grace + BACKSTOP_AFTER_GRACE, quit_late)
    backstop.daemon = True

    def on_signal(signum: int, frame: object) -> None:
        if scope.signum is not None:
            if signum == signal.SIGINT:
                announce("order-sync: Ctrl-C again: quitting now")
                os._exit(EXIT_SIGINT)
            return  # a repeated SIGTERM: already stopping
        scope.signum = signum
        backstop.start()
        if loop_ready.is_set():
            # The handler may interrupt the loop's own code: the stop runs as a loop callback.
            runner.get_loop().call_soon_threadsafe(scope.begin_stop)

    async def wrapped() -> Any:
        scope.main = asyncio.current_task()
        loop_ready.set()
        try:
            if scope.signum is not None:  # a signal before the loop ran
                scope.begin_stop()
            return await main
        finally:
            loop_ready.clear()  # the loop is closing: a late signal only sets the exit code

    # Signal handlers can only be set from the main thread (a test may run a command elsewhere).
    signals = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        # The scope first: the runner copies the context its tasks run in when it starts.
        with scope.active(), runner:
            try:
                result = runner.run(wrapped())
            except (Stopping, asyncio.CancelledError):
                if scope.signum is None:
                    raise
                result = None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        backstop.cancel()
    return result if scope.signum is None else exit_code()
