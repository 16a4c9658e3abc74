"""ID verification (Real ID) → BigCommerce order statuses, with Order Protection (issue 5).

Events from `order-sync id-check`, the signed webhook and the polled `realid` metafields feed one
engine: only the latest check counts (latest.py) → target status of its stage (rules.py) → read,
decide, read again, write only if still allowed (writer.py) → one audit entry per decision
(engine.py, ledger.py). Nothing is written unless `id_verification.enabled` is true.
"""
