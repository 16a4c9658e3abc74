"""BigCommerce tender → X-Series payment type.

An order is paid by up to three tenders (issue 15, point 1): gift certificates, store credit and
the order's payment method (display name, e.g. "Credit Card"). `methods` maps payment methods,
`gift_certificate` and `store_credit` name the types of the other two; a tender without a type uses
`default` (a missing tender key is reported at start-up, see `fallbacks`). With no default, an
order needing it fails with a readable, permanent reason.

Targets are X-Series payment type names or ids, resolved against GET /api/2.0/payment_types at
start-up (resolve()), so a typo is a start-up error instead of a failed sale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from connector.errors import ConfigError, MappingError
from connector.yamlfile import load_yaml

if TYPE_CHECKING:
    from connector.mapping.planned_sale import PlannedPayment

TENDERS = ("gift_certificate", "store_credit")
_KEYS = ("default", "methods", *TENDERS)


@dataclass(frozen=True)
class PaymentTable:
    methods: dict[str, str]  # casefolded BigCommerce method → X-Series type name or id
    default: str | None
    source: str = "<built-in>"
    lines: dict[str, str] | None = None  # target → file:line, for resolve() errors
    tenders: dict[str, str] = field(default_factory=dict)  # "gift_certificate"/"store_credit" → target

    @classmethod
    def load(cls, path: Path) -> "PaymentTable":
        doc = load_yaml(path)
        data = doc.mapping("'default:' and 'methods:'", _KEYS)
        methods_raw = data.get("methods") or {}
        if not isinstance(methods_raw, dict):
            raise ConfigError(f"{doc.where(('methods',))}: expected a mapping of payment method → payment type")
        methods: dict[str, str] = {}
        lines: dict[str, str] = {}
        for method, target in methods_raw.items():
            key = str(method).strip().casefold()
            if key in methods:
                raise ConfigError(f"{doc.where(('methods', method))}: payment method {method!r} is mapped twice")
            if not isinstance(target, str) or not target.strip():
                raise ConfigError(f"{doc.where(('methods', method))}: {method!r} needs an X-Series payment type name or id")
            methods[key] = target.strip()
            lines.setdefault(target.strip(), doc.where(("methods", method)))
        tenders: dict[str, str] = {}
        for tender in TENDERS:
            if tender not in data:
                continue
            target = data[tender]
            if not isinstance(target, str) or not target.strip():
                raise ConfigError(f"{doc.where((tender,))}: {tender} needs an X-Series payment type name or id")
            tenders[tender] = target.strip()
            lines.setdefault(target.strip(), doc.where((tender,)))
        default = data.get("default")
        if default is not None:
            default = str(default).strip() or None
            if default:
                lines.setdefault(default, doc.where(("default",)))
        return cls(methods, default, source=str(path), lines=lines, tenders=tenders)

    @property
    def fallbacks(self) -> tuple[str, ...]:
        """The tenders (gift_certificate, store_credit) the file names no type for: recorded under
        `default`, or refused when there is none. Worth a warning at start-up."""
        return tuple(t for t in TENDERS if t not in self.tenders)

    def target_for(self, payment_method: str | None, order_id: int | None = None) -> str:
        key = (payment_method or "").strip().casefold()
        if key in self.methods:
            return self.methods[key]
        if self.default:
            return self.default
        raise MappingError(
            f"payment method {payment_method!r} has no mapping in {self.source} and there is no default",
            order_id=order_id,
        )

    def targets(self, payments: Iterable["PlannedPayment"], order_id: int | None = None) -> list[str]:
        """The X-Series payment type (name or id) of each PlannedPayment of a sale plan, in order."""
        result = []
        for payment in payments:
            if payment.tender == "method":
                result.append(self.target_for(payment.method, order_id))
                continue
            target = self.tenders.get(payment.tender) or self.default
            if target is None:
                raise MappingError(
                    f"the order is partly paid by {payment.tender.replace('_', ' ')}, which has no payment type"
                    f" in {self.source} ({payment.tender}:) and there is no default",
                    order_id=order_id,
                )
            result.append(target)
        return result

    def resolve(self, payment_types: dict[str, str]) -> dict[str, str]:
        """Check every target against X-Series payment types (name → id, ids as themselves).

        Returns target → payment type id. Raises ConfigError listing the store's types."""
        by_name = {name.casefold(): type_id for name, type_id in payment_types.items()}
        ids = set(payment_types.values())
        resolved: dict[str, str] = {}
        targets = set(self.methods.values()) | set(self.tenders.values()) | ({self.default} if self.default else set())
        for target in sorted(targets):
            if target in ids:
                resolved[target] = target
            elif target.casefold() in by_name:
                resolved[target] = by_name[target.casefold()]
            else:
                where = (self.lines or {}).get(target, self.source)
                raise ConfigError(
                    f"{where}: X-Series has no payment type {target!r}; it has: "
                    + ", ".join(sorted(payment_types))
                )
        return resolved
