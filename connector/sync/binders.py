"""Binders: BigCommerce line or customer → X-Series product or customer id.

Each resolves in one fixed order — binding, else the local index, else create — and creation is
single-flight per SKU and per e-mail across tasks and processes (a lease, then a second look before
creating). A create whose answer was lost is looked up by SKU / e-mail, never repeated blindly.
"""

from __future__ import annotations

from connector.clients.xseries import XSeriesClient
from connector.clients.xseries_models import CustomerCreate, ProductCreate
from connector.errors import TransientApiError, UnknownWriteOutcome
from connector.mapping.sale_plan import PlannedCustomer, PlannedLine
from connector.store.repository import Store


class ProductBinder:
    def __init__(self, store: Store, xs: XSeriesClient, outlet_id: str) -> None:
        self.store = store
        self.xs = xs
        self.outlet_id = outlet_id

    async def resolve(self, line: PlannedLine, bc_order_id: int) -> str:
        # Bound, or already in X-Series: no lease needed (any process binds the same product: the
        # index answers the oldest live one). Only a create must be single-flight, so the lease
        # is taken for it alone, and the two looks are repeated under it.
        found = await self._existing(line)
        if found is not None:
            return found
        async with self.store.leases.hold("product:" + line.product_key) as lease:
            found = await self._existing(line)
            if found is not None:
                return found
            product_id = await self._create(line)
            self.store.bind_product(line.product_key, product_id, line.sku, created=True, name=line.name,
                                    lease=lease, audit=dict(
                platform="xseries", action="create_product", bc_order_id=bc_order_id, target_id=product_id,
                reason=f"{line.kind} line {line.sku!r} has no X-Series product", after=line.sku,
                detail={"name": line.name, "sku": line.sku, "track_inventory": line.track_inventory},
            ))
            return product_id

    async def _existing(self, line: PlannedLine) -> str | None:
        """The bound product, else the indexed one (bound now), else None."""
        bound = self.store.product_id(line.product_key)
        if bound is not None:
            return bound
        indexed = self.store.indexed_product_id(line.sku)
        if indexed is not None:
            self.store.bind_product(line.product_key, indexed, line.sku, created=False)
        return indexed

    async def _create(self, line: PlannedLine) -> str:
        body = ProductCreate(
            name=line.name,
            sku=line.sku,
            source_id=f"bc-{line.kind}-{line.sku}",
            is_active=True,
            price_excluding_tax=line.unit_price if line.kind == "product" or line.kind == "custom" else 0,
            # Shipping, handling and wrapping are services: never stock-tracked.
            track_inventory=line.track_inventory,
        )
        async def find() -> list[str]:
            key = line.sku.strip().casefold()
            return [p.id for p in await self.xs.find_products_by_sku(line.sku) if (p.sku or "").strip().casefold() == key]

        return await _create_or_find(lambda: self.xs.create_product(body), find,
                                     f"product {line.sku!r}", "/api/2.0/products")


class CustomerBinder:
    def __init__(self, store: Store, xs: XSeriesClient) -> None:
        self.store = store
        self.xs = xs

    async def resolve(self, customer: PlannedCustomer, bc_order_id: int) -> str | None:
        """The X-Series customer of an order; None when the order has no e-mail."""
        key = customer.email_key
        if not key:
            return None
        found = await self._existing(key)  # as for products: only a create takes the lease
        if found is not None:
            return found
        async with self.store.leases.hold("customer:" + key) as lease:
            found = await self._existing(key)
            if found is not None:
                return found
            customer_id = await self._create(customer)
            self.store.bind_customer(key, customer_id, created=True, lease=lease, audit=dict(
                platform="xseries", action="create_customer", bc_order_id=bc_order_id, target_id=customer_id,
                reason="no X-Series customer with this e-mail", after=key,
            ))
            return customer_id

    async def _existing(self, key: str) -> str | None:
        """The bound customer, else the indexed one (bound now), else None."""
        bound = self.store.customer_id(key)
        if bound is not None:
            return bound
        indexed = self.store.indexed_customer_id(key)
        if indexed is not None:
            self.store.bind_customer(key, indexed, created=False)
        return indexed

    async def _create(self, customer: PlannedCustomer) -> str:
        body = CustomerCreate(
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
        async def create() -> str:
            return (await self.xs.create_customer(body)).id

        async def find() -> list[str]:
            return [c.id for c in await self.xs.search_customers_by_email(customer.email or "")]

        return await _create_or_find(create, find, f"customer {customer.email!r}", "/api/2.0/customers")


async def _create_or_find(create, find, what: str, path: str) -> str:
    """Create once; when the answer is lost, look the object up instead of creating it again. Not
    there (yet) is a transient failure: the next attempt looks again before any new create."""
    try:
        return await create()
    except UnknownWriteOutcome:
        found = await find()
        if not found:
            raise TransientApiError(
                f"creating {what} got no answer and it is not there (yet)", api="xseries", method="POST", path=path,
            ) from None
        return found[0]
