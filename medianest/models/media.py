"""Media requests forwarded to Overseerr, the users following someone else's request, and per-user quotas."""
from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medianest.extensions import db
from medianest.models.base import JSONType, one_of, timestamp_now, uuid_pk
from medianest.timeutil import human_duration, utcnow

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


class ForwardState(StrEnum):
    """Where the request is on its way to Overseerr (the row is the job state; see services/requests.py)."""

    QUEUED = "queued"  # saved locally, waiting for Overseerr
    SENDING = "sending"  # claimed by a worker that is talking to Overseerr right now
    SENT = "sent"  # Overseerr has it: overseerr_id is set
    FAILED = "failed"  # Overseerr refused it; an admin may retry
    CANCELLED = "cancelled"  # declined before it was ever sent


ACTIVE_WHERE = "status IN ('pending', 'approved', 'downloading')"


def seasons_key(media_type: str | None, seasons) -> str:
    """The season set as text: "" for films, "all" for every season, else the sorted numbers ("1,2,5")."""
    if media_type != MediaType.TV:
        return ""
    if not seasons:
        return "all"
    return ",".join(str(n) for n in sorted({int(n) for n in seasons}))


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
    # Added by 0005_requests.
    seasons: Mapped[list[int] | None] = mapped_column(JSONType)  # tv: season numbers; None = movie or "all seasons"
    year: Mapped[int | None] = mapped_column(sa.Integer)
    poster_path: Mapped[str | None] = mapped_column(sa.String(255))  # TMDB relative path, e.g. "/abc.jpg"
    decline_reason: Mapped[str | None] = mapped_column(sa.Text)
    forward_state: Mapped[str] = mapped_column(
        sa.String(20), default=ForwardState.QUEUED, server_default=ForwardState.QUEUED.value
    )
    forward_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    forward_error: Mapped[str | None] = mapped_column(sa.Text)
    forwarded_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    requested_as_admin: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    updated_at: Mapped[datetime] = timestamp_now(onupdate=utcnow)
    synced_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    # Added by 0008_trust: the season set as indexable text ("" for films, "all", or "1,2,5"), kept in step
    # with `seasons` by the listener below, so the database can hold one active request per user and title.
    seasons_key: Mapped[str] = mapped_column(sa.String(4000), default="", server_default="")

    __table_args__ = (
        sa.Index("idx_media_requests_user_id", "user_id"),
        sa.Index("idx_media_requests_status", "status"),
        sa.Index("idx_media_requests_user_status", "user_id", "status"),
        sa.Index("idx_media_requests_created_at", created_at.column.desc()),
        sa.Index("idx_media_requests_tmdb_type", "tmdb_id", "media_type"),
        sa.Index("idx_media_requests_user_created", "user_id", created_at.column.desc()),
        sa.Index("idx_media_requests_overseerr_id", "overseerr_id"),
        sa.Index("idx_media_requests_forward_state", "forward_state"),
        # The list pages' ORDER BY created_at DESC, id (admin list; My requests per user), tie-breaker included.
        sa.Index("idx_media_requests_created_id", created_at.column.desc(), "id"),
        sa.Index("idx_media_requests_user_created_id", "user_id", created_at.column.desc(), "id"),
        sa.Index("uq_media_requests_one_active", "user_id", "media_type", "tmdb_id", "seasons_key", unique=True,
                 postgresql_where=sa.text(ACTIVE_WHERE), sqlite_where=sa.text(ACTIVE_WHERE)),
        sa.CheckConstraint(one_of("status", RequestStatus), name="status"),
        sa.CheckConstraint(one_of("media_type", MediaType), name="media_type"),
        sa.CheckConstraint(one_of("forward_state", ForwardState), name="forward_state"),
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

    @property
    def is_waiting_for_overseerr(self) -> bool:
        return self.forward_state in (ForwardState.QUEUED, ForwardState.SENDING)

    @property
    def forward_stalled(self) -> bool:
        """Not in Overseerr yet and a try already failed (forward_error says why): "waiting for Overseerr".
        Otherwise a waiting row is simply being sent right now."""
        return self.is_waiting_for_overseerr and bool(self.forward_error)

    @property
    def seasons_label(self) -> str:
        """'Season 1', 'Seasons 1, 2, 5', 'All seasons'; '' for films."""
        if self.media_type != MediaType.TV:
            return ""
        if not self.seasons:
            return "All seasons"
        numbers = sorted(int(n) for n in self.seasons)
        if numbers == [0]:
            return "Specials"
        return ("Season " if len(numbers) == 1 else "Seasons ") + ", ".join(str(n) for n in numbers)

    @property
    def season_count(self) -> int:
        """How many seasons this request asks for (quota units); 1 for films and for "all seasons" rows."""
        return len(self.seasons) if self.media_type == MediaType.TV and self.seasons else 1


class RequestInterest(db.Model):
    """Someone who asked for a title another user had already requested: notified of its changes too."""

    __tablename__ = "request_interests"

    request_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("media_requests.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = timestamp_now()

    __table_args__ = (sa.Index("idx_request_interests_user_id", "user_id"),)

    request: Mapped[MediaRequest] = relationship()


class RequestQuota(db.Model):
    """A per-user override of the request quota; NULL columns fall back to the admin defaults."""

    __tablename__ = "request_quotas"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    movie_limit: Mapped[int | None] = mapped_column(sa.Integer)
    season_limit: Mapped[int | None] = mapped_column(sa.Integer)
    days: Mapped[int | None] = mapped_column(sa.Integer)
    updated_at: Mapped[datetime] = timestamp_now(onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint("movie_limit IS NULL OR movie_limit >= 0", name="movie_limit"),
        sa.CheckConstraint("season_limit IS NULL OR season_limit >= 0", name="season_limit"),
        sa.CheckConstraint("days IS NULL OR (days >= 1 AND days <= 365)", name="days"),
    )


@sa.event.listens_for(MediaRequest, "before_insert")
@sa.event.listens_for(MediaRequest, "before_update")
def _keep_seasons_key(_mapper, _connection, row: MediaRequest) -> None:
    row.seasons_key = seasons_key(row.media_type, row.seasons)
