"""A held lease checked right before a write is sent (Leases.confirm): a lease that may have lapsed
while its holder waited sends nothing, and a renewal never takes back a lease another process took."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from connector.store.leases import TTL_SECONDS, LeaseLost
from connector.store.repository import Store

MARGIN = timedelta(seconds=150)  # a write's: its attempt deadline (120 s) + sync.lost_write_settle_seconds (30)
IN_TIME = TTL_SECONDS - MARGIN.total_seconds() - 1  # renewed this long ago: still ours for more than the margin


@pytest.fixture
def two(database_url, clock):
    a, b = Store.open(database_url, clock=clock), Store.open(database_url, clock=clock)
    yield a.leases, b.leases
    a.close()
    b.close()


async def test_a_lease_renewed_in_time_is_confirmed_without_the_database(two, clock, monkeypatch):
    a, _ = two
    async with a.hold("order:7") as held:
        clock.advance(IN_TIME)
        monkeypatch.setattr(a, "db", None)  # a database round trip would fail
        a.confirm(held, MARGIN)
        monkeypatch.undo()


async def test_a_lease_not_renewed_but_still_ours_is_renewed_before_the_write(two, clock):
    a, b = two
    async with a.hold("order:7") as held:
        clock.advance(TTL_SECONDS + 60)  # a quota window waited out with no renewal; nobody took the lease
        a.confirm(held, MARGIN)
        assert not b.try_acquire("order:7")  # renewed: ours for another ttl


async def test_a_lease_taken_over_is_never_taken_back(two, clock):
    a, b = two
    async with a.hold("order:7") as held:
        clock.advance(TTL_SECONDS + 1)  # a's renewals did not reach the database: the lease expired
        assert b.try_acquire("order:7")
        b.release("order:7")  # b wrote the order and is done
        a._renew_held()  # the database answers a's renewer again: it must not take the lease back
        assert held.lost
        with pytest.raises(LeaseLost):
            a.confirm(held, MARGIN)
        assert b.try_acquire("order:7")  # free: a did not take it back


async def test_a_lease_that_cannot_be_renewed_before_the_write_sends_nothing(two, clock, monkeypatch):
    a, _ = two
    async with a.hold("order:7") as held:
        clock.advance(IN_TIME + 2)  # less than the margin left, and the database does not answer

        def cut():
            raise OperationalError("UPDATE lease", {}, Exception("server closed the connection unexpectedly"))

        monkeypatch.setattr(a.db, "begin", cut)
        with pytest.raises(LeaseLost):
            a.confirm(held, MARGIN)
        monkeypatch.undo()


async def test_a_margin_no_renewal_could_cover_is_refused(two):
    a, _ = two
    async with a.hold("order:7") as held:
        with pytest.raises(ValueError, match="shorter than the lease's ttl"):
            a.confirm(held, timedelta(seconds=TTL_SECONDS))
