"""Health checks: one round checks every watched service concurrently, each with a hard time limit.

A round (the periodic worker task, or `flask services check`):
1. builds a probe per watched service in the app context (clients, decrypted secrets), then runs the probes in
   threads that touch neither Flask nor the database; a probe still running at the time limit is cut and
   reported offline, and the others finish in the same round;
2. writes `service_status` (status, response time, last check, details) and two `service_metrics` rows
   per service (metrics.record_check), then lets incidents open, update or resolve;
3. recomputes every `uptime_percentage` in SQL (30-day share of successful checks);
4. refreshes the status cache the dashboard reads: `status:index` (services in order + open incidents) and
   `status:<name>` per service, 60 s TTL. When the cache is cold (expired, embedded mode's separate worker
   process, Redis down) `dashboard()` builds the same snapshot from the database in a fixed number of queries.

Statuses: online; degraded when slower than MEDIANEST_HEALTH_DEGRADED_MS (default 1000 ms), when Uptime Kuma
reports monitors down, or when the service answers but refuses our credentials or settings; offline when it
cannot be reached, answers garbage, or does not answer within MEDIANEST_HEALTH_TIMEOUT (default 10 s).
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from medianest import cache, crypto, jobs
from medianest.clients.base import ClientError, NotFound, Unauthorized
from medianest.extensions import db
from medianest.models import IncidentType, ServiceHealth, ServiceStatus
from medianest.services import ServiceError, incidents, metrics, service_config
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

STATUS_TTL = 60
DEFAULT_TIMEOUT = 10.0
DEFAULT_DEGRADED_MS = 1000
SPARK_BUCKETS = 48
RECENT_CHECKS = 20
MAX_MONITORS = 100
INDEX_KEY = "status:index"
SNAPSHOT_KEY = "status:snapshot"
STALE_TTL = 24 * 3600
REFRESH_LOCK = 30


@dataclass
class CheckResult:
    service: str
    status: str
    response_time_ms: int | None = None
    reason: str | None = None
    kind: str | None = None  # incident type when not online
    version: str | None = None
    monitors: list[dict] | None = None

    @property
    def up(self) -> bool:
        return self.status != ServiceHealth.OFFLINE


@dataclass
class Probe:
    """What a successful probe learnt: a version, Uptime Kuma's monitors, or a problem short of an outage."""

    version: str | None = None
    monitors: list[dict] | None = None
    problem: str | None = None


def timeout_seconds() -> float:
    return float(current_app.config.get("MEDIANEST_HEALTH_TIMEOUT", DEFAULT_TIMEOUT))


def degraded_ms() -> int:
    return int(current_app.config.get("MEDIANEST_HEALTH_DEGRADED_MS", DEFAULT_DEGRADED_MS))


def cache_key(service: str) -> str:
    return f"status:{service}"


# -- probes (run in worker threads: no Flask, no database) ------------------------------------------
def _probe_plex(client) -> Probe:
    identity = client.identity()
    client.server_info()  # the token-checked call: Unauthorized when the token is refused
    return Probe(version=identity.version or None)


def _probe_overseerr(client) -> Probe:
    status = client.status()
    client.me()  # /status is public; /auth/me proves the API key
    return Probe(version=status.version)


def _probe_uptime_kuma(client) -> Probe:
    monitors = client.monitors()[:MAX_MONITORS]
    rows = [{"id": m.id, "name": m.name[:100], "status": str(m.status), "ping_ms": m.ping_ms,
             "uptime_24h": round(m.uptime_24h * 100, 2) if m.uptime_24h is not None else None,
             "group": (m.group or "")[:100] or None} for m in monitors]
    down = [m["name"] for m in rows if m["status"] == "down"]
    problem = None
    if down:
        shown = ", ".join(down[:5]) + (f" and {len(down) - 5} more" if len(down) > 5 else "")
        problem = f"{len(down)} of {len(rows)} monitors down: {shown}."
    return Probe(monitors=rows, problem=problem)


def _probe_youtube() -> Probe:
    return Probe(version=service_config.youtube_probe())


PROBES = {"plex": _probe_plex, "overseerr": _probe_overseerr, "uptime-kuma": _probe_uptime_kuma}


@dataclass
class Target:
    service: str
    run: Callable[[], Probe] | None
    url: str | None = None
    failure: CheckResult | None = None  # set when the probe could not even be built


def _targets(names: list[str], timeout: float) -> list[Target]:
    configs = service_config.all_configs()
    client_timeout = (min(3.05, timeout), timeout)
    targets = []
    for name in names:
        if name == "youtube":
            targets.append(Target(name, _probe_youtube))
            continue
        cfg = configs.get(name)
        try:
            client = service_config.build_client(name, cfg, timeout=client_timeout)
        except ServiceError as err:
            targets.append(Target(name, None, failure=CheckResult(
                name, ServiceHealth.OFFLINE, reason=f"Not fully configured: {err.message}",
                kind=IncidentType.CONFIGURATION)))
            continue
        except (crypto.CryptoError, ValueError) as exc:
            targets.append(Target(name, None, failure=CheckResult(
                name, ServiceHealth.OFFLINE, reason=service_config.explain(exc, name),
                kind=IncidentType.CONFIGURATION)))
            continue
        probe = PROBES[name]
        targets.append(Target(name, lambda probe=probe, client=client: probe(client), url=cfg.service_url))
    return targets


def _classify(target: Target, slow_ms: int, timeout: float) -> CheckResult:
    """Run one probe and turn its outcome into a status (called in a worker thread)."""
    name = target.service
    started = time.monotonic()
    try:
        probe = target.run()
    except (Unauthorized, NotFound) as exc:
        ms = int((time.monotonic() - started) * 1000)
        return CheckResult(name, ServiceHealth.DEGRADED, ms,
                           service_config.explain(exc, name, url=target.url, timeout=timeout),
                           kind=IncidentType.CONFIGURATION)
    except ClientError as exc:
        return CheckResult(name, ServiceHealth.OFFLINE, None,
                           service_config.explain(exc, name, url=target.url, timeout=timeout),
                           kind=IncidentType.OUTAGE)
    except ImportError as exc:
        return CheckResult(name, ServiceHealth.OFFLINE, None, f"yt-dlp cannot be imported ({type(exc).__name__}).",
                           kind=IncidentType.OUTAGE)
    except Exception as exc:  # noqa: BLE001  (a probe bug must not end the round)
        log.warning("health check of %s failed unexpectedly (%s)", name, type(exc).__name__)
        return CheckResult(name, ServiceHealth.OFFLINE, None,
                           service_config.explain(exc, name, url=target.url, timeout=timeout),
                           kind=IncidentType.OUTAGE)
    ms = int((time.monotonic() - started) * 1000)
    result = CheckResult(name, ServiceHealth.ONLINE, ms, version=probe.version, monitors=probe.monitors)
    if probe.problem:
        result.status, result.reason, result.kind = ServiceHealth.DEGRADED, probe.problem, IncidentType.DEGRADATION
    elif ms > slow_ms:
        result.status, result.kind = ServiceHealth.DEGRADED, IncidentType.DEGRADATION
        result.reason = f"Slow: answered in {ms} ms (more than {slow_ms} ms)."
    return result


def check_all(names: list[str], *, timeout: float | None = None) -> list[CheckResult]:
    """Probe `names` concurrently; a probe still running after `timeout` seconds is cut and reported offline."""
    timeout = timeout_seconds() if timeout is None else timeout
    slow_ms = degraded_ms()
    targets = _targets(names, timeout)
    results: dict[str, CheckResult] = {t.service: t.failure for t in targets if t.failure is not None}
    runnable = [t for t in targets if t.failure is None]
    if runnable:
        pool = ThreadPoolExecutor(max_workers=len(runnable), thread_name_prefix="health")
        futures = {pool.submit(_classify, t, slow_ms, timeout): t for t in runnable}
        done, _pending = wait(futures, timeout=timeout)
        pool.shutdown(wait=False, cancel_futures=True)  # a hung probe ends on its own client timeout
        for future, target in futures.items():
            if future in done:
                results[target.service] = future.result()
            else:
                log.warning("health check of %s cut after %g s", target.service, timeout)
                results[target.service] = CheckResult(
                    target.service, ServiceHealth.OFFLINE, None,
                    f"No answer within {service_config.seconds_text(timeout)}: the check was cut off.",
                    kind=IncidentType.OUTAGE)
    return [results[name] for name in names if name in results]


# -- a round ---------------------------------------------------------------------------------------
def run_round(*, timeout: float | None = None) -> list[CheckResult]:
    """Check every watched service now and record everything. Returns the results in display order."""
    names = service_config.monitored()
    started = time.monotonic()
    results = check_all(names, timeout=timeout)
    now = utcnow()
    rows = {row.service_name: row for row in db.session.scalars(db.select(ServiceStatus))}
    for result in results:
        previous = rows[result.service].status if result.service in rows else None
        try:
            _record(result, rows.get(result.service), now)
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("health check of %s could not be recorded", result.service)
            continue
        try:
            incidents.on_check(result.service, result.status, previous=previous, reason=result.reason,
                               kind=result.kind, now=now)
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("incident update for %s failed", result.service)
    try:
        incidents.resolve_unmonitored(names)
        _refresh_uptime(names)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("health round: uptime refresh failed")
    refresh_cache(names)
    log.info("health round: %s in %d ms", ", ".join(f"{r.service}={r.status}" for r in results) or "nothing to check",
             int((time.monotonic() - started) * 1000))
    return results


def _record(result: CheckResult, row: ServiceStatus | None, now: datetime) -> None:
    if row is None:
        row = ServiceStatus(service_name=result.service)
        db.session.add(row)
    row.status = result.status
    row.response_time_ms = result.response_time_ms
    row.last_check_at = now
    row.details = {"reason": result.reason, "kind": result.kind, "version": result.version,
                   "monitors": result.monitors}
    metrics.record_check(result.service, up=result.up, response_time_ms=result.response_time_ms,
                         status=result.status, reason=result.reason, at=now)
    db.session.commit()


def _refresh_uptime(names: list[str]) -> None:
    shares = metrics.uptime(names)
    for row in db.session.scalars(db.select(ServiceStatus).where(ServiceStatus.service_name.in_(names))):
        share = shares.get(row.service_name)
        row.uptime_percentage = Decimal(f"{share:.2f}") if share is not None else None
    db.session.commit()


# -- the status cache and the dashboard ------------------------------------------------------------
def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def snapshot(names: list[str] | None = None, *, light: bool = False) -> dict:
    """Everything the dashboard shows, from the database, in five queries whatever the row counts. `light`
    leaves out the metrics (sparklines, recent checks): three queries, none of them over service_metrics."""
    names = service_config.monitored() if names is None else names
    rows = {r.service_name: r for r in db.session.scalars(
        db.select(ServiceStatus).where(ServiceStatus.service_name.in_(names)))} if names else {}
    spark = {} if light else metrics.sparklines(names, buckets=SPARK_BUCKETS)
    recent = {} if light else metrics.recent_checks(names, limit=RECENT_CHECKS)
    services = []
    for name in names:
        row = rows.get(name)
        details = (row.details if row is not None else None) or {}
        services.append({
            "service": name,
            "label": incidents.label(name),
            "status": row.status if row is not None else None,
            "response_time_ms": row.response_time_ms if row is not None else None,
            "uptime": float(row.uptime_percentage) if row is not None and row.uptime_percentage is not None
            else None,
            "checked_at": _iso(row.last_check_at) if row is not None else None,
            "reason": details.get("reason"),
            "version": details.get("version"),
            "monitors": details.get("monitors"),
            "sparkline": spark.get(name, []),
            "recent": recent.get(name, []),
        })
    return {"services": services, "incidents": [incidents.summary(i) for i in incidents.open_incidents()],
            "generated_at": _iso(utcnow())}


def refresh_cache(names: list[str] | None = None) -> dict:
    """Rebuild the snapshot and store it: whole as `status:snapshot` (what the dashboard reads, in one round
    trip), and as `status:<name>` per service with `status:index`. Kept for a day: a stale copy is served (and a
    refresh asked of the worker) rather than rebuilt by a web request."""
    try:
        snap = snapshot(names)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("status cache refresh failed")
        return {}
    for entry in snap["services"]:
        cache.set(cache_key(entry["service"]), entry, STALE_TTL)
    cache.set(INDEX_KEY, {"services": [e["service"] for e in snap["services"]], "incidents": snap["incidents"],
                          "generated_at": snap["generated_at"]}, STALE_TTL)
    cache.set(SNAPSHOT_KEY, snap, STALE_TTL)
    return snap


def cached_snapshot() -> dict | None:
    """The snapshot from the cache (one read), or None when there is none."""
    snap = cache.get(SNAPSHOT_KEY)
    if not isinstance(snap, dict) or not isinstance(snap.get("services"), list):
        return None
    return snap


def _stale(snap: dict) -> bool:
    made = _when(snap.get("generated_at"))
    return made is None or (utcnow() - made).total_seconds() > STATUS_TTL + interval_seconds()


def _ask_for_refresh() -> None:
    """Have the worker rebuild the snapshot, at most once per REFRESH_LOCK seconds across web processes."""
    if cache.add("status:refresh-asked", 1, REFRESH_LOCK):
        jobs.enqueue("refresh_status_cache")


def _current_snapshot() -> tuple[dict, str]:
    """(snapshot, source) for the dashboard. With Redis the web never builds the full snapshot: a stale copy
    is served while the worker refreshes it, and with none at all the status rows alone are read (no metrics)
    until the worker has written one. The embedded mode's cache lives in this process, where the worker
    cannot warm it: it builds the snapshot and keeps it for STATUS_TTL."""
    snap = cached_snapshot()
    shared = current_app.config.get("REDIS_URL")
    if snap is not None and (not shared or not _stale(snap)):
        return snap, "cache"
    if not shared:
        snap = snapshot()
        cache.set(SNAPSHOT_KEY, snap, STATUS_TTL)
        return snap, "database"
    _ask_for_refresh()
    if snap is not None:
        return snap, "stale"
    return snapshot(light=True), "database"


def _when(text) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


def dashboard() -> dict:
    """The dashboard's data: the cache when warm, else the database. Never calls an outside service."""
    snap, source = _current_snapshot()
    services = []
    for entry in snap["services"]:
        view = dict(entry)
        view["checked_at"] = _when(entry.get("checked_at"))
        view["recent"] = [dict(r, at=_when(r.get("at"))) for r in entry.get("recent") or []]
        view["spark"] = metrics.sparkline(entry.get("sparkline") or [])
        services.append(view)
    banner = [dict(i, created_at=_when(i.get("created_at"))) for i in snap["incidents"]]
    monitors = next((s.get("monitors") for s in services if s["service"] == "uptime-kuma" and s.get("monitors")), None)
    return {"services": services, "incidents": banner, "monitors": monitors or [], "source": source,
            "generated_at": _when(snap.get("generated_at"))}


# -- scheduling ------------------------------------------------------------------------------------
def interval_seconds() -> int:
    return int(current_app.config.get("MEDIANEST_HEALTH_INTERVAL", 60))


def round_offsets(now: datetime | None = None) -> list[int]:
    """Delays (seconds) of the rounds to start this minute: the periodic task runs once a minute."""
    interval = max(10, interval_seconds())
    if interval < 60:
        return list(range(0, 60, interval))
    last = db.session.scalar(db.select(db.func.max(ServiceStatus.last_check_at)))
    now = now or utcnow()
    # A little slack: a round that ran a few seconds late must not push the next one a whole minute back.
    if last is None or (now - last).total_seconds() >= interval - 10:
        return [0]
    return []
