"""The rules table: defaults, ids / system names / the store's own labels, start-up errors."""

from __future__ import annotations


import pytest

from connector.errors import ConfigError
from connector.idv.rules import RulesFile
from connector.idv.stages import Stage
from connector.mapping.tables import DEFAULTS_DIR
from idv_world import PROTECTED

TABLE = """\
stages:
  in_progress: {in_progress}
  passed: {passed}
  failed: {failed}
protected:
{protected}
"""


def write_table(tmp_path, *, in_progress="12", passed="Awaiting Fulfillment", failed="Declined",
                protected=("Shipped",)):
    folder = tmp_path / "mappings"
    folder.mkdir(exist_ok=True)
    body = TABLE.format(in_progress=in_progress, passed=passed, failed=failed,
                        protected="".join(f"  - {p}\n" for p in protected))
    (folder / "id_verification.yaml").write_text(body)
    return folder


def test_default_table_resolves_to_the_documented_ids():
    rules = RulesFile.load(DEFAULTS_DIR / "id_verification.yaml").resolve_offline()
    assert rules.targets == {Stage.IN_PROGRESS: 12, Stage.PASSED: 11, Stage.FAILED: 6}
    assert rules.protected == frozenset(PROTECTED)


async def test_custom_labels_are_resolved_through_the_order_statuses_endpoint(world, tmp_path):
    world.bc.rename_status(12, "Waiting for ID")
    world.bc.rename_status(6, "ID rejected")
    world.bc.rename_status(9, "Sent to courier")
    folder = write_table(tmp_path, in_progress="Waiting for ID", passed="awaiting fulfillment",
                         failed="ID REJECTED", protected=("Sent to courier", "Shipped", 10))
    service = await world.start(mappings_dir=folder)
    assert service.rules.targets == {Stage.IN_PROGRESS: 12, Stage.PASSED: 11, Stage.FAILED: 6}
    assert service.rules.protected == frozenset({9, 2, 10})
    assert world.bc.request_log.matching("GET", "/v2/order_statuses")

    order = world.add_order(status_id=11)
    decision = await world.event(order, "failed", "chk-1")
    assert decision.outcome.value == "written"
    assert world.puts() == [(order, 6)]
    assert "'ID rejected'" in decision.reason  # the audit shows the merchant's own label


async def test_a_name_the_store_does_not_have_stops_start_up_with_the_store_statuses(world, tmp_path):
    world.bc.rename_status(6, "ID rejected")
    folder = write_table(tmp_path, failed="Rejected by ID check")
    with pytest.raises(ConfigError) as err:
        await world.start(mappings_dir=folder)
    message = str(err.value)
    assert "id_verification.yaml:4" in message and "'Rejected by ID check'" in message
    assert "6 Declined (shown as 'ID rejected')" in message and "11 Awaiting Fulfillment" in message
    assert world.bc.request_log.writes() == []


async def test_a_name_meaning_two_statuses_is_refused(world, tmp_path):
    # The merchant called status 8 "Shipped"; the system name Shipped is status 2.
    world.bc.rename_status(8, "Shipped")
    folder = write_table(tmp_path, protected=("Shipped",))
    with pytest.raises(ConfigError, match="more than one status"):
        await world.start(mappings_dir=folder)
    folder = write_table(tmp_path, protected=(2,))
    assert (await world.start(mappings_dir=folder)).rules.protected == {2}


@pytest.mark.parametrize("body, message", [
    ("stages:\n  in_progress: 12\n  passed: 11\n", "no target status for failed"),
    ("stages:\n  in_progress: 12\n  passed: 11\n  failed: 6\n  refunded: 4\n", "unknown stage"),
    ("stages:\n  in_progress: 12\n  passed: 11\n  failed: 6\nprotect: [2]\n", "unknown key"),
    ("stages:\n  in_progress: 12\n  passed: 11\n  failed: 6\nprotected: 2\n", "must be a list"),
    ("stages:\n  in_progress: 12\n  passed: 11\n  failed: 99\n", "no status 99"),
    ("stages:\n  in_progress: [12]\n  passed: 11\n  failed: 6\n", r"an id \(0–14\) or a name"),
])
def test_malformed_tables_name_file_and_line(tmp_path, body, message):
    path = tmp_path / "id_verification.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message) as err:
        RulesFile.load(path).resolve_offline()
    assert "id_verification.yaml:" in str(err.value)


async def test_missing_table_falls_back_to_the_packaged_default(world, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    service = await world.start(mappings_dir=folder)
    assert service.rules.targets[Stage.FAILED] == 6


def test_repository_table_is_the_packaged_default():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2] / "mappings" / "id_verification.yaml"
    assert repo.read_bytes() == (DEFAULTS_DIR / "id_verification.yaml").read_bytes()


STAGES_ONLY = "stages:\n  in_progress: 12\n  passed: Awaiting Fulfillment\n  failed: Cancelled\n"


@pytest.mark.parametrize("protected", ["", "protected:\n"], ids=["key-left-out", "key-left-empty"])
async def test_a_table_without_a_protected_list_keeps_the_default_order_protection(world, tmp_path, protected,
                                                                                   caplog):
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "id_verification.yaml").write_text(STAGES_ONLY + protected)
    with caplog.at_level("WARNING", logger="connector.idv"):
        service = await world.start(mappings_dir=folder)
    assert service.rules.protected == frozenset(PROTECTED)
    assert not [r for r in caplog.records if "not protected" in r.getMessage()]
    shipped = world.add_order(status_id=2)
    decision = await world.event(shipped, "rejected", "chk-1")
    assert decision.outcome.value == "skipped_protected" and world.status(shipped) == 2
    assert world.puts() == []


async def test_an_explicitly_empty_protected_list_protects_nothing_and_warns_at_start_up(world, tmp_path, caplog):
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "id_verification.yaml").write_text(STAGES_ONLY + "protected: []\n")
    with caplog.at_level("WARNING", logger="connector.idv"):
        service = await world.start(mappings_dir=folder)
    assert service.rules.protected == frozenset()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert [w.split(" is not protected")[0] for w in warned if "is not protected" in w] == [
        "ID verification: 2 Shipped", "ID verification: 5 Cancelled", "ID verification: 4 Refunded"]
