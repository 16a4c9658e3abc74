"""order-sync's configuration file: loading, ${ENV_VAR} interpolation, validation.

The keys are a public contract, documented in config.example.yaml: add, never rename. Secrets come
from ${ENV_VAR} references and are held as SecretStr, so neither repr() nor a log line shows them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError,
                      field_validator, model_validator)
from pydantic_core import PydanticCustomError

from connector.errors import ApiError, ConfigError, CredentialsError
from connector.logs import redact
from connector.store.db import database_password
from connector.yamlfile import LocatedYaml, load_yaml

ENV_CONFIG = "ORDER_SYNC_CONFIG"
DEFAULT_CONFIG = "config.yaml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Needed only while ID verification is on (the top level's, or a pair's own): a merchant copying the
# example need not invent one.
_WEBHOOK_SECRET = ("id_verification", "webhook_secret")
# The config key of each API's token, to name in a "token refused" message (CredentialsError.api).
TOKEN_KEYS = {"BigCommerce": "bigcommerce.access_token", "X-Series": "xseries.token"}
# sync.overlap_seconds' least: one second re-reads the second a window ended in, which an exclusive
# min_date_modified would otherwise skip; BigCommerce's dates have whole seconds, so one is enough.
MIN_OVERLAP_SECONDS = 1


# The name of the one store pair of a configuration with top-level bigcommerce/xseries sections.
DEFAULT_PAIR = "default"

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
    lost_write_settle_seconds: int = Field(default=30, ge=0)
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
        if token is not None and not token.get_secret_value():
            raise ValueError("empty (its variable is set to nothing): set it, or leave the key out")
        return token


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


class Settings(_Section):
    # Either one pair (these two, named "default") or `pairs:`; pair_settings() gives each pair's view.
    bigcommerce: BigCommerceSettings | None = None
    xseries: XSeriesSettings | None = None
    pairs: list[PairSettings] | None = None
    database_url: str = "sqlite:///order-sync.db"
    # Folder of the mapping tables; relative paths are relative to the config file's folder.
    mappings_dir: str = "mappings"
    sync: SyncSettings = Field(default_factory=SyncSettings)
    refunds: RefundSettings = Field(default_factory=RefundSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    workers: WorkersSettings = Field(default_factory=WorkersSettings)
    historical_import: HistoricalImportSettings = Field(default_factory=HistoricalImportSettings)
    id_verification: IdVerificationSettings = Field(default_factory=IdVerificationSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    # Where the file was read from; not a key of the file.
    source_path: Path | None = Field(default=None, exclude=True)
    # The pair this view of the configuration is (pair_settings()); not a key of the file.
    pair: str = Field(default=DEFAULT_PAIR, exclude=True)
    # A pair's view: the file's pairs and this one's index, so where() and token_key() name the key
    # as written (pairs.<i>.bigcommerce…) when the pair gives it.
    pairs_source: list[PairSettings] | None = Field(default=None, exclude=True)
    _pair_index: int | None = PrivateAttr(default=None)
    # Dotted key → the ${ENV_VAR} names its value was built from (private: not a key of the file).
    _env_refs: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    # Where each key was written, so checks made after loading can name file:line too.
    _located: LocatedYaml | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_shape(self) -> "Settings":
        if self.pairs is None:
            for key in ("bigcommerce", "xseries"):
                if getattr(self, key) is None:
                    raise ValueError(f"{key}: required key is missing (or give the store pairs under pairs:)")
        elif self.bigcommerce is not None or self.xseries is not None:
            raise ValueError("give either bigcommerce/xseries (one pair) or pairs:, not both")
        elif not self.pairs:
            raise ValueError("pairs: needs at least one store pair")
        else:
            names = [p.name for p in self.pairs]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"pairs: the name {twice[0]!r} is given twice; each pair needs its own")
        return self

    def pair_settings(self) -> list["Settings"]:
        """Each store pair's view: a Settings with that pair's bigcommerce, xseries and overrides."""
        if self.pairs is None:
            return [self]
        views = []
        for index, p in enumerate(self.pairs):
            view = self.model_copy(update={
                "bigcommerce": p.bigcommerce, "xseries": p.xseries, "pairs": None, "pair": p.name,
                "pairs_source": self.pairs,
                "mappings_dir": p.mappings_dir or self.mappings_dir, "sync": p.sync or self.sync,
                "refunds": p.refunds or self.refunds, "id_verification": p.id_verification or self.id_verification,
            })
            view._pair_index = index
            views.append(view)
        return views

    def select_pairs(self, name: str | None) -> list["Settings"]:
        """`--pair NAME`: that pair's view; None: every pair's. An unknown name is a ConfigError."""
        views = self.pair_settings()
        if name is None:
            return views
        chosen = [v for v in views if v.pair == name]
        if not chosen:
            raise ConfigError(f"no store pair {name!r}: the configuration has "
                              + ", ".join(repr(v.pair) for v in views))
        return chosen

    def where(self, key: str) -> str:
        """'file:line' of a dotted key as loaded (the file alone, or 'config', when unknown)."""
        if self._located is not None:
            return self._located.where(self._own_key(key))
        return str(self.source_path or "config")

    def _own_key(self, key: str) -> tuple:
        """Where a key of this view is written: under its pair (pairs, i, …) when the pair gives it."""
        loc = tuple(key.split("."))
        if self._pair_index is not None and self.pairs_source is not None:
            if getattr(self.pairs_source[self._pair_index], loc[0], None) is not None:
                return ("pairs", self._pair_index) + loc
        return loc

    def token_key(self, api: str) -> str | None:
        """The config key of the token of the API a CredentialsError names, with the variables it came
        from ('xseries.token (${XSERIES_TOKEN})'), never a value."""
        key = TOKEN_KEYS.get(api)
        if key is None:
            return None
        key = ".".join(map(str, self._own_key(key)))
        refs = self._env_refs.get(key)
        return key + (" (" + ", ".join(f"${{{name}}}" for name in refs) + ")" if refs else "")

    def secrets(self) -> list[str]:
        """Every secret value, so log filters and tests can make sure none leaks."""
        secrets = [self.id_verification.webhook_secret, self.console.session_secret, self.server.metrics_token]
        for view in self.pair_settings():
            secrets += [view.bigcommerce.access_token, view.bigcommerce.webhook_secret, view.xseries.token,
                        view.id_verification.webhook_secret]
        values = [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]
        values.append(database_password(self.database_url) or "")  # postgresql://user:PASSWORD@host
        return list(dict.fromkeys(v for v in values if v))

    def mappings_path(self) -> Path:
        path = Path(self.mappings_dir)
        if not path.is_absolute() and self.source_path is not None:
            path = self.source_path.parent / path
        return path


def describe_failure(settings: Settings | None, exc: ConfigError | ApiError) -> str:
    """The line a command prints (and records) when it stops; a refused token is named by its key
    and variable, never its value."""
    if isinstance(exc, ConfigError):
        text = f"configuration error: {exc}"
    elif isinstance(exc, CredentialsError):
        key = settings.token_key(exc.api) if settings is not None else None
        text = f"credentials error: {key + ' was refused: ' if key else ''}{exc}"
    else:
        # An API down or answering nonsense: the cursor never passes an order that is not settled.
        text = f"{exc}; nothing was lost, the next run tries again"
    return redact(text)


def resolve_config_path(cli_path: str | None) -> Path:
    return Path(cli_path or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG)


def load_settings(path: Path | str, *, environ: dict[str, str] | None = None) -> Settings:
    """Read, interpolate and validate a config file. Raises ConfigError naming file:line and key."""
    environ = dict(os.environ) if environ is None else environ
    located = load_yaml(path)
    if not isinstance(located.data, dict):
        raise ConfigError(f"{located.path}:1: the config file must be a mapping of sections")
    refs: dict[tuple, list[str]] = {}
    missing: dict[tuple, str] = {}
    data = _interpolate(located.data, (), environ, refs, missing)
    for loc, name in missing.items():
        if loc[-2:] != _WEBHOOK_SECRET or loc[:-2] not in ((), ("pairs", loc[1])):
            raise ConfigError(_unset(located, loc, name))
        section = data
        for part in loc[:-1]:
            section = section[part]
        del section["webhook_secret"]  # unset unless that ID verification is on (below)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, located)) from None
    for loc, name in missing.items():  # the top level's, or a pair's own id_verification
        section = settings.id_verification if len(loc) == 2 else settings.pairs[loc[1]].id_verification
        if section.enabled:
            raise ConfigError(_unset(located, loc, name) + " (needed because id_verification.enabled is true)")
    settings.source_path = located.path
    settings._env_refs = {".".join(map(str, loc)): names for loc, names in refs.items()}
    settings._located = located
    return settings


def _unset(located: LocatedYaml, loc: tuple, name: str) -> str:
    return (f"{located.where(loc)}: {'.'.join(map(str, loc))} refers to ${{{name}}},"
            " which is not set in the environment")


def _interpolate(value: Any, loc: tuple, environ: dict[str, str], refs: dict[tuple, list[str]],
                 missing: dict[tuple, str]) -> Any:
    """${NAME} → its value; records which names each key used (refs) and the first unset one (missing)."""
    if isinstance(value, dict):
        return {k: _interpolate(v, loc + (k,), environ, refs, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, loc + (i,), environ, refs, missing) for i, v in enumerate(value)]
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            refs.setdefault(loc, []).append(name)
            if name not in environ:
                missing.setdefault(loc, name)
                return ""
            return environ[name]

        return _ENV_REF.sub(replace, value)
    return value


_MESSAGES = {"extra_forbidden": "unknown key (check its spelling against config.example.yaml)",
             "missing": "required key is missing",
             "timezone_aware": "must carry a timezone, e.g. 2026-01-01T00:00:00Z"}


def _describe(exc: ValidationError, located: LocatedYaml) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        key = ".".join(str(part) for part in loc)
        message = _MESSAGES.get(error["type"], error["msg"])
        # Never echo the offending value: it may be a secret.
        lines.append(f"{located.where(loc)}: {key}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)
