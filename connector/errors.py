"""The errors order-sync raises, each saying what the caller should do about it."""

from __future__ import annotations

# The commands' exit codes, a public contract (connector.cli): all went well; some orders failed
# (retried next cycle) or a decision was refused; bad configuration or credentials, or a command
# the configuration refuses. A stop by a signal is connector.interrupts'.
EXIT_OK, EXIT_FAILURES, EXIT_CONFIG = 0, 1, 2


class OrderSyncError(Exception):
    """Base of every error order-sync raises on purpose."""


class ConfigError(OrderSyncError):
    """Bad configuration or mapping file: a person must fix it (CLI exit 2). Names file:line and key."""


class UsageError(ConfigError):
    """A command asked for what cannot be: a range that ends before it starts, an exception that is
    not open. Exit 2 as a ConfigError, said as it is (the configuration is not at fault)."""


class LostStateError(ConfigError):
    """The state database is empty but X-Series holds our sales: syncing would write every sale a
    second time. A person must run `reconcile --adopt` (exit 2, as any ConfigError; a worker's job
    fails, for a person to see, rather than ending as if it went well)."""


class DatabaseUnavailable(OrderSyncError):
    """The database server did not answer (down, or not reachable): like an API down, nothing to fix
    in the configuration and nothing lost (CLI exit 1)."""


class ApiError(OrderSyncError):
    """An HTTP API answered with an error (or did not answer)."""

    def __init__(self, message: str, *, api: str, method: str, path: str, status: int | None = None,
                 body: object = None) -> None:
        super().__init__(message)
        self.api = api
        self.method = method
        self.path = path
        self.status = status
        self.body = body

    def __str__(self) -> str:
        code = f" {self.status}" if self.status is not None else ""
        return f"{self.api} {self.method} {self.path}{code}: {self.args[0]}"


class CredentialsError(ApiError):
    """401 (token wrong or expired) or 403 (token lacks a scope, or wrong store). Never retried."""


class NotFoundError(ApiError):
    """404: the object does not exist."""


class PermanentApiError(ApiError):
    """400/409/413/415/422 and other 4xx: the request itself is wrong; do not repeat it unchanged."""


class TransientApiError(ApiError):
    """Retries on 429, 5xx or connection errors were exhausted; the request may succeed later."""


class UnknownWriteOutcome(ApiError):
    """A write that is not safe to repeat was sent, and its outcome is unknown.

    Raised for timeouts or lost connections after the request was sent, and for 5xx answers to such
    writes (a gateway error can hide an applied write). The caller must look the object up by its
    own reference before it ever writes again.
    """


class MappingError(OrderSyncError):
    """An order cannot be mapped (unknown status, unmapped payment method with no default…)."""

    def __init__(self, message: str, *, order_id: int | None = None, kind: str = "mapping") -> None:
        super().__init__(message)
        self.order_id = order_id
        self.kind = kind  # the exception a person sees: mapping | currency | totals | refund

    def __str__(self) -> str:
        prefix = f"order {self.order_id}: " if self.order_id is not None else ""
        return prefix + str(self.args[0])
