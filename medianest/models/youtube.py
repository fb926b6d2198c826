"""YouTube downloads that land in Plex as a collection."""
from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

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
FINAL_DOWNLOAD_STATUSES = frozenset({DownloadStatus.COMPLETED, DownloadStatus.FAILED, DownloadStatus.CANCELLED})


class Quality(StrEnum):
    BEST = "best"
    P1080 = "1080p"
    P720 = "720p"
    AUDIO = "audio"


CONTAINERS = ("mp4", "mkv", "webm", "m4a", "mp3", "opus")


class PlexState(StrEnum):
    """NULL: Plex is not involved (not configured, or nothing new to publish)."""

    PENDING = "pending"  # waiting for Plex: scan, match, collection
    DONE = "done"  # in Plex
    FAILED = "failed"  # a problem retrying will not fix (e.g. the folder is outside the mapped path)


class EntryState(StrEnum):
    """State of one video of a download (`entries[i]["state"]`)."""

    QUEUED = "queued"
    DOWNLOADING = "downloading"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


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

    # -- added by 0006_youtube --------------------------------------------------------------
    quality: Mapped[str] = mapped_column(sa.String(10), default=Quality.BEST, server_default=Quality.BEST.value)
    container: Mapped[str] = mapped_column(sa.String(10), default="mp4", server_default="mp4")
    # Folder of the files, relative to MEDIANEST_DOWNLOAD_DIR: "<user id>/<playlist title [id]>".
    folder: Mapped[str | None] = mapped_column(sa.String(1024))
    # [{"id", "title", "state" (EntryState), "reason", "file" (name in folder), "size", "plex_key"}]
    entries: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    is_playlist: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    truncated: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    bytes_total: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    cancel_requested: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Live progress in the embedded mode (with Redis it lives in the cache instead).
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    task_id: Mapped[str | None] = mapped_column(sa.String(64))
    plex_state: Mapped[str | None] = mapped_column(sa.String(20))
    plex_error: Mapped[str | None] = mapped_column(sa.String(500))
    plex_collection_owned: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    # Bumped by every state change and by the running task's heartbeat: the reaper's clock.
    updated_at: Mapped[datetime] = timestamp_now()

    __table_args__ = (
        # conv(): keep the document's name instead of the naming convention's ck_<table>_<name>.
        sa.CheckConstraint("user_id IS NOT NULL", name=conv("youtube_downloads_user_isolation")),
        sa.CheckConstraint(one_of("status", DownloadStatus), name="status"),
        sa.CheckConstraint(one_of("quality", Quality), name="quality"),
        sa.CheckConstraint(one_of("container", CONTAINERS), name="container"),
        sa.CheckConstraint(f"plex_state IS NULL OR {one_of('plex_state', PlexState)}", name="plex_state"),
        sa.Index("idx_youtube_downloads_user_id", "user_id"),
        sa.Index("idx_youtube_downloads_status", "status"),
        sa.Index("idx_youtube_downloads_created_at", created_at.column.desc()),
        sa.Index("idx_youtube_downloads_user_status", "user_id", "status"),
    )

    user: Mapped[User] = relationship(back_populates="youtube_downloads")

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_DOWNLOAD_STATUSES

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_DOWNLOAD_STATUSES

    @property
    def can_retry(self) -> bool:
        return self.status in (DownloadStatus.FAILED, DownloadStatus.CANCELLED)

    @property
    def display_title(self) -> str:
        return self.playlist_title or self.playlist_url

    @property
    def entry_count(self) -> int:
        return len(self.entries or ())

    def entries_in(self, *states: str) -> list[dict[str, Any]]:
        return [e for e in self.entries or () if e.get("state") in states]
