import json
import logging

import pytest

from connector.logs import current_order_id, redact, register_secrets, setup_logging


@pytest.fixture
def capture():
    records = []

    class ListHandler(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    def use(fmt):
        setup_logging(fmt, "INFO")
        root = logging.getLogger()
        handler = ListHandler()
        handler.setFormatter(root.handlers[0].formatter)
        for f in root.handlers[0].filters:
            handler.addFilter(f)
        root.handlers[:] = [handler]
        return records

    yield use
    logging.getLogger().handlers[:] = []


def test_json_lines_carry_the_order_id(capture):
    records = capture("json")
    log = logging.getLogger("connector.sync")
    token = current_order_id.set(4711)
    try:
        log.warning("sale write failed")
    finally:
        current_order_id.reset(token)
    log.info("cycle done")
    first, second = (json.loads(line) for line in records)
    assert first["order_id"] == 4711 and first["level"] == "warning" and first["message"] == "sale write failed"
    assert "order_id" not in second and second["logger"] == "connector.sync"


def test_explicit_order_id_wins(capture):
    records = capture("json")
    logging.getLogger("x").info("retry", extra={"order_id": 12})
    assert json.loads(records[0])["order_id"] == 12


def test_text_lines_name_the_order(capture):
    records = capture("text")
    token = current_order_id.set(99)
    try:
        logging.getLogger("x").info("something happened")
    finally:
        current_order_id.reset(token)
    assert records[0].endswith("[order 99]")


def test_secrets_are_masked_in_messages_and_tracebacks(capture):
    register_secrets(["sekret-token-123"])
    records = capture("json")
    try:
        raise RuntimeError("auth failed with sekret-token-123")
    except RuntimeError:
        logging.getLogger("x").exception("token sekret-token-123 rejected")
    entry = json.loads(records[0])
    assert "sekret-token-123" not in records[0]
    assert "***" in entry["message"] and "***" in entry["exception"]
    assert redact("a sekret-token-123 b") == "a *** b"

