"""What an order's written sale took its money and tax under, for the returns against it.

The mapping tables (payment_methods.yaml, taxes.yaml) may have been edited, and the daemon
restarted, since the sale was written: a return under the tables as they are now would pay back
under another payment type than the sale took the money under, or give back another tax than it
charged, and the accountant's totals per type and per tax would not net out. The sale's body as
sent (OrderBinding.sale_body) says what it used; the current tables answer only for what the sale
did not have (a tender it was not paid by, a line of an order edited since).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from connector.clients.xseries_sale_models import RegisterSale
from connector.mapping.planned_sale import SalePlan


def with_sold_taxes(plan: SalePlan, sale_body: str | None, product_id: Callable[[str], str | None]) -> SalePlan:
    """`plan` (the order as it is now) with each line's tax as its sale carried it. The sale's lines
    are the plan's in order (register_sale); an order whose lines are not the sale's any more (their
    number, a line's product) keeps the current table's tax for those."""
    sent = RegisterSale.model_validate_json(sale_body).register_sale_products if sale_body else []
    if len(sent) != len(plan.lines):
        return plan
    return replace(plan, lines=tuple(
        replace(line, tax_id=s.tax_id) if s.tax_id and product_id(line.product_key) in (None, s.product_id) else line
        for line, s in zip(plan.lines, sent)))


def sold_payment_types(plan: SalePlan, sale_body: str | None) -> dict[str, str]:
    """tender → the payment type id the sale took it under. A sale's payments are its plan's tenders
    in the plan's order (register_sale.paid_now; settling an on-account sale appends the method's),
    an on-account sale not settled has all but the method's; payments that fit neither (an order
    edited since) say nothing."""
    paid = RegisterSale.model_validate_json(sale_body).register_sale_payments if sale_body else []
    tenders = [p.tender for p in plan.payments]
    if len(paid) != len(tenders):
        tenders = [t for t in tenders if t != "method"]
    if len(paid) != len(tenders):
        return {}
    return {tender: p.retailer_payment_type_id for tender, p in zip(tenders, paid) if p.retailer_payment_type_id}
