"""mappings/taxes.yaml (TaxTable) and the tax each line carries (TaxBook.pick)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.mapping.tables import DEFAULTS_DIR, MappingTables
from connector.mapping.tax_table import PosTax, TaxBook, TaxTable

D = Decimal
ROOT = Path(__file__).resolve().parents[2]
STORE = [PosTax("t-1", "Standard VAT", D("0.20")), PosTax("t-2", "Reduced VAT", D("0.05")),
         PosTax("t-0", "No Tax", D(0))]


def _table(tmp_path, body: str) -> TaxTable:
    path = tmp_path / "taxes.yaml"
    path.write_text(body)
    return TaxTable.load(path)


def test_the_shipped_table_maps_nothing_so_every_store_starts():
    assert TaxTable.load(ROOT / "mappings" / "taxes.yaml").resolve([]) == {}
    assert MappingTables.load(None).taxes.classes == {}
    assert (DEFAULTS_DIR / "taxes.yaml").exists()


def test_classes_resolve_to_tax_ids_by_name_or_id(tmp_path):
    table = _table(tmp_path, "classes:\n  0: standard vat\n  '2': t-2\n")
    assert table.resolve(STORE) == {0: "t-1", 2: "t-2"}


def test_an_unknown_tax_name_names_its_line_and_the_stores_taxes(tmp_path):
    table = _table(tmp_path, "classes:\n  0: Standard VAT\n  3: Luxury VAT\n")
    with pytest.raises(ConfigError) as err:
        table.resolve(STORE)
    assert "taxes.yaml:3" in str(err.value) and "Luxury VAT" in str(err.value)
    assert "No Tax, Reduced VAT, Standard VAT" in str(err.value)


@pytest.mark.parametrize("body,line,words", [
    ("classes:\n  standard: Standard VAT\n", 2, "not a BigCommerce tax class id"),
    ("classes:\n  0: Standard VAT\n  '0': Reduced VAT\n", 3, "mapped twice (also at"),
    ("classes:\n  1: ''\n", 2, "needs an X-Series tax name"),
    ("rates:\n  1: Standard VAT\n", 1, "unknown key 'rates'"),
    ("classes: [Standard VAT]\n", 1, "expected a mapping"),
])
def test_bad_tables_name_their_line(tmp_path, body, line, words):
    with pytest.raises(ConfigError) as err:
        _table(tmp_path, body)
    assert f"taxes.yaml:{line}" in str(err.value) and words in str(err.value)


def test_pick_prefers_the_rate_then_the_class_then_the_default():
    book = TaxBook(tuple(STORE), default_id="t-1", zero_id="t-0", by_class={4: "t-2"})
    assert book.pick(D("50.00"), D("2.50"), 4) == ("t-2", "rate")
    assert book.pick(D("50.00"), D("10.00"), 4) == ("t-1", "rate")
    assert book.pick(D("50.00"), D("3.50"), 4) == ("t-2", "class")  # 7 %: no such tax
    assert book.pick(D("50.00"), D("3.50"), 9) == ("t-1", "default")
    assert book.pick(D("50.00"), D("0"), 4) == ("t-0", "none")


def test_pick_allows_half_a_cent_per_unit_of_rounding():
    book = TaxBook(tuple(STORE), default_id="t-1", zero_id="t-0")
    # 50 units at 0.33 + 5 %: 0.0165 each, rounded per unit to 0.02 → 1.00 on 16.50 (6.06 %).
    assert book.pick(D("16.50"), D("1.00"), None, units=50) == ("t-2", "rate")
    assert book.pick(D("16.50"), D("1.00"), None, units=1) == ("t-1", "default")
