"""YouTube downloads that land in Plex as a collection."""
from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.naming import conv

from medianest.extensions import db
from medianest.models.base import JSONType, one_of, timestamp_now, uuid_pk

if TYPE_CHECKING:
    from medianest.models.users import User


class DownloadStatus(StrEnum):
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_DOWNLOAD_STATUSES = frozenset({DownloadStatus.QUEUED, DownloadStatus.DOWNLOADING})


class YoutubeDownload(db.Model):
    __tablename__ = "youtube_downloads"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    playlist_url: Mapped[str] = mapped_column(sa.Text)
    playlist_title: Mapped[str | None] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(
        sa.String(50), default=DownloadStatus.QUEUED, server_default=DownloadStatus.QUEUED.value
    )
    file_paths: Mapped[list[str] | None] = mapped_column(JSONType)
    plex_collection_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = timestamp_now()
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    __table_args__ = (
        # conv(): keep the document's name instead of the naming convention's ck_<table>_<name>.
        sa.CheckConstraint("user_id IS NOT NULL", name=conv("youtube_downloads_user_isolation")),
        sa.CheckConstraint(one_of("status", DownloadStatus), name="status"),
        sa.Index("idx_youtube_downloads_user_id", "user_id"),
        sa.Index("idx_youtube_downloads_status", "status"),
        sa.Index("idx_youtube_downloads_created_at", created_at.column.desc()),
        sa.Index("idx_youtube_downloads_user_status", "user_id", "status"),
    )

    user: Mapped[User] = relationship(back_populates="youtube_downloads")

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_DOWNLOAD_STATUSES
