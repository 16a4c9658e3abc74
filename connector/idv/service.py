"""ID verification assembled from the settings (rules, engine, metafield poller, webhook receiver)
for the CLI and the daemon.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from connector.clients.bigcommerce import BigCommerceClient
from connector.config import Settings
from connector.idv.engine import IdvEngine
from connector.idv.ledger import SqlLedger
from connector.idv.metafields import MetafieldPoller, summarize
from connector.idv.resume import note_off, resume
from connector.idv.rules import Rules, RulesAtStart, RulesFile
from connector.idv.stages import Stage
from connector.idv.webhook import SqlDeliveryLog, WebhookReceiver
from connector.mapping.tables import ID_VERIFICATION, mapping_file
from connector.store.repository import Store

log = logging.getLogger("connector.idv")


@dataclass
class IdvService:
    settings: Settings
    store: Store
    engine: IdvEngine
    rules: Rules | None  # None when disabled: the store's statuses are not even read
    poller: MetafieldPoller | None

    @classmethod
    async def start(cls, settings: Settings, bc: BigCommerceClient, store: Store,
                    at_start: RulesAtStart | None = None) -> "IdvService":
        """Load the rules table (`at_start`: as the process read it at start-up, Runtime.idv_rules); when
        enabled, resolve it against the store (ConfigError: stop)."""
        conf = settings.id_verification
        rules = None  # off, the table is not read: a broken one stops nothing (as sync and run do)
        if conf.enabled:
            rules_file = at_start.loaded() if at_start else RulesFile.load(mapping_file(settings.mappings_path(),
                                                                                        ID_VERIFICATION))
            rules = rules_file.resolve(await bc.list_order_statuses())
        engine = IdvEngine(bc=bc, rules=rules, ledger=SqlLedger(store, rules), enabled=conf.enabled,
                           lock=store.leases.hold, clock=store.clock)
        poller = None
        if conf.enabled:
            # Never from sync.start_at: verdicts of a time ID verification was off would undo staff's work.
            poller = MetafieldPoller(bc=bc, engine=engine, store=store, overlap_seconds=settings.sync.overlap_seconds,
                                     floor=resume(store, settings.sync.overlap_seconds))
            log.info(
                "ID verification on: in progress → %s, passed → %s, failed → %s; protected: %s",
                *(rules.describe(rules.targets[s]) for s in (Stage.IN_PROGRESS, Stage.PASSED, Stage.FAILED)),
                ", ".join(rules.describe(i) for i in sorted(rules.protected)) or "none",
            )
            for status_id in rules.unprotected_advised():
                log.warning("ID verification: %s is not protected (%s): an ID check rejected after an order "
                            "reached it would move the order back; protect Shipped, Cancelled and Refunded",
                            rules.describe(status_id), ID_VERIFICATION)
        return cls(settings=settings, store=store, engine=engine, rules=rules, poller=poller)

    def webhook_receiver(self) -> WebhookReceiver | None:
        """The webhook endpoint, when enabled and a secret is configured."""
        conf = self.settings.id_verification
        if not conf.enabled:
            return None
        if conf.webhook_secret is None or not conf.webhook_secret.get_secret_value():
            log.info("ID-verification webhook not served: id_verification.webhook_secret is not set")
            return None
        return WebhookReceiver(
            engine=self.engine, secret=conf.webhook_secret.get_secret_value(),
            tolerance_seconds=conf.webhook_tolerance_seconds, clock=self.store.clock,
            deliveries=SqlDeliveryLog(self.store, configured=[p.name for p in self.settings.pairs_source or []]
                                      or [self.settings.pair]),
        )


async def start_if_enabled(settings: Settings, bc: BigCommerceClient, store: Store,
                           at_start: RulesAtStart | None = None) -> IdvService | None:
    """The service when enabled (rules checked against the store now: a bad name stops start-up),
    else None and not a single request."""
    if not settings.id_verification.enabled:
        return None
    return await IdvService.start(settings, bc, store, at_start)


async def poll_once(service: IdvService | None, store: Store) -> bool:
    """One metafield poll, never raising: False when something is left to retry. Off (no service):
    the verdicts of this time are recorded as not to be applied (resume.py)."""
    if service is None or service.poller is None:
        note_off(store)
        return True
    try:
        report = await service.poller.poll()
    except Exception as exc:  # noqa: BLE001 - the mirror must run even when the poll cannot
        log.error("ID-verification metafield poll failed (next cycle tries again): %s", exc)
        return False
    log.info("ID-verification metafield poll: %s", summarize(report))
    return not report.failed
