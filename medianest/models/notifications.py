"""Notifications for one user, or for everyone when user_id is NULL."""
from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medianest.extensions import db
from medianest.models.base import JSONType, one_of, timestamp_now, uuid_pk
from medianest.timeutil import time_ago

if TYPE_CHECKING:
    from medianest.models.users import User


class NotificationType(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


class Notification(db.Model):
    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(sa.String(50))
    title: Mapped[str] = mapped_column(sa.String(200))
    message: Mapped[str] = mapped_column(sa.Text)
    read: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = timestamp_now()
    read_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)

    __table_args__ = (
        sa.Index("idx_notifications_user_id", "user_id"),
        sa.Index("idx_notifications_user_read", "user_id", "read"),
        sa.Index("idx_notifications_created_at", created_at.column.desc()),
        sa.CheckConstraint(one_of("type", NotificationType), name="type"),
    )

    user: Mapped[User | None] = relationship(back_populates="notifications")

    @property
    def is_unread(self) -> bool:
        return not self.read

    @property
    def is_broadcast(self) -> bool:
        return self.user_id is None

    @property
    def time_ago(self) -> str:
        return time_ago(self.created_at)


class NotificationRead(db.Model):
    """Per-user read state of a broadcast (a notification with user_id NULL)."""

    __tablename__ = "notification_reads"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime] = timestamp_now()

    __table_args__ = (sa.Index("idx_notification_reads_user_id", "user_id"),)
