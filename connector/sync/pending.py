"""A sale write whose answer was lost: what X-Series did is found out before anything else.

Every write to X-Series commits the order's binding with pending_state first. A binding found
pending (a lost answer, a crash) is settled here by looking its sale up by the deterministic
invoice number — under the number as given and with the register's prefix/suffix (§8.2) —
and recording what landed, so no sale is ever created twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, TypeVar

from connector.clients.xseries import XSeriesClient
from connector.clients.xseries_sale_models import RegisterSale, Sale, WrittenSale
from connector.clock import Clock
from connector.errors import ApiError, PermanentApiError, TransientApiError
from connector.mapping.register_sale import PosRefs
from connector.mapping.identity import invoice_forms
from connector.mapping.status_table import PosState
from connector.store.repository import Store
from connector.store.tables import OrderBinding
from connector.sync.transitions import RESYNC_VOID, next_generation_of, on_account

T = TypeVar("T")
log = logging.getLogger("connector.sync")


@dataclass(frozen=True)
class Posted:
    """What a write whose answer is unknown gave its sale (source, source_id, sale_date) and when
    it was sent: what the sale is looked up by when X-Series kept none of our invoice numbers."""
    source: str
    source_id: str
    sale_date: datetime | None
    sent_at: datetime
    now: datetime

    def windows(self) -> list[tuple[datetime, datetime]]:
        """The dates the sale may carry: the sale_date given, or, on a server that dates a sale
        itself (unverified), the time of the write. A day either side: how the search's
        date_from/date_to read a time zone is not documented. Overlapping spans are searched once."""
        spans = sorted([(self.sent_at - DATE_SLACK, self.now + DATE_SLACK)]
                       + ([(self.sale_date - DATE_SLACK, self.sale_date + DATE_SLACK)] if self.sale_date else []))
        merged = [spans[0]]
        for low, high in spans[1:]:
            if low <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
            else:
                merged.append((low, high))
        return merged


DATE_SLACK = timedelta(days=1)


def posted(body: str | None, sent_at: datetime, now: datetime) -> Posted | None:
    """The Posted of a write from the body kept with its pending state (None: none kept, or one
    without a source_id, which only the invoice number can find)."""
    if not body:
        return None
    sent = RegisterSale.model_validate_json(body)
    if not sent.source or not sent.source_id:
        return None
    sale_date = sent.sale_date
    if sale_date is not None and sale_date.tzinfo is None:
        sale_date = sale_date.replace(tzinfo=timezone.utc)
    return Posted(sent.source, sent.source_id, sale_date, _aware(sent_at), _aware(now))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


async def find_sale(xs: XSeriesClient, refs: PosRefs, invoice: str, sale_id: str | None = None,
                    sent: Posted | None = None, known: str | None = None) -> Sale | None:
    """The sale order-sync gave `invoice`, whether X-Series kept the number as given or put the
    register's prefix and suffix on it; None when there is none under either. sale_id: only that
    sale (another under the number, one a server made of a re-post, says nothing of ours).
    sent: found under neither number, the sale is looked up by the source and source_id the write
    gave it (§8.4) — a server that numbers sales itself (§8.2) keeps none of ours, and a "none"
    there would write the sale a second time. Only then: it reads every sale of the dates searched.
    Only a sale on our register is ours: another pair on the same retailer (another store, its own
    register) names its sales BC-<its order id> with the same source_id, and order ids overlap
    (sale_id given: that sale, by its id, on whichever register). known: the id of the sale the
    binding has, ours on whichever register (the operator may have moved the pair to another since)."""
    def ours(found: list[Sale]) -> list[Sale]:
        return [s for s in found if s.id == sale_id or sale_id is None and (
            s.id == known or s.register_id in (None, refs.register_id))]

    for number in invoice_forms(invoice, refs.invoice_affixes):
        matches = ours(await _looked_up(invoice, xs.find_sales_by_invoice_number(number)))
        if matches:
            return matches[0]
    if sent is None:
        return None
    matches = ours(await _looked_up(invoice, xs.find_sales_by_source_id(sent.source, sent.source_id, refs.outlet_id,
                                                                        sent.windows())))
    if matches:
        log.info("sale %s not found by its invoice number; found %s by its source_id %s", invoice,
                 matches[0].id, sent.source_id)
        return matches[0]
    return None


async def _looked_up(invoice: str, search: Awaitable[list[Sale]]) -> list[Sale]:
    """The sales a look-up found. A look-up refused (400/422: its criteria, e.g. a date form the server
    does not read) tells nothing of whether the write landed: TransientApiError, so the write stays
    pending and is looked up again, rather than parked as if X-Series had refused the write itself."""
    try:
        return await search
    except PermanentApiError as exc:
        if exc.status not in (400, 422):
            raise
        raise TransientApiError(f"X-Series refused the look-up of sale {invoice} ({exc}): whether its write landed"
                                " is not known; it stays pending and is looked up again before anything is written",
                                api="xseries", method=exc.method, path=exc.path) from exc


class LandedNotShown(TransientApiError):
    """A write refused as a duplicate after a lost answer, whose sale the search does not show yet:
    the write stays pending (it landed), looked up again before anything is written."""


# Words of a refusal that says a sale with the source_id exists already (never a refusal of its form).
_DUPLICATE_WORDS = ("exist", "duplicate", "unique", "already", "taken")


def names_duplicate_source_id(refusal: ApiError) -> bool:
    """A 400/409/422 naming source_id as a duplicate: whether X-Series refuses a sale whose source_id
    it holds is unverified (§8.4); one that does says by it that a sale of ours landed."""
    text = str(refusal).casefold()
    return refusal.status in (400, 409, 422) and "source_id" in text and any(w in text for w in _DUPLICATE_WORDS)


async def landed_already(xs: XSeriesClient, refs: PosRefs, invoice: str, sent: Posted | None,
                         refusal: ApiError) -> Sale:
    """A write refused because a sale with its source_id exists: an earlier write of ours landed,
    its answer lost (or the search did not show it before this one). The sale found by that exact
    source_id (not voided) is the write's; not found (the search lags, §8.4), TransientApiError —
    neither parked (the sale exists, its stock is taken) nor written again in another form. Found
    voided, the refusal stands: a voided sale is not the one this write meant to make."""
    sale = await find_sale(xs, refs, invoice, sent=sent)
    if sale is not None and sale.status_code != "VOIDED":
        log.warning("sale %s: X-Series refused it as a duplicate (%s); an earlier write landed: sale %s",
                    invoice, refusal, sale.id)
        return sale
    if sale is not None:
        raise refusal
    raise LandedNotShown(f"X-Series refused sale {invoice} as a duplicate source_id ({refusal}), but the search"
                         " does not show that sale yet: it is looked up again before anything is written",
                         api="xseries", method="POST", path="/api/register_sales") from refusal


async def voided_already(xs: XSeriesClient, sale_id: str, refusal: PermanentApiError, what: str) -> Sale:
    """A void re-post refused: the transport sends a void again when its answer is lost, and a server
    that lets no voided sale change (§8.1) refuses that second one although the first landed. The
    sale read by its id (read_by_id) is returned when it is voided: the void is done. Read not
    voided, the refusal stands (raised). Its status not told, a TransientApiError: the void is
    neither taken as done nor as refused, and is tried again."""
    sale, unread = await read_by_id(xs, sale_id)
    if sale is None:
        raise TransientApiError(f"X-Series refused the void of {what} ({refusal}), and reading it by its id"
                                f" does not tell whether an earlier void landed ({unread}); tried again",
                                api="xseries", method="POST", path="/api/register_sales") from refusal
    if sale.status_code != "VOIDED":
        raise refusal
    return sale


async def read_by_id(xs: XSeriesClient, sale_id: str) -> tuple[Sale | None, str]:
    """The sale read by its id, not by the search, whose index may still show a voided sale closed;
    (None, why) when no read tells its status. The 2.0 read expects a completed sale (§8.5) and may
    answer a voided or on-account one 404: the 0.9 read is asked then."""
    unread: list[str] = []
    for read in (xs.get_sale, xs.get_register_sale):
        try:
            sale = await read(sale_id)
        except ApiError as exc:
            unread.append(str(exc))
            continue
        if sale is not None and sale.id == sale_id and sale.status_code:
            return sale, ""
        unread.append("no status in the answer")
    return None, "; ".join(unread)


async def settle_pending(store: Store, xs: XSeriesClient, refs: PosRefs, binding: OrderBinding, *,
                         settle: timedelta = timedelta(0)) -> OrderBinding:
    """A write may have happened: find out from X-Series before deciding anything. A sale not
    found is taken as not written only `settle` after the write (sync.lost_write_settle_seconds)."""
    sent = posted(binding.sale_body, binding.updated_at, store.clock.now())
    sale = await find_sale(xs, refs, binding.invoice_number, sent=sent, known=binding.sale_id)
    if binding.pending_state in (PosState.VOIDED.value, RESYNC_VOID) and binding.sale_id:
        # A void re-post is safe to repeat: simply let the decision run again — unless the
        # void did land, which the binding must record whatever the order says by now.
        resync, binding.pending_state = binding.pending_state == RESYNC_VOID, None
        if sale is not None and sale.id == binding.sale_id and sale.status_code == "VOIDED":
            binding.pos_state = PosState.VOIDED.value
            was = RegisterSale.model_validate_json(binding.sale_body).status if binding.sale_body else None
            store.audit(platform="connector", action="recover_void", bc_order_id=binding.bc_order_id,
                        target_id=sale.id, reason="an earlier void had no answer; the sale is voided"
                        + (" (an edit's resync: the order is written again)" if resync else ""),
                        before=was, after=sale.status_code)
            if was == "ONACCOUNT":  # its settle exceptions ask for a payment no longer owed
                store.end_settle_exceptions(binding.bc_order_id, binding.invoice_number, "voided")
            if resync:
                next_generation_of(binding)
    elif binding.sale_id and on_account(binding):
        # A settle was in flight: it landed when the sale is closed by now; else it runs again — once
        # the search had time to show it closed, as a create waits to be shown (a lagging "on account"
        # would post the payment again, refused: a closed sale only voids).
        # Ours only: another sale under the number (one a server made of a re-post) says nothing of ours.
        def closed(found: Sale | None) -> bool:
            return found is not None and found.id == binding.sale_id and found.status_code.endswith("CLOSED")
        if not closed(sale):
            sale = await _found_once_settled(store, xs, refs, binding, settle)
        binding.pending_state = None
        if closed(sale):
            sent = RegisterSale.model_validate_json(binding.sale_body)
            closed = sent.model_copy(update={"status": sale.status_code, "state": "closed"})
            binding.sale_body = closed.to_json().decode()
            store.audit(platform="connector", action="recover_settle", bc_order_id=binding.bc_order_id,
                        target_id=sale.id, reason="an earlier payment write had no answer; the sale is closed",
                        after=sale.status_code)
            store.end_settle_exceptions(binding.bc_order_id, binding.invoice_number, "settled")
    # Not shown by the search: looked up once more if it was sent less than `settle` ago.
    elif sale is not None or (sale := await _found_once_settled(store, xs, refs, binding, settle)) is not None:
        state = PosState.VOIDED if sale.status_code == "VOIDED" else PosState(binding.pending_state)
        binding.sale_id = sale.id
        binding.pos_state = state.value
        binding.pending_state = None
        if binding.sale_body:  # the found sale's line and payment ids, for a later re-post (§8.3)
            sent = RegisterSale.model_validate_json(binding.sale_body)
            binding.sale_body = WrittenSale.of(sale).ids_into(sent).to_json().decode()
        store.audit(platform="connector", action="recover_sale", bc_order_id=binding.bc_order_id,
                    target_id=sale.id, reason="an earlier sale write had no answer; the sale was found",
                    after=sale.status_code)
    else:
        binding.pending_state = None
        store.audit(platform="connector", action="recover_sale", bc_order_id=binding.bc_order_id,
                    reason="an earlier sale write had no answer and created nothing; writing again")
    return store.save_order_binding(binding)


async def _found_once_settled(store: Store, xs: XSeriesClient, refs: PosRefs, binding: OrderBinding,
                              settle: timedelta) -> Sale | None:
    """The sale of a pending write the search did not show, looked up once more when it was sent
    (at the pending save) less than `settle` ago; None when it is not to be found."""
    failure = store.failure(binding.bc_order_id)
    if failure is not None and failure.step in ("write", "recover"):
        # Its answer was lost and the look-up right after found nothing: the failed queue tries again
        # later, and a retry within seconds (a webhook's, a short interval's) goes back to it.
        too_soon(binding.invoice_number, binding.updated_at, store.clock.now(), settle)
        return None
    # A crash or a stop between the send and its answer records no failure, and the restart may come
    # within seconds: the rest of the settle time is waited out here, so the order is neither
    # written twice nor reported failed (a stop cuts the wait short: the binding stays pending).
    return await look_once_settled(store.clock, f"sale {binding.invoice_number}", binding.updated_at, settle,
                                   lambda: find_sale(xs, refs, binding.invoice_number, known=binding.sale_id,
                                                     sent=posted(binding.sale_body, binding.updated_at,
                                                                 store.clock.now())))


async def look_once_settled(clock: Clock, what: str, sent_at: datetime, settle: timedelta,
                            find: Callable[[], Awaitable[T]]) -> T | None:
    """A write that got no answer and that the search does not show, sent less than `settle` ago:
    find() once the rest of `settle` has passed (None when the time has passed already)."""
    left = settle_left(sent_at, clock.now(), settle)
    if not left:
        return None
    log.info("%s was sent %.0fs ago without an answer and the search does not show it yet; looking again"
             " in %.0fs before anything is written", what, (clock.now() - sent_at).total_seconds(), left)
    await clock.sleep(left)
    return await find()


def too_soon(invoice: str, sent_at: datetime, now: datetime, settle: timedelta) -> None:
    """TransientApiError while a write that got no answer, and that the search does not show, was
    sent less than `settle` ago: how soon X-Series' search sees a new sale is undocumented, and a
    lagging "not found" taken for "not written" would write it twice. The next attempt looks again."""
    if settle_left(sent_at, now, settle):
        raise TransientApiError(
            f"the sale write {invoice} got no answer {(now - sent_at).total_seconds():.0f}s ago and the search"
            f" does not show it yet; it is looked up again before anything is written once"
            f" {settle.total_seconds():.0f}s have passed", api="xseries", method="GET", path="/api/2.0/search")


def settle_left(sent_at: datetime, now: datetime, settle: timedelta) -> float:
    """Seconds until a write sent at `sent_at` that got no answer, and that the search does not
    show, may be taken as not written (0: it may now)."""
    return max((settle - (now - sent_at)).total_seconds(), 0.0)
