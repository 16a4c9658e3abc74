"""The Settings page shows the ID-verification rules the running process acts on (read at start-up),
not the file as edited since: an operator who protects a status and does not restart is told the
edit is not applied yet, instead of reading a protection the daemon does not give."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

from connector.config import IdVerificationSettings
from connector.console.settings_page import pair_settings
from connector.idv.service import start_if_enabled
from connector.idv.stages import CheckEvent, Source, Stage
from connector.mapping.tables import DEFAULTS_DIR
from sync_world import line


ENABLED = IdVerificationSettings(enabled=True)


def protect_awaiting_shipment(mappings) -> None:
    rules = mappings / "id_verification.yaml"
    rules.write_text(rules.read_text().replace("  - Shipped               # 2",
                                               "  - Shipped               # 2\n  - Awaiting Shipment"))


async def rejected_at_awaiting_shipment(world, service) -> int:
    """The status an order at Awaiting Shipment (9) is left at after its ID check is rejected."""
    order_id = world.add_order([line()], status_id=9)
    await service.engine.handle(CheckEvent(order_id=order_id, event="rejected", stage=Stage.FAILED, check_id=None,
                                           occurred_at=world.clock.now(), source=Source.CLI))
    return world.order(order_id)["status_id"]


async def test_the_page_shows_the_rules_in_effect_and_says_the_file_changed_since(world_factory, tmp_path):
    mappings = tmp_path / "mappings"
    shutil.copytree(DEFAULTS_DIR, mappings)
    world = world_factory(mappings_dir=mappings)
    runtime = await world.runtime()
    settings = runtime.settings.model_copy(update={"id_verification": ENABLED})
    service = await start_if_enabled(settings, runtime.bc, runtime.store)
    protect_awaiting_shipment(mappings)  # and the daemon is not restarted

    page = await pair_settings(SimpleNamespace(runtimes={"default": runtime}, statuses={}), settings)
    assert not any("Awaiting Shipment" in status for status in page["idv"]["protected"])
    assert page["idv"]["changed"] == "file changed since start-up: restart to apply"
    assert await rejected_at_awaiting_shipment(world, service) == 6  # as the page says: 9 is not protected

    world._main = None  # restarted: the edit applies, and the page says so
    page = await pair_settings(SimpleNamespace(runtimes={"default": await world.runtime()}, statuses={}), settings)
    assert "9 Awaiting Shipment" in page["idv"]["protected"] and not page["idv"]["changed"]


async def test_the_service_acts_on_the_rules_its_runtime_read_at_start(world_factory, tmp_path):
    mappings = tmp_path / "mappings"
    shutil.copytree(DEFAULTS_DIR, mappings)
    world = world_factory(mappings_dir=mappings)
    runtime = await world.runtime()
    protect_awaiting_shipment(mappings)  # while the pair starts (serve waits out an API down)
    settings = runtime.settings.model_copy(update={"id_verification": ENABLED})
    service = await start_if_enabled(settings, runtime.bc, runtime.store, runtime.idv_rules)
    page = await pair_settings(SimpleNamespace(runtimes={"default": runtime}, statuses={}), settings)
    assert not any("Awaiting Shipment" in status for status in page["idv"]["protected"])
    assert await rejected_at_awaiting_shipment(world, service) == 6
