"""Service incidents: opened and resolved by the health checks, annotated and managed by admins.

Rules:
- A check that finds a service offline or degraded opens an incident when the service was healthy before
  (or had never been checked): type `outage` when offline, `degradation` when slow or partly down,
  `configuration` when the service answers but refuses our credentials or settings.
- Never two open incidents for one service: the partial unique index idx_service_incidents_one_open
  enforces it, and later failing checks update the open incident instead (type, severity).
- Severity follows the service (Plex matters most) and grows with the duration.
- A healthy check resolves the open automatic incident (`resolved_at`, duration in metadata). Manual
  incidents stay until an admin resolves or closes them.
- Admins add notes and move an incident to investigating, resolved or closed; every change is kept in
  metadata["history"], notes in metadata["notes"].
- Admins are notified (notifications.notify_admins) when an incident opens and when it is resolved.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from medianest.extensions import db
from medianest.models import (
    OPEN_INCIDENT_STATUSES,
    IncidentStatus,
    IncidentType,
    ServiceHealth,
    ServiceIncident,
    Severity,
    User,
)
from medianest.services import ServiceError
from medianest.timeutil import human_duration, utcnow

log = logging.getLogger(__name__)

LEVELS = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
# Starting severity of an outage per service; degradations start one lower.
BASE_LEVEL = {"plex": 2, "overseerr": 1, "youtube": 1, "uptime-kuma": 0}
ESCALATE_AFTER = (timedelta(minutes=15), timedelta(hours=1))
NOTE_MAX = 2000
DESCRIPTION_MAX = 2000
MAX_NOTES = 200
PER_PAGE = 25
# Status changes an admin may make: from -> allowed targets.
TRANSITIONS = {
    IncidentStatus.OPEN: {IncidentStatus.INVESTIGATING, IncidentStatus.RESOLVED, IncidentStatus.CLOSED},
    IncidentStatus.INVESTIGATING: {IncidentStatus.OPEN, IncidentStatus.RESOLVED, IncidentStatus.CLOSED},
    IncidentStatus.RESOLVED: {IncidentStatus.CLOSED},
    IncidentStatus.CLOSED: set(),
}
STATUS_WORDS = {IncidentStatus.OPEN: "reopened", IncidentStatus.INVESTIGATING: "being investigated",
                IncidentStatus.RESOLVED: "resolved", IncidentStatus.CLOSED: "closed"}


def label(service: str) -> str:
    from medianest.services.service_config import SPECS

    return SPECS[service].label if service in SPECS else service


def severity_for(service: str, incident_type: str, duration: timedelta = timedelta(0)) -> Severity:
    """Severity from the service and how long the incident has lasted."""
    level = BASE_LEVEL.get(service, 1)
    if incident_type != IncidentType.OUTAGE:
        level -= 1
    level += sum(1 for limit in ESCALATE_AFTER if duration >= limit)
    return LEVELS[max(0, min(level, len(LEVELS) - 1))]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _history(incident: ServiceIncident, entry: dict) -> None:
    meta = dict(incident.meta or {})
    meta["history"] = [*(meta.get("history") or []), entry][-MAX_NOTES:]
    incident.meta = meta


def _forget_dashboard():
    from medianest import cache

    cache.delete("status:index")


def _notify(title: str, message: str, *, type: str, incident: ServiceIncident) -> None:
    """Tell the admins; a failure here never undoes the incident itself."""
    from medianest.services import notifications

    try:
        notifications.notify_admins(title[:200], message[:2000] or title[:200], type=type,
                                    metadata={"incident_id": str(incident.id), "service": incident.service_name})
    except Exception:  # noqa: BLE001  (a notification problem must not break the health round)
        db.session.rollback()
        log.exception("incident %s: notifying admins failed", incident.id)


# -- reads --------------------------------------------------------------------------------------
def open_incident(service: str) -> ServiceIncident | None:
    return db.session.scalar(db.select(ServiceIncident).where(
        ServiceIncident.service_name == service, ServiceIncident.status.in_(list(OPEN_INCIDENT_STATUSES))))


def open_incidents() -> list[ServiceIncident]:
    return list(db.session.scalars(
        db.select(ServiceIncident).where(ServiceIncident.status.in_(list(OPEN_INCIDENT_STATUSES)))
        .order_by(ServiceIncident.created_at.desc()).limit(50)))


def get_or_404(incident_id) -> ServiceIncident:
    return db.get_or_404(ServiceIncident, incident_id, description="No such incident.")


def search(*, status: str | None = None, service: str | None = None, page: int = 1):
    """Incidents newest first; `status` is a status value or "active" (open + investigating)."""
    stmt = db.select(ServiceIncident).order_by(ServiceIncident.created_at.desc())
    if status == "active":
        stmt = stmt.where(ServiceIncident.status.in_(list(OPEN_INCIDENT_STATUSES)))
    elif status:
        stmt = stmt.where(ServiceIncident.status == status)
    if service:
        stmt = stmt.where(ServiceIncident.service_name == service)
    return db.paginate(stmt, page=page, per_page=PER_PAGE, error_out=False)


def history(services: list[str], *, days: int = 30, per_service: int = 10) -> dict[str, list[ServiceIncident]]:
    """Recent incidents per service (one query)."""
    since = utcnow() - timedelta(days=days)
    rows = db.session.scalars(
        db.select(ServiceIncident).where(ServiceIncident.service_name.in_(services),
                                         ServiceIncident.created_at >= since)
        .order_by(ServiceIncident.created_at.desc()).limit(per_service * max(len(services), 1) * 3))
    result: dict[str, list[ServiceIncident]] = {s: [] for s in services}
    for row in rows:
        if len(result[row.service_name]) < per_service:
            result[row.service_name].append(row)
    return result


def summary(incident: ServiceIncident) -> dict:
    """What the dashboard banner shows (JSON-serialisable, for the status cache)."""
    return {"id": str(incident.id), "service": incident.service_name, "label": label(incident.service_name),
            "type": incident.incident_type, "severity": incident.severity, "status": incident.status,
            "description": incident.description[:300], "created_at": _iso(incident.created_at)}


# -- the health check's side --------------------------------------------------------------------
def kind_for(status: str, kind: str | None) -> str:
    if kind in set(IncidentType):
        return kind
    return IncidentType.OUTAGE if status == ServiceHealth.OFFLINE else IncidentType.DEGRADATION


def on_check(service: str, status: str, *, previous: str | None, reason: str | None = None,
             kind: str | None = None, now: datetime | None = None) -> ServiceIncident | None:
    """Open, update or resolve the service's automatic incident after a check. Commits; returns the incident
    opened or resolved (None when nothing changed)."""
    now = now or utcnow()
    current = open_incident(service)
    if status == ServiceHealth.ONLINE:
        if current is None or (current.meta or {}).get("manual"):
            return None
        return _resolve(current, now, by=None, note="The service is healthy again.")
    incident_type = kind_for(status, kind)
    if current is not None:
        _update_open(current, status, incident_type, reason, now)
        return None
    if previous not in (None, ServiceHealth.ONLINE):
        return None  # still failing, and its incident was already resolved or closed by an admin
    return _open(service, incident_type, reason or f"{label(service)} is {status}.", now=now,
                 severity=severity_for(service, incident_type), meta={"auto": True, "status": status})


def _open(service: str, incident_type: str, description: str, *, now: datetime, severity: Severity, meta: dict,
          by: User | None = None) -> ServiceIncident | None:
    incident = ServiceIncident(service_name=service, incident_type=incident_type,
                               description=description[:DESCRIPTION_MAX], severity=severity,
                               status=IncidentStatus.OPEN, created_at=now, meta=meta)
    _history(incident, {"at": _iso(now), "to": IncidentStatus.OPEN, "by": str(by.id) if by else None,
                        "by_name": by.display_name if by else "health check"})
    db.session.add(incident)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if by is not None:
            raise ServiceError(f"An incident is already open for {label(service)}.", field="service") from None
        log.info("incident for %s already opened by a concurrent check", service)
        return None
    _forget_dashboard()
    log.info("incident %s opened for %s (%s, %s)", incident.id, service, incident_type, severity)
    word = "is offline" if incident_type == IncidentType.OUTAGE else (
        "has a configuration problem" if incident_type == IncidentType.CONFIGURATION else "is degraded")
    title = f"{label(service)} {word}" if not meta.get("manual") else f"Incident opened: {label(service)}"
    _notify(title, incident.description, type="error" if incident_type == IncidentType.OUTAGE else "warning",
            incident=incident)
    return incident


def _update_open(incident: ServiceIncident, status: str, incident_type: str, reason: str | None,
                 now: datetime) -> None:
    meta = incident.meta or {}
    changed = False
    if not meta.get("manual"):
        if incident_type == IncidentType.OUTAGE and incident.incident_type != IncidentType.OUTAGE:
            _history(incident, {"at": _iso(now), "type": IncidentType.OUTAGE, "from_type": incident.incident_type,
                                "by": None, "by_name": "health check"})
            incident.incident_type = IncidentType.OUTAGE
            if reason:
                incident.description = reason[:DESCRIPTION_MAX]
            changed = True
        severity = severity_for(incident.service_name, incident.incident_type, now - incident.created_at)
        if LEVELS.index(Severity(severity)) > LEVELS.index(Severity(incident.severity)):
            incident.severity = severity
            changed = True
    if changed:
        db.session.commit()
        _forget_dashboard()


def _resolve(incident: ServiceIncident, now: datetime, *, by: User | None, note: str | None = None,
             status: str = IncidentStatus.RESOLVED) -> ServiceIncident:
    previous = incident.status
    incident.status = status
    if incident.resolved_at is None:
        incident.resolved_at = max(now, incident.created_at)
    duration = (incident.resolved_at - incident.created_at).total_seconds()
    meta = dict(incident.meta or {})
    meta["duration_seconds"] = int(duration)
    meta["resolution"] = "admin" if by else "auto"
    incident.meta = meta
    _history(incident, {"at": _iso(now), "from": previous, "to": status, "by": str(by.id) if by else None,
                        "by_name": by.display_name if by else "health check", "note": note})
    db.session.commit()
    _forget_dashboard()
    log.info("incident %s for %s %s after %d s", incident.id, incident.service_name, status, duration)
    if status == IncidentStatus.RESOLVED:
        who = f" by {by.display_name}" if by else ""
        _notify(f"{label(incident.service_name)} is back" if by is None
                else f"Incident resolved: {label(incident.service_name)}",
                f"Resolved{who} after {human_duration(duration)}. {incident.description[:300]}",
                type="success", incident=incident)
    return incident


def resolve_unmonitored(services: list[str]) -> int:
    """Resolve automatic incidents of services that are no longer watched (disabled or removed)."""
    rows = db.session.scalars(db.select(ServiceIncident).where(
        ServiceIncident.status.in_(list(OPEN_INCIDENT_STATUSES)),
        ServiceIncident.service_name.not_in(services)))
    n = 0
    for incident in list(rows):
        if (incident.meta or {}).get("manual"):
            continue
        _resolve(incident, utcnow(), by=None, note="Monitoring of this service was switched off.",
                 status=IncidentStatus.CLOSED)
        n += 1
    return n


# -- admin actions --------------------------------------------------------------------------------
def _admin(user_id) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise ServiceError("Unknown user.", status=404)
    return user


def open_manual(service: str, incident_type: str, severity: str, description: str, *, by_user_id) -> ServiceIncident:
    """An admin opens an incident by hand (planned work, a problem the checks cannot see)."""
    from medianest.services.service_config import SPECS

    errors = []
    if service not in SPECS:
        errors.append(ServiceError(f"Unknown service {service!r}; choose one of {', '.join(SPECS)}.", field="service"))
    if incident_type not in set(IncidentType):
        errors.append(ServiceError(f"Unknown incident type {incident_type!r}; choose one of "
                                   f"{', '.join(IncidentType)}.", field="incident_type"))
    if severity not in set(Severity):
        errors.append(ServiceError(f"Unknown severity {severity!r}; choose one of {', '.join(Severity)}.",
                                   field="severity"))
    description = (description or "").strip()
    if not description:
        errors.append(ServiceError("Describe what is going on.", field="description"))
    elif len(description) > DESCRIPTION_MAX:
        errors.append(ServiceError(f"Keep the description under {DESCRIPTION_MAX} characters.", field="description"))
    if errors:
        raise errors[0]
    user = _admin(by_user_id)
    if open_incident(service) is not None:
        raise ServiceError(f"An incident is already open for {label(service)}.", field="service")
    return _open(service, incident_type, description, now=utcnow(), severity=Severity(severity),
                 meta={"manual": True, "opened_by": str(user.id)}, by=user)


def add_note(incident_id, text: str, *, by_user_id) -> ServiceIncident:
    incident = get_or_404(incident_id)
    text = (text or "").strip()
    if not text:
        raise ServiceError("Write a note first.", field="note")
    if len(text) > NOTE_MAX:
        raise ServiceError(f"Keep notes under {NOTE_MAX} characters.", field="note")
    user = _admin(by_user_id)
    meta = dict(incident.meta or {})
    notes = list(meta.get("notes") or [])
    if len(notes) >= MAX_NOTES:
        raise ServiceError(f"This incident already has {MAX_NOTES} notes.", field="note")
    notes.append({"at": _iso(utcnow()), "by": str(user.id), "by_name": user.display_name, "text": text})
    meta["notes"] = notes
    incident.meta = meta
    db.session.commit()
    log.info("incident %s: note added by user %s", incident.id, user.id)
    return incident


def set_status(incident_id, status: str, *, by_user_id) -> ServiceIncident:
    incident = get_or_404(incident_id)
    if status not in set(IncidentStatus):
        raise ServiceError(f"Unknown status {status!r}; choose investigating, resolved or closed.", field="status")
    current = IncidentStatus(incident.status)
    target = IncidentStatus(status)
    if target == current:
        raise ServiceError(f"The incident is already {target}.", field="status")
    if target not in TRANSITIONS[current]:
        raise ServiceError(f"A {current} incident cannot become {target}.", field="status")
    user = _admin(by_user_id)
    now = utcnow()
    if target in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
        return _resolve(incident, now, by=user, status=target)
    if target == IncidentStatus.OPEN and open_incident(incident.service_name) not in (None, incident):
        raise ServiceError(f"Another incident is already open for {label(incident.service_name)}.", field="status")
    _history(incident, {"at": _iso(now), "from": current, "to": target, "by": str(user.id),
                        "by_name": user.display_name})
    incident.status = target
    db.session.commit()
    _forget_dashboard()
    log.info("incident %s %s by user %s", incident.id, target, user.id)
    return incident
