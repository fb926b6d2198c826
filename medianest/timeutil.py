"""Time helpers. Every TIMESTAMP column stores naive UTC; `utcnow()` is the one clock to use."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

_AGO_UNITS = (
    (365 * 86400, "year"),
    (30 * 86400, "month"),
    (86400, "day"),
    (3600, "hour"),
    (60, "minute"),
)
_DURATION_UNITS = (
    (86400, "day"),
    (3600, "hour"),
    (60, "minute"),
    (1, "second"),
)


def utcnow() -> datetime:
    """The current time as a naive UTC datetime, the form stored in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def as_naive_utc(dt: datetime) -> datetime:
    """An aware datetime converted to naive UTC; a naive one is taken to be UTC already."""
    if dt.tzinfo is None:
        return dt
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def time_ago(dt: datetime | None, now: datetime | None = None) -> str:
    """'just now', '5 minutes ago', '3 days ago'; 'in 2 hours' for future times; 'never' for None."""
    if dt is None:
        return "never"
    now = as_naive_utc(now) if now is not None else utcnow()
    seconds = (now - as_naive_utc(dt)).total_seconds()
    if abs(seconds) < 60:
        return "just now"
    size, unit = next((size, unit) for size, unit in _AGO_UNITS if abs(seconds) >= size)
    text = _plural(int(abs(seconds) // size), unit)
    return f"{text} ago" if seconds > 0 else f"in {text}"


def human_duration(seconds: float | timedelta) -> str:
    """A length of time in its two largest units: '45 seconds', '5 minutes', '2 hours 5 minutes', '3 days 4 hours'."""
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    remaining = max(int(seconds), 0)
    if remaining == 0:
        return "0 seconds"
    parts = []
    for size, unit in _DURATION_UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(_plural(count, unit))
        elif parts:
            break  # "2 hours 5 seconds" reads oddly; stop at the first gap after the largest unit
        if len(parts) == 2:
            break
    return " ".join(parts)
