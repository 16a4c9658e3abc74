"""ID verification (Real ID) → BigCommerce order statuses, with Order Protection (issue 5).

Events from three sources (the `order-sync id-check` command, the signed webhook the daemon serves,
and Real ID's `realid` order metafields polled each cycle) feed one engine:

    event → only the latest check counts (latest.py) → target status of its stage (rules.py)
          → Order Protection: read, decide, read again, write only if still allowed (writer.py)
          → one audit entry per decision (engine.py, ledger.py)

Nothing is written to BigCommerce unless `id_verification.enabled` is true.
"""
