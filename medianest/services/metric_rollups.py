"""Hourly and daily rollups of service_metrics, and reads that combine them with the raw rows.

The worker rolls complete hours up from the raw rows, then complete UTC days up from the hours
(`rollup()`, a periodic task). A rollup row keeps sum, count, min and max, so any set of periods combines
exactly. Reads split a time range into tiers, each period read once: daily rows for whole days, hourly rows
for whole hours, raw rows past the last rolled-up hour (the hour in progress). So the 30-day chart reads about
six thousand hourly rows however many raw rows there are.

Rollups are complete up to the "watermark": the end of the period a run reached, marked by one row of the
pseudo-service MARK (so hours without checks do not hold it back). Each run redoes the
last REWORK of hours, because a health round may commit its rows a little after the hour it stamped them in
has ended; upserts make every run idempotent and safe to run twice at once. A read that finds the watermark
more than MAX_RAW_TAIL behind (no worker yet, or a fresh upgrade) rolls up what is missing first, once.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from medianest.extensions import db
from medianest.models import ServiceMetric
from medianest.models.monitoring import ServiceMetricDaily, ServiceMetricHourly
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
REWORK = timedelta(hours=2)
MAX_RAW_TAIL = timedelta(hours=6)
HOURLY_DAYS = 365  # retention; raw rows keep 90 days (services/maintenance.py)
DAILY_DAYS = 5 * 365
MARK = ""  # service_name and metric_name of the row marking how far rollups reach
LOCK_ID = 7_001_007  # PostgreSQL advisory lock: one rollup at a time (two upserting the same rows could deadlock)


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def floor_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def _postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def epoch(column):
    """Seconds since 1970 of a naive-UTC TIMESTAMP column, in SQL (double precision: date_part, not extract,
    which returns the much slower numeric type on PostgreSQL 14+)."""
    if _postgresql():
        return sa.func.date_part("epoch", column)
    # Whole seconds plus the milliseconds, exactly: julianday's float lands a row at 22:00:00 a hair before it,
    # in the previous hour's bucket.
    return (sa.cast(sa.func.strftime("%s", column), sa.Float)
            + (sa.cast(sa.func.strftime("%f", column), sa.Float) - sa.cast(sa.func.strftime("%S", column), sa.Float)))


def as_epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=timezone.utc).timestamp()


def _truncate(column, unit: str):
    """The start of the hour or day of a timestamp column, as the column's own type would store it."""
    if _postgresql():
        return sa.func.date_trunc(unit, column)
    # SQLAlchemy stores SQLite DATETIMEs as 'YYYY-MM-DD HH:MM:SS.ffffff'; the same form keeps comparisons right.
    return sa.func.strftime("%Y-%m-%d %H:00:00.000000" if unit == "hour" else "%Y-%m-%d 00:00:00.000000", column)


# -- writing --------------------------------------------------------------------------------------------------
def watermarks() -> tuple[datetime | None, datetime | None]:
    """(hourly, daily): the end of the newest rolled-up hour and day; None before any rollup. One query."""
    row = db.session.execute(sa.select(
        sa.select(sa.func.max(ServiceMetricHourly.bucket_start)).scalar_subquery(),
        sa.select(sa.func.max(ServiceMetricDaily.bucket_start)).scalar_subquery())).one()
    hourly, daily = (_as_datetime(v) for v in row)
    return (hourly + HOUR if hourly else None), (daily + DAY if daily else None)


def _as_datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))  # SQLite's max() of a DATETIME column is the stored text


def _upsert(model, select) -> None:
    insert = (postgresql.insert if _postgresql() else sqlite.insert)(model)
    names = ["service_name", "metric_name", "bucket_start", "sample_count", "value_sum", "value_min", "value_max"]
    stmt = insert.from_select(names, select)
    excluded = stmt.excluded
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=["service_name", "metric_name", "bucket_start"],
        set_={name: excluded[name] for name in names[3:]}))


def _mark(model, period_start: datetime) -> None:
    db.session.execute(sa.delete(model).where(model.service_name == MARK, model.bucket_start != period_start))
    _upsert(model, sa.select(sa.literal(MARK), sa.literal(MARK), sa.literal(period_start, sa.DateTime),
                             sa.literal(0), sa.literal(0.0), sa.literal(0.0), sa.literal(0.0)))


def _roll_hours(start: datetime, end: datetime) -> None:
    bucket = _truncate(ServiceMetric.timestamp, "hour")
    _upsert(ServiceMetricHourly, sa.select(
        ServiceMetric.service_name, ServiceMetric.metric_name, bucket, sa.func.count(),
        sa.func.sum(ServiceMetric.metric_value), sa.func.min(ServiceMetric.metric_value),
        sa.func.max(ServiceMetric.metric_value),
    ).where(ServiceMetric.timestamp >= start, ServiceMetric.timestamp < end)
        .group_by(ServiceMetric.service_name, ServiceMetric.metric_name, bucket))


def _roll_days(start: datetime, end: datetime) -> None:
    h = ServiceMetricHourly
    bucket = _truncate(h.bucket_start, "day")
    _upsert(ServiceMetricDaily, sa.select(
        h.service_name, h.metric_name, bucket, sa.func.sum(h.sample_count), sa.func.sum(h.value_sum),
        sa.func.min(h.value_min), sa.func.max(h.value_max),
    ).where(h.bucket_start >= start, h.bucket_start < end, h.service_name != MARK)
        .group_by(h.service_name, h.metric_name, bucket))


def rollup(now: datetime | None = None) -> dict:
    """Roll the complete hours and days not rolled up yet (plus the last REWORK of hours); commits."""
    now = now or utcnow()
    until = floor_hour(now)
    if _postgresql():
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_ID)))  # released at commit
    hourly, daily = watermarks()
    if hourly is None:
        oldest = db.session.scalar(sa.select(sa.func.min(ServiceMetric.timestamp)))
        if oldest is None:
            db.session.commit()  # ends the transaction, and with it the lock
            return {"hours_from": None, "days_from": None}
        start = floor_hour(_as_datetime(oldest))
    else:
        start = min(hourly - REWORK, until)
    if start < until:
        _roll_hours(start, until)
    _mark(ServiceMetricHourly, until - HOUR)  # also in an install's first hour: nothing older is missing
    day_start = floor_day(start) if daily is None else min(floor_day(start), daily - DAY)
    if day_start < floor_day(until):
        _roll_days(day_start, floor_day(until))
    _mark(ServiceMetricDaily, floor_day(until) - DAY)
    db.session.commit()
    return {"hours_from": start.isoformat(), "days_from": day_start.isoformat()}


def ensure_recent(now: datetime) -> tuple[datetime | None, datetime | None]:
    """The watermarks, after rolling up first when raw reads would otherwise cover more than MAX_RAW_TAIL."""
    hourly, daily = watermarks()
    if hourly is None or hourly < now - MAX_RAW_TAIL:
        log.info("metric rollups behind (%s): rolling up now", hourly)
        rollup(now)
        hourly, daily = watermarks()
    return hourly, daily


def prune(now: datetime | None = None) -> dict[str, int]:
    """Retention of the rollups (the caller commits)."""
    now = now or utcnow()
    return {
        "service_metrics_hourly": db.session.execute(sa.delete(ServiceMetricHourly).where(
            ServiceMetricHourly.bucket_start < now - timedelta(days=HOURLY_DAYS))).rowcount,
        "service_metrics_daily": db.session.execute(sa.delete(ServiceMetricDaily).where(
            ServiceMetricDaily.bucket_start < now - timedelta(days=DAILY_DAYS))).rowcount,
    }


# -- reading --------------------------------------------------------------------------------------------------
def _rollup_part(model, services, metrics, start: datetime, end: datetime, middle: float):
    # A period counts at its middle, so float rounding at an exact boundary cannot move it to a neighbour bucket.
    return sa.select(model.service_name.label("service_name"), model.metric_name.label("metric_name"),
                     (epoch(model.bucket_start) + middle).label("t"), model.value_sum.label("s"),
                     model.value_min.label("lo"), model.value_max.label("hi"), model.sample_count.label("n"),
                     ).where(model.service_name.in_(services), model.metric_name.in_(metrics),
                             model.bucket_start >= start, model.bucket_start < end)


def _raw_part(services, metrics, start: datetime, end: datetime):
    m = ServiceMetric
    return sa.select(m.service_name, m.metric_name, epoch(m.timestamp).label("t"), m.metric_value.label("s"),
                     m.metric_value.label("lo"), m.metric_value.label("hi"), sa.literal(1).label("n"),
                     ).where(m.service_name.in_(services), m.metric_name.in_(metrics), m.timestamp >= start,
                             m.timestamp < end)


def tiers(services, metrics, start: datetime, end: datetime, *, days: bool, now: datetime):
    """A subquery of (service_name, metric_name, t, s, lo, hi, n) covering [start, end) once: daily rollups for
    whole days (when `days`), hourly rollups for whole hours, raw rows for the rest. `start` is hour-aligned."""
    watermark, daily = ensure_recent(now)
    hourly = start if watermark is None else max(start, min(watermark, floor_hour(end)))
    parts = []
    hour_ranges = [(start, hourly)]
    if days and daily:
        first_day = floor_day(start) + (DAY if floor_day(start) < start else timedelta(0))
        day_end = min(daily, floor_day(hourly))
        if first_day < day_end:
            parts.append(_rollup_part(ServiceMetricDaily, services, metrics, first_day, day_end, 43200.0))
            hour_ranges = [(start, first_day), (day_end, hourly)]
    parts += [_rollup_part(ServiceMetricHourly, services, metrics, a, b, 1800.0) for a, b in hour_ranges if a < b]
    parts.append(_raw_part(services, metrics, hourly, end))
    return sa.union_all(*parts).subquery()
