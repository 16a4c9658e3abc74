"""ProductBinder: a sale line → its X-Series product id, created the way the catalogue has it.

Resolution order: the binding, else the local index by SKU, else create (single-flight under a
lease, with a second look; a create refused because the SKU was made meanwhile binds that product).
What is created (issue 15, point 5):
- a catalogue line: a product at the catalogue's list price (never the discounted price), with the
  merchant's cost as supply price; a line of a product with options becomes a variant of one family
  created with all of the catalogue product's variants (each its own SKU, named by its option
  values), unless some of the family is already in X-Series or X-Series lacks a variant attribute,
  when it is created on its own as "<name> / <values>";
- custom lines, gift certificates, shipping, handling, wrapping and fees: not stock-tracked, through
  the 0.9 create (the 2.0 body cannot say so);
- the sale-level discount line: the retailer's own discount product, never created.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from connector.clients.bigcommerce import BigCommerceClient
from connector.clients.xseries import XSeriesClient
from connector.clients.xseries_models import ProductCreate, ProductVariantCreate, VariantDefinition
from connector.errors import MappingError, NotFoundError, PermanentApiError, TransientApiError, UnknownWriteOutcome
from connector.mapping.planned_sale import DISCOUNT_KEY, PlannedLine, product_key_for_sku
from connector.mapping.register_sale import PosRefs
from connector.store.repository import Store
from connector.sync.binders import create_or_find, not_there_yet
from connector.sync.xseries_index import XSeriesIndex

log = logging.getLogger("connector.sync")


@dataclass
class FamilyFacts:
    """What a cycle learns once about variant families, shared by its orders: a first day creates a
    family per catalogue product, and these are the same for each."""

    # Catalogue products whose variants are created one by one (their family cannot be made).
    single: set[int] = field(default_factory=set)
    # X-Series' variant attributes by casefolded name; None until read (a store may have none).
    attributes: dict[str, str] | None = None


class ProductBinder:
    def __init__(self, store: Store, xs: XSeriesClient, bc: BigCommerceClient | None, refs: PosRefs,
                 families: FamilyFacts | None = None) -> None:
        self.store = store
        self.xs = xs
        self.bc = bc  # reads a variant's family from the catalogue; None: variants are created on their own
        self.refs = refs
        self.families = FamilyFacts() if families is None else families

    async def resolve(self, line: PlannedLine, bc_order_id: int, live: dict[str, str] | None = None) -> str:
        """`live`: ids Store.live_cached found just now for the order's keys (bound, not known as
        deleted); a key among them needs no lookup."""
        if line.product_key == DISCOUNT_KEY:
            if not self.refs.discount_product_id:
                raise MappingError("the order has an order-level discount but X-Series names no discount"
                                   " product (retailer discount_product_id)", order_id=bc_order_id)
            return self.refs.discount_product_id
        if live and line.product_key in live:
            return live[line.product_key]
        # Bound, or already in X-Series: no lease needed. Only a create must be single-flight: the
        # lease covers a variant's whole family, since one create makes all of its products.
        found = await self._existing(line)
        if found is not None:
            return found
        # A variant family is made through the 2.0 create, whose products always track stock: an
        # untracked line (digital goods, gift certificates) is made on its own, untracked.
        family = line.family_name and line.bc_product_id and self.bc is not None and line.track_inventory
        # A variant's lease is its family's whether or not the family can be made (single-flight per SKU).
        # A custom line's lease is its SKU's, as a catalogue line's: one of them makes the product.
        lease_key = f"product:family:{line.bc_product_id}" if family else "product:" + (
            product_key_for_sku(line.sku) if line.product_key.startswith("custom:") else line.product_key)
        async with self.store.leases.hold(lease_key) as lease:
            found = await self._existing(line)
            if found is not None:
                return found
            if family and line.bc_product_id not in self.families.single:
                if await self._create_family(line, bc_order_id):
                    found = await self._existing(line)
                    if found is not None:
                        return found
                else:
                    self.families.single.add(line.bc_product_id)
            try:
                product_id = await self._create(line)
            except PermanentApiError as exc:
                if exc.status != 422:
                    raise
                product_id = await self._made_meanwhile(line, exc, bc_order_id)
                await self._tracked_if_catalogue(line, product_id)
                self.store.bind_product(line.product_key, product_id, line.sku, created=False)
                return product_id
            self.store.bind_product(line.product_key, product_id, line.sku, created=True, name=line.name,
                                    lease=lease, audit=_audit(line, product_id, bc_order_id))
            return product_id

    async def _existing(self, line: PlannedLine) -> str | None:
        """The bound product, else the indexed one (bound now), else None. A bound product the
        merchant has deleted since, or whose SKU the merchant changed, is not sold again (a server may
        refuse it on every sale): the live one with the line's SKU is bound instead, or a new one made."""
        # One statement, which also says whether order-sync made the indexed one for a custom line.
        bound, deleted, indexed, for_custom, bound_sku = self.store.product_lookup(line.product_key, line.sku)
        moved = bound_sku is not None and bound_sku != line.sku.strip().casefold()
        if bound is not None and not deleted and not moved:
            return bound
        if indexed is not None:
            await self._tracked_if_catalogue(line, indexed, for_custom)
            self.store.bind_product(line.product_key, indexed, line.sku, created=False)
        if bound is not None:
            log.warning("product %s of %r %s in X-Series; %s", bound, line.sku,
                        f"now has SKU {bound_sku!r}" if moved and not deleted else "was deleted",
                        f"binding {indexed} instead" if indexed else "a new one will be made")
        return indexed

    async def _tracked_if_catalogue(self, line: PlannedLine, product_id: str, for_custom: bool | None = None) -> None:
        """A catalogue line's SKU first sold on a product order-sync made untracked for a custom line
        (a phone order's "LAMP-01"): the SKU is stock, so X-Series counts it from now on. Before the
        catalogue key is bound (a crash in between sets it again, which changes nothing)."""
        if for_custom is None:  # not known from the lookup: asked
            for_custom = line.track_inventory and self.store.made_for_custom_line(product_id)
        if not line.track_inventory or not for_custom:
            return
        await self.xs.track_inventory(product_id)
        log.warning("product %s %r, made untracked for a custom line, is a catalogue product: made stock-tracked",
                    product_id, line.sku)
        self.store.audit(platform="xseries", action="track_product_inventory", target_id=product_id, after=line.sku,
                         reason=f"catalogue line {line.sku!r} is sold on a product made for a custom line")

    async def _create(self, line: PlannedLine) -> str:
        """One product on its own; its id."""
        if not line.track_inventory:
            async def untracked() -> str:
                created = await self.xs.create_untracked_product(
                    name=line.name, sku=line.sku, handle=_handle(line.sku), source_id=f"bc-{line.kind}-{line.sku}")
                # An answer without an id: the product may exist; look for it by SKU.
                return created or await self._by_sku(line.sku)
            return await create_or_find(untracked, lambda: self._find(line.sku), f"product {line.sku!r}",
                                        "/api/products")
        body = ProductCreate(name=line.name, sku=line.sku, source_id=f"bc-{line.kind}-{line.sku}", is_active=True,
                             supply_price=line.unit_cost, **_price(line, line.list_price))

        async def tracked() -> str:
            return (await self.xs.create_product(body))[0]
        return await create_or_find(tracked, lambda: self._find(line.sku), f"product {line.sku!r}",
                                    "/api/2.0/products")

    async def _create_family(self, line: PlannedLine, bc_order_id: int) -> bool:
        """Create the line's catalogue product as a variant family, all its variants at once, and
        bind every variant's SKU. False when it must be created on its own instead."""
        try:
            product = await self.bc.catalog_product(line.bc_product_id)
        except NotFoundError:
            # Deleted from the catalogue since the order (an old order, an import): the line is made
            # on its own from the order's own data, not held for a product that will never come back.
            log.info("BigCommerce product %s of %r is no longer in the catalogue; %r made on its own",
                     line.bc_product_id, line.name, line.sku)
            return False
        variants = [v for v in product.variants if v.sku.strip() and v.option_values]
        if self.families.attributes is None:
            self.families.attributes = {(a.name or "").strip().casefold(): a.id
                                        for a in await self.xs.variant_attributes() if a.deleted_at is None}
        attributes = self.families.attributes
        names = {o.option_display_name.strip().casefold() for v in variants for o in v.option_values}
        if len(variants) < 2 or not names <= set(attributes) or line.sku.casefold() not in {
                v.sku.strip().casefold() for v in variants}:
            return False
        if any(self.store.indexed_product_id(v.sku) for v in variants):
            return False  # part of the family is in X-Series already: do not duplicate its SKUs
        body = ProductCreate(
            name=product.name, source_id=f"bc-product-{product.id}", is_active=True,
            variants=[ProductVariantCreate(
                sku=v.sku.strip(), supply_price=v.cost_price or product.cost_price or None,
                variant_definitions=[VariantDefinition(attribute_id=attributes[o.option_display_name.strip().casefold()],
                                                       value=o.label) for o in v.option_values],
                **_price(line, v.calculated_price or v.price or product.price),
            ) for v in variants],
        )
        lost: UnknownWriteOutcome | None = None
        try:
            await self.xs.create_product(body)
        except PermanentApiError as exc:
            if exc.status != 422:
                raise
            # A SKU X-Series already has (created since the index was read): on its own instead.
            log.warning("order %s: product family %r refused (%s); creating %r on its own", bc_order_id,
                        product.name, exc, line.name, extra={"order_id": bc_order_id})
            return False
        except UnknownWriteOutcome as exc:
            lost = exc  # the family may exist: the product feed below tells
        # Which ids the family create answers with is unverified: bind the variants by SKU.
        await XSeriesIndex(self.store, self.xs).refresh_products()
        if lost is not None and self.store.indexed_product_id(line.sku) is None:
            # Not there (yet): nothing is created again before the next attempt looks again.
            raise not_there_yet(f"creating product family {product.name!r}", f"no product {line.sku!r}", lost,
                                "/api/2.0/products") from lost
        for variant in variants:
            product_id = self.store.indexed_product_id(variant.sku)
            if product_id is not None:
                key = product_key_for_sku(variant.sku.strip())
                self.store.bind_product(key, product_id, variant.sku.strip(), created=True)
        self.store.audit(platform="xseries", action="create_product_family", bc_order_id=bc_order_id,
                         target_id=self.store.indexed_product_id(line.sku), after=product.name,
                         reason=f"variant line {line.sku!r} has no X-Series product",
                         detail={"name": product.name, "skus": [v.sku for v in variants]})
        return True

    async def _made_meanwhile(self, line: PlannedLine, refusal: PermanentApiError, bc_order_id: int) -> str:
        """A create refused (422): its SKU may be in use by a product made since the index was read
        (staff, another pair on the same retailer). That one is sold; none found while the refusal
        is about the SKU, the order is retried (the feed or search may lag), not parked."""
        found = await self._find(line.sku)
        if found:
            log.warning("order %s: X-Series refused creating product %r (%s); selling %s, made meanwhile",
                        bc_order_id, line.sku, refusal, found[0], extra={"order_id": bc_order_id})
            return found[0]
        if not _sku_in_use(refusal):
            raise refusal  # refused for something else: parked with its reason
        raise TransientApiError(f"X-Series refused creating product {line.sku!r} ({refusal.args[0]}) and no"
                                " product with this SKU is found (yet); it will be looked up again", api="xseries",
                                method=refusal.method, path=refusal.path, status=refusal.status) from refusal

    async def _find(self, sku: str) -> list[str]:
        """A product created though its answer was lost: the product feed first (documented, and it
        updates the index another order's second look reads), then the search (§9.1 quirks)."""
        await XSeriesIndex(self.store, self.xs).refresh_products()
        indexed = self.store.indexed_product_id(sku)
        if indexed is not None:
            return [indexed]
        key = sku.strip().casefold()
        return [p.id for p in await self.xs.find_products_by_sku(sku) if (p.sku or "").strip().casefold() == key]

    async def _by_sku(self, sku: str) -> str:
        found = await self._find(sku)
        if not found:
            raise TransientApiError(f"product {sku!r} was created without an id and is not there (yet)",
                                    api="xseries", method="POST", path="/api/products")
        return found[0]


def _price(line: PlannedLine, price) -> dict:
    """The list price in the store's pricing mode (X-Series takes one of the two)."""
    if price is None:
        return {}
    return {"price_including_tax" if line.list_price_includes_tax else "price_excluding_tax": price}


def _sku_in_use(refusal: PermanentApiError) -> bool:
    """Whether a refused create says its SKU is taken (X-Series' wording is undocumented; the SKU
    "should be unique", §9.2): a SKU refused for another reason is no race."""
    text = f"{refusal.args[0]} {refusal.body or ''}".casefold()
    return "sku" in text and any(word in text for word in ("in use", "already", "taken", "exist", "unique"))


def _handle(sku: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", sku.casefold()).strip("-") or "product"


def _audit(line: PlannedLine, product_id: str, bc_order_id: int) -> dict:
    return dict(platform="xseries", action="create_product", bc_order_id=bc_order_id, target_id=product_id,
                reason=f"{line.kind} line {line.sku!r} has no X-Series product", after=line.sku,
                detail={"name": line.name, "sku": line.sku, "track_inventory": line.track_inventory,
                        "list_price": str(line.list_price) if line.list_price is not None else None})
