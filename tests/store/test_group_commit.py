"""Group commit: concurrent writes share a transaction, yet each caller learns only of its own
write, and only once it is committed. Runs on SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from connector.store.group_commit import GroupCommit, Write
from connector.store.repository import Store
from connector.store.tables import OrderBindingRow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def binding(order_id: int, **changes) -> OrderBindingRow:
    fields = dict(bc_order_id=order_id, invoice_number=f"BC-{order_id}", pos_state="not_imported",
                  pending_state="closed", bc_status_id=11, content_hash="h", bc_date_modified=T0,
                  created_at=T0, updated_at=T0)
    fields.update(changes)
    return OrderBindingRow(**fields)


def committed_ids(store: Store) -> set[int]:
    """What another connection sees: committed rows only."""
    with store.engine.connect() as conn:
        return {row[0] for row in conn.execute(text("SELECT bc_order_id FROM order_binding"))}


async def test_writes_of_one_turn_share_one_transaction(store: Store) -> None:
    group = store.group
    before = group.batches
    await asyncio.gather(*(store.commit_order_binding(binding(i)) for i in range(1, 9)))
    assert committed_ids(store) == set(range(1, 9))
    assert group.batches == before + 1  # eight writes, one commit


async def test_the_caller_resumes_only_once_its_write_is_visible_to_others(store: Store) -> None:
    seen: list[set[int]] = []

    async def write_then_look(order_id: int) -> None:
        await store.commit_order_binding(binding(order_id))
        seen.append(committed_ids(store))

    await asyncio.gather(write_then_look(1), write_then_look(2))
    assert all({1, 2} <= ids for ids in seen)


async def test_a_failing_write_fails_its_own_caller_only_and_leaves_nothing_behind(store: Store) -> None:
    upsert = store._q.binding_upsert
    after_commit: list[str] = []

    def half_then_fail(sql) -> None:
        sql.run(upsert, store._q.binding_values(binding(100)))  # rolled back with the batch
        raise RuntimeError("a bug in the middle of a write")

    bad = store.group.commit(Write(half_then_fail, lambda _: after_commit.append("bad")))
    good = [store.commit_order_binding(binding(i)) for i in (1, 2, 3)]
    results = await asyncio.gather(bad, *good, return_exceptions=True)

    assert isinstance(results[0], RuntimeError)
    assert all(isinstance(r, OrderBindingRow) for r in results[1:])
    assert committed_ids(store) == {1, 2, 3}  # not 100: the failed write's first statement is gone
    assert after_commit == []  # side effects only for committed writes


async def test_side_effects_follow_the_commit(store: Store) -> None:
    from connector.store.leases import LeaseHandle

    assert await store.leases.acquire("order:5")
    lease = LeaseHandle("order:5", store.leases.owner)
    b = binding(5, pending_state=None, sale_id="s5", pos_state="closed")
    waiter = asyncio.ensure_future(store.commit_settlement(b, audit=dict(platform="xseries", action="create_sale",
                                                                         bc_order_id=5, reason="test"),
                                                           lease=lease))
    assert not lease.released  # queued, not committed yet
    await waiter
    assert lease.released and store.leases.try_acquire("order:5")  # the lease row is gone with it
    assert [e.action for e in store.audit_entries(5)] == ["create_sale"]


async def test_leases_taken_together_stay_exclusive(store: Store, clock) -> None:
    from connector.store.leases import Leases

    other = Leases(store.engine, clock=clock, sql=store.sql)  # another process on the same database
    mine = await asyncio.gather(*(store.leases.acquire(f"order:{i}") for i in range(10)))
    theirs = await asyncio.gather(*(other.acquire(f"order:{i}") for i in range(5, 15)))
    assert all(mine)
    assert theirs == [False] * 5 + [True] * 5


def test_outside_the_loop_a_write_commits_at_once(store: Store) -> None:
    store.settle_order(binding(9, pending_state=None), audit=None)
    assert committed_ids(store) == {9}


async def test_batches_are_bounded(store: Store) -> None:
    group = GroupCommit(store.sql, max_batch=4)
    upsert = store._q.binding_upsert

    def write(order_id: int) -> Write[None]:
        values = store._q.binding_values(binding(order_id))
        return Write(lambda sql: sql.run(upsert, values))

    await asyncio.gather(*(group.commit(write(i)) for i in range(10)))
    assert group.batches == 3 and group.writes == 10
    assert committed_ids(store) == set(range(10))


@pytest.mark.parametrize("failing", [0, 3])
async def test_a_failed_batch_is_done_again_write_by_write(store: Store, failing: int) -> None:
    group = GroupCommit(store.sql)
    upsert = store._q.binding_upsert
    tries: dict[int, int] = {}

    def write(order_id: int) -> Write[int]:
        values = store._q.binding_values(binding(order_id))

        def apply(sql) -> int:
            tries[order_id] = tries.get(order_id, 0) + 1
            if order_id == failing:
                raise ValueError("refused")
            sql.run(upsert, values)
            return order_id

        return Write(apply)

    results = await asyncio.gather(*(group.commit(write(i)) for i in range(5)), return_exceptions=True)
    assert [r if not isinstance(r, Exception) else "error" for r in results] == [
        "error" if i == failing else i for i in range(5)]
    assert committed_ids(store) == set(range(5)) - {failing}


async def _write_after_turns(store: Store, order_id: int, turns: int) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)  # a task that reaches its write a few turns of the loop later
    await store.commit_order_binding(binding(order_id))


async def test_writes_asked_for_within_the_window_share_one_transaction(store: Store) -> None:
    group = store.group
    group.window = 0.05  # long beside a few turns of the loop, on any machine
    before = group.batches
    await asyncio.gather(*(_write_after_turns(store, i, turns=i) for i in range(1, 6)))
    assert committed_ids(store) == set(range(1, 6))
    assert group.batches == before + 1


async def test_without_a_window_only_the_writes_of_one_turn_share_a_transaction(store: Store) -> None:
    group = store.group
    group.window = 0
    before = group.batches
    await asyncio.gather(*(_write_after_turns(store, i, turns=2 * i) for i in range(1, 6)))
    assert committed_ids(store) == set(range(1, 6))
    assert group.batches == before + 5
