"""Resolve the config's outlet, register and user names, the payment table's targets, the taxes and
the retailer's currency and discount product to X-Series ids, once at start-up. A name the store
does not have is a ConfigError listing what it has."""

from __future__ import annotations

import logging

from connector.clients.xseries import XSeriesClient
from connector.clients.xseries_models import User
from connector.config_sections import XSeriesSettings
from connector.errors import ApiError, ConfigError
from connector.mapping.amounts import cents_refusal
from connector.mapping.payment_table import PaymentTable
from connector.mapping.register_sale import PosRefs
from connector.mapping.tax_table import PosTax, TaxBook, TaxTable

log = logging.getLogger("connector.sync")


def _pick(kind: str, wanted: str, items: list, names) -> object:
    wanted_key = wanted.strip().casefold()
    for item in items:
        if item.id == wanted or any((n or "").strip().casefold() == wanted_key for n in names(item)):
            return item
    available = ", ".join(sorted(filter(None, (next(iter(names(i)), None) or i.id for i in items))))
    raise ConfigError(f"xseries.{kind}: X-Series has no {kind} {wanted!r}; it has: {available or 'none'}")


# What X-Series may answer GET /api/2.0/user with when it has no such endpoint for this token, or
# will not say (a token without that permission): the first-admin rule still finds a user. A 401 is
# a bad token, and anything else is no answer about the endpoint: those stop start-up as before.
_NO_CURRENT_USER = frozenset({403, 404, 405})


async def _default_user(xs: XSeriesClient, outlet_id: str) -> User:
    """The user sales are recorded under when xseries.user is not set: the token's own (GET
    /api/2.0/user), as a sale then names who made it; the first admin when X-Series will not say
    who that is, that user is deleted, or it may not sell at the outlet (the rule before /user was
    read; an admin restricted to other outlets is passed over too)."""
    try:
        me = await xs.current_user()
        why = None
        if me is None:
            why = "no user in its answer"
        elif me.deleted_at is not None:
            why = f"{_name(me)} is deleted"
        elif not _may_sell_at(me, outlet_id):
            why = f"{_name(me)} is restricted to other outlets"
    except ApiError as exc:
        if exc.status not in _NO_CURRENT_USER:
            raise
        me, why = None, f"it answered {exc.status}"
    if why is None:
        log.info("xseries.user not set: sales are recorded under %s, the token's own user (GET /api/2.0/user)",
                 _name(me))
        return me
    users = [u for u in await xs.users() if u.deleted_at is None]
    users = [u for u in users if _may_sell_at(u, outlet_id)] or users
    admins = [u for u in users if (u.account_type or "").lower() == "admin"] or users
    if not admins:
        raise ConfigError("xseries.user: X-Series has no users to record sales under")
    log.info("xseries.user not set: sales are recorded under %s, the first admin (GET /api/2.0/user: %s)",
             _name(admins[0]), why)
    return admins[0]


def _may_sell_at(user: User, outlet_id: str) -> bool:
    return not user.restricted_outlet_ids or outlet_id in user.restricted_outlet_ids


def _name(user: User) -> str:
    return user.display_name or user.username or user.email or user.id


async def resolve_pos_refs(xs: XSeriesClient, settings: XSeriesSettings, payments: PaymentTable,
                           tax_table: TaxTable | None = None) -> PosRefs:
    outlets = [o for o in await xs.outlets() if o.deleted_at is None]
    outlet = _pick("outlet", settings.outlet, outlets, lambda o: [o.name])
    registers = [r for r in await xs.registers() if r.deleted_at is None and r.outlet_id == outlet.id]
    register = _pick("register", settings.register_name, registers, lambda r: [r.name])
    if settings.user:
        users = [u for u in await xs.users() if u.deleted_at is None]
        user = _pick("user", settings.user, users, lambda u: [u.display_name, u.username, u.email])
    else:
        user = await _default_user(xs, outlet.id)
    types = {t.name: t.id for t in await xs.payment_types() if t.deleted_at is None and t.name}
    payment_type_ids = payments.resolve(types)
    for tender in payments.fallbacks:
        # Issue 15: a tender without its own type is recorded under the default, which hides it.
        log.warning("%s names no payment type for %s: it is recorded under the default (%s)",
                    payments.source, tender, payments.default or "none: such orders will fail")
    taxes = [t for t in await xs.taxes() if t.deleted_at is None]
    retailer = await xs.retailer()
    default_tax = next((t for t in taxes if t.is_default), None) or next((t for t in taxes if t.rate), None)
    # Tax-free lines: the retailer's own no-tax group (§7) first; a store may have several zero-rate
    # taxes (UK "Zero Rated" is not "Exempt"), and its tax-free one need not be called "No Tax".
    zero = [t for t in taxes if not t.rate]
    no_tax = next((t for t in zero if t.id == retailer.no_tax_group_id), None) or next(
        (t for t in zero if (t.name or "").casefold() == "no tax"), None) or next(iter(zero), None)
    if default_tax is None or no_tax is None:
        raise ConfigError("X-Series needs a default tax and a zero-rate tax (\"No Tax\") for sale lines")
    currency = (retailer.currency.code or "").upper() or None if retailer.currency else None
    refusal = cents_refusal(currency)
    if refusal:
        raise ConfigError(f"the X-Series store's currency: {refusal}")
    book = [PosTax(t.id, t.display_name or t.name or t.id, t.rate) for t in taxes if t.rate]
    by_class = tax_table.resolve([PosTax(t.id, t.name or "", t.rate) for t in taxes]) if tax_table else {}
    return PosRefs(
        outlet_id=outlet.id, register_id=register.id, user_id=user.id,
        default_tax_id=default_tax.id, no_tax_id=no_tax.id, payment_type_ids=payment_type_ids,
        taxes=TaxBook(tuple(book), default_id=default_tax.id, zero_id=no_tax.id, by_class=by_class),
        discount_product_id=retailer.discount_product_id,
        currency=currency,
        invoice_affixes=(register.invoice_prefix or "", register.invoice_suffix or ""),
        line_prices_include_tax=settings.line_prices_include_tax,
    )
