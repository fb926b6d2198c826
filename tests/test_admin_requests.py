"""Admin requests page: everyone's requests with filters, approve / decline with a reason, retry; the CLI."""
from __future__ import annotations

from datetime import timedelta

import pytest

from medianest.extensions import db
from medianest.models import MediaRequest, RequestStatus
from medianest.services import requests as request_service
from medianest.timeutil import utcnow
from tests.conftest import HX
from tests.factories import make_request, make_user
from tests.fakes.overseerr import APPROVED, DECLINED, M_AVAILABLE
from tests.requests_support import count_queries, ovs, people  # noqa: F401  (fixtures)


@pytest.fixture
def admin_client(auth, admin):
    return auth.login_as(admin)


def _row(app, request_id) -> MediaRequest:
    with app.app_context():
        return db.session.get(MediaRequest, request_id)


def test_admin_only(auth, people):
    client = auth.login_as(people[0])
    assert client.get("/admin/requests").status_code == 404
    row = make_request(auth.app, people[0])
    for action in ("approve", "decline", "retry"):
        assert client.post(f"/admin/requests/{row.id}/{action}").status_code == 404


def test_admin_sees_everyone_with_page_and_fragment(app, admin_client, people):
    alice, bob, _carol = people
    make_request(app, alice, title="Alice <b>Film</b>")
    make_request(app, bob, title="Bob Series", media_type="tv", seasons=[1, 2])
    page = admin_client.get("/admin/requests")
    assert page.status_code == 200 and b"<html" in page.data and b"Request quotas" in page.data
    assert b"Alice &lt;b&gt;Film&lt;/b&gt;" in page.data and b"Bob Series" in page.data and b"Seasons 1, 2" in page.data
    assert b"alice@example.com" in page.data and b"bob@example.com" in page.data
    fragment = admin_client.get("/admin/requests", headers=HX)
    assert b'id="admin-requests-table"' in fragment.data and b"<html" not in fragment.data
    assert b"Request quotas" not in fragment.data and "HX-Request" in fragment.headers["Vary"]
    assert b"Requests" in admin_client.get("/admin/").data


def test_filters(app, admin_client, people):
    alice, bob, _carol = people
    now = utcnow()
    make_request(app, alice, title="Old Film", created_at=now - timedelta(days=40), status="completed")
    make_request(app, alice, title="Alice Series", media_type="tv", status="approved")
    make_request(app, bob, title="Bob Waiting", forward_state="queued", overseerr_id=None)

    def shown(query):
        data = admin_client.get(f"/admin/requests?{query}", headers=HX).data.decode()
        return sorted(t for t in ("Old Film", "Alice Series", "Bob Waiting") if t in data)

    assert shown("") == ["Alice Series", "Bob Waiting", "Old Film"]
    assert shown("status=completed") == ["Old Film"]
    assert shown("status=waiting") == ["Bob Waiting"]
    assert shown("type=tv") == ["Alice Series"]
    assert shown("user=BOB@") == ["Bob Waiting"]
    assert shown("user=alice") == ["Alice Series", "Old Film"]
    assert shown("user=%25") == []  # the wildcard is taken literally
    since = (now - timedelta(days=2)).strftime("%Y-%m-%d")
    assert shown(f"from={since}") == ["Alice Series", "Bob Waiting"]
    until = (now - timedelta(days=30)).strftime("%Y-%m-%d")
    assert shown(f"to={until}") == ["Old Film"]
    assert shown("from=garbage&to=2024-13-45&status=<x>&type=book&page=-4") == ["Alice Series", "Bob Waiting", "Old Film"]
    huge = admin_client.get("/admin/requests?page=999999999", headers=HX)
    assert huge.status_code == 200 and b"There is no page" in huge.data


def test_approve_with_htmx_swaps_the_row(app, admin_client, ovs, people):
    with app.app_context():
        row = request_service.submit(people[0].id, "movie", 603).request
    resp = admin_client.post(f"/admin/requests/{row.id}/approve", headers=HX)
    assert resp.status_code == 200 and resp.data.decode().lstrip().startswith(f'<tr id="admin-request-{row.id}"')
    assert b"badge-approved" in resp.data and b'hx-swap-oob="true"' in resp.data and b"is approved" in resp.data
    assert ovs.request_rows[int(row.overseerr_id)]["status"] == APPROVED
    assert _row(app, row.id).status == RequestStatus.APPROVED
    again = admin_client.post(f"/admin/requests/{row.id}/approve", headers=HX)
    assert again.status_code == 409 and again.headers["HX-Reswap"] == "none" and b"Only pending" in again.data


def test_decline_with_a_reason_the_requester_sees(app, auth, admin_client, ovs, people):
    alice = people[0]
    with app.app_context():
        row = request_service.submit(alice.id, "movie", 603).request
    resp = admin_client.post(f"/admin/requests/{row.id}/decline", data={"reason": "Already on <b>DVD</b>"},
                             headers=HX)
    assert resp.status_code == 200 and b"badge-denied" in resp.data
    assert ovs.request_rows[int(row.overseerr_id)]["status"] == DECLINED
    mine = auth.login_as(alice, auth.app.test_client())
    detail = mine.get(f"/requests/{row.id}")
    assert b"Declined: Already on &lt;b&gt;DVD&lt;/b&gt;" in detail.data
    assert b"Already on &lt;b&gt;DVD&lt;/b&gt;" in mine.get("/requests/").data
    bell = mine.get("/notifications/?show=all").data
    assert b"Request declined" in bell and b"Reason: Already on &lt;b&gt;DVD&lt;/b&gt;" in bell


def test_retry_a_refused_forward(app, admin_client, ovs, people):
    ovs.set_quota_exhausted(2)
    with app.app_context():
        row = request_service.submit(people[0].id, "movie", 603).request
    assert row.forward_state == "failed"
    page = admin_client.get("/admin/requests").data
    assert b"Send again" in page and b"quota is used up" in page
    ovs.set_quota_exhausted(2, exhausted=False)
    resp = admin_client.post(f"/admin/requests/{row.id}/retry", headers=HX)
    assert resp.status_code == 200 and b"being sent to Overseerr again" in resp.data
    assert _row(app, row.id).forward_state == "sent" and len(ovs.requests_made) == 1
    plain = admin_client.post(f"/admin/requests/{row.id}/retry")
    assert plain.status_code == 303


def test_actions_on_unknown_requests_are_404(admin_client, ovs):
    for action in ("approve", "decline", "retry"):
        assert admin_client.post(f"/admin/requests/00000000-0000-0000-0000-000000000000/{action}",
                                 headers=HX).status_code == 404
        assert admin_client.post(f"/admin/requests/nope/{action}").status_code == 404


def test_admin_list_query_count_does_not_grow_with_rows(app, admin_client, people):
    def count(headers=None):
        admin_client.get("/admin/requests", headers=headers)
        with app.app_context():
            engine = db.engine
        with count_queries(engine) as queries:  # a hard reload: rendered, not served from the kept render
            assert admin_client.get("/admin/requests", headers={**(headers or {}), "Cache-Control": "no-cache"}
                                    ).status_code == 200
        return len(queries)

    make_request(app, people[0])
    one, one_fragment = count(), count(HX)
    for n in range(19):
        who = make_user(app, email=f"many{n}@example.com")
        make_request(app, who, media_type="tv" if n % 2 else "movie", seasons=[1] if n % 2 else None)
    assert count() == one and count(HX) == one_fragment <= 4


# -- CLI -------------------------------------------------------------------------------------------------
def test_cli_reconcile_and_forward_pending(app, runner, ovs, people):
    alice = people[0]
    with app.app_context():
        overseerr_id = int(request_service.submit(alice.id, "movie", 603).request.overseerr_id)
        ovs.go_down()
        waiting_id = request_service.submit(alice.id, "movie", 604, fallback_title="Reloaded").request.id
    ovs.come_back()
    ovs.set_request_status(overseerr_id, APPROVED, M_AVAILABLE)
    result = runner.invoke(args=["requests", "reconcile", "--batch", "10"])
    assert result.exit_code == 0 and "checked 1, changed 1, errors 0" in result.output
    result = runner.invoke(args=["requests", "forward-pending"])
    assert result.exit_code == 0 and "found: 1, sent: 1" in result.output
    assert _row(app, waiting_id).forward_state == "sent"
    listing = runner.invoke(args=["requests", "list", "--user", "alice"])
    assert listing.exit_code == 0 and "completed" in listing.output and "\tReloaded\n" not in listing.output
    assert "The Matrix Reloaded" in listing.output


def test_cli_retry_and_errors(app, runner, ovs, people):
    ovs.set_quota_exhausted(2)
    with app.app_context():
        row = request_service.submit(people[0].id, "movie", 603).request
    ovs.set_quota_exhausted(2, exhausted=False)
    result = runner.invoke(args=["requests", "retry", str(row.id)])
    assert result.exit_code == 0 and "pending, sent" in result.output
    again = runner.invoke(args=["requests", "retry", str(row.id)])
    assert again.exit_code == 1 and "Only requests Overseerr refused" in again.output
    assert runner.invoke(args=["requests", "retry", "nope"]).exit_code == 1


def test_cli_reconcile_without_overseerr(runner, ctx):
    result = runner.invoke(args=["requests", "reconcile"])
    assert result.exit_code == 1 and "not connected" in result.output
