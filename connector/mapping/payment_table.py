"""BigCommerce payment method (display name, e.g. "Credit Card") → X-Series payment type.

Targets are X-Series payment type names or ids, resolved against GET /api/2.0/payment_types at
start-up (resolve()), so a typo is a start-up error instead of a failed sale. An unmapped method uses
`default`; with no default, the order fails with a readable, permanent reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from connector.errors import ConfigError, MappingError
from connector.yamlfile import load_yaml


@dataclass(frozen=True)
class PaymentTable:
    methods: dict[str, str]  # casefolded BigCommerce method → X-Series type name or id
    default: str | None
    source: str = "<built-in>"
    lines: dict[str, str] | None = None  # target → file:line, for resolve() errors

    @classmethod
    def load(cls, path: Path) -> "PaymentTable":
        doc = load_yaml(path)
        data = doc.data
        if not isinstance(data, dict):
            raise ConfigError(f"{doc.where(())}: expected 'default:' and 'methods:'")
        unknown = set(data) - {"default", "methods"}
        if unknown:
            key = sorted(map(str, unknown))[0]
            raise ConfigError(f"{doc.where((key,))}: unknown key {key!r} (expected default, methods)")
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
        default = data.get("default")
        if default is not None:
            default = str(default).strip() or None
            if default:
                lines.setdefault(default, doc.where(("default",)))
        return cls(methods, default, source=str(path), lines=lines)

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

    def resolve(self, payment_types: dict[str, str]) -> dict[str, str]:
        """Check every target against X-Series payment types (name → id, ids as themselves).

        Returns target → payment type id. Raises ConfigError listing the store's types."""
        by_name = {name.casefold(): type_id for name, type_id in payment_types.items()}
        ids = set(payment_types.values())
        resolved: dict[str, str] = {}
        targets = set(self.methods.values()) | ({self.default} if self.default else set())
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
