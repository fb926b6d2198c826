"""Incidents: the rules the health checks follow, and the admin pages (list, manual incidents, notes, status)."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from medianest.extensions import db
from medianest.models import Notification, ServiceIncident
from medianest.services import ServiceError, incidents
from medianest.timeutil import utcnow
from tests.conftest import HX
from tests.support import count_queries


def all_incidents():
    return db.session.scalars(db.select(ServiceIncident).order_by(ServiceIncident.created_at)).all()


@pytest.mark.parametrize(("service", "kind", "minutes", "expected"), [
    ("plex", "outage", 0, "high"),
    ("plex", "outage", 20, "critical"),
    ("plex", "degradation", 0, "medium"),
    ("overseerr", "outage", 0, "medium"),
    ("overseerr", "outage", 90, "critical"),
    ("uptime-kuma", "degradation", 0, "low"),
    ("uptime-kuma", "outage", 61, "high"),
    ("youtube", "configuration", 0, "low"),
])
def test_severity_follows_service_and_duration(service, kind, minutes, expected):
    assert incidents.severity_for(service, kind, timedelta(minutes=minutes)) == expected


def test_checks_open_update_escalate_and_resolve_one_incident(ctx, admin):
    start = utcnow()
    opened = incidents.on_check("plex", "degraded", previous="online", reason="Slow", now=start)
    assert (opened.incident_type, opened.severity, opened.status) == ("degradation", "medium", "open")
    assert incidents.on_check("plex", "offline", previous="degraded", reason="Cannot connect",
                              now=start + timedelta(minutes=1)) is None
    incident = all_incidents()[0]
    assert (incident.incident_type, incident.description, incident.severity) == ("outage", "Cannot connect", "high")
    incidents.on_check("plex", "offline", previous="offline", now=start + timedelta(minutes=20))
    assert all_incidents()[0].severity == "critical"
    assert len(all_incidents()) == 1
    resolved = incidents.on_check("plex", "online", previous="offline", now=start + timedelta(minutes=25))
    assert resolved.status == "resolved" and resolved.duration == 25
    assert resolved.meta["duration_seconds"] == 25 * 60
    titles = db.session.scalars(db.select(Notification.title).order_by(Notification.created_at)).all()
    assert titles == ["Plex Media Server is degraded", "Plex Media Server is back"]
    assert incidents.on_check("plex", "online", previous="online") is None


def test_an_incident_closed_by_an_admin_is_not_reopened_while_still_failing(ctx, admin):
    incident = incidents.on_check("overseerr", "offline", previous=None, reason="down")
    incidents.set_status(incident.id, "closed", by_user_id=admin.id)
    assert incidents.on_check("overseerr", "offline", previous="offline") is None
    assert len(all_incidents()) == 1
    incidents.on_check("overseerr", "online", previous="offline")
    assert incidents.on_check("overseerr", "offline", previous="online").status == "open"
    assert len(all_incidents()) == 2


def test_manual_incidents_are_not_resolved_by_checks_and_block_automatic_ones(ctx, admin):
    manual = incidents.open_manual("plex", "performance", "low", "Planned disk swap", by_user_id=admin.id)
    assert manual.meta["manual"] and manual.severity == "low"
    assert incidents.on_check("plex", "online", previous="online") is None
    assert incidents.on_check("plex", "offline", previous="online") is None  # the open manual one stands
    assert [i.status for i in all_incidents()] == ["open"]
    with pytest.raises(ServiceError, match="already open for Plex Media Server"):
        incidents.open_manual("plex", "outage", "high", "again", by_user_id=admin.id)


def test_the_database_refuses_a_second_open_incident(ctx):
    db.session.add(ServiceIncident(service_name="plex", incident_type="outage", description="a", status="open"))
    db.session.commit()
    db.session.add(ServiceIncident(service_name="plex", incident_type="outage", description="b",
                                   status="investigating"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add(ServiceIncident(service_name="plex", incident_type="outage", description="old", status="resolved"))
    db.session.commit()  # closed and resolved ones may be many


@pytest.mark.parametrize(("args", "message"), [
    (("nas", "outage", "high", "x"), "Unknown service 'nas'"),
    (("plex", "meltdown", "high", "x"), "Unknown incident type 'meltdown'"),
    (("plex", "outage", "apocalyptic", "x"), "Unknown severity 'apocalyptic'"),
    (("plex", "outage", "high", "   "), "Describe what is going on"),
])
def test_manual_incidents_refuse_unknown_values(ctx, admin, args, message):
    with pytest.raises(ServiceError, match=message):
        incidents.open_manual(*args, by_user_id=admin.id)


def test_status_changes_follow_the_rules(ctx, admin):
    incident = incidents.on_check("youtube", "offline", previous=None)
    incidents.set_status(incident.id, "investigating", by_user_id=admin.id)
    with pytest.raises(ServiceError, match="already investigating"):
        incidents.set_status(incident.id, "investigating", by_user_id=admin.id)
    with pytest.raises(ServiceError, match="Unknown status 'paused'"):
        incidents.set_status(incident.id, "paused", by_user_id=admin.id)
    resolved = incidents.set_status(incident.id, "resolved", by_user_id=admin.id)
    assert resolved.resolved_at is not None and resolved.meta["resolution"] == "admin"
    with pytest.raises(ServiceError, match="A resolved incident cannot become open"):
        incidents.set_status(incident.id, "open", by_user_id=admin.id)
    incidents.set_status(incident.id, "closed", by_user_id=admin.id)
    history = [(h.get("from"), h["to"]) for h in all_incidents()[0].meta["history"]]
    assert history == [(None, "open"), ("open", "investigating"), ("investigating", "resolved"),
                       ("resolved", "closed")]


# -- admin pages ------------------------------------------------------------------------------------
def test_incident_list_page_fragment_and_filters(app, client, auth, admin):
    with app.app_context():
        incidents.on_check("plex", "offline", previous=None, reason="Plex <script>x</script> is down")
        old_id = incidents.on_check("overseerr", "offline", previous=None).id
        incidents.on_check("overseerr", "online", previous="offline")
    auth.login_as(admin)
    page = client.get("/admin/incidents")
    assert page.status_code == 200 and b"<html" in page.data and "HX-Request" in page.headers["Vary"]
    assert b"Plex &lt;script&gt;x&lt;/script&gt; is down" in page.data and b"<script>x" not in page.data
    assert str(old_id).encode() not in page.data  # default filter: open and investigating only
    frag = client.get("/admin/incidents?status=&service=overseerr", headers=HX)
    assert frag.status_code == 200 and b"<html" not in frag.data and b'id="incidents-table"' in frag.data
    assert str(old_id).encode() in frag.data and b"Plex &lt;script" not in frag.data
    assert client.get("/admin/incidents?status=bogus&service=bogus").status_code == 200


def test_incident_list_query_count_does_not_grow_with_rows(app, client, auth, admin):
    auth.login_as(admin)
    with app.app_context():
        engine = db.engine
        incidents.on_check("plex", "offline", previous=None)
    client.get("/admin/incidents?status=", headers=HX)  # first request: setup checks, session touch
    with count_queries(engine) as one:
        client.get("/admin/incidents?status=", headers=HX)
    with app.app_context():
        for n in range(20):
            db.session.add(ServiceIncident(service_name="youtube", incident_type="outage", description=f"old {n}",
                                           status="closed", created_at=utcnow() - timedelta(days=1, minutes=n)))
        db.session.commit()
    with count_queries(engine) as many:
        resp = client.get("/admin/incidents?status=", headers=HX)
    assert resp.data.count(b"<tr id=") == 21
    assert len(one) == len(many) <= 5


def test_admin_opens_a_manual_incident(app, client, auth, admin):
    auth.login_as(admin)
    resp = client.post("/admin/incidents", data={"service": "overseerr", "incident_type": "performance",
                                                 "severity": "medium", "description": "Slow searches"}, headers=HX)
    assert resp.status_code == 200 and "/admin/incidents/" in resp.headers["HX-Redirect"]
    with app.app_context():
        incident = db.session.scalars(db.select(ServiceIncident)).one()
        assert incident.meta["manual"] and incident.meta["opened_by"] == str(admin.id)
        assert db.session.scalars(db.select(Notification.title)).all() == ["Incident opened: Overseerr"]
    detail = client.get(resp.headers["HX-Redirect"])
    assert b"Slow searches" in detail.data and b"by hand" in detail.data
    again = client.post("/admin/incidents", data={"service": "overseerr", "incident_type": "outage",
                                                  "severity": "high", "description": "x"}, headers=HX)
    assert again.status_code == 422 and b"already open for Overseerr" in again.data
    assert b'id="incident-form"' in again.data and b"<html" not in again.data
    bad = client.post("/admin/incidents", data={"service": "plex", "incident_type": "meltdown", "severity": "high",
                                                "description": "x"})
    assert bad.status_code == 422 and b"<html" in bad.data and b"Unknown incident type" in bad.data


def test_notes_and_status_changes_on_the_detail_page(app, client, auth, admin):
    with app.app_context():
        incident_id = incidents.on_check("plex", "offline", previous=None, reason="gone").id
    auth.login_as(admin)
    url = f"/admin/incidents/{incident_id}"
    page = client.get(url)
    assert page.status_code == 200 and b"<html" in page.data
    frag = client.get(url, headers=HX)
    assert b'id="incident-detail"' in frag.data and b"<html" not in frag.data
    note = client.post(f"{url}/notes", data={"note": "Router <b>rebooted</b>"}, headers=HX)
    assert note.status_code == 200 and b"Router &lt;b&gt;rebooted&lt;/b&gt;" in note.data
    empty = client.post(f"{url}/notes", data={"note": "  "}, headers=HX)
    assert empty.status_code == 422 and b"Write a note first" in empty.data
    moved = client.post(f"{url}/status", data={"status": "investigating"}, headers=HX)
    assert moved.status_code == 200 and b"badge-investigating" in moved.data
    assert "incidents-changed" in moved.headers["HX-Trigger"]
    unknown = client.post(f"{url}/status", data={"status": "paused"}, headers=HX)
    assert unknown.status_code == 422 and b"Unknown status" in unknown.data
    closed = client.post(f"{url}/status", data={"status": "closed"}, headers=HX)
    assert closed.status_code == 200
    stuck = client.post(f"{url}/status", data={"status": "investigating"}, headers=HX)
    assert stuck.status_code == 422 and b"A closed incident cannot become investigating" in stuck.data
    with app.app_context():
        row = db.session.get(ServiceIncident, incident_id)
        assert row.status == "closed" and row.meta["notes"][0]["by_name"] == admin.display_name
    assert client.get(f"/admin/incidents/{uuid.uuid4()}").status_code == 404


def test_incident_pages_are_hidden_from_users(app, client, auth, user):
    with app.app_context():
        incident_id = incidents.on_check("plex", "offline", previous=None).id
    auth.login_as(user)
    for method, url in (("get", "/admin/incidents"), ("get", f"/admin/incidents/{incident_id}"),
                        ("post", "/admin/incidents"), ("post", f"/admin/incidents/{incident_id}/notes"),
                        ("post", f"/admin/incidents/{incident_id}/status")):
        assert getattr(client, method)(url).status_code == 404, url
