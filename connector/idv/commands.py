"""The ID-verification commands: `order-sync id-check`, `order-sync audit`, and the lines it adds to
`order-sync status`. Argument parsing stays in connector.cli."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import TextIO

import httpx
from sqlalchemy import func
from sqlmodel import select

from connector.clients.bigcommerce import BigCommerceClient
from connector.clock import SYSTEM_CLOCK, Clock
from connector.config import Settings
from connector.errors import EXIT_FAILURES, EXIT_OK, ApiError, ConfigError, CredentialsError, NotFoundError
from connector.idv.decision import AUDIT_PLATFORM, AUDIT_PREFIX, Outcome
from connector.idv.metafields import CURSOR
from connector.idv.service import IdvService
from connector.idv.stages import CheckEvent, Source, stage_of_event
from connector.store.idv_tables import IdvCheck
from connector.store.repository import Store
from connector.store.tables import AuditEntry


async def id_check(settings: Settings, order_id: int, event_name: str, check_id: str | None, *,
                   out: TextIO | None = None, bc_transport: httpx.AsyncBaseTransport | None = None,
                   clock: Clock = SYSTEM_CLOCK) -> int:
    """Feed one event to the rules, as if Real ID had reported it now; print the decision."""
    out = out or sys.stdout
    stage = stage_of_event(event_name)
    if settings.refusal:  # a variable of the pair's own section unset, its token perhaps
        raise ConfigError(settings.refusal)
    store = Store.open(settings.database_url, clock=clock, pair=settings.pair)
    bc = BigCommerceClient(
        store_hash=settings.bigcommerce.store_hash,
        access_token=settings.bigcommerce.access_token.get_secret_value(),
        api_url=settings.bigcommerce.api_url, http_transport=bc_transport, clock=clock,
    )
    try:
        service = await IdvService.start(settings, bc, store)
        event = CheckEvent(order_id=order_id, event=event_name.strip().lower(), stage=stage, check_id=check_id,
                           occurred_at=clock.now(), source=Source.CLI)
        decision = await service.engine.handle(event)
    except NotFoundError:
        print(f"order {order_id}: not found on BigCommerce; nothing written", file=out)
        return EXIT_FAILURES
    except CredentialsError:
        raise
    except ApiError as exc:
        print(f"order {order_id}: BigCommerce could not be reached; nothing recorded: {exc}", file=out)
        return EXIT_FAILURES
    finally:
        await bc.aclose()
        store.close()
    print(f"order {order_id}: {decision.outcome.label} — {decision.reason}", file=out)
    return EXIT_FAILURES if decision.outcome is Outcome.REFUSED else EXIT_OK  # a script must see it


def show_audit(settings: Settings, order_id: int | None, limit: int | None, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    with contextlib.closing(Store.open(settings.database_url, pair=settings.pair)) as store:
        entries = store.audit_entries(order_id, limit=None if order_id is not None else limit)
    if not entries:
        print("no audit entries" + (f" for order {order_id}" if order_id is not None else ""), file=out)
    for entry in entries:
        print(format_entry(entry), file=out)
    return EXIT_OK


def format_entry(entry: AuditEntry) -> str:
    at = entry.at.strftime("%Y-%m-%d %H:%M:%SZ")
    order = f"order {entry.bc_order_id}" if entry.bc_order_id is not None else "-"
    if entry.platform == AUDIT_PLATFORM and entry.action.startswith(AUDIT_PREFIX):
        try:
            label = Outcome(entry.action[len(AUDIT_PREFIX):]).label
        except ValueError:
            label = entry.action
        detail = json.loads(entry.detail or "{}")
        before = detail.get("before_name") or entry.before or "not read"
        after = detail.get("after_name") or entry.after or "not read"
        occurred = (detail.get("occurred_at") or "")[:19].replace("T", " ")
        check = entry.target_id or "latest"
        return (f"{at}  {order}  ID check {check}: {detail.get('event', '?')} ({detail.get('source', '?')}, "
                f"{occurred}Z) → {label}; status {before} → {after}; {entry.reason}")
    text = f"{at}  {order}  {entry.platform} {entry.action}"
    if entry.target_id:
        text += f" {entry.target_id}"
    if entry.before is not None or entry.after is not None:
        text += f"; {entry.before or '-'} → {entry.after or '-'}"
    if entry.reason:
        text += f"; {entry.reason}"
    return text


def status_lines(settings: Settings, store: Store) -> list[str]:
    """The ID-verification part of `order-sync status`."""
    conf = settings.id_verification
    counts = {o: store.count_audit(AUDIT_PLATFORM, o.audit_action) for o in Outcome}
    state = "on" if conf.enabled else "off (nothing is written)"
    lines = [f"ID verification: {state}; decisions: " + ", ".join(f"{o.label} {n}" for o, n in counts.items())]
    with store.session() as s:
        stages = dict(s.exec(
            select(IdvCheck.stage, func.count()).where(IdvCheck.pair == store.pair,
                                                       IdvCheck.superseded == False)  # noqa: E712
            .group_by(IdvCheck.stage)
        ).all())
    cursor = store.cursor(CURSOR)
    lines.append(
        "  orders by latest check: "
        + ", ".join(f"{name} {stages.get(name, 0)}" for name in ("in_progress", "passed", "failed"))
        + f"; metafield poll cursor: {cursor.isoformat() if cursor else 'not started'}"
    )
    if conf.enabled:
        # Both doors: run serving one pair opens webhook_port; the server (serve, or run with several
        # pairs) answers each pair under its own path.
        webhook = (f"http://{conf.webhook_host}:{conf.webhook_port}/webhooks/id-verification (order-sync run,"
                   f" one pair), or /webhooks/id-verification/{store.pair} on order-sync's server"
                   if conf.webhook_secret is not None else "off (no webhook_secret)")
        lines.append(f"  webhook: {webhook}")
    return lines
