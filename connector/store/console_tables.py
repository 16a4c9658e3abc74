"""The operator console's tables: its session key, its sessions and its failed logins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from connector.store.tables import _dt


class ConsoleSecret(SQLModel, table=True):
    """The console's session-signing key when the config gives none (issue 18): generated once, so
    every process on the database and every restart accept the same sessions."""

    __tablename__ = "console_secret"
    name: str = Field(primary_key=True)
    value: str
    created_at: datetime = _dt(nullable=False)


class ConsoleSession(SQLModel, table=True):
    """A console login, until logout or its end: the cookie names it, so a copied cookie is dead once
    its user logs out, and no session outlives SESSION_SECONDS however often its cookie is re-signed."""

    __tablename__ = "console_session"
    # Hex SHA-256 of the random token the signed cookie carries, never the token: whoever reads the
    # database (a backup, an analyst) cannot make a live cookie from it (migration 18).
    token_hash: str = Field(primary_key=True)
    user: str
    expires_at: datetime = _dt(nullable=False)


class ConsoleLoginFailure(SQLModel, table=True):
    """A failed console login, kept for the limit's window (issue 18): every process serving the
    console on this database counts the same failures, so running several does not multiply the
    limit, and a restart does not reset it."""

    __tablename__ = "console_login_failure"
    __table_args__ = (Index("ix_console_login_failure_key_at", "key", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str  # "address 203.0.113.9" or "user ann" (casefolded)
    at: datetime = _dt(nullable=False)
