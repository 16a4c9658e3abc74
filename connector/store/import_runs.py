"""Checkpoints of the historical import, so an interrupted import goes on where it stopped."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlmodel import Field, SQLModel, select

from connector.store.tables import _dt, _pair

if TYPE_CHECKING:
    from connector.store.repository import Store


class ImportRun(SQLModel, table=True):
    """One `order-sync import-history` over a range of order creation dates.

    `checkpoint`: every order created before it is settled (bound, recorded or failed); a resumed
    run re-reads from there (inclusive) and the bindings skip what was already done. `done` and
    `failed` count those orders, the ones before the checkpoint: a resumed run counts the rest, so
    no order is counted twice (connector.history.progress.SettledCounts)."""

    __tablename__ = "import_run"
    id: int | None = Field(default=None, primary_key=True)
    pair: str = _pair(key=False)
    since: datetime | None = _dt(nullable=True)
    until: datetime | None = _dt(nullable=True)
    started_at: datetime = _dt(nullable=False)
    updated_at: datetime = _dt(nullable=False)
    finished_at: datetime | None = _dt(nullable=True)
    checkpoint: datetime | None = _dt(nullable=True)
    total: int = 0
    done: int = 0
    failed: int = 0
    resumed: int = 0


# Where an unfinished run from the first order (no --since) that settled none has read up to.
BEFORE_ANY_ORDER = datetime(1970, 1, 1, tzinfo=timezone.utc)


def read_to(run: ImportRun) -> datetime:
    """Up to where an unfinished run is known to have read: its checkpoint, else its --since."""
    return run.checkpoint or run.since or BEFORE_ANY_ORDER


def _end(run: ImportRun) -> datetime:
    return min(run.until, run.started_at) if run.until else run.started_at


def _stopped(runs: list[ImportRun]) -> list[ImportRun]:
    """The unfinished runs whose stop no finished run read past (an overlapping chunk finished
    later covers it: resuming the stopped one would re-read it for nothing)."""
    done = [(run.since or BEFORE_ANY_ORDER, _end(run)) for run in runs if run.finished_at]
    return [run for run in runs if not run.finished_at
            and not any(since <= read_to(run) < end for since, end in done)]


class ImportRuns:
    def __init__(self, store: "Store") -> None:
        self.store = store

    def open(self, since: datetime | None, until: datetime | None, total: int) -> ImportRun:
        """The unfinished run over the same range, or a new one."""
        now = self.store.clock.now()
        with self.store.session() as s:
            # `== None` is SQL's IS NULL: an import without --since resumes the one without it.
            run = s.exec(
                select(ImportRun).where(ImportRun.pair == self.store.pair, ImportRun.finished_at.is_(None),
                                        ImportRun.since == since,
                                        ImportRun.until == until).order_by(ImportRun.id.desc())
            ).first()
            if run is None:
                run = ImportRun(pair=self.store.pair, since=since, until=until, started_at=now, updated_at=now, total=total)
            else:
                run.resumed += 1
                run.updated_at = now
                run.total = max(run.total, total)
            s.add(run)
            s.commit()
            s.refresh(run)
            return run

    def unfinished(self, since: datetime | None) -> ImportRun | None:
        """The newest unfinished run from `since` (None: from the first order), whatever its until:
        the one an import given no --until resumes."""
        with self.store.session() as s:
            return s.exec(
                select(ImportRun).where(ImportRun.pair == self.store.pair, ImportRun.finished_at.is_(None),
                                        ImportRun.since == since).order_by(ImportRun.id.desc())
            ).first()

    def imported_until(self) -> datetime | None:
        """Up to where the imports so far read (None: no import ran): the latest end of a finished
        run, or its start when its until was still ahead (it listed only the orders placed by then,
        at least); never past an unfinished run's checkpoint that no finished run covers (stopped() —
        after it, orders of its range are unread). The daemon's first run goes on from there
        (SyncCycle.run)."""
        with self.store.session() as s:
            runs = s.exec(select(ImportRun).where(ImportRun.pair == self.store.pair)).all()
        ends = [_end(run) for run in runs if run.finished_at and run.until]
        stops = [read_to(run) for run in _stopped(runs)]
        return min(stops + [max(ends)] if ends else stops, default=None)

    def stopped(self) -> ImportRun | None:
        """The unfinished run that read the least far, past what finished runs read: the one to
        resume first."""
        with self.store.session() as s:
            runs = s.exec(select(ImportRun).where(ImportRun.pair == self.store.pair)).all()
        return min(_stopped(runs), key=read_to, default=None)

    def carry_to(self, run: ImportRun, until: datetime) -> None:
        """Widen an unfinished run to end at `until`: its checkpoint still holds (every order created
        before it is settled), so it resumes from there and goes on to the new end. `until` is this
        run's now: the run over the widened range starts then (imported_until)."""
        with self.store.session() as s:
            row = s.get(ImportRun, run.id)
            if row is not None and row.finished_at is None:
                row.until = row.started_at = until
                s.add(row)
                s.commit()

    def save(self, run: ImportRun, *, checkpoint: datetime | None, done: int, failed: int,
             finished: bool = False) -> None:
        with self.store.session() as s:
            row = s.get(ImportRun, run.id)
            if checkpoint is not None and (row.checkpoint is None or checkpoint > row.checkpoint):
                row.checkpoint = checkpoint
            row.done, row.failed = done, failed
            row.updated_at = self.store.clock.now()
            if finished:
                row.finished_at = row.updated_at
            s.add(row)
            s.commit()
        run.checkpoint = checkpoint or run.checkpoint
