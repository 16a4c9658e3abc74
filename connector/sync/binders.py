"""CustomerBinder: a BigCommerce e-mail → its X-Series customer id (products: product_binder.py).

Each resolves in one fixed order — binding, else the local index, else create — and creation is
single-flight per SKU and per e-mail across tasks and processes (a lease, then a second look before
creating). A create whose answer was lost is looked up by SKU / e-mail, never repeated blindly.
The walk-in customer (unpaid orders without an e-mail) is found by its customer code the same way.
"""

from __future__ import annotations

from connector.clients.xseries import XSeriesClient
from connector.clients.xseries_models import CustomerCreate
from connector.errors import MappingError, PermanentApiError, TransientApiError, UnknownWriteOutcome
from connector.mapping.planned_sale import PlannedCustomer
from connector.store.repository import Store

WALK_IN_CODE = "BIGCOMMERCE-GUEST"  # the customer_code of the walk-in order-sync creates: a merchant knows it


def walk_in_key(code: str) -> str:
    """The walk-in customer's binding key: one no e-mail address can be (it has a space)."""
    return "walk-in customer " + code.strip().casefold()


class CustomerBinder:
    def __init__(self, store: Store, xs: XSeriesClient) -> None:
        self.store = store
        self.xs = xs

    async def resolve(self, customer: PlannedCustomer, bc_order_id: int, live: str | None = None) -> str | None:
        """The X-Series customer of an order; None when the order has no e-mail. `live`: its id as
        Store.live_cached found it just now (bound, and not known as deleted), saving the lookup."""
        key = customer.email_key
        if not key:
            return None
        if live is not None:
            return live
        found = await self._existing(key)  # as for products: only a create takes the lease
        if found is not None:
            return found

        async def find() -> list[str]:
            return [c.id for c in await self.xs.search_customers_by_email(customer.email or "")]

        return await self._created_once(key, bc_order_id, _customer_body(customer), find,
                                        f"customer {customer.email!r}", "no X-Series customer with this e-mail", key)

    async def walk_in(self, configured: str | None, bc_order_id: int) -> str:
        """The walk-in customer an unpaid order without an e-mail goes on account to: the configured
        customer_code (xseries.walk_in_customer), else WALK_IN_CODE's, created once. Bound like an
        e-mail (walk_in_key), searched for only until bound."""
        code = configured or WALK_IN_CODE
        key = walk_in_key(code)
        found = await self._existing(key) or await self._by_code(key, code, bc_order_id)
        if found is not None:
            return found
        if configured is not None:
            raise MappingError(f"xseries.walk_in_customer: X-Series has no customer with customer_code {code!r}"
                               " (unpaid orders without an e-mail go on account to it)", order_id=bc_order_id)

        async def find() -> list[str]:
            return [c.id for c in await self.xs.search_customers_by_code(code)]

        body = CustomerCreate(first_name="BigCommerce", last_name="Guest", customer_code=code)
        return await self._created_once(key, bc_order_id, body, find, f"customer {code!r}",
                                        "the walk-in customer of unpaid orders without an e-mail", code)

    async def _created_once(self, key: str, bc_order_id: int, body: CustomerCreate, find, what: str,
                            reason: str, after: str) -> str:
        """Single-flight across tasks and processes: under the key's lease, a second look, then the
        create (a lost answer looked up by `find`), bound and audited."""
        async with self.store.leases.hold("customer:" + key) as lease:
            found = await self._existing(key)
            if found is not None:
                return found

            refused: list[PermanentApiError] = []

            async def create() -> str:
                try:
                    return (await self.xs.create_customer(body)).id
                except PermanentApiError as exc:
                    # §5: stricter postal-code validation can refuse a customer's address (400). Refused,
                    # nothing was written: created once more without it, so the order is still mirrored.
                    if exc.status not in (400, 422) or not _address_of(body) or not _about_address(exc, body):
                        raise
                    refused.append(exc)
                    return (await self.xs.create_customer(_without_address(body))).id

            customer_id = await create_or_find(create, find, what, "/api/2.0/customers")
            self.store.bind_customer(key, customer_id, created=True, lease=lease, audit=dict(
                platform="xseries", action="create_customer", bc_order_id=bc_order_id, target_id=customer_id,
                reason=reason + (" (without its address, refused)" if refused else ""), after=after,
            ))
            if refused:  # the merchant adds the address by hand, once told which and why
                address = _address_of(body)
                self.store.open_exception(bc_order_id, "customer", (
                    f"{what} was created in X-Series without the order's address ({', '.join(address.values())}):"
                    f" X-Series refused it ({refused[0]}); add it to the customer by hand"), before=address)
            return customer_id

    async def _by_code(self, key: str, code: str, bc_order_id: int) -> str | None:
        """The one live X-Series customer with this customer_code (bound now), else None."""
        found = await self.xs.search_customers_by_code(code)
        if len(found) > 1:  # never a guess between two
            raise MappingError(f"{len(found)} X-Series customers have customer_code {code!r}; keep one"
                               " (the walk-in customer of unpaid orders without an e-mail)", order_id=bc_order_id)
        if found:
            self.store.bind_customer(key, found[0].id, created=False)
        return found[0].id if found else None

    async def _existing(self, key: str) -> str | None:
        """The bound customer, else the indexed one (bound now), else None. A bound customer the
        merchant has deleted since (merged duplicates) is not named on new sales."""
        bound, deleted, indexed = self.store.customer_lookup(key)  # one statement
        if bound is not None and not deleted:
            return bound
        if indexed is not None:
            self.store.bind_customer(key, indexed, created=False)
        return indexed


def _customer_body(customer: PlannedCustomer) -> CustomerCreate:
    return CustomerCreate(
        # X-Series requires both names; a BigCommerce billing address may lack one.
        first_name=customer.first_name or "BigCommerce",
        last_name=customer.last_name or "Customer",
        email=customer.email,
        phone=customer.phone or None,
        company_name=customer.company or None,
        physical_address_1=customer.street_1 or None,
        physical_address_2=customer.street_2 or None,
        physical_city=customer.city or None,
        physical_state=customer.state or None,
        physical_postcode=customer.zip or None,
        physical_country_id=customer.country_iso2 or None,
    )


def _address_of(body: CustomerCreate) -> dict[str, str]:
    """The customer's address fields as sent (physical_* and postal_*)."""
    return {k: v for k, v in body.model_dump().items() if k.startswith(("physical_", "postal_")) and v}


def _about_address(exc: PermanentApiError, body: CustomerCreate) -> bool:
    """Whether a refusal could be about the address: not when it names only other fields sent (a
    blank name); one naming no field at all may be (what X-Series' errors name is not documented)."""
    text, address = f"{exc.args[0]} {exc.body or ''}", _address_of(body)
    others = [k for k, v in body.model_dump().items() if v is not None and k not in address and k in text]
    return not others or any(k in text for k in address)


def _without_address(body: CustomerCreate) -> CustomerCreate:
    """The customer without its address: names, e-mail, phone and company kept."""
    return body.model_copy(update={k: None for k in _address_of(body)})


async def create_or_find(create, find, what: str, path: str) -> str:
    """Create once; when the answer is lost, look the object up instead of creating it again."""
    try:
        return await create()
    except UnknownWriteOutcome as exc:
        found = await find()
        if not found:
            raise not_there_yet(f"creating {what}", f"no {what}", exc, path) from exc
        return found[0]


def not_there_yet(write: str, missing: str, exc: UnknownWriteOutcome,
                  path: str = "/api/register_sales") -> TransientApiError:
    """A write whose answer was lost and whose effect is not to be found (yet): a transient failure,
    and the next attempt looks again before it writes anything."""
    return TransientApiError(f"{write} got no answer ({exc.args[0]}) and {missing} is there yet; it will be"
                             " looked up again before any new write", api="xseries", method="POST", path=path)
