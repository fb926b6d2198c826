"""Fake Uptime Kuma (reference/EXTERNAL_APIS.md §4), served over real HTTP on 127.0.0.1.

`version = 2` (default) answers 404 for an unknown status-page slug and labels metrics with `monitor_id`;
`version = 1` mimics 1.23.x: an unknown slug never gets an answer, 50 heartbeats, no `monitor_id` label.
Unknown paths get the single-page app's HTML with 200, as the real server does.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

from werkzeug.wrappers import Request, Response

from .base import FakeServer

API_KEY = "uk1_fakeMetricsSecret9d2"
SPA_HTML = "<!DOCTYPE html><html><head><title>Uptime Kuma</title></head><body><div id=app></div></body></html>"


def _json(data, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _label(value) -> str:
    text = "null" if value is None else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class FakeUptimeKuma(FakeServer):
    name = "uptime-kuma"

    def __init__(self, port: int | None = None):
        super().__init__(port)
        self._data_lock = threading.RLock()
        self.reset_state()

    # -- state ---------------------------------------------------------------
    def reset_state(self):
        with self._data_lock:
            self.version = 2
            self.api_key: str | None = API_KEY
            self.monitors: dict[int, dict] = {}
            self.pages: dict[str, dict] = {}
            self.overrides: dict[str, tuple] = {}
            self._tick = 0
            self.add_page("media", "Media Services")
            self.add_monitor("Plex", status=1, ping=42)
            self.add_monitor("Overseerr", status=1, ping=35)
            self.add_monitor("NAS", status=1, ping=3, type="ping")

    def _now(self) -> str:
        self._tick += 1
        moment = datetime(2025, 5, 1, 11, 0, tzinfo=timezone.utc) + timedelta(seconds=30 * self._tick)
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"

    # -- Python API for tests -----------------------------------------------------
    def add_page(self, slug: str, title: str, description: str | None = None) -> dict:
        with self._data_lock:
            page = {"slug": slug.lower(), "title": title, "description": description, "groups": [], "incidents": [],
                    "maintenance": []}
            self.pages[slug.lower()] = page
            return page

    def add_monitor(self, name: str, status: int = 1, ping: int | None = 40, *, type: str = "http",
                    slug: str = "media", group: str = "Services", uptime: float | None = None) -> int:
        """Add a monitor with one heartbeat to a group of a status page (created if needed); returns its id."""
        with self._data_lock:
            monitor_id = max(self.monitors, default=0) + 1
            self.monitors[monitor_id] = {"id": monitor_id, "name": name, "type": type, "uptime": uptime,
                                         "url": f"http://192.168.1.20/{monitor_id}" if type == "http" else "https://",
                                         "hostname": "192.168.1.10" if type != "http" else None, "beats": []}
            page = self.pages.get(slug.lower()) or self.add_page(slug, slug.title())
            groups = [g for g in page["groups"] if g["name"] == group]
            if not groups:
                groups = [{"id": len(page["groups"]) + 1, "name": group, "monitors": []}]
                page["groups"].append(groups[0])
            groups[0]["monitors"].append(monitor_id)
            self._beat(monitor_id, status, ping)
            return monitor_id

    def set_monitor_status(self, name_or_id, status: int, ping: int | None = None, *, uptime: float | None = None):
        """Record a new heartbeat for the monitor (by name or id)."""
        with self._data_lock:
            monitor = self._monitor(name_or_id)
            self._beat(monitor["id"], status, ping)
            if uptime is not None:
                monitor["uptime"] = uptime

    def add_incident(self, slug: str, title: str, content: str = "", style: str = "warning"):
        with self._data_lock:
            page = self.pages[slug.lower()]
            page["incidents"].append({"id": len(page["incidents"]) + 1, "style": style, "title": title,
                                      "content": content, "pin": True, "active": True,
                                      "createdDate": self._now(), "lastUpdatedDate": None,
                                      "status_page_id": 1})

    def override(self, path: str, body=b"", *, status: int = 200, content_type: str = "text/html; charset=utf-8"):
        """Answer `path` with a raw body until reset; `body` may be a callable returning an iterable of bytes."""
        self.overrides[path] = (status, body, content_type)

    def _monitor(self, name_or_id) -> dict:
        if isinstance(name_or_id, int):
            return self.monitors[name_or_id]
        return next(m for m in self.monitors.values() if m["name"] == name_or_id)

    def _beat(self, monitor_id: int, status: int, ping: int | None):
        self.monitors[monitor_id]["beats"].append(
            {"status": status, "time": self._now(), "msg": "", "ping": ping if status == 1 else None})

    def _uptime(self, monitor: dict) -> float:
        if monitor["uptime"] is not None:
            return monitor["uptime"]
        beats = monitor["beats"]
        return sum(1 for b in beats if b["status"] == 1) / len(beats) if beats else 0

    # -- HTTP ------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        path = request.path
        if path in self.overrides:
            status, body, content_type = self.overrides[path]
            return Response(body() if callable(body) else body, status=status, content_type=content_type)
        is_page = path.startswith("/api/status-page/") and path.count("/") == 3
        if is_page and self.version < 2 and path.rsplit("/", 1)[1].lower() not in self.pages:
            self._release.wait(60)  # 1.23.x never answers an unknown slug; reset()/stop() releases the thread
            return Response(status=504)
        with self._data_lock:
            if path.startswith("/api/status-page/heartbeat/"):
                return self._heartbeats(path.rsplit("/", 1)[1].lower())
            if is_page:
                return self._status_page(path.rsplit("/", 1)[1].lower())
            if path == "/metrics":
                return self._metrics(request)
        return Response(SPA_HTML, status=200, content_type="text/html; charset=utf-8")

    def _status_page(self, slug: str) -> Response:
        page = self.pages.get(slug)
        if page is None:
            return _json({"status": "fail", "msg": "Status Page Not Found"}, 404)
        groups = [{"id": g["id"], "name": g["name"], "weight": g["id"],
                   "monitorList": [{"id": m, "name": self.monitors[m]["name"], "sendUrl": 0,
                                    "type": self.monitors[m]["type"]} for m in g["monitors"]]}
                  for g in page["groups"]]
        config = {"slug": slug, "title": page["title"], "description": page["description"], "icon": "/icon.svg",
                  "autoRefreshInterval": 300, "theme": "auto", "published": True, "showTags": False,
                  "footerText": None, "showPoweredBy": True, "showCertificateExpiry": False, "rssTitle": None}
        incidents_key = "incidents" if self.version >= 2 else "incident"
        incidents = page["incidents"] if self.version >= 2 else (page["incidents"][-1] if page["incidents"] else None)
        return _json({"config": config, incidents_key: incidents, "publicGroupList": groups,
                      "maintenanceList": page["maintenance"]})

    def _heartbeats(self, slug: str) -> Response:
        page = self.pages.get(slug)
        keep = 100 if self.version >= 2 else 50
        ids = [m for g in page["groups"] for m in g["monitors"]] if page else []
        return _json({"heartbeatList": {str(m): self.monitors[m]["beats"][-keep:] for m in ids},
                      "uptimeList": {f"{m}_24": self._uptime(self.monitors[m]) for m in ids}})

    def _metrics(self, request: Request) -> Response:
        if self.api_key is not None:
            auth = request.authorization
            if auth is None or auth.type != "basic" or auth.password != self.api_key:
                return Response(b"", status=401, headers={"WWW-Authenticate": "Basic"})
        lines = ["# HELP process_cpu_user_seconds_total Total user CPU time spent in seconds.",
                 "# TYPE process_cpu_user_seconds_total counter", "process_cpu_user_seconds_total 12.5",
                 "nodejs_heap_size_total_bytes 4.2e+07",
                 "# HELP monitor_status Monitor Status (1 = UP, 0= DOWN, 2= PENDING, 3= MAINTENANCE)",
                 "# TYPE monitor_status gauge"]
        for monitor in self.monitors.values():
            labels = self._labels(monitor)
            last = monitor["beats"][-1]
            lines.append(f"monitor_status{{{labels}}} {last['status']}")
            lines.append(f"monitor_response_time{{{labels}}} {last['ping'] if last['ping'] is not None else -1}")
            if self.version >= 2:
                lines.append(f'monitor_uptime_ratio{{{labels},window="1d"}} {self._uptime(monitor)}')
        return Response("\n".join(lines) + "\n", status=200,
                        content_type="text/plain; version=0.0.4; charset=utf-8")

    def _labels(self, monitor: dict) -> str:
        pairs = [("monitor_name", monitor["name"]), ("monitor_type", monitor["type"]),
                 ("monitor_url", monitor["url"]), ("monitor_hostname", monitor["hostname"]), ("monitor_port", None)]
        if self.version >= 2:
            pairs.insert(0, ("monitor_id", monitor["id"]))
        return ",".join(f'{key}="{_label(value)}"' for key, value in pairs)
