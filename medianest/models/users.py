"""Users and everything that signs them in: remember-me tokens, browser sessions, linked accounts, one-time tokens."""
from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, MappedColumn, Relationship, mapped_column, relationship

from medianest.extensions import db
from medianest.models.base import one_of, serial_pk, timestamp_now, uuid_pk
from medianest.timeutil import utcnow

if TYPE_CHECKING:
    from medianest.models.media import MediaRequest
    from medianest.models.notifications import Notification
    from medianest.models.youtube import YoutubeDownload


class Role(StrEnum):
    USER = "USER"
    ADMIN = "ADMIN"


class UserStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    SUSPENDED = "suspended"


def _owned(target: str) -> Relationship:
    """A user's collection of rows; the database deletes them with the user (ON DELETE CASCADE)."""
    return relationship(target, back_populates="user", cascade="all, delete-orphan", passive_deletes=True)


def _user_fk(*, nullable: bool = False) -> MappedColumn:
    return mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=nullable)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = uuid_pk()
    plex_id: Mapped[str | None] = mapped_column(sa.String(255))
    plex_username: Mapped[str | None] = mapped_column(sa.String(255))
    email: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(50), default=Role.USER, server_default=Role.USER.value)
    plex_token: Mapped[str | None] = mapped_column(sa.Text)  # sealed by medianest.crypto
    image: Mapped[str | None] = mapped_column(sa.String(500))
    requires_password_change: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = timestamp_now()
    last_login_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    status: Mapped[str] = mapped_column(
        sa.String(50), default=UserStatus.ACTIVE, server_default=UserStatus.ACTIVE.value
    )
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    plex_token_invalid: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Added by 0008_trust: when the periodic check last found this account's Plex server access, and when it
    # found it gone (the account is signed out everywhere and told why on the sign-in page).
    plex_access_checked_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    plex_access_lost_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    # Bumped by an admin's "unlock": password-attempt counters are keyed by it, so old ones stop counting.
    sign_in_unlocks: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (
        sa.Index("idx_users_email", "email", unique=True),
        sa.Index(
            "idx_users_plex_id",
            "plex_id",
            unique=True,
            postgresql_where=sa.text("plex_id IS NOT NULL"),
            sqlite_where=sa.text("plex_id IS NOT NULL"),
        ),
        sa.Index("idx_users_role_status", "role", "status"),
        sa.Index("idx_users_last_login", last_login_at.column.desc().nulls_last()),  # plain DESC on SQLite, see base.py
        sa.CheckConstraint(one_of("role", Role), name="role"),
        sa.CheckConstraint(one_of("status", UserStatus), name="status"),
    )

    media_requests: Mapped[list[MediaRequest]] = _owned("MediaRequest")
    youtube_downloads: Mapped[list[YoutubeDownload]] = _owned("YoutubeDownload")
    session_tokens: Mapped[list[SessionToken]] = _owned("SessionToken")
    accounts: Mapped[list[Account]] = _owned("Account")
    sessions: Mapped[list[Session]] = _owned("Session")
    notifications: Mapped[list[Notification]] = _owned("Notification")

    @property
    def display_name(self) -> str:
        return self.name or self.plex_username or self.email.split("@", 1)[0]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses sign-in (and is_authenticated is False) unless the account is active."""
        return self.status == UserStatus.ACTIVE

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class SessionToken(db.Model):
    """A remember-me token, stored only as its SHA-256 hash."""

    __tablename__ = "session_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = _user_fk()
    token_hash: Mapped[str] = mapped_column(sa.String(255))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime)
    created_at: Mapped[datetime] = timestamp_now()
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    __table_args__ = (
        sa.Index("idx_session_tokens_user_id", "user_id"),
        sa.Index("idx_session_tokens_expires_at", "expires_at"),
        sa.Index("idx_session_tokens_token_hash", "token_hash", unique=True),
    )

    user: Mapped[User] = relationship(back_populates="session_tokens")

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()


class RateLimit(db.Model):
    """A recorded rate-limit breach (enforcement itself is Flask-Limiter)."""

    __tablename__ = "rate_limits"

    id: Mapped[int] = serial_pk()
    user_id: Mapped[str] = mapped_column(sa.String(255))  # a user id or, for anonymous clients, an IP address
    endpoint: Mapped[str] = mapped_column(sa.String(255))
    request_count: Mapped[int] = mapped_column(default=0, server_default="0")
    window_start: Mapped[datetime] = timestamp_now()

    __table_args__ = (
        sa.Index("idx_rate_limits_user_endpoint", "user_id", "endpoint"),
        sa.Index("idx_rate_limits_window_start", "window_start"),
    )


class Account(db.Model):
    """A linked identity provider (provider "plex")."""

    __tablename__ = "accounts"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID | None] = _user_fk(nullable=True)
    type: Mapped[str] = mapped_column(sa.String(50))
    provider: Mapped[str] = mapped_column(sa.String(50))
    provider_account_id: Mapped[str] = mapped_column(sa.String(255))
    refresh_token: Mapped[str | None] = mapped_column(sa.Text)  # tokens are sealed by medianest.crypto
    access_token: Mapped[str | None] = mapped_column(sa.Text)
    expires_at: Mapped[int | None] = mapped_column(sa.Integer)
    token_type: Mapped[str | None] = mapped_column(sa.String(50))
    scope: Mapped[str | None] = mapped_column(sa.Text)
    id_token: Mapped[str | None] = mapped_column(sa.Text)
    session_state: Mapped[str | None] = mapped_column(sa.String(255))

    __table_args__ = (
        sa.UniqueConstraint("provider", "provider_account_id"),
        sa.Index("idx_accounts_user_id", "user_id"),
    )

    user: Mapped[User | None] = relationship(back_populates="accounts")


class Session(db.Model):
    """One signed-in browser; the cookie carries only the session token (stored hashed)."""

    __tablename__ = "sessions"

    id: Mapped[uuid.UUID] = uuid_pk()
    session_token: Mapped[str] = mapped_column(sa.String(255), unique=True)
    user_id: Mapped[uuid.UUID | None] = _user_fk(nullable=True)
    expires: Mapped[datetime] = mapped_column(sa.DateTime)
    # What "Your sessions" shows; last_seen_at and ip_address are refreshed at most once a minute.
    created_at: Mapped[datetime] = timestamp_now()
    last_seen_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(500))
    # The remember-me token issued to this browser: signing the browser out ends it too.
    remember_token_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("session_tokens.id", ondelete="SET NULL")
    )

    __table_args__ = (
        sa.Index("idx_sessions_user_id", "user_id"),
        sa.Index("idx_sessions_expires", "expires"),
    )

    user: Mapped[User | None] = relationship(back_populates="sessions")

    @property
    def is_expired(self) -> bool:
        return self.expires <= utcnow()


class VerificationToken(db.Model):
    """A one-time token (password-reset link, invite)."""

    __tablename__ = "verification_tokens"

    identifier: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(255), primary_key=True, unique=True)
    expires: Mapped[datetime] = mapped_column(sa.DateTime)

    @property
    def is_expired(self) -> bool:
        return self.expires <= utcnow()


__all__ = [
    "Account",
    "RateLimit",
    "Role",
    "Session",
    "SessionToken",
    "User",
    "UserStatus",
    "VerificationToken",
]
