"""Service metrics: time series aggregated in SQL, uptime, recent checks, and SVG chart geometry.

Every health check writes two `service_metrics` rows per service: `response_time_ms` (only when the service
answered) and `up` (1 or 0; metadata {"status", "reason"} when it was not online). Reads never load raw rows
for a chart: the database groups a time range into a fixed number of buckets, so a chart has at most that
many points however many rows exist. The range filter (service_name, metric_name, timestamp) is served by
idx_service_metrics_series, which also holds metric_value, so aggregation reads only the index.

The 24-hour chart and the sparklines read raw rows; the 7- and 30-day charts read hourly rollups in
hour-aligned buckets, and 30-day uptime reads daily ones (plus raw rows for the hour in progress), so their
cost does not grow with the number of raw rows (services/metric_rollups.py).

Chart helpers return plain geometry (point lists, path data, label positions); templates draw it as inline
SVG with classes (no inline styles: the CSP forbids them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from medianest import cache
from medianest.extensions import db
from medianest.models import ServiceMetric
from medianest.services import metric_rollups as rollups
from medianest.services.metric_rollups import as_epoch as _as_epoch
from medianest.services.metric_rollups import epoch as _epoch
from medianest.timeutil import utcnow

RESPONSE_TIME = "response_time_ms"
UP = "up"

# window name -> (length, buckets): 24 h in 15-minute buckets, 7 d in hours, 30 d in 4-hour buckets.
# The long windows end with the hour in progress and read rollups.
ROLLED_UP = frozenset({"7d", "30d"})
WINDOWS = {
    "24h": (timedelta(hours=24), 96),
    "7d": (timedelta(days=7), 168),
    "30d": (timedelta(days=30), 180),
}
WINDOW_LABELS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days"}
# How long the admin page may reuse a window's aggregate: about one bucket's worth of staleness at most.
WINDOW_CACHE_SECONDS = {"24h": 60, "7d": 300, "30d": 600}
UPTIME_DAYS = 30
MAX_BUCKETS = 500


@dataclass(frozen=True)
class Bucket:
    start: datetime
    avg: float | None = None
    max: float | None = None
    count: int = 0
    up_ratio: float | None = None  # share of successful checks in the bucket; None without checks
    up_count: int = 0  # checks in the bucket


@dataclass
class Series:
    service: str
    window: str
    start: datetime
    end: datetime
    bucket_seconds: int
    buckets: list[Bucket] = field(default_factory=list)

    @property
    def checks(self) -> int:
        return sum(1 for b in self.buckets if b.up_ratio is not None)

    @property
    def avg_ms(self) -> float | None:
        values = [(b.avg, b.count) for b in self.buckets if b.avg is not None and b.count]
        total = sum(c for _, c in values)
        return sum(a * c for a, c in values) / total if total else None

    @property
    def uptime(self) -> float | None:
        """Share of successful checks over the whole window, in percent; None without checks."""
        total = sum(b.up_count for b in self.buckets)
        return sum((b.up_ratio or 0) * b.up_count for b in self.buckets) / total * 100 if total else None

    @property
    def max_ms(self) -> float | None:
        values = [b.max for b in self.buckets if b.max is not None]
        return max(values) if values else None


def _bucket_expr(start: datetime, size: int):
    offset = (_epoch(ServiceMetric.timestamp) - sa.literal(_as_epoch(start), sa.Float)) / sa.literal(size, sa.Float)
    if db.engine.dialect.name == "postgresql":
        return sa.func.floor(offset)
    return sa.cast(offset, sa.Integer)  # offsets are >= 0, so truncation is floor


def aggregate(services: list[str], metrics: tuple[str, ...], start: datetime, end: datetime,
              buckets: int) -> dict[tuple[str, str], dict[int, tuple[float, float, float, int]]]:
    """One query: {(service, metric): {bucket index: (avg, min, max, count)}} for [start, end)."""
    if not services:
        return {}
    buckets = max(1, min(int(buckets), MAX_BUCKETS))
    size = max(1, math.ceil((end - start).total_seconds() / buckets))
    inner = (
        sa.select(ServiceMetric.service_name, ServiceMetric.metric_name, ServiceMetric.metric_value,
                  _bucket_expr(start, size).label("bucket"))
        .where(ServiceMetric.service_name.in_(services), ServiceMetric.metric_name.in_(metrics),
               ServiceMetric.timestamp >= start, ServiceMetric.timestamp < end)
        .subquery()
    )
    stmt = (
        sa.select(inner.c.service_name, inner.c.metric_name, inner.c.bucket, sa.func.avg(inner.c.metric_value),
                  sa.func.min(inner.c.metric_value), sa.func.max(inner.c.metric_value), sa.func.count())
        .group_by(inner.c.service_name, inner.c.metric_name, inner.c.bucket)
    )
    result: dict[tuple[str, str], dict[int, tuple[float, float, float, int]]] = {}
    for service, metric, bucket, avg, low, high, count in db.session.execute(stmt):
        index = int(bucket)
        if 0 <= index < buckets:
            result.setdefault((service, metric), {})[index] = (float(avg), float(low), float(high), int(count))
    return result


def rolled_up_aggregate(services: list[str], metrics: tuple[str, ...], start: datetime, end: datetime,
                        buckets: int, *, now: datetime):
    """aggregate() from hourly rollups plus the raw rows of the hour in progress; `start` and the bucket size
    are whole hours. One query once the rollups are current."""
    if not services:
        return {}
    size = math.ceil((end - start).total_seconds() / buckets)
    rows = rollups.tiers(services, metrics, start, end, days=False, now=now)
    offset = (rows.c.t - sa.literal(_as_epoch(start), sa.Float)) / sa.literal(size, sa.Float)
    bucket = sa.func.floor(offset) if db.engine.dialect.name == "postgresql" else sa.cast(offset, sa.Integer)
    stmt = (sa.select(rows.c.service_name, rows.c.metric_name, bucket.label("bucket"), sa.func.sum(rows.c.s),
                      sa.func.min(rows.c.lo), sa.func.max(rows.c.hi), sa.func.sum(rows.c.n))
            .group_by(rows.c.service_name, rows.c.metric_name, bucket.label("bucket")))
    result: dict[tuple[str, str], dict[int, tuple[float, float, float, int]]] = {}
    for service, metric, index, total, low, high, count in db.session.execute(stmt):
        index = int(index)
        if 0 <= index < buckets and count:
            result.setdefault((service, metric), {})[index] = (float(total) / int(count), float(low), float(high),
                                                               int(count))
    return result


def _window(window: str, now: datetime) -> tuple[datetime, datetime]:
    length, _count = WINDOWS[window]
    end = rollups.floor_hour(now) + rollups.HOUR if window in ROLLED_UP else now
    return end - length, end


def _window_aggregate(services: list[str], window: str, now: datetime):
    start, end = _window(window, now)
    count = WINDOWS[window][1]
    if window in ROLLED_UP:
        return start, rolled_up_aggregate(services, (RESPONSE_TIME, UP), start, end, count, now=now)
    return start, aggregate(services, (RESPONSE_TIME, UP), start, end, count)


def _cached_aggregate(services: list[str], window: str, now: datetime, ttl: int):
    """aggregate() for a window, kept in the cache for `ttl` seconds (long windows barely change in minutes)."""
    key = f"metrics:series:{window}:{','.join(services)}"
    hit = cache.get(key)
    if isinstance(hit, dict) and isinstance(hit.get("data"), dict):
        try:
            start = datetime.fromisoformat(hit["start"])
            data = {tuple(k.split("|", 1)): {int(i): tuple(v) for i, v in buckets.items()}
                    for k, buckets in hit["data"].items()}
            return start, data
        except (KeyError, TypeError, ValueError):
            pass
    start, data = _window_aggregate(services, window, now)
    cache.set(key, {"start": start.isoformat(),
                    "data": {f"{s}|{m}": {str(i): list(v) for i, v in b.items()} for (s, m), b in data.items()}}, ttl)
    return start, data


def series_for(services: list[str], window: str = "24h", *, now: datetime | None = None,
               cache_ttl: int | None = None) -> dict[str, Series]:
    """Response time and availability per bucket for each service over a named window: one query for 24 h, the
    rollup watermark and one query for 7 d and 30 d (which end with the hour in progress), none when `cache_ttl`
    is given and the cache holds a recent answer."""
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}")
    length, count = WINDOWS[window]
    now = now or utcnow()
    size = math.ceil(length.total_seconds() / count)
    if cache_ttl:
        start, data = _cached_aggregate(services, window, now, cache_ttl)
    else:
        start, data = _window_aggregate(services, window, now)
    end = start + length
    result = {}
    for service in services:
        times = data.get((service, RESPONSE_TIME), {})
        ups = data.get((service, UP), {})
        buckets = []
        for i in range(count):
            t, u = times.get(i), ups.get(i)
            buckets.append(Bucket(start=start + timedelta(seconds=i * size), avg=t[0] if t else None,
                                  max=t[2] if t else None, count=t[3] if t else 0, up_ratio=u[0] if u else None,
                                  up_count=u[3] if u else 0))
        result[service] = Series(service, window, start, end, size, buckets)
    return result


def sparklines(services: list[str], *, hours: int = 24, buckets: int = 48,
               now: datetime | None = None) -> dict[str, list[int | None]]:
    """Average response time per bucket over the last `hours` (None where nothing answered); one query."""
    end = now or utcnow()
    start = end - timedelta(hours=hours)
    data = aggregate(services, (RESPONSE_TIME,), start, end, buckets)
    return {s: [round(v[0]) if (v := data.get((s, RESPONSE_TIME), {}).get(i)) else None for i in range(buckets)]
            for s in services}


def uptime(services: list[str], *, days: int = UPTIME_DAYS, now: datetime | None = None) -> dict[str, float | None]:
    """Share of successful checks (percent, 0-100) over the last `days` (from the first whole hour), per service;
    None without checks. Daily and hourly rollups plus the raw rows of the hour in progress."""
    if not services:
        return {}
    now = now or utcnow()
    rows = rollups.tiers(services, (UP,), rollups.ceil_hour(now - timedelta(days=days)), now + timedelta(seconds=1),
                         days=True, now=now)
    stmt = sa.select(rows.c.service_name, sa.func.sum(rows.c.s), sa.func.sum(rows.c.n)).group_by(rows.c.service_name)
    found = {name: float(total) / int(count) * 100 for name, total, count in db.session.execute(stmt) if count}
    return {s: found.get(s) for s in services}


def recent_checks(services: list[str], *, limit: int = 20, hours: int = 24,
                  now: datetime | None = None) -> dict[str, list[dict]]:
    """The last `limit` checks of each service (oldest first) within `hours`: {"status", "at", "reason"}; one query."""
    if not services:
        return {}
    since = (now or utcnow()) - timedelta(hours=hours)
    rank = sa.func.row_number().over(partition_by=ServiceMetric.service_name,
                                     order_by=ServiceMetric.timestamp.desc()).label("rank")
    inner = (
        sa.select(ServiceMetric.service_name, ServiceMetric.timestamp, ServiceMetric.metric_value,
                  ServiceMetric.meta.label("meta"), rank)
        .where(ServiceMetric.service_name.in_(services), ServiceMetric.metric_name == UP,
               ServiceMetric.timestamp >= since)
        .subquery()
    )
    stmt = (sa.select(inner.c.service_name, inner.c.timestamp, inner.c.metric_value, inner.c.meta)
            .where(inner.c.rank <= limit).order_by(inner.c.service_name, inner.c.timestamp))
    result: dict[str, list[dict]] = {s: [] for s in services}
    for service, at, value, meta in db.session.execute(stmt):
        meta = meta if isinstance(meta, dict) else {}
        status = meta.get("status") or ("online" if value >= 1 else "offline")
        result[service].append({"status": status, "at": at.isoformat(timespec="seconds"),
                                "reason": meta.get("reason")})
    return result


def record_check(service: str, *, up: bool, response_time_ms: int | None, status: str, reason: str | None,
                 at: datetime) -> None:
    """Add the metric rows of one check (the caller commits)."""
    meta = None if status == "online" else {"status": status, "reason": (reason or "")[:300] or None}
    db.session.add(ServiceMetric(service_name=service, metric_name=UP, metric_value=1.0 if up else 0.0,
                                 timestamp=at, meta=meta))
    if response_time_ms is not None:
        db.session.add(ServiceMetric(service_name=service, metric_name=RESPONSE_TIME,
                                     metric_value=float(response_time_ms), timestamp=at))


# -- SVG geometry ---------------------------------------------------------------------------------
def nice_ceiling(value: float) -> float:
    """1, 2, 2.5 or 5 times a power of ten, at least `value` (a readable top for an axis)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _segments(values: list[float | None], x_of, y_of) -> list[str]:
    """Polyline point lists, broken wherever a value is missing."""
    segments, current = [], []
    for i, value in enumerate(values):
        if value is None:
            if current:
                segments.append(current)
            current = []
            continue
        current.append(f"{x_of(i):.1f},{y_of(value):.1f}")
    if current:
        segments.append(current)
    # A lone point is drawn as a zero-length line, which round line caps (CSS) show as a dot.
    return [" ".join(s if len(s) > 1 else [s[0], s[0]]) for s in segments]


def sparkline(values: list[float | None], *, width: int = 120, height: int = 32) -> dict:
    """Geometry for a small line of recent response times: {"width", "height", "segments", "max"}."""
    present = [v for v in values if v is not None]
    top = nice_ceiling(max(present)) if present else 1.0
    n = max(len(values) - 1, 1)
    pad = 2

    def x(i):
        return pad + i * (width - 2 * pad) / n

    def y(v):
        return height - pad - (v / top) * (height - 2 * pad)

    segments = _segments(values, x, y)
    return {"width": width, "height": height, "segments": segments, "max": top, "empty": not present}


@dataclass
class Chart:
    width: int
    height: int
    plot: tuple[float, float, float, float]  # left, top, right, bottom
    segments: list[str]
    area: str
    down: list[tuple[float, float]]  # (x, width) of buckets with failed checks
    y_labels: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    empty: bool
    title: str


def _ms_label(value: float) -> str:
    return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"


def line_chart(series: Series, *, width: int = 640, height: int = 180) -> Chart:
    """Average response time as a line, the per-bucket maximum as a shaded area, failed checks as marks."""
    left, top, right, bottom = 44.0, 8.0, width - 8.0, height - 22.0
    buckets = series.buckets
    n = max(len(buckets), 1)
    step = (right - left) / n
    peaks = [b.max for b in buckets if b.max is not None]
    ceiling = nice_ceiling(max(peaks)) if peaks else 1.0

    def x(i):
        return left + (i + 0.5) * step

    def y(v):
        return bottom - (v / ceiling) * (bottom - top)

    segments = _segments([b.avg for b in buckets], x, y)
    area_parts = []
    run: list[int] = []
    for i, b in enumerate(buckets + [Bucket(start=series.end)]):
        if b.max is not None and i < len(buckets):
            run.append(i)
            continue
        if run:
            upper = " ".join(f"L{x(j):.1f},{y(buckets[j].max):.1f}" for j in run)
            area_parts.append(f"M{x(run[0]):.1f},{bottom:.1f} {upper} L{x(run[-1]):.1f},{bottom:.1f} Z")
            run = []
    down = [(left + i * step, max(step - 0.5, 0.5)) for i, b in enumerate(buckets)
            if b.up_ratio is not None and b.up_ratio < 1]
    y_labels = [(y(ceiling * f), _ms_label(ceiling * f)) for f in (0, 0.5, 1)]
    fmt = "%H:%M" if series.window == "24h" else "%d %b"
    x_labels = [(x(i), buckets[i].start.strftime(fmt)) for i in (0, n // 2, n - 1)] if buckets else []
    return Chart(width, height, (left, top, right, bottom), segments, " ".join(area_parts), down, y_labels, x_labels,
                 empty=not peaks, title=f"{series.service} response time, last {WINDOW_LABELS.get(series.window, '')}")
