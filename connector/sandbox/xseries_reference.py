"""The reference data every simulated X-Series store starts with: taxes, variant attributes, the
outlet and registers, the API user, payment types, the retailer and its "Discount" product."""

from __future__ import annotations

from decimal import Decimal


_SYMBOLS = {"USD": "$", "NZD": "$", "AUD": "$", "CAD": "$", "EUR": "€", "GBP": "£"}


class ReferenceData:
    def _seed_reference_data(self, register_count: int, extra_taxes: tuple[tuple[str, Decimal], ...]) -> None:
        now = self._now_iso()
        self.tax_ids: dict[str, str] = {}  # tax name → id
        for name, rate in (("No Tax", Decimal(0)), ("GST", Decimal("0.15")), *extra_taxes):
            tax_id = self.tax_ids[name] = self.new_id()
            self.taxes[tax_id] = {
                "id": tax_id, "name": name, "display_name": name, "is_default": name == "GST",
                "rates": [{"id": self.new_id(), "name": name, "rate": rate, "display_name": name}],
                "deleted_at": None, "version": self.bump_version(),
            }
        self.no_tax_id, self.default_tax_id = self.tax_ids["No Tax"], self.tax_ids["GST"]
        self.variant_attribute_ids: dict[str, str] = {}  # attribute name → id
        for name in ("Size", "Colour"):
            attribute_id = self.variant_attribute_ids[name] = self.new_id()
            self.variant_attributes[attribute_id] = {"id": attribute_id, "name": name, "deleted_at": None}

        self.main_outlet_id = self.new_id()
        self.outlets[self.main_outlet_id] = {
            "id": self.main_outlet_id, "name": "Main Outlet", "default_tax_id": self.default_tax_id,
            "currency": self.currency, "currency_symbol": _SYMBOLS.get(self.currency, self.currency),
            "display_prices": "exclusive" if self.tax_exclusive else "inclusive",
            "time_zone": "Pacific/Auckland", "physical_address_1": "", "physical_address_2": "",
            "physical_suburb": "", "physical_city": "Auckland", "physical_postcode": "",
            "physical_state": "", "physical_country_id": "NZ", "email": "shop@example.com",
            "attributes": [], "deleted_at": None, "version": self.bump_version(),
        }

        for n in range(register_count):
            register_id = self.new_id()
            self.registers[register_id] = {
                "id": register_id, "name": "Online Store" if n == 0 else f"Register {n + 1}",
                "outlet_id": self.main_outlet_id,
                "invoice_prefix": "OS-" if n == 0 else f"R{n + 1}-", "invoice_suffix": "",
                "invoice_sequence": 0, "is_open": True, "register_open_time": now,
                "register_close_time": None, "print_receipt": False, "email_receipt": False,
                "ask_for_note_on_save": 0, "print_note_on_receipt": False,
                "ask_for_user_on_sale": False, "show_discounts_on_receipts": True,
                "button_layout_id": None, "deleted_at": None, "version": self.bump_version(),
            }
        self.main_register_id = next(iter(self.registers))  # the first, the Online Store

        self.user_id = self.new_id()
        self.users[self.user_id] = {
            "id": self.user_id, "username": "api@example.com", "display_name": "Online Shop",
            "email": "api@example.com", "email_verified_at": None, "account_type": "admin",
            "enabled": True, "restricted_outlet_id": None, "restricted_outlet_ids": [],
            "is_primary_user": True, "created_at": now, "updated_at": now, "deleted_at": None,
            "version": self.bump_version(),
        }

        self.payment_type_ids: dict[str, str] = {}
        # type_id = the global payment type; illustrative values (it must not be used to identify).
        for name, type_id in (("Cash", 1), ("Credit Card", 2), ("Other", 7), ("Store Credit", 13)):
            ptype_id = self.payment_type_ids[name] = self.new_id()
            self.payment_types[ptype_id] = {
                "id": ptype_id, "name": name, "type_id": type_id, "deleted_at": None,
                "version": self.bump_version(),
            }

        self.customer_group_id = self.new_id()
        # Every store has this product: a sale-level discount is a line on it with quantity -1.
        self.discount_product_id = self.store_product(name="Discount", sku="vend-discount", track_inventory=False)
        self.retailer = {
            "id": self.new_id(), "domain_prefix": self.domain_prefix, "name": "Simulated Store",
            "account_status": "active", "tax_exclusive": self.tax_exclusive, "country": "NZ",
            "currency": {"code": self.currency, "symbol": _SYMBOLS.get(self.currency, self.currency)},
            "timezone": "Pacific/Auckland", "culture": "en-NZ", "discount_product_id": self.discount_product_id,
            "no_tax_group_id": self.no_tax_id, "store_credit": True,
            "loyalty": {"enabled": False, "ratio": 0}, "created_at": now,
        }
