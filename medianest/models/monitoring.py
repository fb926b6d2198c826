"""Service health, service configuration, error logs, metrics and incidents."""
from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medianest.extensions import db
from medianest.models.base import JSONType, one_of, serial_pk, timestamp_now, uuid_pk
from medianest.timeutil import time_ago, utcnow

if TYPE_CHECKING:
    from medianest.models.users import User


class ServiceName(StrEnum):
    PLEX = "plex"
    OVERSEERR = "overseerr"
    UPTIME_KUMA = "uptime-kuma"
    YOUTUBE = "youtube"


# Plex keeps its server token in service_config.api_key, Overseerr its API key.
SERVICES_NEEDING_API_KEY = frozenset({ServiceName.PLEX, ServiceName.OVERSEERR})


class ServiceHealth(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    DEGRADED = "degraded"


class IncidentType(StrEnum):
    OUTAGE = "outage"
    DEGRADATION = "degradation"
    CONFIGURATION = "configuration"
    PERFORMANCE = "performance"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class IncidentStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_INCIDENT_STATUSES = frozenset({IncidentStatus.OPEN, IncidentStatus.INVESTIGATING})


class ServiceStatus(db.Model):
    __tablename__ = "service_status"

    id: Mapped[int] = serial_pk()
    service_name: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[str | None] = mapped_column(sa.String(50))
    response_time_ms: Mapped[int | None] = mapped_column(sa.Integer)
    last_check_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    uptime_percentage: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 2))
    # What the last check found besides the status: reason, version, kind, Uptime Kuma monitors.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    __table_args__ = (
        # The document's UNIQUE column and its named index are one and the same unique index.
        sa.Index("idx_service_status_service_name", "service_name", unique=True),
        sa.Index("idx_service_status_last_check", last_check_at.column.desc()),
        sa.CheckConstraint(one_of("status", ServiceHealth), name="status"),
    )

    @property
    def is_healthy(self) -> bool:
        return self.status == ServiceHealth.ONLINE

    @property
    def is_degraded(self) -> bool:
        return self.status == ServiceHealth.DEGRADED

    @property
    def last_check_formatted(self) -> str:
        return time_ago(self.last_check_at)


class ServiceConfig(db.Model):
    __tablename__ = "service_config"

    id: Mapped[int] = serial_pk()
    service_name: Mapped[str] = mapped_column(sa.String(100))
    service_url: Mapped[str] = mapped_column(sa.Text)
    api_key: Mapped[str | None] = mapped_column(sa.Text)  # sealed by medianest.crypto
    enabled: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    config_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = timestamp_now(onupdate=utcnow)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        sa.Index("idx_service_config_service_name", "service_name", unique=True),
        sa.Index("idx_service_config_enabled", "enabled"),
    )

    updated_by_user: Mapped[User | None] = relationship()

    @property
    def needs_api_key(self) -> bool:
        return self.service_name in SERVICES_NEEDING_API_KEY

    @property
    def is_configured(self) -> bool:
        """A URL, plus the API key when the service needs one."""
        return bool(self.service_url and self.service_url.strip()) and (bool(self.api_key) or not self.needs_api_key)


class ErrorLog(db.Model):
    __tablename__ = "error_logs"

    id: Mapped[uuid.UUID] = uuid_pk()
    correlation_id: Mapped[str] = mapped_column(sa.String(255))
    user_id: Mapped[str | None] = mapped_column(sa.String(255))  # no foreign key: logs outlive users
    error_code: Mapped[str] = mapped_column(sa.String(100))
    error_message: Mapped[str] = mapped_column(sa.Text)
    stack_trace: Mapped[str | None] = mapped_column(sa.Text)
    request_path: Mapped[str | None] = mapped_column(sa.String(500))
    request_method: Mapped[str | None] = mapped_column(sa.String(10))
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    created_at: Mapped[datetime] = timestamp_now()

    __table_args__ = (
        sa.Index("idx_error_logs_correlation_id", "correlation_id"),
        sa.Index("idx_error_logs_created_at", created_at.column.desc()),
        sa.Index("idx_error_logs_user_id", "user_id"),
        sa.Index("idx_error_logs_error_code", "error_code"),
        sa.Index("idx_error_logs_status_code", "status_code"),
        sa.Index("idx_error_logs_user_date", user_id.column, created_at.column.desc()),
    )

    @property
    def is_server_error(self) -> bool:
        return self.status_code is not None and self.status_code >= 500

    @property
    def is_client_error(self) -> bool:
        return self.status_code is not None and 400 <= self.status_code < 500

    @property
    def error_type(self) -> str:
        """The error code's family: 'PLEX_UNREACHABLE' -> 'plex', 'validation.email' -> 'validation'."""
        code = (self.error_code or "").strip()
        family = code.replace(".", "_").replace(":", "_").split("_", 1)[0]
        return family.lower() or "unknown"


# Metric names are matched by prefix or suffix, e.g. "response_time_ms", "cpu_usage_percent", "memory_bytes".
_PERFORMANCE_WORDS = ("response_time", "latency", "throughput", "requests_per", "error_rate", "duration", "queue")
_RESOURCE_PREFIXES = ("cpu", "memory", "mem_", "disk", "storage", "network", "bandwidth", "load")
_BYTE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def _human_bytes(value: float) -> str:
    exponent = 0
    while abs(value) >= 1024 and exponent < len(_BYTE_UNITS) - 1:
        value /= 1024
        exponent += 1
    return f"{value:.0f} B" if exponent == 0 else f"{value:.1f} {_BYTE_UNITS[exponent]}"


class ServiceMetric(db.Model):
    __tablename__ = "service_metrics"

    id: Mapped[uuid.UUID] = uuid_pk()
    service_name: Mapped[str] = mapped_column(sa.String(100))
    metric_name: Mapped[str] = mapped_column(sa.String(100))
    metric_value: Mapped[float] = mapped_column(sa.Float)
    timestamp: Mapped[datetime] = timestamp_now()
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)

    __table_args__ = (
        sa.Index("idx_service_metrics_service_name", "service_name"),
        sa.Index("idx_service_metrics_metric_name", "metric_name"),
        sa.Index("idx_service_metrics_timestamp", timestamp.column.desc()),
        sa.Index("idx_service_metrics_service_metric", "service_name", "metric_name"),
        # Charts and uptime read one service's metric over a time range; covering, so the table is not touched.
        sa.Index("idx_service_metrics_series", "service_name", "metric_name", "timestamp", "metric_value"),
    )

    @property
    def is_performance_metric(self) -> bool:
        name = (self.metric_name or "").lower()
        return any(word in name for word in _PERFORMANCE_WORDS)

    @property
    def is_resource_metric(self) -> bool:
        return (self.metric_name or "").lower().startswith(_RESOURCE_PREFIXES)

    @property
    def human_value(self) -> str:
        """The value with its unit, inferred from the metric name: '145 ms', '1.5 s', '42.5%', '1.5 GB', '12.0/s'."""
        name = (self.metric_name or "").lower()
        value = float(self.metric_value)
        if name.endswith("_ms") or name in ("response_time", "latency"):
            return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"
        if name.endswith(("_seconds", "_secs")):
            return f"{value:.2f} s"
        if name.endswith(("_percent", "_pct", "_percentage", "_usage")) or name in ("uptime", "error_rate"):
            return f"{value:.1f}%"
        if name.endswith("_bytes") or name in ("memory", "disk", "storage"):
            return _human_bytes(value)
        if name.endswith(("_per_second", "_rps")) or name == "throughput":
            return f"{value:.1f}/s"
        return f"{value:g}"


class _MetricRollup:
    """Sum, count, min and max of one service's metric over one period, so periods combine exactly (an average
    is sum / count; the `up` metric's average is the share of successful checks)."""

    service_name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    metric_name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(sa.DateTime, primary_key=True)
    sample_count: Mapped[int] = mapped_column(sa.Integer)
    value_sum: Mapped[float] = mapped_column(sa.Float)
    value_min: Mapped[float] = mapped_column(sa.Float)
    value_max: Mapped[float] = mapped_column(sa.Float)


class ServiceMetricHourly(_MetricRollup, db.Model):
    """service_metrics rolled up per hour by the worker (services/metric_rollups.py)."""

    __tablename__ = "service_metrics_hourly"
    __table_args__ = (sa.Index("idx_service_metrics_hourly_bucket", "bucket_start"),)


class ServiceMetricDaily(_MetricRollup, db.Model):
    """Hourly rollups rolled up per UTC day."""

    __tablename__ = "service_metrics_daily"
    __table_args__ = (sa.Index("idx_service_metrics_daily_bucket", "bucket_start"),)


class ServiceIncident(db.Model):
    __tablename__ = "service_incidents"

    id: Mapped[uuid.UUID] = uuid_pk()
    service_name: Mapped[str] = mapped_column(sa.String(100))
    incident_type: Mapped[str] = mapped_column(sa.String(50))
    description: Mapped[str] = mapped_column(sa.Text)
    severity: Mapped[str] = mapped_column(sa.String(20), default=Severity.LOW, server_default=Severity.LOW.value)
    status: Mapped[str] = mapped_column(
        sa.String(20), default=IncidentStatus.OPEN, server_default=IncidentStatus.OPEN.value
    )
    created_at: Mapped[datetime] = timestamp_now()
    resolved_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)

    __table_args__ = (
        sa.Index("idx_service_incidents_service_name", "service_name"),
        sa.Index("idx_service_incidents_status", "status"),
        sa.Index("idx_service_incidents_created_at", created_at.column.desc()),
        sa.Index("idx_service_incidents_severity", "severity"),
        # At most one open (or investigating) incident per service.
        sa.Index(
            "idx_service_incidents_one_open",
            "service_name",
            unique=True,
            postgresql_where=sa.text("status IN ('open', 'investigating')"),
            sqlite_where=sa.text("status IN ('open', 'investigating')"),
        ),
        sa.CheckConstraint(one_of("incident_type", IncidentType), name="incident_type"),
        sa.CheckConstraint(one_of("severity", Severity), name="severity"),
        sa.CheckConstraint(one_of("status", IncidentStatus), name="status"),
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_INCIDENT_STATUSES

    @property
    def duration(self) -> int | None:
        """Whole minutes from opening to resolution; None while unresolved."""
        if self.created_at is None or self.resolved_at is None:
            return None
        return int((self.resolved_at - self.created_at).total_seconds() // 60)

    @property
    def is_critical(self) -> bool:
        return self.severity == Severity.CRITICAL
