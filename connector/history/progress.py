"""Progress of the import: a live bar on a terminal, periodic plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time

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
