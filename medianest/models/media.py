"""Media requests forwarded to Overseerr."""
from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medianest.extensions import db
from medianest.models.base import one_of, timestamp_now, uuid_pk
from medianest.timeutil import human_duration

if TYPE_CHECKING:
    from medianest.models.users import User


class MediaType(StrEnum):
    MOVIE = "movie"
    TV = "tv"
    MUSIC = "music"


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DOWNLOADING = "downloading"
    COMPLETED = "completed"
    DENIED = "denied"
    FAILED = "failed"


ACTIVE_REQUEST_STATUSES = frozenset({RequestStatus.PENDING, RequestStatus.APPROVED, RequestStatus.DOWNLOADING})


class MediaRequest(db.Model):
    __tablename__ = "media_requests"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(500))
    media_type: Mapped[str] = mapped_column(sa.String(50))
    tmdb_id: Mapped[str | None] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(
        sa.String(50), default=RequestStatus.PENDING, server_default=RequestStatus.PENDING.value
    )
    overseerr_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = timestamp_now()
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    __table_args__ = (
        sa.Index("idx_media_requests_user_id", "user_id"),
        sa.Index("idx_media_requests_status", "status"),
        sa.Index("idx_media_requests_user_status", "user_id", "status"),
        sa.Index("idx_media_requests_created_at", created_at.column.desc()),
        sa.Index("idx_media_requests_tmdb_type", "tmdb_id", "media_type"),
        sa.CheckConstraint(one_of("status", RequestStatus), name="status"),
        sa.CheckConstraint(one_of("media_type", MediaType), name="media_type"),
    )

    user: Mapped[User] = relationship(back_populates="media_requests")

    @property
    def is_complete(self) -> bool:
        return self.status == RequestStatus.COMPLETED

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_REQUEST_STATUSES

    @property
    def processing_time(self) -> str | None:
        """Time from request to completion, e.g. '2 days 3 hours'; None until completed."""
        if self.created_at is None or self.completed_at is None:
            return None
        return human_duration(self.completed_at - self.created_at)
