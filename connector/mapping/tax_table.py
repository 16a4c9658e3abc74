"""Which X-Series tax a sale line carries (issue 15, point 3).

A line carries the tax whose rate is the line's own rate (its tax ÷ its price, within what rounding
to the cent allows), so a 20 % line and a 5 % line land on different taxes and tax-by-rate reports
are right. When no live tax has that rate (a tax provider's combined rate, say), mappings/taxes.yaml
may name the X-Series tax of the line's BigCommerce tax class; else the retailer's default tax is
used and the sync audits it. Untaxed lines carry the zero-rate tax.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Iterable

from connector.errors import ConfigError
from connector.yamlfile import load_yaml

HALF_CENT = Decimal("0.005")


@dataclass(frozen=True)
class PosTax:
    id: str
    name: str
    rate: Decimal  # 0.2 = 20 %


@dataclass(frozen=True)
class TaxBook:
    taxes: tuple[PosTax, ...]  # every live X-Series tax
    default_id: str  # the retailer's default tax
    zero_id: str  # the zero-rate tax ("No Tax")
    by_class: dict[int, str] = field(default_factory=dict)  # BigCommerce tax_class_id → X-Series tax id

    def pick(self, price_total: Decimal, tax_total: Decimal, tax_class_id: int | None,
             units: int = 1) -> tuple[str, str]:
        """(tax id, source) of a line of `units` units: source "none" (untaxed), "rate", "class" or
        "default". Figures rounded to the cent may each be off by half a cent per unit, so a rate
        fits when rate × price and tax can meet within those intervals; the closest fit wins."""
        if not tax_total:
            return self.zero_id, "none"
        price, tax = abs(price_total), abs(tax_total)
        if price:
            slack = HALF_CENT * max(1, abs(units))
            fits = [(abs(t.rate * price - tax), t.id) for t in self.taxes
                    if abs(t.rate * price - tax) <= slack * (1 + t.rate)]
            if fits:
                return min(fits, key=lambda fit: fit[0])[1], "rate"
        if tax_class_id is not None and tax_class_id in self.by_class:
            return self.by_class[tax_class_id], "class"
        return self.default_id, "default"


@dataclass(frozen=True)
class TaxTable:
    """mappings/taxes.yaml: BigCommerce tax class id → X-Series tax name (or id)."""

    classes: dict[int, str]
    lines: dict[int, str]  # class id → file:line, for resolve() errors
    source: str = "<built-in>"

    @classmethod
    def load(cls, path: Path) -> "TaxTable":
        doc = load_yaml(path)
        data = doc.mapping("'classes:' (BigCommerce tax class id: X-Series tax name)", ("classes",))
        raw = data.get("classes") or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{doc.where(('classes',))}: expected a mapping of tax class id → X-Series tax name")
        classes: dict[int, str] = {}
        lines: dict[int, str] = {}
        for key, name in raw.items():
            where = doc.where(("classes", key))
            class_id = _class_id(key)
            if class_id is None:
                raise ConfigError(f"{where}: {key!r} is not a BigCommerce tax class id (a whole number ≥ 0)")
            if class_id in classes:
                raise ConfigError(f"{where}: tax class {class_id} is mapped twice (also at {lines[class_id]})")
            if not isinstance(name, str) or not name.strip():
                raise ConfigError(f"{where}: tax class {class_id} needs an X-Series tax name")
            classes[class_id] = name.strip()
            lines[class_id] = where
        return cls(classes, lines, source=str(path))

    def resolve(self, taxes: Iterable[PosTax]) -> dict[int, str]:
        """Tax class id → X-Series tax id. Raises ConfigError naming file:line for an unknown tax."""
        taxes = list(taxes)
        by_name = {t.name.strip().casefold(): t.id for t in taxes}
        ids = {t.id for t in taxes}
        resolved: dict[int, str] = {}
        for class_id, name in self.classes.items():
            found = name if name in ids else by_name.get(name.casefold())
            if found is None:
                raise ConfigError(f"{self.lines[class_id]}: X-Series has no tax {name!r}; it has: "
                                  + (", ".join(sorted(t.name for t in taxes)) or "none"))
            resolved[class_id] = found
        return resolved


def _class_id(key: object) -> int | None:
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key if key >= 0 else None
    if isinstance(key, str) and key.strip().isdigit():
        return int(key.strip())
    return None
