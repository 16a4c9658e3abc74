"""The statements that resolve a sale's products and customer: one round trip where there were up
to three (a statement costs about 100 µs of SQLAlchemy on the order path, more than it runs)."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import bindparam, literal, union_all
from sqlalchemy import select as core_select

from connector.store.tables import CustomerBinding, ProductBinding, XsCustomer, XsProduct


class Lookup(NamedTuple):
    bound: str | None  # the bound id
    deleted: bool  # the index knows the bound one as deleted in X-Series
    indexed: str | None  # the oldest live one in the index with the key


class ProductLookup(NamedTuple):
    bound: str | None
    deleted: bool
    indexed: str | None
    made_for_custom: bool  # order-sync created the indexed one for a custom line (untracked)
    bound_sku_key: str | None  # the bound one's SKU as the index has it (None: not indexed)


def oldest_live(model: type[XsProduct | XsCustomer], key, param: str = "key") -> Any:
    """The oldest live product / customer with that key (versions grow: the first one made wins;
    the id settles a tie, so every process picks the same one)."""
    return core_select(model.id).where(model.pair == bindparam("pair"), key == bindparam(param),
                                       model.deleted == False).order_by(  # noqa: E712
        model.version, model.id).limit(1)


def _lookup(binding: type[ProductBinding | CustomerBinding], bound_id, binding_key, model, index_key) -> Any:
    """What resolving a product / customer reads, as one row: the bound id (:key), whether the index
    knows that one as deleted, and the oldest live indexed one with the key (:index_key), used when
    the first is missing or deleted. Three indexed lookups; SELECT without FROM on both databases."""
    bound = core_select(bound_id).where(binding.pair == bindparam("pair"), binding_key == bindparam("key"))
    deleted = core_select(model.id).where(model.pair == bindparam("pair"), model.deleted == True,  # noqa: E712
                                          model.id == bound.scalar_subquery())
    return core_select(bound.scalar_subquery().label("bound"), deleted.exists().label("deleted"),
                       oldest_live(model, index_key, "index_key").scalar_subquery().label("indexed"))


def made_for_custom(product_id) -> Any:
    """Whether order-sync created the product (:pair) for a custom line or gift certificate."""
    return core_select(ProductBinding.key).where(
        ProductBinding.pair == bindparam("pair"), ProductBinding.xs_product_id == product_id,
        ProductBinding.created == True, ProductBinding.key.startswith("custom:")).exists()  # noqa: E712


PRODUCT_LOOKUP = _lookup(ProductBinding, ProductBinding.xs_product_id, ProductBinding.key, XsProduct,
                         XsProduct.sku_key).add_columns(made_for_custom(
                             oldest_live(XsProduct, XsProduct.sku_key, "index_key").scalar_subquery()
                         ).label("made_for_custom"), core_select(XsProduct.sku_key).where(
                             XsProduct.pair == bindparam("pair"), XsProduct.id == core_select(
                                 ProductBinding.xs_product_id).where(ProductBinding.pair == bindparam("pair"),
                                                                     ProductBinding.key == bindparam("key"))
                             .scalar_subquery()).scalar_subquery().label("bound_sku_key"))
CUSTOMER_LOOKUP = _lookup(CustomerBinding, CustomerBinding.xs_customer_id, CustomerBinding.email_key,
                          XsCustomer, XsCustomer.email_key)

# Of an order's cached product ids (:products) and customer id (:customers), those the index knows
# as deleted, and each product's SKU as indexed, tagged by kind: one statement per order instead of one
# per product and customer (the cache holds bindings, not whether their objects still live, nor still
# carry the SKU: a merchant may move a SKU to another product, seen by whichever process refreshed).
CACHED_AMONG = union_all(*(
    core_select(literal(kind).label("kind"), model.id, model.deleted, key.label("sku_key")).where(
        model.pair == bindparam("pair"), model.id.in_(bindparam(kind, expanding=True)))
    for kind, model, key in (("products", XsProduct, XsProduct.sku_key),
                             ("customers", XsCustomer, literal("")))))
