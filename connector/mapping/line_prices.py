"""How a 0.9 sale line's `price` is read: excluding tax (the reference's reading, §8.2) or, where
xseries.line_prices_include_tax says so, including it. Whether a tax-inclusive retailer's X-Series
reads it one way or the other is unverified (§13): the setting picks the reading, and a sale
X-Series totals off by exactly its lines' tax is told apart from any other gap, naming the setting.
Pure."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from connector.clients.xseries_sale_models import RegisterSale, RegisterSaleProduct
from connector.errors import ApiError, PermanentApiError
from connector.mapping.amounts import cents

SETTING = "xseries.line_prices_include_tax"
_AMOUNT = re.compile(r"-?\d+(?:\.\d+)?")


def unit_inc_tax(line: RegisterSaleProduct, prices_include_tax: bool) -> Decimal:
    """What one unit of a line sent as 0.9 costs the customer, tax included."""
    return line.price if prices_include_tax else line.price + line.tax


def lines_inc_tax(body: RegisterSale, prices_include_tax: bool) -> Decimal:
    return sum((line.quantity * unit_inc_tax(line, prices_include_tax) for line in body.register_sale_products),
               Decimal(0))


def _lines_tax(body: RegisterSale) -> Decimal:
    return sum((line.quantity * line.tax for line in body.register_sale_products), Decimal(0))


def misread_tax(body: RegisterSale, server_total: Decimal, prices_include_tax: bool) -> str | None:
    """What to tell a person when X-Series totals `body` at `server_total` (tax included), exactly its
    lines' tax away from what they say: X-Series read the line prices the other way than they were
    sent. None for any other total (or lines without tax). Never switched by itself: one total
    cannot tell a misread from a merchant's edit in X-Series, and the setting covers every sale."""
    tax = cents(_lines_tax(body))
    if not tax:
        return None
    # Sent excluding tax and read including it, X-Series takes the tax off once more; and the reverse.
    misread = cents(lines_inc_tax(body, prices_include_tax)) + (tax if prices_include_tax else -tax)
    if abs(cents(server_total) - misread) > Decimal("0.01") * max(1, len(body.register_sale_products)):
        return None  # a cent per line is rounding (register_sale.total_gap): beyond it, another gap
    return (f"X-Series' total {cents(server_total)} is exactly the lines' tax ({tax}) "
            f"{'more' if prices_include_tax else 'less'} than sent: it reads 0.9 line prices as "
            f"{'excluding' if prices_include_tax else 'including'} tax; set {SETTING}: "
            f"{'false' if prices_include_tax else 'true'} for this X-Series store")


def misread_refusal(exc: ApiError, body: RegisterSale, prices_include_tax: bool) -> PermanentApiError | None:
    """The refusal of `body` (e.g. 422 "payments 40.00 exceed its total 36.36"), saying why, when the
    total X-Series quotes is the lines' tax off (misread_tax); None when it quotes no such total, or
    `exc` is no refusal (an error that may pass is left as it is, to be retried)."""
    if not isinstance(exc, PermanentApiError):
        return None
    for text in _AMOUNT.findall(str(exc.args[0] if exc.args else "")):
        try:
            hint = misread_tax(body, Decimal(text), prices_include_tax)
        except InvalidOperation:
            continue
        if hint:
            return PermanentApiError(f"{exc.args[0]} ({hint})", api=exc.api, method=exc.method, path=exc.path,
                                     status=exc.status, body=exc.body)
    return None
