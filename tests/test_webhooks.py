"""POST /webhooks/overseerr: shared secret in constant time, defensive parsing, then the truth from Overseerr."""
from __future__ import annotations

import json

import pytest

from medianest.extensions import db
from medianest.models import MediaRequest, RequestStatus
from medianest.services import requests as request_service
from tests.fakes.overseerr import APPROVED, M_PROCESSING
from tests.requests_support import WEBHOOK_SECRET, connect_overseerr, ovs, people  # noqa: F401  (fixtures)

URL = "/webhooks/overseerr"


@pytest.fixture
def forwarded(app, ovs, people):
    """Alice's request for The Matrix, forwarded (Overseerr request id), and approved in Overseerr meanwhile."""
    with app.app_context():
        row = request_service.submit(people[0].id, "movie", 603).request
        ids = (row.id, int(row.overseerr_id))
    ovs.set_request_status(ids[1], APPROVED, M_PROCESSING)
    return ids


def _status(app, request_id) -> str:
    with app.app_context():
        return db.session.get(MediaRequest, request_id).status


def _rereads(fake, overseerr_id) -> int:
    return len([r for r in fake.seen(f"/api/v1/request/{overseerr_id}") if r.method == "GET"])


def test_right_secret_rereads_the_request_and_updates_it(app, client, ovs, forwarded):
    request_id, overseerr_id = forwarded
    # The payload is only a hint: even a lying one makes MediaNest ask Overseerr for the truth.
    payload = ovs.webhook_payload("MEDIA_DECLINED", overseerr_id)
    resp = client.post(URL, json=payload, headers={"Authorization": WEBHOOK_SECRET})
    assert resp.status_code == 200 and resp.json == {"ok": True, "matched": 1}
    assert resp.mimetype == "application/json"
    assert _rereads(ovs, overseerr_id) == 1
    assert _status(app, request_id) == RequestStatus.APPROVED


def test_bearer_form_is_accepted(app, client, ovs, forwarded):
    request_id, overseerr_id = forwarded
    resp = client.post(URL, json=ovs.webhook_payload("MEDIA_APPROVED", overseerr_id),
                       headers={"Authorization": f"Bearer {WEBHOOK_SECRET}"})
    assert resp.status_code == 200 and _status(app, request_id) == RequestStatus.APPROVED


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": ""}, 401),
    ({"Authorization": "wrong"}, 403),
    ({"Authorization": WEBHOOK_SECRET[:-1]}, 403),
    ({"Authorization": WEBHOOK_SECRET + " "  + "x"}, 403),
    ({"Authorization": "Basic " + WEBHOOK_SECRET}, 403),
    ({"X-Api-Key": WEBHOOK_SECRET}, 401),
])
def test_wrong_or_missing_secret_changes_nothing(app, client, ovs, forwarded, headers, status):
    request_id, overseerr_id = forwarded
    resp = client.post(URL, json=ovs.webhook_payload("MEDIA_APPROVED", overseerr_id), headers=headers)
    assert resp.status_code == status and resp.mimetype == "application/json"
    assert WEBHOOK_SECRET not in resp.get_data(as_text=True)
    assert _status(app, request_id) == RequestStatus.PENDING and _rereads(ovs, overseerr_id) == 0


def test_webhook_is_refused_when_no_secret_is_configured(app, client, fake_overseerr):
    connect_overseerr(app, fake_overseerr, webhook_secret=None)
    resp = client.post(URL, json={"notification_type": "TEST_NOTIFICATION"}, headers={"Authorization": "anything"})
    assert resp.status_code == 403 and resp.json["error"] == "webhook_disabled"


def test_test_notification(client, ovs):
    resp = client.post(URL, json=ovs.webhook_payload("TEST_NOTIFICATION"), headers={"Authorization": WEBHOOK_SECRET})
    assert resp.status_code == 200 and resp.json == {"ok": True, "test": True}


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[1, 2, 3]", b'"MEDIA_APPROVED"', b"null", b"{", "{\"notification_type\": \"\u00e9\"".encode(),
])
def test_bodies_that_are_not_json_objects_are_400(client, ovs, body):
    resp = client.post(URL, data=body, headers={"Authorization": WEBHOOK_SECRET, "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json["error"] == "bad_payload"


@pytest.mark.parametrize("payload", [
    {"notification_type": "MEDIA_APPROVED", "media": None, "request": None, "issue": None, "extra": []},
    {"notification_type": "MEDIA_AVAILABLE", "media": {"tmdbId": "", "status": None}, "request": {"request_id": ""}},
    {"notification_type": "MEDIA_APPROVED", "request": {"request_id": None}},
    {"notification_type": "MEDIA_APPROVED", "request": {"request_id": "12abc"}},
    {"notification_type": "MEDIA_APPROVED", "request": {"request_id": "-3"}},
    {"notification_type": 7, "request": [], "media": "x", "extra": "y"},
    {"notification_type": "ISSUE_CREATED", "issue": {"issue_id": "1"}, "request": None},
    {"notification_type": "MEDIA_APPROVED", "request": {"request_id": "999999999999999999999999"}},
])
def test_missing_or_null_objects_are_acknowledged_without_changes(app, client, ovs, forwarded, payload):
    request_id, overseerr_id = forwarded
    resp = client.post(URL, json=payload, headers={"Authorization": WEBHOOK_SECRET})
    assert resp.status_code == 200 and resp.json["ok"] is True and resp.json["matched"] == 0
    assert _status(app, request_id) == RequestStatus.PENDING


def test_payload_values_arrive_as_strings(app, client, ovs, forwarded):
    request_id, overseerr_id = forwarded
    payload = ovs.webhook_payload("MEDIA_APPROVED", overseerr_id)
    assert payload["request"]["request_id"] == str(overseerr_id) and payload["media"]["status"] == "PROCESSING"
    client.post(URL, data=json.dumps(payload), headers={"Authorization": WEBHOOK_SECRET,
                                                       "Content-Type": "application/json"})
    assert _status(app, request_id) == RequestStatus.APPROVED


def test_overseerr_down_during_the_reread_leaves_it_for_reconcile(app, client, ovs, forwarded):
    request_id, overseerr_id = forwarded
    payload = ovs.webhook_payload("MEDIA_APPROVED", overseerr_id)
    ovs.go_down()
    resp = client.post(URL, json=payload, headers={"Authorization": WEBHOOK_SECRET})
    assert resp.status_code == 200 and _status(app, request_id) == RequestStatus.PENDING
    ovs.come_back()
    with app.app_context():
        request_service.reconcile()
    assert _status(app, request_id) == RequestStatus.APPROVED


def test_webhook_needs_no_sign_in_and_no_csrf_token(make_app, ovs, forwarded):
    strict = make_app(WTF_CSRF_ENABLED=True)
    client = strict.test_client()
    request_id, overseerr_id = forwarded
    resp = client.post(URL, json=ovs.webhook_payload("MEDIA_APPROVED", overseerr_id),
                       headers={"Authorization": WEBHOOK_SECRET})
    assert resp.status_code == 200 and _status(strict, request_id) == RequestStatus.APPROVED
    assert client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}).status_code != 200

