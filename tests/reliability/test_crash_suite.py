"""Crash suite (issue 7 §3): `order-sync sync` and `order-sync import-history` as real processes
against simulators served on localhost, with one SQLite file, killed with SIGKILL at 20 points.

The kill points are seeded: each round starts a process (now and then both at once: the daemon may
run during the import), waits until the POS holds a few more sales (a random number), sleeps a random
few milliseconds more so the kill lands anywhere in an order's steps, and kills it. Between rounds
the merchant changes some statuses (cancellations, pending orders paid). After every kill the
state must be consistent — no duplicate, no sale without its binding, no binding pointing at a sale
that is not its own, the cursor and the import's checkpoint never past an unsettled order — and after
a final clean run of both, every order is mirrored exactly as its status says.

A killed process cannot release its leases: they expire (120 s) before anyone takes them over. The
suite cannot wait that long 20 times, so after a kill it moves the killed process's leases' expiry
into the past — what waiting would do — and only those (the takeover of expired leases is what runs).

SIGTERM to the daemon (`order-sync run`) mid-cycle: it finishes the orders in hand and exits 0.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import select

from connector.mapping.status_table import PosState
from connector.mapping.tables import MappingTables
from connector.store.import_runs import ImportRun
from connector.store.repository import Store
from connector.store.tables import Lease

from served import Served, order_sync

pytestmark = pytest.mark.slow

ORDERS = 600
KILLS = 20
STATUSES = MappingTables.load(None).statuses
LONG_AGO = datetime(2000, 1, 1, tzinfo=timezone.utc)


class Harness:
    def __init__(self, tmp_path: Path, sandbox: Served, start_at: datetime) -> None:
        self.tmp = tmp_path
        self.sandbox = sandbox
        self.start_at = start_at
        self.url = f"sqlite:///{tmp_path / 'crash.db'}"
        self.config = sandbox.write_config(tmp_path / "config.yaml", self.url, start_at=start_at)
        self.store = Store.open(self.url)

    def start(self, command: str) -> subprocess.Popen:
        args = ["import-history", "--until", self.start_at.strftime("%Y-%m-%dT%H:%M:%SZ")] \
            if command == "import" else ["sync"]
        return order_sync("--config", str(self.config), *args, cwd=self.tmp)

    def expire_leases_of(self, pid: int) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(update(Lease).where(Lease.owner.like(f"{pid}-%")).values(expires_at=LONG_AGO))

    def check(self, *, final: bool = False) -> Counter:
        """The invariants that must hold after any kill (and, with final, after clean runs)."""
        counts: Counter = Counter()
        summary = self.sandbox.summary()
        orders = self.sandbox.orders()
        sales = {s["id"]: s for s in summary["sales"]}
        per_order = Counter(str(s["source_id"]) for s in summary["sales"])
        counts["duplicates"] = sum(n - 1 for n in per_order.values() if n > 1)
        assert counts["duplicates"] == 0, {k: n for k, n in per_order.items() if n > 1}
        invoices = Counter(s["invoice_number"] for s in summary["sales"])
        assert max(invoices.values(), default=1) == 1

        bindings = {b.bc_order_id: b for b in self._bindings()}
        failures = {f.bc_order_id: f for f in self.store.failures()}
        # Every sale has its binding: bound to it, or pending (killed between the write and the bind).
        for sale in summary["sales"]:
            binding = bindings.get(int(sale["source_id"]))
            assert binding is not None, f"sale {sale['id']} of order {sale['source_id']} has no binding"
            assert binding.sale_id == sale["id"] or (binding.sale_id is None and binding.pending_state), sale
        # Every bound binding points at its own sale.
        for order_id, binding in bindings.items():
            assert binding.invoice_number == f"BC-{order_id}"
            if binding.sale_id is not None:
                sale = sales.get(binding.sale_id)
                assert sale is not None, f"order {order_id} is bound to a sale X-Series does not have"
                assert (sale["invoice_number"], str(sale["source_id"])) == (binding.invoice_number, str(order_id))
                voided = sale["status"] == "VOIDED"
                if binding.pending_state is None:
                    assert voided == (binding.pos_state == PosState.VOIDED.value), (order_id, binding, sale)
        counts["pending"] = sum(1 for b in bindings.values() if b.pending_state is not None)

        # The cursor never passed an order that is not settled: every order modified in the daemon's
        # range before the cursor is bound (not pending) to its current status, or recorded failed.
        cursor = self.store.cursor()
        if cursor is not None:
            for order_id, order in orders.items():
                if self.start_at <= order["modified"] < cursor and order_id not in failures:
                    binding = bindings.get(order_id)
                    assert binding is not None and binding.pending_state is None, (order_id, order, cursor)
                    assert binding.bc_status_id == order["status_id"], (order_id, binding, order)
        # Nor the import's checkpoint, for the orders that are the import's alone: one changed
        # since the daemon's start is the daemon's to settle (a killed `sync` may leave it pending
        # behind the import's checkpoint), and the cursor check above covers it.
        run = self._last_import()
        if run is not None and run.checkpoint is not None:
            for order_id, order in orders.items():
                if order["created"] < run.checkpoint and order["created"] <= self.start_at \
                        and order["modified"] < self.start_at and order_id not in failures:
                    binding = bindings.get(order_id)
                    assert binding is not None and binding.pending_state is None, (order_id, order, run)

        if final:
            assert failures == {} and counts["pending"] == 0
            assert run is not None and run.finished_at is not None
            with self.store.session() as s:
                # Clean runs released every lease they took; what is left are killed processes'
                # leases, expired, that no one needed again.
                assert all(lease.expires_at == LONG_AGO for lease in s.exec(select(Lease)))
            latest_change = max(o["modified"] for o in orders.values())
            assert cursor is not None and cursor >= latest_change
            for order_id, order in orders.items():
                state = STATUSES.pos_state(order["status_id"])
                mirrored = [s for s in summary["sales"] if str(s["source_id"]) == str(order_id)]
                if state is PosState.NOT_IMPORTED:
                    assert mirrored == [], order_id
                    continue
                if not mirrored:
                    counts["missing"] += 1
                    continue
                assert (mirrored[0]["status"] == "VOIDED") == (state is PosState.VOIDED), (order_id, mirrored)
                counts[state.value] += 1
            counts["orders"] = len(orders)
            counts["sales"] = len(summary["sales"])
        return counts

    def _bindings(self):
        from connector.store.tables import OrderBinding

        with self.store.session() as s:
            return list(s.exec(select(OrderBinding)))

    def _last_import(self) -> ImportRun | None:
        with self.store.session() as s:
            return s.exec(select(ImportRun).order_by(ImportRun.id.desc())).first()


def kill_at_random_point(harness: Harness, processes: list[subprocess.Popen], rng: random.Random,
                         timeout: float = 60) -> list[bool]:
    """Wait until a few more sales exist, then SIGKILL every process. Returns, per process, whether
    it was killed (False: it had finished on its own first)."""
    target = harness.sandbox.health()["sales"] + rng.randint(2, 20)
    deadline = time.monotonic() + timeout
    while harness.sandbox.health()["sales"] < target and time.monotonic() < deadline:
        if all(p.poll() is not None for p in processes):
            break
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.02))
    killed = []
    for process in processes:
        was_running = process.poll() is None
        if was_running:
            process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        killed.append(was_running)
        harness.expire_leases_of(process.pid)
    return killed


def merchant_changes(harness: Harness, rng: random.Random) -> int:
    """Some cancellations of closed orders and some pending orders paid."""
    orders = harness.sandbox.orders()
    closed = [i for i, o in orders.items() if STATUSES.pos_state(o["status_id"]) is PosState.CLOSED]
    pending = [i for i, o in orders.items() if o["status_id"] in (0, 1)]
    changed = 0
    for order_id in rng.sample(closed, min(3, len(closed))):
        harness.sandbox.set_status(order_id, rng.choice([5, 6]))
        changed += 1
    for order_id in rng.sample(pending, min(2, len(pending))):
        harness.sandbox.set_status(order_id, 11)
        changed += 1
    return changed


def test_sigkill_at_20_random_points_loses_and_duplicates_nothing(tmp_path, report_counts):
    rng = random.Random(2024)
    sandbox = Served(orders=ORDERS, seed=31, history_days=2)
    try:
        start_at = (datetime.now(timezone.utc) - timedelta(days=1)).replace(microsecond=0)
        harness = Harness(tmp_path, sandbox, start_at)
        kills: Counter = Counter()
        finished_first = 0
        changed = 0
        rounds = 0
        pending_after_kills = 0
        while sum(kills.values()) < KILLS:
            rounds += 1
            assert rounds <= 3 * KILLS, "the processes keep finishing before the kill point"
            commands = ["sync", "import"] if rounds % 5 == 0 else [rng.choice(["sync", "import"])]
            processes = [harness.start(c) for c in commands]
            for command, killed in zip(commands, kill_at_random_point(harness, processes, rng)):
                kills[command] += killed
                finished_first += not killed
            # Writes cut off between the sale and its binding: what the next run must look up.
            pending_after_kills += harness.check()["pending"]
            if rounds % 3 == 0:
                changed += merchant_changes(harness, rng)

        final = {}
        for command in ("import", "sync"):
            process = harness.start(command)
            out, err = process.communicate(timeout=120)
            final[command] = process.returncode
            assert process.returncode == 0, (command, out[-2000:], err[-3000:])
        counts = harness.check(final=True)
    finally:
        sandbox.stop()

    report_counts("crash suite", {
        "orders": counts["orders"], "duplicates": counts["duplicates"], "missing": counts["missing"],
        "sigkills": sum(kills.values()), "sync_kills": kills["sync"], "import_kills": kills["import"],
        "rounds": rounds, "finished_before_kill": finished_first, "status_changes": changed,
        "writes_cut_off_by_kills": pending_after_kills,
        "sales": counts["sales"], "closed": counts["closed"], "voided": counts["voided"],
    })
    assert kills["sync"] >= 5 and kills["import"] >= 5
    assert pending_after_kills >= 3  # the kills did land inside writes, not only between orders
    assert counts["missing"] == 0 and counts["duplicates"] == 0


def test_sigterm_finishes_the_orders_in_hand_and_exits_0(tmp_path, report_counts):
    sandbox = Served(orders=400, seed=32, history_days=1)
    try:
        start_at = (datetime.now(timezone.utc) - timedelta(days=2)).replace(microsecond=0)
        harness = Harness(tmp_path, sandbox, start_at)
        daemon = order_sync("--config", str(harness.config), "run", cwd=tmp_path)
        try:
            deadline = time.monotonic() + 60
            while sandbox.health()["sales"] < 40:
                assert daemon.poll() is None, daemon.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "the daemon mirrored nothing within 60 s"
                time.sleep(0.01)
            daemon.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            out, err = daemon.communicate(timeout=30)
            stopped_after = time.monotonic() - signalled
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.communicate()
        assert daemon.returncode == 0, err[-3000:]
        assert "stopping: finishing the orders in hand" in err and "daemon stopped" in err
        at_stop = sandbox.health()["sales"]
        counts = harness.check()
        assert counts["pending"] == 0  # every order it had started was finished, none half-written
        with harness.store.session() as s:
            assert list(s.exec(select(Lease))) == []

        process = harness.start("sync")
        process.communicate(timeout=120)
        assert process.returncode == 0
        after = harness.check()
        total = sandbox.health()["sales"]
        assert at_stop < total  # it stopped mid-cycle rather than running the window to its end
    finally:
        sandbox.stop()
    report_counts("sigterm", {"sales_at_stop": at_stop, "sales_in_the_end": total,
                              "stopped_after_s": round(stopped_after, 2),
                              "duplicates": after["duplicates"], "pending_at_stop": counts["pending"]})
