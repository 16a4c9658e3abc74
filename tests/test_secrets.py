"""Secrets (issue 7 §5): the API tokens and the webhook secret never appear in logs, exception text,
the audit log or the database; the config's repr masks them.

A failing run through the real command line — X-Series refusing the token (401), then a sync where
some orders fail, one of them because a misbehaving proxy echoes our own Authorization header in its
error page — with JSON logs at DEBUG, then `status` and `audit`. Afterwards every captured line,
every exception text, every audit row and every row of every table of the SQLite file (and the raw
bytes of the file and its WAL) are searched for each secret.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import traceback
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE / "sync", HERE / "bad_input"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from connector.clients.xseries import XSeriesClient  # noqa: E402
from connector.config import load_settings  # noqa: E402
from connector.errors import CredentialsError  # noqa: E402
from connector.sandbox.xseries_refusals import unprocessable  # noqa: E402
from connector.store.repository import Store  # noqa: E402
from sync_world import OMAR, line, make_world  # noqa: E402

from cli_world import run_cli, write_config  # noqa: E402

BC_TOKEN = "bc-S3CRET-7c1e9a5d2b4f"
XS_TOKEN = "xs-S3CRET-0d8f6b2a9e13"
WEBHOOK_SECRET = "whsec-S3CRET-5a7c9e1b3d"
SECRETS = (BC_TOKEN, XS_TOKEN, WEBHOOK_SECRET)


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} shows a secret: …{text[max(0, text.find(secret) - 80):][:200]}…"


def echo_token_on_create(xs, sku: str) -> None:
    """X-Series (a proxy in front of it) refuses this product with a 422 quoting the request's
    Authorization header back."""
    original = xs._create_product_http

    def create(call):
        if isinstance(call.body, dict) and call.body.get("sku") == sku:
            raise unprocessable(f"rejected request with Authorization: {call.request.headers['authorization']}")
        return original(call)

    xs._create_product_http = create
    xs._routes = xs._build_routes()


def dump_database(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        lines = []
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                lines.append(f"{table}: {row!r}")
        return "\n".join(lines)
    finally:
        connection.close()


def test_no_secret_in_logs_exceptions_audit_or_database(tmp_path, monkeypatch, capsys):
    world = make_world(f"sqlite:///{tmp_path / 'secrets.db'}", tmp_path)
    world.bc.access_token, world.xs.token = BC_TOKEN, XS_TOKEN
    good = world.add_order([line("TEE-M", 1)])
    echoed = world.add_order([line("ECHO-1", 1, "5.00")], customer=OMAR)
    unreadable = world.add_order([line("TEE-L", 1)], total_inc_tax="1,234.00")
    world.clock.advance(5)
    config = write_config(world, tmp_path / "config.yaml")
    with config.open("a") as f:
        f.write("id_verification:\n  enabled: true\n  webhook_secret: ${SECRETS_WEBHOOK}\n")
    monkeypatch.setenv("SECRETS_WEBHOOK", WEBHOOK_SECRET)
    echo_token_on_create(world.xs, "ECHO-1")
    logs = ["--log-format", "json", "--log-level", "DEBUG"]
    captured: list[str] = []

    # 1. The X-Series token is refused (401).
    world.xs.token = "rotated-" + XS_TOKEN[::-1]
    assert run_cli(world, monkeypatch, config, *logs, "sync", bc_token=BC_TOKEN, xs_token=XS_TOKEN) == 2
    out = capsys.readouterr()
    captured += [out.out, out.err]
    assert "credentials error" in out.err
    world.xs.token = XS_TOKEN

    # 2. A sync where some orders fail; 3. what a person looks at next.
    assert run_cli(world, monkeypatch, config, *logs, "sync", bc_token=BC_TOKEN, xs_token=XS_TOKEN) == 1
    for command in (["status"], ["audit"], ["audit", "--order", str(echoed)]):
        assert run_cli(world, monkeypatch, config, *logs, *command, bc_token=BC_TOKEN, xs_token=XS_TOKEN) == 0
    out = capsys.readouterr()
    captured += [out.out, out.err]
    assert world.sale(good) is not None and world.sales(echoed) == [] and world.sales(unreadable) == []

    # Logs: one JSON object a line, and the failures are there (so the search below is not vacuous).
    log_lines = [ln for text in captured for ln in text.splitlines() if ln.startswith("{")]
    entries = [json.loads(ln) for ln in log_lines]
    assert any(e.get("order_id") == echoed and "Authorization" in e["message"] for e in entries)
    assert any(e["level"] == "debug" for e in entries)
    for text in captured:
        assert_no_secret("command output", text)

    # Exception texts: what the store kept as reasons, and the errors the clients raise.
    store = Store.open(world.database_url)
    try:
        reasons = {f.bc_order_id: f.reason for f in store.failures()}
        assert set(reasons) == {echoed, unreadable} and "Bearer ***" in reasons[echoed]
        for reason in reasons.values():
            assert_no_secret("a failure reason", reason)
        audit = store.audit_entries()
        assert audit  # the good order's writes were audited
        for entry in audit:
            assert_no_secret("the audit log", repr(entry.model_dump()))
    finally:
        store.close()
    world.xs.token = "rotated-by-the-merchant"  # our (secret) token is refused
    client = XSeriesClient(domain_prefix=world.xs.domain_prefix, token=XS_TOKEN, api_url=world.xs.base_url,
                           http_transport=world.xs.transport(), clock=world.clock)
    with pytest.raises(CredentialsError) as refused:
        await_outlets(client)
    exc = refused.value
    assert_no_secret("exception text", "".join(traceback.format_exception(exc)) + repr(exc) + repr(exc.body)
                     + repr(vars(exc)))

    # The database: every row of every table, and the raw bytes of the file and its WAL.
    db_file = tmp_path / "secrets.db"
    assert_no_secret("the database", dump_database(db_file))
    for path in (db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")):
        if path.exists():
            raw = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in raw, f"{path.name} holds a secret"


def await_outlets(client: XSeriesClient) -> None:
    import asyncio

    async def call():
        try:
            await client.outlets()
        finally:
            await client.aclose()

    asyncio.run(call())


def test_the_config_repr_masks_every_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("S_BC", BC_TOKEN)
    monkeypatch.setenv("S_XS", XS_TOKEN)
    monkeypatch.setenv("S_WH", WEBHOOK_SECRET)
    # The secrets added since: BigCommerce's webhook header and the console's cookie key.
    bc_hook, session = "bchook-S3CRET-4e2a", "session-S3CRET-9b1f"
    monkeypatch.setenv("S_BCH", bc_hook)
    monkeypatch.setenv("S_SES", session)
    path = tmp_path / "config.yaml"
    path.write_text(
        "bigcommerce:\n  store_hash: abc123\n  access_token: ${S_BC}\n  webhook_secret: ${S_BCH}\n"
        "xseries:\n  domain_prefix: shop\n  token: ${S_XS}\n  outlet: Main\n  register: Web\n"
        "id_verification:\n  enabled: true\n  webhook_secret: ${S_WH}\n"
        "console:\n  session_secret: ${S_SES}\n"
    )
    settings = load_settings(path)
    # Loaded, so masking them is not vacuous.
    assert set(settings.secrets()) == {*SECRETS, bc_hook, session}
    for shown in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.model_dump()),
                  repr(settings.bigcommerce), repr(settings.xseries), repr(settings.id_verification),
                  repr(settings.console), f"{settings}", f"{settings.xseries.token}"):
        assert_no_secret("the settings' representation", shown)
        assert bc_hook not in shown and session not in shown, shown
    client = XSeriesClient(domain_prefix="shop", token=XS_TOKEN, api_url="http://x.invalid")
    try:
        assert_no_secret("the client's repr", repr(client) + repr(vars(client).get("transport")))
    finally:
        import asyncio

        asyncio.run(client.aclose())


@pytest.mark.parametrize("bad", ["unknown-key", "wrong-type"])
def test_a_config_error_never_echoes_a_secret(tmp_path, monkeypatch, capsys, bad):
    from connector.cli import main

    monkeypatch.setenv("S_BC", BC_TOKEN)
    monkeypatch.setenv("S_XS", XS_TOKEN)
    token_line = "  token: ${S_XS}\n" + ("  tokn: ${S_XS}\n" if bad == "unknown-key" else "")
    extra = "sync:\n  interval_seconds: ${S_BC}\n" if bad == "wrong-type" else ""
    path = tmp_path / "config.yaml"
    path.write_text("bigcommerce:\n  store_hash: abc123\n  access_token: ${S_BC}\n"
                    f"xseries:\n  domain_prefix: shop\n{token_line}  outlet: Main\n  register: Web\n{extra}")
    assert main(["--config", str(path), "sync"]) == 2
    err = capsys.readouterr().err
    assert "config.yaml:" in err
    assert_no_secret("a config error", err)


def test_the_database_password_is_starred_in_messages_and_redacted_from_logs():
    """postgresql://user:PASSWORD@host: a refused URL's message shows it starred, and the password is
    among the secrets the log filters take out."""
    from connector.errors import ConfigError
    from connector.store.db import make_engine
    from connector.workers.app import conninfo

    for bad, call in (("mysql://sync:Hunter2-S3CRET@db/orders", make_engine),
                      ("sqlite://sync:Hunter2-S3CRET@/x.db", conninfo)):
        with pytest.raises(ConfigError) as caught:
            call(bad)
        assert "Hunter2-S3CRET" not in str(caught.value) and "sync:***@" in str(caught.value)
    from connector.config import Settings

    settings = Settings.model_validate({
        "bigcommerce": {"store_hash": "abc123", "access_token": BC_TOKEN},
        "xseries": {"domain_prefix": "mystore", "token": XS_TOKEN, "outlet": "Main Outlet", "register": "Online"},
        "database_url": "postgresql://sync:Hunter2-S3CRET@db.internal/orders",
    })
    assert "Hunter2-S3CRET" in settings.secrets()


@pytest.mark.parametrize("url,starred", [
    # libpq takes the password as a query parameter too; the scheme written postgres:// is refused.
    ("postgres://app@db.internal/orders?password=Sup3rSecretPw", "postgres://app@db.internal/orders?password=***"),
    ("mysql://app:Sup3rSecretPw@db/orders?sslmode=require&PASSWORD=Sup3rSecretPw",
     "mysql://app:***@db/orders?PASSWORD=***&sslmode=require"),  # as SQLAlchemy renders it: parameters sorted
])
def test_a_database_password_given_as_a_query_parameter_is_starred_and_redacted(url, starred, tmp_path, monkeypatch,
                                                                                capsys):
    from connector.cli import main
    from connector.config import Settings
    from connector.store.db import shown

    assert shown(url) == starred
    monkeypatch.setenv("S_BC", BC_TOKEN)
    monkeypatch.setenv("S_XS", XS_TOKEN)
    path = tmp_path / "config.yaml"
    path.write_text("bigcommerce:\n  store_hash: abc123\n  access_token: ${S_BC}\n"
                    "xseries:\n  domain_prefix: shop\n  token: ${S_XS}\n  outlet: Main\n  register: Web\n"
                    f"database_url: {url}\n")
    assert main(["--config", str(path), "status"]) == 2
    err = capsys.readouterr().err
    assert "Sup3rSecretPw" not in err and starred in err, err
    settings = Settings.model_validate({
        "bigcommerce": {"store_hash": "abc123", "access_token": BC_TOKEN},
        "xseries": {"domain_prefix": "mystore", "token": XS_TOKEN, "outlet": "Main Outlet", "register": "Online"},
        "database_url": "postgresql://app@db.internal/orders?sslmode=require&password=Sup3rSecretPw",
    })
    assert "Sup3rSecretPw" in settings.secrets()  # the log filters take it out
    assert "Sup3rSecretPw" not in repr(settings) + str(settings) and "password=***" in repr(settings)


@pytest.mark.parametrize("url", [
    "mysql://sync:Hunter2/S3CRET@db/orders", "mysql://sync:Hunter2#S3CRET@db/orders",
    "mysql://sync:Hunter2?S3CRET@db/orders", "mysql://sync:Hunter2@S3CRET@db/orders",
    "mysql://sync:Hunter2%2FS3CRET@db/orders",
])
def test_a_database_password_with_a_slash_hash_question_mark_or_at_sign_is_starred_and_redacted(url):
    """The password is what the URL parser (SQLAlchemy's, which connects with it) reads, not up to the
    first / ? or # a pattern stops at: the whole of it is starred in messages and given to the log
    filters."""
    from connector.errors import ConfigError
    from connector.store.db import database_passwords, make_engine

    with pytest.raises(ConfigError) as caught:
        make_engine(url)
    assert "S3CRET" not in str(caught.value) and "Hunter2" not in str(caught.value), caught.value
    assert "sync:***@db/orders" in str(caught.value)
    assert any("Hunter2" in p and "S3CRET" in p for p in database_passwords(url))


@pytest.mark.parametrize("url", ["postgresql://sync:p@ss:w0rd@db.internal/orders",
                                 "postgresql://sync:S3CRETw0rd@db.internal:5432x/orders"])
def test_a_database_url_that_does_not_parse_is_a_configuration_error_with_its_password_starred(url):
    """A raw @ then : in the password (read as host:port) or a port typo: SQLAlchemy's parser raises
    a ValueError quoting part of the URL. It is a configuration error (exit 2) naming the URL with its
    password starred, not a traceback holding part of the password."""
    from connector.errors import ConfigError
    from connector.store.db import make_engine

    with pytest.raises(ConfigError, match="does not parse") as caught:
        make_engine(url)
    assert "w0rd" not in str(caught.value) and "sync:***@db.internal" in str(caught.value), caught.value
