from pathlib import Path

import pytest

from connector.config import load_settings, resolve_config_path
from connector.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.yaml"

GOOD = """\
bigcommerce:
  store_hash: abc123
  access_token: ${BC_TOKEN}
xseries:
  domain_prefix: mystore
  token: ${XS_TOKEN}
  outlet: Main Outlet
  register: Online Store
database_url: sqlite:///x.db
sync:
  interval_seconds: 30
  start_at: 2026-01-01T00:00:00Z
"""
ENV = {"BC_TOKEN": "bc-secret-123", "XS_TOKEN": "xs-secret-456"}


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_loads_and_interpolates_secrets(tmp_path):
    s = load_settings(write(tmp_path, GOOD), environ=ENV)
    assert s.bigcommerce.access_token.get_secret_value() == "bc-secret-123"
    assert s.xseries.register_name == "Online Store"
    assert s.xseries.base_url == "https://mystore.retail.lightspeed.app"
    assert s.sync.interval_seconds == 30
    assert s.sync.start_at.utcoffset().total_seconds() == 0
    assert s.historical_import.enabled is False and s.id_verification.enabled is False
    # repr never shows a secret
    assert "bc-secret-123" not in repr(s) and "xs-secret-456" not in repr(s)
    assert set(s.secrets()) == {"bc-secret-123", "xs-secret-456"}


def test_missing_env_var_names_key_and_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, GOOD), environ={"BC_TOKEN": "x"})
    assert "config.yaml:6" in str(err.value) and "XS_TOKEN" in str(err.value)
    assert "xseries.token" in str(err.value)


def test_unknown_key_names_file_line(tmp_path):
    text = GOOD.replace("  register: Online Store\n", "  register: Online Store\n  registr: x\n")
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text), environ=ENV)
    assert "config.yaml:9: xseries.registr: unknown key" in str(err.value)


def test_bad_value_names_line_and_never_echoes_value(tmp_path):
    text = GOOD.replace("interval_seconds: 30", "interval_seconds: -5")
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text), environ=ENV)
    assert "config.yaml:11: sync.interval_seconds" in str(err.value)


def test_missing_required_key(tmp_path):
    text = GOOD.replace("  outlet: Main Outlet\n", "")
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text), environ=ENV)
    assert "xseries.outlet: required key is missing" in str(err.value)


def test_yaml_syntax_error_has_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, GOOD + "sync: [unclosed\n"), environ=ENV)
    assert "config.yaml:" in str(err.value) and "syntax" in str(err.value)


@pytest.mark.parametrize("broken, wrong_line", [
    # An unclosed [ or quote: PyYAML notices on a later line; the line to fix is where it opened.
    ("  interval_seconds: [30\n  overlap_seconds: 10\n  max_attempts: 3\n", 11),
    ("  interval_seconds: '30\n  overlap_seconds: 10\n", 11),
    # A key indented one space too far is wrong on its own line.
    ("  interval_seconds: 30\n   overlap_seconds: 10\n", 12),
])
def test_yaml_syntax_error_names_the_line_that_is_wrong(tmp_path, broken, wrong_line):
    text = GOOD.split("sync:\n")[0] + "sync:\n" + broken
    assert text.splitlines()[9] == "sync:"
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text), environ=ENV)
    assert f"config.yaml:{wrong_line}: YAML syntax error" in str(err.value), str(err.value)


def test_token_key_names_the_variable_the_file_uses(tmp_path):
    s = load_settings(write(tmp_path, GOOD), environ=ENV)
    assert s.token_key("BigCommerce") == "bigcommerce.access_token (${BC_TOKEN})"
    assert s.token_key("X-Series") == "xseries.token (${XS_TOKEN})"
    inline = load_settings(write(tmp_path, GOOD.replace("${XS_TOKEN}", "literal-token")), environ=ENV)
    assert inline.token_key("X-Series") == "xseries.token"  # no variable to name, and never the value


def test_duplicate_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, GOOD + "database_url: sqlite:///y.db\n"), environ=ENV)
    assert "given twice" in str(err.value)


def test_naive_start_at_refused(tmp_path):
    text = GOOD.replace("2026-01-01T00:00:00Z", "'2026-01-01T00:00:00'")
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text), environ=ENV)
    assert "sync.start_at" in str(err.value)


def test_config_path_resolution(monkeypatch):
    monkeypatch.delenv("ORDER_SYNC_CONFIG", raising=False)
    assert resolve_config_path(None) == Path("config.yaml")
    monkeypatch.setenv("ORDER_SYNC_CONFIG", "/etc/os.yaml")
    assert resolve_config_path(None) == Path("/etc/os.yaml")
    assert resolve_config_path("given.yaml") == Path("given.yaml")


def test_example_config_is_valid_and_documents_every_key():
    s = load_settings(EXAMPLE, environ={"BIGCOMMERCE_ACCESS_TOKEN": "t", "XSERIES_TOKEN": "t",
                                        "ORDER_SYNC_WEBHOOK_SECRET": "w"})
    text = EXAMPLE.read_text()

    def keys(model, prefix=""):
        for name, field in type(model).model_fields.items():
            if field.exclude:
                continue
            key = field.alias or name
            value = getattr(model, name)
            if hasattr(type(value), "model_fields"):
                yield from keys(value, prefix + key + ".")
            else:
                yield key

    missing = [k for k in keys(s) if f"{k}:" not in text]
    assert not missing, f"config.example.yaml does not document: {missing}"


PAIRS = """\
pairs:
  - name: north
    bigcommerce: {store_hash: abc123, access_token: "${BC_TOKEN}"}
    xseries: {domain_prefix: north, token: "${XS_TOKEN}", outlet: Main Outlet, register: Online Store}
    id_verification:
      enabled: ENABLED
      webhook_secret: ${NORTH_IDV_SECRET}
"""


@pytest.mark.parametrize("enabled", ["false", "true"])
def test_a_pairs_unset_webhook_secret_fails_only_when_its_id_verification_is_on(tmp_path, enabled):
    # README: an unset variable is an error except in a secret whose feature is off — a pair's own
    # id_verification.webhook_secret too, not only the top level's.
    path = write(tmp_path, PAIRS.replace("ENABLED", enabled))
    if enabled == "false":
        (view,) = load_settings(path, environ=ENV).pair_settings()
        assert view.id_verification.webhook_secret is None and not view.id_verification.enabled
        return
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ=ENV)
    message = str(err.value)
    assert "config.yaml:7: pairs.0.id_verification.webhook_secret" in message
    assert "${NORTH_IDV_SECRET}" in message and "id_verification.enabled is true" in message


@pytest.mark.parametrize("overlap", ["0", "-5"])
def test_an_overlap_below_one_second_is_refused_naming_the_key(tmp_path, overlap):
    """0 re-reads nothing: were min_date_modified exclusive (unverified), an order modified in the
    second the last window ended would be skipped for good. Refused at load, like other bad values."""
    text = GOOD + f"  overlap_seconds: {overlap}\n"
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text), environ=ENV)
    message = str(err.value)
    assert "config.yaml:13: sync.overlap_seconds: must be at least 1" in message
    assert "min_date_modified" in message


def test_an_overlap_of_one_second_is_accepted(tmp_path):
    settings = load_settings(write(tmp_path, GOOD + "  overlap_seconds: 1\n"), environ=ENV)
    assert settings.sync.overlap_seconds == 1


@pytest.mark.parametrize("shape", ["one pair", "pairs"])
def test_an_empty_bigcommerce_webhook_secret_is_refused_naming_the_key_and_its_variable(tmp_path, shape):
    # Empty, it would match a call with no X-Webhook-Secret at all: anyone could queue orders.
    secret = "  webhook_secret: ${BIGCOMMERCE_WEBHOOK_SECRET}\n"
    if shape == "one pair":
        text, key = GOOD.replace("  access_token: ${BC_TOKEN}\n", "  access_token: ${BC_TOKEN}\n" + secret), \
            "bigcommerce.webhook_secret"
    else:
        text, key = PAIRS.replace("    id_verification:\n      enabled: ENABLED\n      webhook_secret: ${NORTH_IDV_SECRET}\n",
                                  "").replace("access_token: \"${BC_TOKEN}\"}",
                                              "access_token: \"${BC_TOKEN}\", webhook_secret: \"${BIGCOMMERCE_WEBHOOK_SECRET}\"}"), \
            "pairs.0.bigcommerce.webhook_secret"
    path = write(tmp_path, text)
    assert load_settings(path, environ={**ENV, "BIGCOMMERCE_WEBHOOK_SECRET": "s"}).pair_settings()[0] \
        .bigcommerce.webhook_secret.get_secret_value() == "s"
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={**ENV, "BIGCOMMERCE_WEBHOOK_SECRET": ""})
    message = str(err.value)
    assert key in message and "${BIGCOMMERCE_WEBHOOK_SECRET}" in message and "empty" in message


@pytest.mark.parametrize("variable, key", [("BC_TOKEN", "bigcommerce.access_token"), ("XS_TOKEN", "xseries.token")])
def test_an_empty_api_token_is_refused_at_load_naming_the_key_and_its_variable(tmp_path, variable, key):
    # Taken, every call would be refused (401) as if the token had been revoked.
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, GOOD), environ={**ENV, variable: ""})
    message = str(err.value)
    assert key in message and f"${{{variable}}}" in message and "empty" in message


def test_rules_between_keys_are_worded_without_pydantics_prefix(tmp_path):
    """Before, '…yaml:1: : Value error, pairs: needs…': an empty key and pydantic's own words."""
    path = write(tmp_path, GOOD.replace("${BC_TOKEN}", '"${EMPTY}"')
                 + "workers:\n  heartbeat_seconds: 10\n  stalled_seconds: 15\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={**ENV, "EMPTY": ""})
    assert str(err.value).splitlines()[1:] == [
        f"  {path}:3: bigcommerce.access_token: empty (its variable is set to nothing): set it, or leave the key"
        " out (from ${EMPTY})",
        f"  {path}:13: workers: stalled_seconds must be at least twice heartbeat_seconds"]
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, "pairs: []\n"), environ=ENV)
    assert str(err.value) == f"invalid configuration:\n  {path}:1: pairs: needs at least one store pair"


def test_a_mappings_folder_the_file_names_must_be_there(tmp_path):
    """Before, a mappings_dir pointing nowhere put the built-in tables in place of the merchant's,
    silently: sales under payment types, taxes and POS states nobody chose."""
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "config.yaml"
    path.write_text(GOOD + "mappings_dir: mappings\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ=ENV).mappings_path()
    assert str(err.value).startswith(f"{path}:13: mappings_dir: {tmp_path}/etc/mappings does not exist")
    (tmp_path / "etc" / "mappings").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"config.yaml:13: mappings_dir: .*/etc/mappings is not a folder"):
        load_settings(path, environ=ENV).mappings_path()
    (tmp_path / "etc" / "mappings").unlink()
    (tmp_path / "etc" / "mappings").mkdir()  # next to the config file, wherever the process runs
    assert load_settings(path, environ=ENV).mappings_path() == tmp_path / "etc" / "mappings"


def test_a_pairs_own_mappings_folder_must_be_there(tmp_path):
    text = ("pairs:\n  - name: north\n    bigcommerce: {store_hash: a, access_token: b}\n"
            "    xseries: {domain_prefix: n, token: t, outlet: o, register: r}\n    mappings_dir: north-maps\n")
    north = load_settings(write(tmp_path, text), environ=ENV).pair_settings()[0]
    with pytest.raises(ConfigError, match=r"config.yaml:5: mappings_dir: .*/north-maps does not exist"):
        north.mappings_path()


def test_with_no_mappings_folder_configured_the_defaults_name_where_they_looked(tmp_path, caplog):
    from connector.mapping.tables import MappingTables

    settings = load_settings(write(tmp_path, GOOD), environ=ENV)
    assert settings.mappings_path() == tmp_path / "mappings"  # not there, not configured: the defaults
    with caplog.at_level("INFO", logger="connector.mapping"):
        MappingTables.load(settings.mappings_path())
    assert f"mapping order_status.yaml: {tmp_path}/mappings/order_status.yaml not found" in caplog.text
