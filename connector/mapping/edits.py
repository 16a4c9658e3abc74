"""Edits after the write (issue 16, point 4): what changed between the sale as written and the
sale the order calls for now — lines, quantities, prices, totals. Pure; the caller knows the
product ids of the new plan's lines (None for a product not in X-Series yet)."""

from __future__ import annotations

from collections import Counter

from connector.clients.xseries_sale_models import RegisterSale
from connector.mapping.amounts import cents
from connector.mapping.line_prices import lines_inc_tax, unit_inc_tax
from connector.mapping.planned_sale import SalePlan


def sale_edit(sent: RegisterSale, plan: SalePlan, product_ids: dict[str, str | None],
              prices_include_tax: bool = False) -> dict | None:
    """{"summary", "before", "after"} when the sale's content changed; None when only the status,
    the payment state or details outside the sale did. prices_include_tax: how `sent`'s line prices
    were written (xseries.line_prices_include_tax)."""
    labels = {pid: line.sku or line.name for line in plan.lines if (pid := product_ids.get(line.product_key))}
    before = Counter((labels.get(p.product_id, f"product {p.product_id}"), p.quantity,
                      unit_inc_tax(p, prices_include_tax)) for p in sent.register_sale_products)
    after = Counter((line.sku or line.name, line.quantity, line.unit_price + line.unit_tax) for line in plan.lines)
    before_total = cents(lines_inc_tax(sent, prices_include_tax))
    if before == after and before_total == plan.total_inc_tax:
        return None
    changes = []
    if before_total != plan.total_inc_tax:
        changes.append(f"total {before_total} → {plan.total_inc_tax}")
    removed, added = before - after, after - before
    if removed or added:
        changes.append("lines changed")
    return {
        "summary": f"order edited after its sale {sent.invoice_number} was written: " + ", ".join(changes),
        "before": {"total": str(before_total), "lines": _rows(removed)},
        "after": {"total": str(plan.total_inc_tax), "lines": _rows(added)},
    }


def _rows(lines: Counter) -> list[list[str]]:
    """[label, quantity, unit price incl. tax] of each line only one side has."""
    return sorted([label, str(qty), str(cents(unit))] for (label, qty, unit), n in lines.items() for _ in range(n))
