"""The configuration file's sections, one model each; Settings (connector.config) holds them."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

# sync.overlap_seconds' least. BigCommerce's dates have whole seconds, the listing reads its bounds
# inclusive whatever the store's do (bigcommerce_order_listing), and yields an order at most one
# second ahead of one not yet yielded (a second too full for a page is read by id with the next,
# _read_seconds). The cursor, at a settled batch's latest date_modified, is so at most one second
# past an order not settled (a stop then): a window starting a second before it reads that order.
MIN_OVERLAP_SECONDS = 1


def _not_empty(secret: SecretStr | None) -> SecretStr | None:
    """A secret given as an empty value (its variable set to nothing) is refused, not taken for unset."""
    if secret is not None and not secret.get_secret_value():
        raise ValueError("empty (its variable is set to nothing): set it, or leave the key out")
    return secret


class _Section(BaseModel):
    # An unknown key is almost always a typo of a known one: refuse it rather than ignore it.
    model_config = ConfigDict(extra="forbid")


class BigCommerceSettings(_Section):
    store_hash: str = Field(min_length=1)
    access_token: SecretStr
    api_url: str = "https://api.bigcommerce.com"
    # The X-Webhook-Secret header `order-sync webhooks register` gives the store's hooks, and the
    # webhook receiver checks; give it as ${ENV_VAR}. Needed only for BigCommerce webhooks.
    webhook_secret: SecretStr | None = None

    @field_validator("webhook_secret", "access_token")
    @classmethod
    def _secret_given(cls, secret: SecretStr | None) -> SecretStr | None:
        # Empty, a webhook secret would match a call carrying no X-Webhook-Secret at all: anyone could
        # queue orders; an empty token, every call is refused as if it had been revoked.
        return _not_empty(secret)


class XSeriesSettings(_Section):
    domain_prefix: str = Field(min_length=1)
    token: SecretStr
    api_url: str | None = None
    outlet: str = Field(min_length=1)
    # "register" is also a name of BaseModel's metaclass, hence the alias.
    register_name: str = Field(alias="register", min_length=1)
    user: str | None = None
    # The customer_code of the customer unpaid orders without an e-mail go on account to (unset: one
    # order-sync creates once, BIGCOMMERCE-GUEST).
    walk_in_customer: str | None = Field(default=None, min_length=1)
    # Whether a tax-inclusive retailer's X-Series reads a 0.9 sale line's `price` excluding tax (the
    # reference's reading, default) or including it is unverified (§13): true sends it tax-inclusive.
    # A sale X-Series totals exactly its lines' tax off is parked or opened as an exception naming it.
    line_prices_include_tax: bool = False

    @field_validator("token")
    @classmethod
    def _token_given(cls, secret: SecretStr) -> SecretStr:
        return _not_empty(secret)  # empty, every call is refused as if the token had been revoked

    @property
    def base_url(self) -> str:
        return self.api_url or f"https://{self.domain_prefix}.retail.lightspeed.app"


class SyncSettings(_Section):
    interval_seconds: int = Field(default=60, gt=0)
    start_at: AwareDatetime | None = None
    # Orders are re-read from (cursor - overlap): BigCommerce's date_modified has 1-second resolution
    # and a late commit can surface with an older timestamp. Bindings make the re-read free.
    overlap_seconds: int = Field(default=300)
    # Failed orders are retried with backoff (next cycle, then 1, 2, 4… minutes, at most 6 h) and
    # parked after this many attempts: 10 rides out about 4 hours of an API outage (0, 1, 2 … 128 minutes).
    max_attempts: int = Field(default=10, gt=0)
    # How many orders are mirrored at the same time within a cycle.
    concurrency: int = Field(default=4, gt=0, le=64)
    # A sale or return write that got no answer, and that X-Series' search does not show, is written
    # again only this long after it was sent: how soon the search sees a new sale is undocumented,
    # and taking a lagging search's "not found" for "not written" would write it twice.
    lost_write_settle_seconds: int = Field(default=30, ge=0, le=90)  # ≤ 90: store/leases.py TTL_SECONDS
    # An order edited after its sale was written: open an exception for a person (default), or void
    # the sale and write the next generation so stock and money follow the edit.
    on_edit: Literal["exception", "resync"] = "exception"

    @field_validator("overlap_seconds")
    @classmethod
    def _overlap_covers_the_cursor_second(cls, value: int) -> int:
        # Whether min_date_modified includes its own second is unverified (reference §2). With 0, an
        # exclusive bound skips orders modified in the second the cursor stopped at. Refused, not
        # clamped: the operator asked for no re-read, and a warning in a log is easily missed.
        if value < MIN_OVERLAP_SECONDS:
            raise PydanticCustomError("overlap_too_small", (
                f"must be at least {MIN_OVERLAP_SECONDS}: whether BigCommerce's min_date_modified includes "
                "its own second is not documented, and without an overlap an order modified in the "
                "second the last window ended could be missed (default 300)"))
        return value


class RefundSettings(_Section):
    # Returned units go back to the outlet's stock; false: the money goes back, the stock stays.
    restock: bool = True


class ServerSettings(_Section):
    # GET /healthz, /readyz, /metrics and the webhooks from `order-sync run` (issue 17): off unless
    # enabled. `order-sync serve` is that server alone: it listens on host/port whatever `enabled` says.
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    # The bearer token GET /metrics asks for (Authorization: Bearer …); give it as ${ENV_VAR}. Unset:
    # /metrics answers whoever reaches the port, as before (a warning at start says so).
    metrics_token: SecretStr | None = None

    @field_validator("metrics_token")
    @classmethod
    def _token_given(cls, token: SecretStr | None) -> SecretStr | None:
        # An empty variable would make "Bearer " the token, or (taken for unset) leave /metrics open
        # while the file says it is not: refused either way.
        return _not_empty(token)


class WorkersSettings(_Section):
    """`order-sync worker` (PostgreSQL): procrastinate workers sharing the pairs' sync jobs."""

    # Jobs one worker process runs at the same time (`--concurrency` overrides it).
    concurrency: int = Field(default=4, gt=0, le=64)
    # How often a worker tells the database it is alive.
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    # A worker silent this long is taken for dead: its running jobs are retried by another worker.
    stalled_seconds: float = Field(default=60.0, gt=0)
    # Finished jobs (and their events) are kept this long for a person to look at, then deleted
    # once an hour: a sync job a pair a minute is 1,440 rows a day.
    keep_jobs_hours: int = Field(default=72, gt=0)

    @model_validator(mode="after")
    def _stalled_after_heartbeats(self) -> "WorkersSettings":
        # A live worker missing one heartbeat by a few milliseconds must not lose its jobs.
        if self.stalled_seconds < 2 * self.heartbeat_seconds:
            raise ValueError("stalled_seconds must be at least twice heartbeat_seconds")
        return self


class HistoricalImportSettings(_Section):
    enabled: bool = False


class IdVerificationSettings(_Section):
    enabled: bool = False
    # Shared secret of the POST /webhooks/id-verification signature; give it as ${ENV_VAR}.
    webhook_secret: SecretStr | None = None
    # Accepted clock difference for webhook timestamps (replay window). At most 12 h: replays are
    # remembered for twice the window, and a fleet's deployments forget other pairs' after a day.
    webhook_tolerance_seconds: int = Field(default=300, gt=0, le=43200)
    # Where the daemon (order-sync run) serves POST /webhooks/id-verification when enabled.
    webhook_host: str = Field(default="127.0.0.1", min_length=1)
    webhook_port: int = Field(default=8787, ge=0, le=65535)


class ConsoleUser(_Section):
    name: str = Field(min_length=1)
    # `order-sync console hash-password` makes it; a plain password is refused (never stored).
    password_hash: str = Field(pattern=r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_=-]+\$[A-Za-z0-9_=-]+$")


class ConsoleSettings(_Section):
    # The operator console at / of the server (issue 18): off unless enabled.
    enabled: bool = False
    users: list[ConsoleUser] = Field(default_factory=list)
    # Signs the session cookie; give it as ${ENV_VAR}. Unset: a key generated once and kept in the
    # state database.
    session_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _users(self) -> "ConsoleSettings":
        names = [u.name for u in self.users]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"console.users: the name {twice[0]!r} is given twice")
        if self.enabled and not self.users:
            raise ValueError("console.enabled is true but console.users is empty: nobody could log in")
        return self


class PairSettings(_Section):
    """One BigCommerce store mirrored into one X-Series store (`pairs:`); the keys a pair leaves out
    are the top level's."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    bigcommerce: BigCommerceSettings
    xseries: XSeriesSettings
    mappings_dir: str | None = None
    sync: SyncSettings | None = None
    refunds: RefundSettings | None = None
    id_verification: IdVerificationSettings | None = None
