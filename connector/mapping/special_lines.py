"""The products that carry an order's shipping, handling and gift-wrapping costs and its fees in X-Series.

Each is created (not stock-tracked) the first time an order needs it and reused after, found by SKU.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from connector.errors import ConfigError
from connector.yamlfile import load_yaml


@dataclass(frozen=True)
class SpecialProduct:
    name: str
    sku: str


class SpecialLine(str, enum.Enum):
    SHIPPING = "shipping"
    HANDLING = "handling"
    WRAPPING = "wrapping"
    FEE = "fee"
    REFUND = "refund"  # what a refund gives back beyond units and charges (order-level amounts)


# special_lines.yaml files written before fees or refunds were mirrored have no entry for them.
_DEFAULTS = {"fee": SpecialProduct(name="Fee", sku="bc-fee"),
             "refund": SpecialProduct(name="Refund", sku="bc-refund")}


@dataclass(frozen=True)
class SpecialLines:
    products: dict[SpecialLine, SpecialProduct]

    @classmethod
    def load(cls, path: Path) -> "SpecialLines":
        doc = load_yaml(path)
        data = doc.data
        if not isinstance(data, dict):
            raise ConfigError(f"{doc.where(())}: expected shipping, handling, wrapping and fee entries")
        products: dict[SpecialLine, SpecialProduct] = {}
        for key, value in data.items():
            try:
                kind = SpecialLine(str(key))
            except ValueError:
                raise ConfigError(f"{doc.where((key,))}: unknown special line {key!r}; use shipping, handling, wrapping, fee, refund") from None
            if not isinstance(value, dict) or not value.get("name") or not value.get("sku"):
                raise ConfigError(f"{doc.where((key,))}: {key} needs a name and a sku")
            extra = set(value) - {"name", "sku"}
            if extra:
                bad = sorted(map(str, extra))[0]
                raise ConfigError(f"{doc.where((key, bad))}: unknown key {bad!r} (expected name, sku)")
            products[kind] = SpecialProduct(name=str(value["name"]), sku=str(value["sku"]))
        for kind, product in _DEFAULTS.items():
            products.setdefault(SpecialLine(kind), product)
        missing = [k.value for k in SpecialLine if k not in products]
        if missing:
            raise ConfigError(f"{doc.where(())}: missing special lines: {', '.join(missing)}")
        skus = [p.sku.casefold() for p in products.values()]
        if len(set(skus)) != len(skus):
            raise ConfigError(f"{doc.where(())}: shipping, handling, wrapping, fee and refund need different SKUs")
        return cls(products)
