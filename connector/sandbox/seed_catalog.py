"""The seeded store's catalogue (simple products and variant families, SKUs of every shape) and
which of it the POS holds, with what stock."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from connector.sandbox.bigcommerce import BigCommerceSimulator

if TYPE_CHECKING:  # pragma: no cover
    from connector.sandbox.seed import SeedSpec, SeededStore


PRODUCT_NAMES = [
    ("Canvas Tote Bag", "TOTE"), ("Ceramic Mug", "mug"), ("Linen Tea Towel", "TWL"),
    ("Wool Beanie", "BEAN"), ("Leather Wallet", "WLT"), ("Dotted Notebook A5", "nb-a5"),
    ("Insulated Water Bottle", "BTL"), ("Soy Scented Candle", "CNDL"), ("Organic Cotton Tee", "TEE"),
    ("Denim Jacket", "DNM-JKT"), ("Loose Leaf Tea Sampler", "tea"), ("Bamboo Phone Case", "CASE"),
    ("Enamel Pin Set", "PIN"), ("Merino Socks", "SOCK"), ("Walnut Cutting Board", "BRD"),
    ("Stoneware Bowl", "Bowl"), ("Hand Cream", "HC"), ("Silk Scarf", "SCRF"),
]
VARIANT_OPTIONS = {
    "Size": ["S", "M", "L", "XL"],
    "Colour": ["Black", "Natural", "Navy", "Rust"],
}
PRICES = [Decimal(p) for p in ("6.50", "9.95", "12.00", "14.99", "19.95", "24.00", "29.50", "34.99", "49.00", "79.95")]


@dataclass
class _Sellable:
    product_id: int
    variant_id: int
    sku: str
    name: str
    price: Decimal
    is_variant: bool
    family: str = ""  # a variant's catalogue product name
    options: dict[str, str] = field(default_factory=dict)  # a variant's {option: value}


def _unique_sku(candidate: str, taken: set[str]) -> str:
    # SKUs differ by more than case, so a case-insensitive POS lookup can never confuse two.
    sku, n = candidate, 2
    while sku.upper() in taken:
        sku = f"{candidate}-{n}"
        n += 1
    taken.add(sku.upper())
    return sku


def _seed_catalog(
    bc: BigCommerceSimulator, rng: random.Random, spec: SeedSpec, store: SeededStore,
) -> tuple[list[_Sellable], list[_Sellable]]:
    count = spec.products if spec.products is not None else max(8, spec.orders // 2)
    taken: set[str] = set()
    simple: list[_Sellable] = []
    variants: list[_Sellable] = []
    for index in range(count):
        base_name, prefix = PRODUCT_NAMES[index % len(PRODUCT_NAMES)]
        series = index // len(PRODUCT_NAMES)
        name = base_name if series == 0 else f"{base_name} {series + 1}"
        style = index % 4
        if style == 0:
            candidate = f"{prefix.upper()}-{index + 1:03d}"
        elif style == 1:
            candidate = f"{prefix.lower()}-{rng.choice(['blk', 'wht', 'nat'])}-{index + 1}"
        elif style == 2:
            candidate = f"SKU{10000 + index * 7}"
        else:
            candidate = f"{prefix.capitalize()}{index + 1}-{rng.choice(['XL', 'Std', 'v2'])}"
        sku = _unique_sku(candidate, taken)
        price = rng.choice(PRICES)
        # Every third product has options (size or colour), so both kinds always exist.
        if index % 3 == 1:
            option = rng.choice(sorted(VARIANT_OPTIONS))
            labels = rng.sample(VARIANT_OPTIONS[option], k=rng.randint(2, 4))
            specs = [{
                "sku": _unique_sku(f"{sku}-{label[:3].upper()}", taken),
                "price": price + Decimal("5.00") if label in ("XL", "Rust") else None,
                "option_values": [{"label": label, "option_display_name": option}],
            } for label in labels]
            product = bc.add_catalog_product(sku=sku, name=name, price=price, variants=specs)
            for variant in product["variants"]:
                label = variant["option_values"][0]["label"]
                variant_price = Decimal(str(variant["price"])) if variant["price"] is not None else price
                variants.append(_Sellable(product["id"], variant["id"], variant["sku"], f"{name} - {label}",
                                          variant_price, True, family=name, options={option: label}))
        else:
            product = bc.add_catalog_product(sku=sku, name=name, price=price)
            simple.append(_Sellable(product["id"], product["base_variant_id"], sku, name, price, False))
    store.skus = [s.sku for s in simple + variants]
    return simple, variants


def _plan_pos(
    rng: random.Random, spec: SeedSpec, sellables: list[_Sellable],
) -> list[tuple[_Sellable, Decimal, int]]:
    """Which sellables exist in the POS, at what price excluding tax, with what stock."""
    plan: list[tuple[_Sellable, Decimal, int]] = []
    for item in sellables:
        if rng.random() >= spec.share_sku_in_pos:
            continue
        price_ex = (item.price / (1 + spec.tax_rate)).quantize(Decimal("0.00001")) if spec.tax_inclusive else item.price
        # Some POS products are out of stock: a sale must still be recorded for them.
        inventory = 0 if rng.random() < 0.1 else rng.randint(1, 40)
        plan.append((item, price_ex, inventory))
    return plan
