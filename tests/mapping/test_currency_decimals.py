"""Amounts are kept in cents: an order in a currency of three decimals (KWD, BHD, OMR, ...) would be
posted rounded (10.499 KWD as 10.50), so it is refused, naming the currency, never posted."""
from __future__ import annotations

import pytest
from order_shapes import TABLES, TAXES, bc_line, bc_order

from connector.errors import MappingError
from connector.mapping.register_sale import PosRefs
from connector.sync.mirror_deps import MirrorDeps, plan_sale


def deps(currency):
    refs = PosRefs(outlet_id="o", register_id="r", user_id="u", default_tax_id=TAXES.default_id,
                   no_tax_id=TAXES.zero_id, payment_type_ids={}, taxes=TAXES, currency=currency)
    return MirrorDeps(store=None, xs=None, refs=refs, statuses=TABLES.statuses, payments=None,
                      specials=TABLES.specials)


def kuwaiti_order():
    """3 × 3.333 KWD + 5 % tax: 10.499 KWD."""
    return bc_order([bc_line("10.4990", "0.4990", 3, line_id=1, sku="A")], total_inc="10.499", total_tax="0.499",
                    currency_code="KWD", default_currency_code="KWD")


@pytest.mark.parametrize("register_currency", ["KWD", None])
def test_an_order_in_a_three_decimal_currency_is_refused_not_rounded_to_cents(register_currency):
    with pytest.raises(MappingError) as refused:
        plan_sale(kuwaiti_order(), deps(register_currency))
    assert refused.value.kind == "currency"
    assert "KWD" in str(refused.value) and "cents" in str(refused.value)


def test_an_order_in_a_currency_without_decimals_is_planned():
    """Yen have no decimals: whole amounts are exact in cents."""
    order = bc_order([bc_line("1100", "100", 1, line_id=1, sku="A")], total_inc="1100", total_tax="100",
                     currency_code="JPY", default_currency_code="JPY")
    plan = plan_sale(order, deps("JPY"))
    assert (plan.total_inc_tax, plan.currency) == (1100, "JPY")
