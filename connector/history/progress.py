"""Progress of the import: a live bar on a terminal, periodic plain log lines otherwise."""

from __future__ import annotations

import heapq
import logging
import sys
import time
from datetime import datetime, timezone

log = logging.getLogger("connector.import")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.stream = sys.stderr
        self.tty = self.stream.isatty()
        self.interval = 0.2 if self.tty else 10.0
        self.started = time.monotonic()
        self._last = 0.0
        self.done = 0
        self.failed = 0
        self.eta_quota: float | None = None

    def update(self, done: int, failed: int, eta_quota: float | None = None, *, force: bool = False) -> None:
        self.done, self.failed = done, failed
        if eta_quota is not None:
            self.eta_quota = eta_quota
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        line = self.line()
        if self.tty:
            self.stream.write("\r" + line + " " * 4)
            self.stream.flush()
        else:
            log.info("import progress: %s", line)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        remaining = max(0, self.total - self.done)
        eta = self.eta_quota if self.eta_quota is not None else (remaining / rate if rate else None)
        share = self.done / self.total if self.total else 1.0
        width = 24
        bar = "#" * int(share * width) + "-" * (width - int(share * width))
        return (f"[{bar}] {self.done}/{self.total} orders ({share:.0%}), {self.failed} failed, "
                f"{rate:.1f}/s, ETA {_duration(eta)}")

    def finish(self) -> None:
        self.update(self.done, self.failed, force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


class SettledCounts:
    """The import's done and failed counts, each order counted once across an interrupted import's runs.

    A resumed run reads again from a minute before its checkpoint (RESUME_MARGIN), and orders at or
    after it may have ended before the stop (they finish out of order): counting whatever a run
    settles showed "32/30". So what is saved with a checkpoint counts only the orders created
    before it, every one of which is settled (ImportRun.checkpoint); a resumed run counts only the
    orders created at or after it. An order read again is then counted once whatever it did before.
    """

    def __init__(self, checkpoint: datetime | None, done: int = 0, failed: int = 0) -> None:
        self.checkpoint = checkpoint
        self._saved_done, self._saved_failed = done, failed
        # (creation date, counts as done, counts as failed) of the orders this run settled at or
        # after the checkpoint, oldest first: folded into the saved counts as the checkpoint passes them.
        self._open: list[tuple[datetime, int, int]] = []
        self._open_done = self._open_failed = 0

    def settled(self, created: datetime | None, *, done: bool = True, failed: bool = False) -> None:
        """An order ended (done: mirrored or recorded as failed; not done: it could not be read).
        created None: its date could not be read either; counted now, folded at the next save."""
        if created is not None and self.checkpoint is not None and created < self.checkpoint:
            return  # read again from before the checkpoint: counted by the run that settled it
        heapq.heappush(self._open, (created or datetime.min.replace(tzinfo=timezone.utc), int(done), int(failed)))
        self._open_done += int(done)
        self._open_failed += int(failed)

    @property
    def done(self) -> int:
        return self._saved_done + self._open_done

    @property
    def failed(self) -> int:
        return self._saved_failed + self._open_failed

    def at_checkpoint(self, checkpoint: datetime | None) -> tuple[int, int]:
        """(done, failed) to save with this checkpoint: the orders created before it."""
        while self._open and checkpoint is not None and self._open[0][0] < checkpoint:
            _, done, failed = heapq.heappop(self._open)
            self._open_done -= done
            self._open_failed -= failed
            self._saved_done += done
            self._saved_failed += failed
        return self._saved_done, self._saved_failed
