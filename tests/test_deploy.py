"""deploy/ (issue 17, point 5): the systemd units and the container file start order-sync commands
that exist, with options the command line accepts, and carry no secret (EnvironmentFile only)."""

from __future__ import annotations

import configparser
import json
import re
import shlex
from pathlib import Path

import pytest

from connector.cli import build_parser

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = {"order-sync-run.service": "run", "order-sync-worker@.service": "worker",
         "order-sync-serve.service": "serve"}


def parses(argv: list[str]) -> bool:
    """argparse exits (2) on an unknown command or option."""
    try:
        return build_parser().parse_args(argv).command == argv[0]
    except SystemExit:
        return False


def check_command_line(argv: list[str]) -> None:
    """The command exists and takes the options as given."""
    if argv[0] == "worker" and not parses(["worker"]):
        pytest.skip("`order-sync worker` arrives with connector/workers (issue 17, point 2)")
    assert parses(argv), argv


@pytest.mark.parametrize("name", sorted(UNITS))
def test_units_start_an_existing_command_and_hold_no_secret(name):
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string((DEPLOY / name).read_text())
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    service = unit["Service"]
    assert service["EnvironmentFile"].startswith("/etc/order-sync/")
    assert "Environment" not in service  # values only from the EnvironmentFile
    assert not re.search(r"(?i)(token|secret|password)\s*[=:]", (DEPLOY / name).read_text().split("[Service]")[1]
                         .replace("EnvironmentFile", ""))
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).name == "order-sync"
    assert argv[1] == UNITS[name]
    # SIGTERM is the normal stop of the long-running commands (exit 0); exit 2 is a bad config.
    assert service["KillSignal"] == "SIGTERM" and service["RestartPreventExitStatus"] == "2"
    check_command_line(argv[1:])


def test_the_container_runs_the_daemon_by_default():
    text = (DEPLOY / "Containerfile").read_text()
    instructions = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in text.splitlines()
                    if line and not line.startswith("#") and not line[0].isspace()}
    assert json.loads(instructions["ENTRYPOINT"]) == ["order-sync"]
    argv = json.loads(instructions["CMD"])
    assert argv[0] == "run"
    check_command_line(argv)
    assert not re.search(r"(?i)^(ENV|ARG)\s.*(token|secret|password)", text, re.M)
