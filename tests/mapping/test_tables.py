import filecmp
from decimal import Decimal as D
from pathlib import Path

import pytest

from connector.errors import ConfigError, MappingError
from connector.mapping.payment_table import PaymentTable
from connector.mapping.planned_sale import PlannedPayment
from connector.mapping.special_lines import SpecialLine, SpecialLines
from connector.mapping.status_table import PosState, StatusTable
from connector.mapping.tables import DEFAULTS_DIR, MappingTables

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings"

# The documented table (DEVELOPERS.md / issue): status id → POS state.
DOCUMENTED = {
    0: "not_imported", 1: "not_imported",
    7: "closed", 11: "closed", 9: "closed", 8: "closed", 3: "closed", 10: "closed", 2: "closed",
    4: "closed", 13: "closed", 12: "closed", 14: "closed",
    5: "voided", 6: "voided",
}


@pytest.mark.parametrize("status_id,state", sorted(DOCUMENTED.items()))
def test_default_status_table_row(status_id, state):
    table = StatusTable.load(MAPPINGS / "order_status.yaml")
    assert table.pos_state(status_id) is PosState(state)


def test_unknown_status_id_has_no_state():
    table = StatusTable.load(MAPPINGS / "order_status.yaml")
    assert table.pos_state(15) is None


def test_unpaid_detection():
    table = StatusTable.load(MAPPINGS / "order_status.yaml")
    assert table.is_unpaid(7, "")
    assert table.is_unpaid(11, "pending")
    assert not table.is_unpaid(11, "captured")
    assert not table.is_unpaid(10, "")


def test_packaged_defaults_equal_repository_mappings():
    for path in MAPPINGS.glob("*.yaml"):
        assert filecmp.cmp(path, DEFAULTS_DIR / path.name, shallow=False), f"{path.name} differs from the packaged default"
    assert MappingTables.load(MAPPINGS).statuses.states == MappingTables.load(None).statuses.states


def _status_file(tmp_path, body: str) -> Path:
    path = tmp_path / "order_status.yaml"
    path.write_text(body)
    return path


def _full_table(overrides: dict | None = None) -> str:
    rows = {i: DOCUMENTED[i] for i in range(15)}
    rows.update(overrides or {})
    return "statuses:\n" + "".join(f"  {k}: {v}\n" for k, v in rows.items())


def test_system_names_accepted(tmp_path):
    body = _full_table().replace("  5: voided", "  Cancelled: voided")
    assert StatusTable.load(_status_file(tmp_path, body)).pos_state(5) is PosState.VOIDED


def test_status_mapped_twice_names_both_lines(tmp_path):
    body = _full_table() + "  Shipped: voided\n"
    with pytest.raises(ConfigError) as err:
        StatusTable.load(_status_file(tmp_path, body))
    assert "order_status.yaml:17" in str(err.value) and "mapped twice" in str(err.value)
    assert "order_status.yaml:4" in str(err.value)


def test_unknown_status_name(tmp_path):
    body = _full_table() + "  Lost In Space: closed\n"
    with pytest.raises(ConfigError) as err:
        StatusTable.load(_status_file(tmp_path, body))
    assert "order_status.yaml:17" in str(err.value) and "Lost In Space" in str(err.value)


def test_bad_state_value(tmp_path):
    with pytest.raises(ConfigError) as err:
        StatusTable.load(_status_file(tmp_path, _full_table({3: "shipped"})))
    assert "not a POS state" in str(err.value)


def test_missing_status(tmp_path):
    body = "\n".join(line for line in _full_table().splitlines() if not line.startswith("  13:")) + "\n"
    with pytest.raises(ConfigError) as err:
        StatusTable.load(_status_file(tmp_path, body))
    assert "13 (Disputed)" in str(err.value)


def test_yaml_syntax_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        StatusTable.load(_status_file(tmp_path, "statuses:\n  0: [closed\n"))
    assert "order_status.yaml:" in str(err.value) and "syntax" in str(err.value)


def test_payment_table_default_and_mapping():
    table = PaymentTable.load(MAPPINGS / "payment_methods.yaml")
    assert table.target_for("credit card") == "Credit Card"
    assert table.target_for("Bitcoin") == "Other"
    resolved = table.resolve({"Cash": "c1", "Credit Card": "c2", "Other": "c3", "Store Credit": "c4"})
    assert resolved["Credit Card"] == "c2" and resolved["Other"] == "c3"


def test_payment_without_default_is_a_permanent_mapping_error(tmp_path):
    path = tmp_path / "payment_methods.yaml"
    path.write_text("methods:\n  Cash: Cash\n")
    table = PaymentTable.load(path)
    with pytest.raises(MappingError) as err:
        table.target_for("Bitcoin", order_id=42)
    assert "order 42" in str(err.value) and "Bitcoin" in str(err.value)


def test_payment_target_unknown_to_xseries_lists_types(tmp_path):
    path = tmp_path / "payment_methods.yaml"
    path.write_text("default: Other\nmethods:\n  Cash: Kash\n")
    with pytest.raises(ConfigError) as err:
        PaymentTable.load(path).resolve({"Cash": "1", "Other": "2"})
    assert "payment_methods.yaml:3" in str(err.value) and "Kash" in str(err.value) and "Cash, Other" in str(err.value)


def test_special_lines():
    specials = SpecialLines.load(MAPPINGS / "special_lines.yaml")
    assert specials.products[SpecialLine.SHIPPING].sku == "bc-shipping"


def test_special_lines_need_distinct_skus(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("shipping: {name: S, sku: x}\nhandling: {name: H, sku: X}\nwrapping: {name: W, sku: w}\n")
    with pytest.raises(ConfigError):
        SpecialLines.load(path)


def test_special_lines_include_the_fee_product_even_in_files_written_before_fees(tmp_path):
    assert SpecialLines.load(MAPPINGS / "special_lines.yaml").products[SpecialLine.FEE].sku == "bc-fee"
    path = tmp_path / "special_lines.yaml"
    path.write_text("shipping: {name: S, sku: s}\nhandling: {name: H, sku: h}\nwrapping: {name: W, sku: w}\n")
    assert SpecialLines.load(path).products[SpecialLine.FEE].name == "Fee"


# -- tenders ------------------------------------------------------------------------------------

def _payments(tmp_path, body: str) -> PaymentTable:
    path = tmp_path / "payment_methods.yaml"
    path.write_text(body)
    return PaymentTable.load(path)


def test_each_tender_maps_to_its_payment_type():
    table = PaymentTable.load(MAPPINGS / "payment_methods.yaml")
    payments = [PlannedPayment("gift_certificate", "", D("30")), PlannedPayment("store_credit", "", D("5")),
                PlannedPayment("method", "PayPal", D("65"))]
    assert table.targets(payments) == ["Other", "Store Credit", "Other"]
    assert table.fallbacks == ()
    assert set(table.resolve({"Cash": "1", "Credit Card": "2", "Other": "3", "Store Credit": "4"}).values()) == {
        "1", "2", "3", "4"}


def test_a_tender_without_a_key_falls_back_to_the_default_and_is_reported(tmp_path):
    table = _payments(tmp_path, "default: Other\nstore_credit: Store Credit\nmethods:\n  Cash: Cash\n")
    assert table.fallbacks == ("gift_certificate",)
    assert table.targets([PlannedPayment("gift_certificate", "", D("1"))]) == ["Other"]


def test_a_tender_with_no_key_and_no_default_fails_the_order_readably(tmp_path):
    table = _payments(tmp_path, "methods:\n  Cash: Cash\n")
    with pytest.raises(MappingError) as err:
        table.targets([PlannedPayment("method", "Cash", D("1")), PlannedPayment("store_credit", "", D("1"))], 42)
    assert "order 42" in str(err.value) and "store credit" in str(err.value) and "store_credit:" in str(err.value)


def test_a_tender_target_unknown_to_xseries_names_its_line(tmp_path):
    table = _payments(tmp_path, "default: Other\ngift_certificate: Gift Card\nmethods: {}\n")
    with pytest.raises(ConfigError) as err:
        table.resolve({"Other": "1"})
    assert "payment_methods.yaml:2" in str(err.value) and "Gift Card" in str(err.value)


@pytest.mark.parametrize("body,where,words", [
    ("default: Other\nvouchers: Other\n", ":2", "unknown key 'vouchers'"),
    ("default: Other\nstore_credit: ''\n", ":2", "store_credit needs"),
])
def test_bad_tender_keys_name_their_line(tmp_path, body, where, words):
    with pytest.raises(ConfigError) as err:
        _payments(tmp_path, body)
    assert f"payment_methods.yaml{where}" in str(err.value) and words in str(err.value)


@pytest.mark.parametrize("unpaid,where,words", [
    # A scalar was read letter by letter ('p', 'e', 'n'…): nothing counted as unpaid.
    ("  statuses: [7]\n  payment_statuses: pending\n", ":19", "payment_statuses must be a list"),
    # A misspelt key was ignored: no payment status counted as unpaid.
    ("  statuses: [7]\n  payment_status: [pending]\n", ":19", "unknown key 'payment_status'"),
    # A number was a TypeError with a traceback.
    ("  statuses: 7\n  payment_statuses: [pending]\n", ":18", "statuses must be a list"),
    ("  statuses: [7]\n  payment_statuses: [pending, [void]]\n", ":19", "payment status"),
    ("  statuses: [7, Shipped Twice]\n", ":18", "unknown BigCommerce status 'Shipped Twice'"),
])
def test_the_unpaid_section_is_refused_when_misshapen_naming_its_line(tmp_path, unpaid, where, words):
    with pytest.raises(ConfigError) as err:
        StatusTable.load(_status_file(tmp_path, _full_table() + "unpaid:\n" + unpaid))
    assert f"order_status.yaml{where}" in str(err.value) and words in str(err.value)


def test_the_unpaid_section_takes_names_and_lists(tmp_path):
    body = _full_table() + "unpaid:\n  statuses: [Awaiting Payment]\n  payment_statuses: [Pending]\n"
    table = StatusTable.load(_status_file(tmp_path, body))
    assert table.is_unpaid(7, "") and table.is_unpaid(11, "pending") and not table.is_unpaid(11, "captured")


def test_the_empty_payment_status_may_be_listed_as_unpaid(tmp_path):
    """BigCommerce lists '' among payment_status values (an order with no payment recorded)."""
    body = _full_table() + 'unpaid:\n  payment_statuses: [pending, ""]\n'
    table = StatusTable.load(_status_file(tmp_path, body))
    assert table.is_unpaid(11, "") and table.is_unpaid(11, "pending") and not table.is_unpaid(11, "captured")


@pytest.mark.parametrize("typo", ["pendng", '"void-pending"', "unpaid"])
def test_a_payment_status_bigcommerce_does_not_have_is_refused(tmp_path, typo):
    """Before, a misspelt payment status was taken: the unpaid orders it meant were written CLOSED, paid."""
    body = _full_table() + f"unpaid:\n  statuses: [7]\n  payment_statuses: [pending, {typo}]\n"
    with pytest.raises(ConfigError) as err:
        StatusTable.load(_status_file(tmp_path, body))
    assert "order_status.yaml:19: " in str(err.value)
    assert "is not a BigCommerce payment status; use one of: authorized, captured, capture pending" in str(err.value)


def test_payment_statuses_are_read_in_any_case(tmp_path):
    body = _full_table() + 'unpaid:\n  payment_statuses: [Void Pending, "Held for Review "]\n'
    table = StatusTable.load(_status_file(tmp_path, body))
    assert table.is_unpaid(11, "void pending") and table.is_unpaid(11, "held for review")
