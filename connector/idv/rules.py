"""The ID-verification rules table (mappings/id_verification.yaml) and its resolution to status ids.

A status may be written as its id (0–14), its system name or the store's own label for it. Labels
only exist on the store, so the table is resolved at start-up against GET /v2/order_statuses; from
then on everything keys on the id. A name the store does not have, or one that means two statuses,
stops start-up with the store's statuses listed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.clients.bigcommerce_models import OrderStatus
from connector.errors import ConfigError
from connector.idv.stages import Stage
from connector.mapping.statuses import SYSTEM_NAMES, status_name
from connector.mapping.tables import DEFAULTS_DIR, ID_VERIFICATION, mapping_file
from connector.yamlfile import load_yaml

TOP_KEYS = ("stages", "protected")
# Real ID's advice: a check rejected after the goods left must never move these orders back.
MUST_PROTECT = (2, 5, 4)  # Shipped, Cancelled, Refunded


@dataclass(frozen=True)
class _Named:
    """A status as the file wrote it, and where (file:line) for error messages."""

    value: Any
    where: str


@dataclass(frozen=True)
class Rules:
    """The resolved table: stage → status id, and the protected ids."""

    targets: dict[Stage, int]
    protected: frozenset[int]
    # The store's label per status id, for messages and the audit log.
    labels: dict[int, str]

    def unprotected_advised(self) -> list[int]:
        """Shipped, Cancelled or Refunded when the table leaves them unprotected (to warn about)."""
        return [i for i in MUST_PROTECT if i not in self.protected]

    def describe(self, status_id: int | None) -> str:
        if status_id is None:
            return "unknown"
        system = status_name(status_id)
        label = self.labels.get(status_id, system)
        return f"{status_id} {system}" + (f" ({label!r})" if label and label != system else "")


@dataclass(frozen=True)
class RulesFile:
    """The table as written, before the store's labels are known."""

    stages: dict[Stage, _Named]
    protected: tuple[_Named, ...]

    @classmethod
    def load(cls, path: Path) -> "RulesFile":
        doc = load_yaml(path)
        data = doc.mapping("the keys stages and protected", TOP_KEYS)
        stages_raw = data.get("stages")
        if not isinstance(stages_raw, dict):
            raise ConfigError(f"{doc.where(('stages',))}: 'stages:' must map in_progress, passed and failed "
                              "to a status")
        stages: dict[Stage, _Named] = {}
        for key, value in stages_raw.items():
            where = doc.where(("stages", key))
            try:
                stage = Stage(str(key).strip().lower())
            except ValueError:
                raise ConfigError(f"{where}: unknown stage {key!r}; the stages are in_progress, passed, "
                                  "failed") from None
            stages[stage] = _named(value, where)
        missing = [s.value for s in Stage if s not in stages]
        if missing:
            raise ConfigError(f"{doc.where(('stages',))}: no target status for {', '.join(missing)}")
        protected_raw = data.get("protected")
        if protected_raw is None:
            # A table that only relabels a stage must not switch Order Protection off: no list (or an
            # empty key) means Real ID's default protected statuses; only `protected: []` means none.
            return cls(stages=stages, protected=cls.load(DEFAULTS_DIR / ID_VERIFICATION).protected)
        if not isinstance(protected_raw, list):
            raise ConfigError(f"{doc.where(('protected',))}: 'protected:' must be a list of statuses")
        protected = tuple(_named(v, doc.where(("protected", i))) for i, v in enumerate(protected_raw))
        return cls(stages=stages, protected=protected)

    def resolve(self, store_statuses: list[OrderStatus]) -> Rules:
        """Names → ids against the store's statuses. ConfigError lists the store's statuses."""
        known = {s.id: s for s in store_statuses}
        labels = {s.id: s.label for s in store_statuses}
        targets = {stage: _resolve(named, known) for stage, named in self.stages.items()}
        protected = frozenset(_resolve(named, known) for named in self.protected)
        return Rules(targets=targets, protected=protected, labels=labels)

    def resolve_offline(self) -> Rules:
        """Ids and system names only (no store at hand): for tests."""
        return self.resolve([OrderStatus(id=i, name=n, system_label=n, custom_label=n)
                             for i, n in SYSTEM_NAMES.items()])


@dataclass(frozen=True)
class RulesAtStart:
    """The table as a process read it at start-up: what its ID verification acts on until a restart
    (the console shows this, not the file as edited since), or why it did not load."""

    folder: Path | None
    digest: str  # of the file then: an edit since is told to the operator (changed())
    file: RulesFile | None
    error: str | None = None

    @classmethod
    def read(cls, folder: Path | None) -> "RulesAtStart":
        digest = _digest(folder)
        try:
            return cls(folder, digest, RulesFile.load(mapping_file(folder, ID_VERIFICATION)))
        except ConfigError as exc:
            return cls(folder, digest, None, str(exc))

    def loaded(self) -> RulesFile:
        if self.file is None:
            raise ConfigError(self.error)
        return self.file

    def changed(self) -> bool:
        """The file on disk is not the one read at start-up (edited, added to or removed from the folder)."""
        return _digest(self.folder) != self.digest


def _digest(folder: Path | None) -> str:
    path = folder / ID_VERIFICATION if folder is not None else DEFAULTS_DIR / ID_VERIFICATION
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""
    except OSError:  # unreadable: RulesFile.load says why, where ID verification is on
        return "unreadable"


def _named(value: Any, where: str) -> _Named:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"{where}: a status is an id (0–14) or a name, not {value!r}")
    return _Named(value, where)


def _resolve(named: _Named, known: dict[int, OrderStatus]) -> int:
    value = named.value
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        status_id = int(value)
        if status_id in known:
            return status_id
        raise ConfigError(f"{named.where}: the store has no status {status_id}; {_listing(known)}")
    text = value.strip().casefold()
    matches = sorted({s.id for s in known.values()
                      if text in {(name or "").strip().casefold()
                                  for name in (s.custom_label, s.system_label, s.name, SYSTEM_NAMES.get(s.id))}})
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfigError(f"{named.where}: the store has no status named {value!r}; {_listing(known)}")
    raise ConfigError(
        f"{named.where}: {value!r} names more than one status on this store "
        f"({', '.join(_one(known[i]) for i in matches)}); write its id instead; {_listing(known)}"
    )


def _one(status: OrderStatus) -> str:
    system = SYSTEM_NAMES.get(status.id, status.name)
    label = status.label
    return f"{status.id} {system}" + (f" (shown as {label!r})" if label and label != system else "")


def _listing(known: dict[int, OrderStatus]) -> str:
    return "the store's statuses are: " + ", ".join(_one(known[i]) for i in sorted(known))
