"""Request quotas: N films and M seasons per D days, per user.

Admins set the defaults (kept with the Overseerr connection's settings) and may override them per user
(request_quotas; a NULL column falls back to the default). A limit of 0 means "no limit". Admins are
exempt. What counts: the user's requests created in the window, except declined ones and ones that never
reached Overseerr because it refused them (status denied or failed). A series counts one per season asked for.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from medianest.extensions import db
from medianest.models import MediaRequest, MediaType, RequestStatus, Role, User
from medianest.models.media import RequestQuota
from medianest.services import ServiceError, service_config
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

DEFAULT_DAYS = 7
MAX_LIMIT = 10000
NOT_COUNTED = (RequestStatus.DENIED, RequestStatus.FAILED)


@dataclass(frozen=True)
class Limits:
    movies: int  # 0 = no limit
    seasons: int
    days: int


@dataclass(frozen=True)
class Bucket:
    limit: int
    used: int

    @property
    def unlimited(self) -> bool:
        return self.limit == 0

    @property
    def left(self) -> int | None:
        return None if self.unlimited else max(0, self.limit - self.used)


@dataclass(frozen=True)
class Summary:
    exempt: bool
    days: int
    movies: Bucket
    seasons: Bucket
    next_free_at: datetime | None = None

    @property
    def period(self) -> str:
        return period_label(self.days)

    def line(self, media_type: str) -> str:
        """'2 of 5 films left this week', 'No limit on series', 'Admins have no limit'."""
        if self.exempt:
            return "Admins have no request limit."
        bucket, noun = (self.movies, "films") if media_type == MediaType.MOVIE else (self.seasons, "seasons")
        if bucket.unlimited:
            return f"No limit on {noun}."
        return f"{bucket.left} of {bucket.limit} {noun} left {self.period}."

    def exhausted(self, media_type: str) -> bool:
        """Nothing of this kind left to ask for now (so the page offers no Request button)."""
        bucket = self.movies if media_type == MediaType.MOVIE else self.seasons
        return not self.exempt and not bucket.unlimited and bucket.left == 0

    def used_up(self, media_type: str) -> str:
        """'You have used your 2 films this week. The next one frees up on 05 Dec at 14:00 UTC.'"""
        bucket, noun = (self.movies, "films") if media_type == MediaType.MOVIE else (self.seasons, "seasons")
        when = f" The next one frees up on {self.next_free_at:%d %b at %H:%M} UTC." if self.next_free_at else ""
        return f"You have used your {bucket.limit} {noun} {self.period}.{when}"

    def allows(self, media_type: str, units: int) -> bool:
        if self.exempt:
            return True
        bucket = self.movies if media_type == MediaType.MOVIE else self.seasons
        return bucket.unlimited or bucket.used + units <= bucket.limit


def period_label(days: int) -> str:
    return {1: "today", 7: "this week", 14: "in two weeks", 30: "this month"}.get(days, f"in {days} days")


def _number(value, name: str, *, minimum: int, maximum: int, allow_none: bool = False) -> int | None:
    if value in (None, "") and allow_none:
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ServiceError(f"{name} must be a whole number.", field=name.lower()) from None
    if not minimum <= number <= maximum:
        raise ServiceError(f"{name} must be between {minimum} and {maximum}.", field=name.lower())
    return number


# -- defaults and overrides ---------------------------------------------------------------------------
def defaults() -> Limits:
    settings = service_config.data(service_config.get("overseerr"))
    return Limits(
        movies=int(settings.get("quota_movies") or 0),
        seasons=int(settings.get("quota_seasons") or 0),
        days=int(settings.get("quota_days") or DEFAULT_DAYS),
    )


def set_defaults(movies, seasons, days, *, updated_by=None) -> Limits:
    movies = _number(movies, "Films", minimum=0, maximum=MAX_LIMIT)
    seasons = _number(seasons, "Seasons", minimum=0, maximum=MAX_LIMIT)
    days = _number(days, "Days", minimum=1, maximum=365)
    if service_config.get("overseerr") is None:
        raise ServiceError("Connect Overseerr first: quotas are kept with its settings.", status=409)
    service_config.save("overseerr", settings={"quota_movies": movies, "quota_seasons": seasons, "quota_days": days},
                        updated_by=updated_by)
    log.info("request quota defaults set to %s films / %s seasons per %s days", movies, seasons, days)
    return Limits(movies, seasons, days)


def override_for(user_id) -> RequestQuota | None:
    return db.session.get(RequestQuota, user_id)


def set_override(user_id, movies=None, seasons=None, days=None) -> RequestQuota | None:
    """Per-user limits; blank values use the defaults. All blank removes the override."""
    movies = _number(movies, "Films", minimum=0, maximum=MAX_LIMIT, allow_none=True)
    seasons = _number(seasons, "Seasons", minimum=0, maximum=MAX_LIMIT, allow_none=True)
    days = _number(days, "Days", minimum=1, maximum=365, allow_none=True)
    if db.session.get(User, user_id) is None:
        raise ServiceError("No such user.", status=404)
    row = override_for(user_id)
    if movies is None and seasons is None and days is None:
        if row is not None:
            db.session.delete(row)
            db.session.commit()
        log.info("request quota override removed for user %s", user_id)
        return None
    if row is None:
        row = RequestQuota(user_id=user_id)
        db.session.add(row)
    row.movie_limit, row.season_limit, row.days = movies, seasons, days
    row.updated_at = utcnow()
    db.session.commit()
    log.info("request quota override for user %s: %s films / %s seasons per %s days", user_id, movies, seasons, days)
    return row


def overrides() -> list[tuple[RequestQuota, User]]:
    rows = db.session.execute(
        db.select(RequestQuota, User).join(User, User.id == RequestQuota.user_id).order_by(User.email)
    ).all()
    return [(quota, user) for quota, user in rows]


def limits_for(user_id) -> Limits:
    base = defaults()
    row = override_for(user_id)
    if row is None:
        return base
    return Limits(
        movies=base.movies if row.movie_limit is None else row.movie_limit,
        seasons=base.seasons if row.season_limit is None else row.season_limit,
        days=base.days if row.days is None else row.days,
    )


# -- usage ------------------------------------------------------------------------------------------------
def summary(user_id) -> Summary:
    user = db.session.get(User, user_id)
    limits = limits_for(user_id)
    if user is None or user.role == Role.ADMIN:
        return Summary(True, limits.days, Bucket(0, 0), Bucket(0, 0))
    since = utcnow() - timedelta(days=limits.days)
    rows = db.session.execute(
        db.select(MediaRequest.media_type, MediaRequest.seasons, MediaRequest.created_at)
        .where(MediaRequest.user_id == user_id, MediaRequest.created_at >= since,
               MediaRequest.status.not_in([s.value for s in NOT_COUNTED]))
    ).all()
    movies = sum(1 for r in rows if r.media_type == MediaType.MOVIE)
    seasons = sum(len(r.seasons) if r.seasons else 1 for r in rows if r.media_type == MediaType.TV)
    oldest = min((r.created_at for r in rows), default=None)
    next_free = oldest + timedelta(days=limits.days) if oldest else None
    return Summary(False, limits.days, Bucket(limits.movies, movies), Bucket(limits.seasons, seasons), next_free)


def check(user_id, media_type: str, units: int) -> Summary:
    """Raise ServiceError when this request would go over the user's quota."""
    current = summary(user_id)
    if current.allows(media_type, units):
        return current
    bucket = current.movies if media_type == MediaType.MOVIE else current.seasons
    if media_type == MediaType.TV and bucket.left:
        message = f"That is {units} seasons, but you have {bucket.left} of {bucket.limit} left {current.period}."
    else:
        message = current.used_up(media_type)
    raise ServiceError(message, field="quota", status=429)
