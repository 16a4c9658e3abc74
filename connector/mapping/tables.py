"""Loading the mapping tables of mappings/ at start-up.

Each file is read from the mappings folder (one the config names must exist: Settings.mappings_path);
a file that is not there falls back to the
default shipped inside the package (identical to the repository's mappings/, a test keeps them so),
so a fresh install and the demo work with no mappings folder at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from connector.mapping.payment_table import PaymentTable
from connector.mapping.special_lines import SpecialLines
from connector.mapping.status_table import StatusTable
from connector.mapping.tax_table import TaxTable

log = logging.getLogger("connector.mapping")

DEFAULTS_DIR = Path(__file__).resolve().parent.parent / "defaults"
ORDER_STATUS = "order_status.yaml"
PAYMENT_METHODS = "payment_methods.yaml"
SPECIAL_LINES = "special_lines.yaml"
ID_VERIFICATION = "id_verification.yaml"
TAXES = "taxes.yaml"


def mapping_file(folder: Path | None, name: str) -> Path:
    """The table to read: the folder's, else the built-in default, with where it looked logged (a
    folder in the wrong place shows there)."""
    if folder is not None:
        candidate = folder / name
        if candidate.exists():
            return candidate
        log.info("mapping %s: %s not found, using the built-in default", name, candidate.absolute())
    else:
        log.info("mapping %s: no mappings folder, using the built-in default", name)
    return DEFAULTS_DIR / name


@dataclass(frozen=True)
class MappingTables:
    statuses: StatusTable
    payments: PaymentTable
    specials: SpecialLines
    taxes: TaxTable

    @classmethod
    def load(cls, folder: Path | None) -> "MappingTables":
        return cls(
            statuses=StatusTable.load(mapping_file(folder, ORDER_STATUS)),
            payments=PaymentTable.load(mapping_file(folder, PAYMENT_METHODS)),
            specials=SpecialLines.load(mapping_file(folder, SPECIAL_LINES)),
            taxes=TaxTable.load(mapping_file(folder, TAXES)),
        )
