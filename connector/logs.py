"""Logging: plain text or one JSON object per line, the order id on every line about an order, and
secrets masked wherever they would appear."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import datetime, timezone

current_order_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("current_order_id", default=None)

_secrets: list[str] = []

# The levels --log-level accepts (any case); anything else is refused by argparse (exit 2).
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def register_secrets(values: list[str]) -> None:
    """Values that must never reach a log line (tokens, webhook secrets)."""
    for value in values:
        if value and len(value) >= 4 and value not in _secrets:
            _secrets.append(value)


def redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text


class _OrderContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "order_id", None) is None:
            record.order_id = current_order_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if getattr(record, "order_id", None) is not None:
            entry["order_id"] = record.order_id
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        order_id = getattr(record, "order_id", None)
        if order_id is not None and f"order {order_id}" not in text:
            text += f" [order {order_id}]"
        return redact(text)


def setup_logging(fmt: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_OrderContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
