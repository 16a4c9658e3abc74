"""A signed ID-verification event names no store ({order_id, event, check_id, occurred_at}): pairs
sharing one webhook secret would each accept the events signed for the others, and order 100 of one
store would be moved by the verdict on order 100 of another. Such a configuration is refused at load."""

from __future__ import annotations

import pytest

from connector.cli import main
from connector.config import load_settings
from connector.errors import ConfigError

ENV = {"BC": "bc-token", "XS": "xs-token", "TOP_SECRET": "one-secret", "NORTH_IDV": "north-secret",
       "SOUTH_IDV": "south-secret", "SAME_AS_NORTH": "north-secret"}


def _pair(name: str, idv: str = "") -> str:
    return (f"  - name: {name}\n"
            f"    bigcommerce: {{store_hash: {name}, access_token: '${{BC}}'}}\n"
            f"    xseries: {{domain_prefix: {name}, token: '${{XS}}', outlet: Main Outlet, register: Online Store}}\n"
            + (f"    id_verification: {{{idv}}}\n" if idv else ""))


def _config(tmp_path, *pairs: str, top: str = "enabled: true, webhook_secret: '${TOP_SECRET}'"):
    path = tmp_path / "config.yaml"
    path.write_text(f"database_url: sqlite:///{tmp_path / 'x.db'}\nid_verification: {{{top}}}\npairs:\n"
                    + "".join(pairs))
    return path


def test_pairs_inheriting_the_top_levels_secret_are_refused_naming_them_and_the_key(tmp_path):
    path = _config(tmp_path, _pair("north"), _pair("south"))
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ=ENV)
    message = str(err.value)
    assert "north" in message and "south" in message
    assert "config.yaml:2: id_verification.webhook_secret" in message  # where the shared one is written
    assert "pairs.<name>.id_verification.webhook_secret" in message
    assert "one-secret" not in message  # never the value


def test_the_same_secret_written_for_two_pairs_is_refused(tmp_path):
    north = _pair("north", "enabled: true, webhook_secret: '${NORTH_IDV}'")
    south = _pair("south", "enabled: true, webhook_secret: '${SAME_AS_NORTH}'")
    with pytest.raises(ConfigError) as err:
        load_settings(_config(tmp_path, north, south), environ=ENV)
    message = str(err.value)
    assert "pairs.0.id_verification.webhook_secret" in message
    assert "pairs.1.id_verification.webhook_secret" in message
    assert "north-secret" not in message


def test_the_cli_exits_2_on_a_shared_secret(tmp_path, monkeypatch, capsys):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert main(["status", "--config", str(_config(tmp_path, _pair("north"), _pair("south")))]) == 2
    out = capsys.readouterr()
    assert "pairs.<name>.id_verification.webhook_secret" in out.out + out.err


@pytest.mark.parametrize("pairs", [
    # each store's own secret
    (_pair("north", "enabled: true, webhook_secret: '${NORTH_IDV}'"),
     _pair("south", "enabled: true, webhook_secret: '${SOUTH_IDV}'")),
    # one pair inherits the top level's; the other has its own
    (_pair("north"), _pair("south", "enabled: true, webhook_secret: '${SOUTH_IDV}'")),
    # only one pair has ID verification on: nothing to confuse it with
    (_pair("north"), _pair("south", "enabled: false")),
    # a single pair may use the top level's
    (_pair("north"),),
])
def test_pairs_with_their_own_secrets_or_one_pair_load(tmp_path, pairs):
    views = load_settings(_config(tmp_path, *pairs), environ=ENV).pair_settings()
    assert len(views) == len(pairs)


def test_pairs_sharing_a_secret_with_id_verification_off_load(tmp_path):
    path = _config(tmp_path, _pair("north"), _pair("south"), top="enabled: false, webhook_secret: '${TOP_SECRET}'")
    assert len(load_settings(path, environ=ENV).pair_settings()) == 2
