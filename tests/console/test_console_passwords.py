"""Issue 18, point 5: `order-sync console hash-password` prints a salted scrypt hash alone on its
last line (the password from --password or standard input, never printed nor logged), and
console.users takes hashes only."""

from __future__ import annotations

import io
import logging

import pytest

from connector.cli import main
from connector.config import load_settings
from connector.console.passwords import verify_password
from connector.errors import ConfigError

SECRET = "tr0ub4dor & 3"


def test_hash_password_from_the_option(capsys, caplog):
    caplog.set_level(logging.DEBUG)
    assert main(["console", "hash-password", "--password", SECRET]) == 0
    out, err = capsys.readouterr()
    last = out.splitlines()[-1]
    assert last.startswith("scrypt$16384$8$1$") and verify_password(SECRET, last)
    assert not verify_password(SECRET + "x", last)
    assert SECRET not in out + err + caplog.text


def test_hash_password_from_standard_input_is_salted(capsys, monkeypatch):
    hashes = []
    for _ in range(2):
        monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
        assert main(["console", "hash-password"]) == 0
        out = capsys.readouterr().out
        assert SECRET not in out
        hashes.append(out.splitlines()[-1])
    assert hashes[0] != hashes[1]  # a salt of its own each time
    assert all(verify_password(SECRET, h) for h in hashes)


def test_an_empty_password_is_refused(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["console", "hash-password"]) == 2
    assert "password is empty" in capsys.readouterr().err


CONFIG = """\
bigcommerce: {store_hash: abc, access_token: t}
xseries: {domain_prefix: m, token: t, outlet: Main Outlet, register: Online Store}
console:
  enabled: true
  users:
    - name: ann
      password_hash: %s
"""


def test_the_config_takes_hashes_only(tmp_path, capsys):
    main(["console", "hash-password", "--password", SECRET])
    good = capsys.readouterr().out.splitlines()[-1]
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG % good)
    assert load_settings(path, environ={}).console.users[0].password_hash == good
    path.write_text(CONFIG % SECRET.replace("&", "and"))
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    assert "config.yaml:7: console.users.0.password_hash" in str(err.value)
    assert "tr0ub4dor" not in str(err.value)  # never echoed
    path.write_text(CONFIG.split("  users:")[0])
    with pytest.raises(ConfigError, match="nobody could log in"):
        load_settings(path, environ={})
