"""order-sync's configuration file: loading, ${ENV_VAR} interpolation, validation.

The keys are a public contract, documented in config.example.yaml: add, never rename. Secrets come
from ${ENV_VAR} references and are held as SecretStr, so neither repr() nor a log line shows them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from connector.config_sections import (BigCommerceSettings, ConsoleSettings, HistoricalImportSettings,
                                       IdVerificationSettings, PairSettings, RefundSettings, ServerSettings,
                                       SyncSettings, WorkersSettings, XSeriesSettings, _Section)
from connector.errors import ApiError, ConfigError, CredentialsError
from connector.logs import redact
from connector.store.db import database_passwords, shown
from connector.yamlfile import LocatedYaml, load_yaml

ENV_CONFIG = "ORDER_SYNC_CONFIG"
DEFAULT_CONFIG = "config.yaml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Needed only while ID verification is on (the top level's, or a pair's own): a merchant copying the
# example need not invent one.
_WEBHOOK_SECRET = ("id_verification", "webhook_secret")
# The config key of each API's token, to name in a "token refused" message (CredentialsError.api).
TOKEN_KEYS = {"BigCommerce": "bigcommerce.access_token", "X-Series": "xseries.token"}
# The name of the one store pair of a configuration with top-level bigcommerce/xseries sections.
DEFAULT_PAIR = "default"


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
    # Why this pair is refused (a variable of its own section unset): it alone does not start.
    refusal: str | None = Field(default=None, exclude=True)
    _refused: dict[int, str] = PrivateAttr(default_factory=dict)  # the pairs' refusals, by index
    _pair_index: int | None = PrivateAttr(default=None)
    # Dotted key → the ${ENV_VAR} names its value was built from (private: not a key of the file).
    _env_refs: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    # Where each key was written, so checks made after loading can name file:line too.
    _located: LocatedYaml | None = PrivateAttr(default=None)

    def __repr_args__(self):
        # database_url may hold a password (user:PASSWORD@ or ?password=): starred in repr() and
        # str(), like the tokens (SecretStr).
        for name, value in super().__repr_args__():
            yield name, shown(value) if name == "database_url" else value

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
                "refusal": self._refused.get(index),
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
        values += database_passwords(self.database_url)  # user:PASSWORD@host or ?password=PASSWORD
        return list(dict.fromkeys(v for v in values if v))

    def mappings_path(self) -> Path:
        """The mapping tables' folder. One the file names that is not there is refused: the built-in
        tables in its place would write sales under payment types, taxes and states nobody chose."""
        path = Path(self.mappings_dir)
        if not path.is_absolute() and self.source_path is not None:
            path = self.source_path.parent / path
        named = (self._own_key("mappings_dir") in self._located.lines if self._located is not None
                 else "mappings_dir" in self.model_fields_set)
        if named and not path.is_dir():
            raise ConfigError(f"{self.where('mappings_dir')}: mappings_dir: {path.absolute()} "
                              f"{'is not a folder' if path.exists() else 'does not exist'}; give the folder"
                              " of the mapping tables (relative paths are from the config file's folder)")
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
    refused: dict[int, str] = {}  # a pair's own variable unset refuses that pair, not the file
    for loc, name in missing.items():
        section = data
        for part in loc[:-1]:
            section = section[part]
        if loc[-2:] == _WEBHOOK_SECRET and loc[:-2] in ((), ("pairs", loc[1])):
            del section["webhook_secret"]  # unset unless that ID verification is on (below)
        elif loc[0] == "pairs" and len(loc) > 2:
            refused.setdefault(loc[1], _unset(located, loc, name))
            section[loc[-1]] = f"\0unset:{name}"  # a stand-in the schema takes (never shown): the pair never starts
        else:
            raise ConfigError(_unset(located, loc, name))
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        # An empty value the schema refuses: the unset variable is the cause to name.
        raise ConfigError(next(iter(refused.values()), None) or _describe(exc, located, refs)) from None
    for loc, name in missing.items():  # the top level's, or a pair's own id_verification
        if loc[-2:] != _WEBHOOK_SECRET:
            continue
        section = settings.id_verification if len(loc) == 2 else settings.pairs[loc[1]].id_verification
        if section.enabled:
            why = _unset(located, loc, name) + " (needed because id_verification.enabled is true)"
            if len(loc) == 2:
                raise ConfigError(why)
            refused.setdefault(loc[1], why)
    if refused and len(refused) == len(settings.pairs):  # no pair left: the file is refused, as before
        raise ConfigError(refused[min(refused)])
    settings._refused = refused
    _refuse_shared_idv_secrets(settings, located)
    settings.source_path = located.path
    settings._env_refs = {".".join(map(str, loc)): names for loc, names in refs.items()}
    settings._located = located
    return settings


def _refuse_shared_idv_secrets(settings: Settings, located: LocatedYaml) -> None:
    """A signed ID-verification event names no store: pairs sharing one secret would each accept the
    others' events, and one store's verdict would move another store's order of the same number."""
    if settings.pairs is None:
        return
    by_secret: dict[str, list[str]] = {}
    for index, (pair, view) in enumerate(zip(settings.pairs, settings.pair_settings())):
        conf = view.id_verification
        if conf.enabled and conf.webhook_secret is not None:
            loc = (("pairs", index) if pair.id_verification is not None else ()) + _WEBHOOK_SECRET
            by_secret.setdefault(conf.webhook_secret.get_secret_value(), []).append(
                f"{pair.name} ({located.where(loc)}: {'.'.join(map(str, loc))})")
    for sharing in by_secret.values():
        if len(sharing) > 1:
            raise ConfigError(
                "pairs " + ", ".join(sharing) + " have the same ID-verification webhook secret: an event"
                " signed for one store's order would be accepted for another's. Each store's Real ID app"
                " has its own secret: set pairs.<name>.id_verification.webhook_secret for each pair"
                " (from its own environment variable, e.g. ${NORTH_IDV_SECRET}), with enabled: true")


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


def _describe(exc: ValidationError, located: LocatedYaml, refs: dict[tuple, list[str]]) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        key = ".".join(str(part) for part in loc)
        # A rule of ours (a ValueError) is said in our words, without pydantic's "Value error, ".
        message = _MESSAGES.get(error["type"], error["msg"].removeprefix("Value error, "))
        # Never echo the offending value: it may be a secret. The variables it came from, which the
        # operator has to fix, are named.
        names = ", ".join(f"${{{name}}}" for name in refs.get(loc, []))
        lines.append(f"{located.where(loc)}: {key + ': ' if key else ''}{message}" + (f" (from {names})" if names else ""))
    return "invalid configuration:\n  " + "\n  ".join(lines)
