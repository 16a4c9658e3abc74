"""The one-off historical import (`order-sync import-history`): gated, resumable, quota-bound."""
