"""SalePlan → the X-Series 0.9 register_sales body (pure).

How each POS state is written (reference §8.1–§8.3):
- closed, paid:    status CLOSED, state closed, one payment of the order's total.
- closed, unpaid:  status ONACCOUNT, state pending, attribute onaccount, no payment (the balance
                   lands on the customer's account; stock moves as for CLOSED). Without a customer
                   (an order with no e-mail) it is written CLOSED with no payment instead, since an
                   on-account sale needs a customer.
- voided:          status VOIDED, state voided: X-Series returns the lines to stock and deletes
                   the payments. To void an existing sale the same complete body is re-posted with
                   its id (0.9 updates are full replacements, not patches).
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.clients.xseries_models import RegisterSale, RegisterSalePayment, RegisterSaleProduct
from connector.mapping.sale_plan import SalePlan
from connector.mapping.status_table import PosState

SOURCE = "BIGCOMMERCE"


@dataclass(frozen=True)
class PosRefs:
    """X-Series ids resolved once at start-up from the config's names."""

    outlet_id: str
    register_id: str
    user_id: str
    default_tax_id: str
    no_tax_id: str
    payment_type_ids: dict[str, str]  # payment table target → payment type id


def sale_status(plan: SalePlan, state: PosState, has_customer: bool) -> tuple[str, str, list[str]]:
    """(legacy status, state, attributes) for a plan written in `state`."""
    if state is PosState.VOIDED:
        return "VOIDED", "voided", []
    if plan.unpaid and has_customer:
        return "ONACCOUNT", "pending", ["onaccount"]
    return "CLOSED", "closed", []


def register_sale(
    plan: SalePlan,
    state: PosState,
    refs: PosRefs,
    product_ids: dict[str, str],
    customer_id: str | None,
    payment_type_id: str | None,
    sale_id: str | None = None,
) -> RegisterSale:
    """The register_sales body of a plan written in `state` (with `sale_id`: to replace that sale)."""
    status, new_state, attributes = sale_status(plan, state, customer_id is not None)
    products = [
        RegisterSaleProduct(
            product_id=product_ids[line.product_key], quantity=line.quantity, price=line.unit_price,
            tax=line.unit_tax, tax_id=refs.default_tax_id if line.unit_tax else refs.no_tax_id,
            register_id=refs.register_id, sequence=index,
            # The price comes from BigCommerce: X-Series must not re-price it from a price book.
            price_set=True, status="CONFIRMED",
        )
        for index, line in enumerate(plan.lines)
    ]
    payments = []
    if status == "CLOSED" and not plan.unpaid and plan.total_inc_tax and payment_type_id:
        payments.append(RegisterSalePayment(
            retailer_payment_type_id=payment_type_id, amount=plan.total_inc_tax,
            payment_date=plan.sale_date, register_id=refs.register_id,
        ))
    return RegisterSale(
        id=sale_id, register_id=refs.register_id, user_id=refs.user_id, customer_id=customer_id,
        sale_date=plan.sale_date, status=status, state=new_state, register_sale_attributes=attributes,
        note=plan.note, invoice_number=plan.invoice_number, source=SOURCE, source_id=str(plan.bc_order_id),
        register_sale_products=products, register_sale_payments=payments,
    )
