"""Uptime Kuma client: a public status page, its heartbeats, and the Prometheus /metrics endpoint.

Contract: reference/EXTERNAL_APIS.md §4 (1.23.x and 2.x). Map monitors to MediaNest services by id, never
by name. Uptime Kuma 1.23 never answers for an unknown status-page slug, so every call relies on the
client timeout. /metrics allows 60 calls a minute per key; call it from the worker, not per page view.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from urllib.parse import quote

from .base import (
    DEFAULT_TIMEOUT,
    MAX_BODY_BYTES,
    BadResponse,
    HttpClient,
    NotFound,
    Response,
    Unauthorized,
    validate_base_url,
)

log = logging.getLogger(__name__)

SLUG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")


class MonitorStatus(StrEnum):
    DOWN = "down"
    UP = "up"
    PENDING = "pending"
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"


_STATUS_CODES = {0: MonitorStatus.DOWN, 1: MonitorStatus.UP, 2: MonitorStatus.PENDING, 3: MonitorStatus.MAINTENANCE}


def monitor_status(value) -> MonitorStatus:
    """Heartbeat status 0 down, 1 up, 2 pending, 3 maintenance (ints or numeric strings); else UNKNOWN."""
    if isinstance(value, bool):
        return MonitorStatus.UNKNOWN
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return _STATUS_CODES.get(value, MonitorStatus.UNKNOWN) if isinstance(value, int) else MonitorStatus.UNKNOWN


@dataclass(frozen=True)
class MonitorRef:
    id: int
    name: str
    type: str | None


@dataclass(frozen=True)
class MonitorGroup:
    name: str
    monitors: tuple[MonitorRef, ...]


@dataclass(frozen=True)
class Incident:
    title: str
    content: str
    style: str


@dataclass(frozen=True)
class StatusPage:
    slug: str
    title: str
    description: str | None
    groups: tuple[MonitorGroup, ...]
    incidents: tuple[Incident, ...] = ()
    maintenance: tuple[str, ...] = ()  # titles of active maintenance windows


@dataclass(frozen=True)
class Heartbeat:
    monitor_id: int
    status: MonitorStatus
    ping_ms: int | None
    checked_at: datetime | None
    uptime_24h: float | None


@dataclass(frozen=True)
class Monitor:
    id: int
    name: str
    status: MonitorStatus
    ping_ms: int | None
    uptime_24h: float | None
    type: str | None = None
    group: str | None = None
    checked_at: datetime | None = None


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict
    value: float


# -- parsing -------------------------------------------------------------------
def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _ping(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return round(value)


def _fraction(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return min(1.0, max(0.0, float(value)))


def _time(value) -> datetime | None:
    """Heartbeat times are UTC without a zone marker: "2025-05-01 11:58:00.123"."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _text(value) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def parse_status_page(data: dict, slug: str) -> StatusPage:
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    groups = []
    for group in data.get("publicGroupList") or []:
        if not isinstance(group, dict):
            continue
        monitors = []
        for item in group.get("monitorList") or []:
            monitor_id = _int(item.get("id")) if isinstance(item, dict) else None
            if monitor_id is not None:
                monitors.append(MonitorRef(monitor_id, _text(item.get("name")) or f"Monitor {monitor_id}",
                                           _text(item.get("type"))))
        groups.append(MonitorGroup(_text(group.get("name")) or "", tuple(monitors)))
    incidents = data.get("incidents", data.get("incident"))  # 1.x sends one "incident" (or null)
    if isinstance(incidents, dict):
        incidents = [incidents]
    return StatusPage(
        slug=_text(config.get("slug")) or slug,
        title=_text(config.get("title")) or slug,
        description=_text(config.get("description")),
        groups=tuple(groups),
        incidents=tuple(Incident(_text(i.get("title")) or "", _text(i.get("content")) or "",
                                 _text(i.get("style")) or "")
                        for i in incidents or [] if isinstance(i, dict)),
        maintenance=tuple(_text(m.get("title")) or "" for m in data.get("maintenanceList") or []
                          if isinstance(m, dict)),
    )


def parse_heartbeats(data: dict) -> dict[int, Heartbeat]:
    beats = data.get("heartbeatList") if isinstance(data.get("heartbeatList"), dict) else {}
    uptimes = data.get("uptimeList") if isinstance(data.get("uptimeList"), dict) else {}
    result = {}
    for key in set(beats) | {k.rsplit("_", 1)[0] for k in uptimes if isinstance(k, str) and k.endswith("_24")}:
        monitor_id = _int(key)
        if monitor_id is None:
            continue
        history = beats.get(key) if isinstance(beats.get(key), list) else []
        latest = next((b for b in reversed(history) if isinstance(b, dict)), {})
        result[monitor_id] = Heartbeat(
            monitor_id=monitor_id,
            status=monitor_status(latest.get("status")) if latest else MonitorStatus.UNKNOWN,
            ping_ms=_ping(latest.get("ping")),
            checked_at=_time(latest.get("time")),
            uptime_24h=_fraction(uptimes.get(f"{key}_24")),
        )
    return result


_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _labels(text: str) -> dict | None:
    labels, position = {}, 0
    while position < len(text.rstrip()):
        match = _LABEL.match(text, position)
        if not match:
            return None
        labels[match.group(1)] = re.sub(r"\\[\\\"n]", lambda m: _UNESCAPE[m.group(0)], match.group(2))
        position = match.end()
    return labels


def parse_prometheus(text: str) -> list[Sample]:
    """Samples from Prometheus text exposition format; comments and malformed lines are skipped."""
    samples = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.fullmatch(line)
        labels = _labels(match.group(2) or "") if match else None
        if labels is None:
            log.debug("uptime kuma: skipped a malformed metrics line")
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        samples.append(Sample(match.group(1), labels, value))
    return samples


# -- client --------------------------------------------------------------------
class UptimeKumaClient(HttpClient):
    service = "uptime kuma"

    def __init__(self, base_url: str, slug: str, *, api_key: str | None = None, timeout=DEFAULT_TIMEOUT,
                 max_bytes: int = MAX_BODY_BYTES):
        super().__init__(validate_base_url(base_url), timeout=timeout, max_bytes=max_bytes)
        self.slug = (slug or "").strip().lower()
        if not SLUG_PATTERN.fullmatch(self.slug):
            raise ValueError("status page slug may contain only letters, digits and dashes")
        self._api_key = (api_key or "").strip() or None
        self.session.headers["Accept"] = "application/json"

    def raise_for_status(self, resp: Response):
        code = resp.status
        if code == 401:
            raise Unauthorized(f"{self.service}: metrics credentials refused (HTTP 401)", status=code)
        if code == 404:
            raise NotFound(f"{self.service}: status page '{self.slug}' not found", status=code)
        if code in (403, 503):  # Kuma's sendHttpError: 403 for most server-side errors, 503 when its DB is busy
            raise BadResponse(f"{self.service}: server error (HTTP {code})", status=code)
        super().raise_for_status(resp)

    def _object(self, path: str) -> dict:
        resp = self.request("GET", path)
        log.debug("uptime kuma GET %s -> %s in %d ms", path, resp.status, resp.elapsed_ms)
        data = resp.json()
        if not isinstance(data, dict):
            raise BadResponse(f"{self.service}: expected a JSON object", status=resp.status)
        return data

    def status_page(self) -> StatusPage:
        data = self._object(f"/api/status-page/{quote(self.slug, safe='')}")
        if "publicGroupList" not in data and "config" not in data:
            raise BadResponse(f"{self.service}: not a status page answer; check the URL and slug")
        return parse_status_page(data, self.slug)

    def heartbeats(self) -> dict[int, Heartbeat]:
        """Latest heartbeat and 24-hour uptime per monitor id (an unknown slug gives an empty dict)."""
        data = self._object(f"/api/status-page/heartbeat/{quote(self.slug, safe='')}")
        if "heartbeatList" not in data:
            raise BadResponse(f"{self.service}: not a heartbeat answer; check the URL")
        return parse_heartbeats(data)

    def monitors(self) -> list[Monitor]:
        """Every monitor on the status page, in page order, with its current status."""
        page, beats = self.status_page(), self.heartbeats()
        monitors, seen = [], set()
        for group in page.groups:
            for ref in group.monitors:
                if ref.id in seen:
                    continue
                seen.add(ref.id)
                beat = beats.get(ref.id)
                monitors.append(Monitor(
                    id=ref.id, name=ref.name, type=ref.type, group=group.name or None,
                    status=beat.status if beat else MonitorStatus.UNKNOWN,
                    ping_ms=beat.ping_ms if beat else None,
                    uptime_24h=beat.uptime_24h if beat else None,
                    checked_at=beat.checked_at if beat else None,
                ))
        return monitors

    def metrics(self) -> list[Sample]:
        """/metrics samples; with an API key, HTTP Basic with an empty user name and the key as password."""
        auth = ("", self._api_key) if self._api_key else None
        resp = self.request("GET", "/metrics", auth=auth, headers={"Accept": "text/plain"})
        content_type = resp.headers.get("Content-Type", "").lower()
        if "html" in content_type or "json" in content_type:
            raise BadResponse(f"{self.service}: /metrics did not answer Prometheus text", status=resp.status)
        try:
            text = resp.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadResponse(f"{self.service}: /metrics is not UTF-8 text", status=resp.status) from exc
        return parse_prometheus(text)
