"""Requests through the service layer, against the fake Overseerr over real HTTP.

Saved locally first, forwarded once with the right X-API-User and body, followed through Overseerr's
statuses (webhook re-reads and reconcile), never lost when Overseerr is down, never sent twice.
"""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from medianest.clients import overseerr
from medianest.extensions import db
from medianest.models import MediaRequest, Notification, RequestStatus
from medianest.models.media import ForwardState, RequestInterest
from medianest.services import ServiceError, library
from medianest.services import requests as service
from medianest.timeutil import utcnow
from tests.fakes.overseerr import APPROVED, DECLINED, FAILED, M_AVAILABLE, M_PROCESSING, PENDING
from tests.factories import make_request
from tests.requests_support import ovs, people  # noqa: F401  (fixtures)


def _row(request_id) -> MediaRequest:
    return db.session.get(MediaRequest, request_id, populate_existing=True)


def _notes(user) -> list[Notification]:
    return list(db.session.scalars(db.select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.created_at, Notification.title)))


def _rows() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(MediaRequest))


# -- the main journey ---------------------------------------------------------------------------------------
def test_submit_forwards_once_as_the_user_then_follows_webhooks_to_completed(ctx, ovs, people):
    alice, _bob, _carol = people
    result = service.submit(alice.id, "movie", 603)
    row = result.request
    assert result.kind == "created" and "requested" in result.message
    assert row.status == RequestStatus.PENDING and row.forward_state == ForwardState.SENT
    assert row.title == "The Matrix" and row.year == 1999 and row.poster_path == "/poster603.jpg"
    assert len(ovs.requests_made) == 1
    sent = ovs.requests_made[0]
    assert sent["api_user"] == "2" and sent["user_id"] == 2  # matched by Plex id, not email
    assert sent["body"] == {"mediaType": "movie", "mediaId": 603, "is4k": False}
    assert row.overseerr_id == str(sent["id"]) and not row.requested_as_admin

    ovs.set_request_status(sent["id"], APPROVED, M_PROCESSING)
    assert service.handle_webhook(ovs.webhook_payload("MEDIA_APPROVED", sent["id"])) == {"ok": True, "matched": 1}
    assert _row(row.id).status == RequestStatus.APPROVED

    ovs.set_available(603, "movie")
    service.handle_webhook(ovs.webhook_payload("MEDIA_AVAILABLE", sent["id"]))
    done = _row(row.id)
    assert done.status == RequestStatus.COMPLETED and done.completed_at is not None
    assert done.processing_time is not None
    assert [(n.title, n.type) for n in _notes(alice)] == [("Request approved", "success"), ("Ready to watch", "success")]
    assert len(ovs.requests_made) == 1


def test_series_seasons_are_sent_as_numbers_and_all_means_every_regular_season(ctx, ovs, people):
    alice, bob, _carol = people
    service.submit(alice.id, "tv", 1399, ["2", "1"])
    assert ovs.requests_made[-1]["body"] == {"mediaType": "tv", "mediaId": 1399, "is4k": False, "seasons": [1, 2]}
    row = service.submit(bob.id, "tv", 1396, "all").request
    assert row.seasons == [1, 2, 3, 4, 5] and row.seasons_label == "Seasons 1, 2, 3, 4, 5"
    assert ovs.requests_made[-1]["body"]["seasons"] == [1, 2, 3, 4, 5]
    assert ovs.requests_made[-1]["api_user"] == "3"


def test_user_without_an_overseerr_account_is_sent_as_the_admin_and_told_so(ctx, ovs, people):
    _alice, _bob, carol = people
    result = service.submit(carol.id, "movie", 27205)
    assert ovs.requests_made[-1]["api_user"] is None and ovs.requests_made[-1]["user_id"] == 1
    assert result.request.requested_as_admin and "admin's Overseerr account" in result.message
    assert result.request.status == RequestStatus.APPROVED  # the admin's requests auto-approve


def test_a_vanished_overseerr_account_falls_back_to_the_admin(ctx, ovs, people):
    alice, _bob, _carol = people
    service.submit(alice.id, "movie", 603)  # maps Alice to Overseerr user 2 (cached)
    del ovs.users[2]
    result = service.submit(alice.id, "movie", 604)
    assert result.request.forward_state == ForwardState.SENT and result.request.requested_as_admin
    assert ovs.requests_made[-1]["api_user"] is None


# -- Overseerr away: nothing lost, nothing sent twice --------------------------------------------------------
def test_overseerr_down_keeps_the_request_queued_then_forwards_it_exactly_once(ctx, ovs, people):
    alice, _bob, _carol = people
    library.title_details("movie", 27205)  # the detail page was open before Overseerr went away
    ovs.go_down()
    result = service.submit(alice.id, "movie", 27205)
    row = result.request
    assert row.status == RequestStatus.PENDING and row.forward_state == ForwardState.QUEUED
    assert row.is_waiting_for_overseerr and "can't be reached" in result.message
    assert row.forward_attempts == 1 and row.forward_error
    assert service.forward_job(row.id) == service.RETRY_DELAYS[1]  # still away: wait longer
    assert service.forward_pending() == {"found": 1, "waiting": 1}

    ovs.come_back()
    assert service.forward_pending()["sent"] == 1
    assert service.forward_pending() == {"found": 0}
    assert service.forward(row.id) == service.Outcome.SKIPPED
    assert service.forward_job(row.id) is None
    sent = _row(row.id)
    assert sent.forward_state == ForwardState.SENT and sent.overseerr_id and sent.forward_error is None
    assert len(ovs.requests_made) == 1 and ovs.requests_made[0]["api_user"] == "2"


def test_overseerr_down_without_cached_details_needs_the_title_from_the_page(ctx, ovs, people):
    alice, _bob, _carol = people
    ovs.go_down()
    with pytest.raises(library.CatalogueUnavailable):
        service.submit(alice.id, "movie", 603)
    row = service.submit(alice.id, "movie", 603, fallback_title="The Matrix").request
    assert row.title == "The Matrix" and row.forward_state == ForwardState.QUEUED
    assert _rows() == 1


def test_a_claim_left_by_a_dead_worker_is_taken_over_and_an_answer_lost_in_transit_is_linked(ctx, ovs, people):
    alice, _bob, _carol = people
    # The worker sent it (Overseerr has request #1) and died before writing the answer down.
    ovs._add_request(("movie", 603), ovs.users[2], False, [], PENDING)
    row = make_request(ctx, alice, tmdb_id="603", title="The Matrix", forward_state="sending", overseerr_id=None,
                       updated_at=utcnow() - timedelta(minutes=30), forward_attempts=1)
    assert service._claim(row.id) is True and service._claim(row.id) is False  # one claim at a time
    db.session.execute(db.update(MediaRequest).where(MediaRequest.id == row.id)
                       .values(updated_at=utcnow() - timedelta(minutes=30)))
    db.session.commit()
    assert service.forward_pending()["linked"] == 1
    linked = _row(row.id)
    assert linked.overseerr_id == "1" and linked.forward_state == ForwardState.SENT
    assert ovs.requests_made == [] and len(ovs.request_rows) == 1  # no second Overseerr request


def test_forward_job_backs_off_and_then_leaves_it_to_the_periodic_forward(ctx, ovs, people):
    alice, _bob, _carol = people
    row = make_request(ctx, alice, tmdb_id="603", forward_state="queued", overseerr_id=None)
    ovs.go_down()
    delays = [service.forward_job(row.id) for _ in service.RETRY_DELAYS]
    assert delays == list(service.RETRY_DELAYS)
    assert service.forward_job(row.id) is None  # the periodic forward takes over from here
    assert _row(row.id).forward_state == ForwardState.QUEUED
    assert service.forward_job("not-a-uuid") is None


# -- Overseerr's refusals become clear messages ----------------------------------------------------------
def test_overseerr_quota_refusal_fails_the_request_with_a_clear_message_and_admin_can_retry(ctx, ovs, people, admin):
    alice, _bob, _carol = people
    ovs.set_quota_exhausted(2, "movie")
    result = service.submit(alice.id, "movie", 603)
    row = result.request
    assert row.status == RequestStatus.FAILED and row.forward_state == ForwardState.FAILED
    assert "quota is used up" in row.forward_error and result.message == row.forward_error
    assert _notes(alice)[-1].type == "error"

    ovs.set_quota_exhausted(2, "movie", exhausted=False)
    again = service.retry_forward(row.id, admin.id)
    assert again.status == RequestStatus.PENDING and again.forward_state == ForwardState.SENT
    with pytest.raises(ServiceError):
        service.retry_forward(row.id, admin.id)


def test_already_requested_in_overseerr_links_to_that_request(ctx, ovs, people):
    alice, _bob, _carol = people
    outside = ovs._add_request(("movie", 27205), ovs.users[1], False, [], APPROVED)  # asked for in Overseerr itself
    row = service.submit(alice.id, "movie", 27205).request
    assert row.overseerr_id == str(outside["id"]) and row.status == RequestStatus.APPROVED
    assert "already had this request" in row.forward_error
    assert ovs.requests_made == []


def test_seasons_all_taken_in_overseerr_links_instead_of_failing(ctx, ovs, people):
    alice, _bob, _carol = people
    outside = ovs._add_request(("tv", 94605), ovs.users[1], False, [1, 2], PENDING)
    row = service.submit(alice.id, "tv", 94605, [1]).request
    assert row.overseerr_id == str(outside["id"]) and row.forward_state == ForwardState.SENT


def test_permission_refusal_and_server_errors(ctx, ovs, people):
    alice, _bob, _carol = people
    ovs.users[2]["permissions"] = 0
    row = service.submit(alice.id, "movie", 603).request
    assert row.status == RequestStatus.FAILED and "does not allow" in row.forward_error
    ovs.users[2]["permissions"] = 32
    ovs.fail(502)
    row = service.submit(alice.id, "movie", 604, fallback_title="Reloaded").request
    assert row.forward_state == ForwardState.QUEUED and "problem" in row.forward_error


# -- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("media_type", "tmdb_id", "seasons", "message"), [
    ("movie", 999999, None, "can't be reached"),  # Overseerr's 500 is an outage; without a title nothing is saved
    ("tv", 999999, "all", "can't be reached"),
    ("book", 603, None, "Only films and series"),
    ("movie", -5, None, "not a TMDB id"),
    ("movie", "abc", None, "not a TMDB id"),
    ("movie", 10**12, None, "not a TMDB id"),
    ("tv", 1399, ["42"], "Season 42 of Game of Thrones does not exist"),
    ("tv", 1399, ["1", "99", "100"], "Seasons 99, 100 of Game of Thrones do not exist"),
    ("tv", 1399, ["x"], "whole numbers"),
    ("tv", 1399, ["-1"], "no season -1"),
    ("tv", 1399, [], "Choose at least one season"),
])
def test_bad_requests_are_refused_clearly_and_create_nothing(ctx, ovs, people, media_type, tmdb_id, seasons, message):
    alice, _bob, _carol = people
    with pytest.raises(ServiceError, match=message):
        service.submit(alice.id, media_type, tmdb_id, seasons)
    assert _rows() == 0 and ovs.requests_made == []


def test_titles_already_in_plex_are_not_requested(ctx, ovs, people):
    alice, _bob, _carol = people
    ovs.set_available(603, "movie")
    ovs.set_available(1399, "tv", [1, 2])
    with pytest.raises(ServiceError, match="already in Plex"):
        service.submit(alice.id, "movie", 603)
    with pytest.raises(ServiceError, match="already in Plex"):
        service.submit(alice.id, "tv", 1399, ["1", "2"])
    row = service.submit(alice.id, "tv", 1399, ["1", "2", "3"]).request
    assert row.seasons == [3]


# -- duplicates and interest --------------------------------------------------------------------------------
def test_asking_twice_returns_the_existing_request(ctx, ovs, people):
    alice, _bob, _carol = people
    first = service.submit(alice.id, "movie", 603).request
    again = service.submit(alice.id, "movie", 603)
    assert again.kind == "existing" and again.request.id == first.id
    assert _rows() == 1 and len(ovs.requests_made) == 1

    series = service.submit(alice.id, "tv", 1399, [1, 2]).request
    assert service.submit(alice.id, "tv", 1399, [2]).request.id == series.id
    more = service.submit(alice.id, "tv", 1399, [2, 3])
    assert more.kind == "created" and more.request.seasons == [3]
    assert service.submit(alice.id, "tv", 1399, [1, 3]).kind == "existing"


def test_someone_elses_request_records_interest_without_a_second_overseerr_request(ctx, ovs, people):
    alice, bob, _carol = people
    first = service.submit(alice.id, "movie", 603).request
    result = service.submit(bob.id, "movie", 603)
    assert result.kind == "interest" and result.request.id == first.id and "Someone already" in result.message
    assert service.submit(bob.id, "movie", 603).kind == "interest"  # twice is harmless
    assert db.session.scalar(db.select(db.func.count()).select_from(RequestInterest)) == 1
    assert _rows() == 1 and len(ovs.requests_made) == 1
    states = service.states_for(bob.id, [("movie", 603), ("movie", 604)])
    assert states[("movie", 603)] == {"mine": None, "others": True, "following": True}
    assert states[("movie", 604)] == {"mine": None, "others": False, "following": False}
    assert [r.id for r in service.following(bob.id)] == [first.id]

    ovs.set_request_status(int(first.overseerr_id), APPROVED, M_PROCESSING)
    service.sync(first.id)
    assert _notes(bob)[-1].title == "Request approved" and "You asked for it too" in _notes(bob)[-1].message
    assert _notes(alice)[-1].title == "Request approved"


def test_overlapping_seasons_request_only_the_rest_and_follow_the_overlap(ctx, ovs, people):
    alice, bob, _carol = people
    first = service.submit(alice.id, "tv", 1399, [1, 2]).request
    mine = service.submit(bob.id, "tv", 1399, [2, 3]).request
    assert mine.seasons == [3] and mine.user_id == bob.id
    assert ovs.requests_made[-1]["body"]["seasons"] == [3]
    assert db.session.get(RequestInterest, (first.id, bob.id)) is not None
    covered = service.submit(bob.id, "tv", 1399, [1])
    assert covered.kind == "interest" and covered.request.id == first.id


# -- statuses --------------------------------------------------------------------------------------------------
def _ovs_request(status, media_status, is_4k=False):
    return overseerr.MediaRequest(id=1, status=overseerr.request_status(status), media_type="movie", tmdb_id=603,
                                  media_status=overseerr.media_status(media_status), is_4k=is_4k)


@pytest.mark.parametrize(("status", "media", "expected"), [
    (1, 2, RequestStatus.PENDING),
    (2, 3, RequestStatus.APPROVED),
    (2, 1, RequestStatus.APPROVED),
    (2, 4, RequestStatus.DOWNLOADING),
    (2, 5, RequestStatus.COMPLETED),
    (1, 5, RequestStatus.COMPLETED),
    (3, 1, RequestStatus.DENIED),
    (4, 3, RequestStatus.FAILED),
    (5, 7, RequestStatus.COMPLETED),  # Jellyseerr/Seerr COMPLETED, media DELETED
    (2, 6, RequestStatus.DENIED),  # Jellyseerr BLACKLISTED / Seerr BLOCKLISTED
    ("APPROVED", "PROCESSING", RequestStatus.APPROVED),  # names, as webhooks send them
    (99, 3, None),  # unknown: no change
    (None, None, None),
])
def test_overseerr_statuses_map_to_ours(status, media, expected):
    assert service.local_status(_ovs_request(status, media)) == expected


@pytest.mark.parametrize(("old", "new", "ok"), [
    ("pending", "approved", True), ("pending", "completed", True), ("approved", "downloading", True),
    ("downloading", "completed", True), ("approved", "pending", False), ("downloading", "approved", False),
    ("completed", "failed", False), ("completed", "pending", False), ("denied", "approved", False),
    ("pending", "denied", True), ("approved", "failed", True), ("failed", "approved", True),
    ("failed", "pending", False), ("approved", "approved", False),
])
def test_transitions_only_move_forward(old, new, ok):
    assert service.allowed(old, new) is ok


def test_backward_moves_from_overseerr_are_ignored_with_a_log_line(ctx, ovs, people, caplog):
    alice, _bob, _carol = people
    row = service.submit(alice.id, "movie", 603).request
    ovs.set_request_status(int(row.overseerr_id), APPROVED, M_PROCESSING)
    service.sync(row.id)
    ovs.set_request_status(int(row.overseerr_id), PENDING)
    with caplog.at_level(logging.INFO, logger="medianest.services.requests"):
        assert service.sync(row.id) is False
    assert _row(row.id).status == RequestStatus.APPROVED
    assert any("ignored approved -> pending" in r.getMessage() for r in caplog.records)


def test_unknown_overseerr_values_change_nothing(ctx, ovs, people):
    alice, _bob, _carol = people
    row = service.submit(alice.id, "movie", 603).request
    ovs.set_request_status(int(row.overseerr_id), 99, 42)
    assert service.sync(row.id) is False and _row(row.id).status == RequestStatus.PENDING


def test_series_partly_in_plex_is_downloading_until_the_asked_seasons_arrive(ctx, ovs, people):
    alice, bob, _carol = people
    one = service.submit(alice.id, "tv", 1399, [1]).request
    two = service.submit(bob.id, "tv", 2316, [1, 2]).request
    for row in (one, two):
        ovs.set_request_status(int(row.overseerr_id), APPROVED)
    ovs.set_available(1399, "tv", [1])
    ovs.set_available(2316, "tv", [1])
    service.reconcile()
    assert _row(one.id).status == RequestStatus.COMPLETED
    assert _row(two.id).status == RequestStatus.DOWNLOADING
    ovs.set_available(2316, "tv", [2])
    service.reconcile()
    assert _row(two.id).status == RequestStatus.COMPLETED


def test_reconcile_fixes_missed_webhooks_in_batches(ctx, ovs, people):
    alice, bob, carol = people
    rows = [service.submit(u.id, "movie", m).request for u, m in ((alice, 603), (bob, 604), (carol, 605))]
    for row in rows:
        ovs.set_request_status(int(row.overseerr_id), APPROVED, M_AVAILABLE)
    assert service.reconcile(batch=2) == {"checked": 2, "changed": 2, "errors": 0}
    assert service.reconcile(batch=2)["changed"] == 1  # the one left over, then the rest are final
    assert {_row(r.id).status for r in rows} == {RequestStatus.COMPLETED}
    assert service.reconcile()["checked"] == 0


def test_reconcile_stops_when_overseerr_is_down_and_handles_removed_requests(ctx, ovs, people):
    alice, bob, _carol = people
    kept = service.submit(alice.id, "movie", 603).request
    gone = service.submit(bob.id, "movie", 604).request
    ovs.go_down()
    assert service.reconcile()["errors"] == 1
    ovs.come_back()
    del ovs.request_rows[int(gone.overseerr_id)]
    service.reconcile()
    assert _row(gone.id).status == RequestStatus.DENIED and "removed in Overseerr" in _row(gone.id).decline_reason
    assert _row(kept.id).status == RequestStatus.PENDING


def test_declined_and_failed_in_overseerr(ctx, ovs, people):
    alice, bob, _carol = people
    declined = service.submit(alice.id, "movie", 603).request
    failed = service.submit(bob.id, "movie", 604).request
    ovs.set_request_status(int(declined.overseerr_id), DECLINED)
    ovs.set_request_status(int(failed.overseerr_id), FAILED)
    service.reconcile()
    assert _row(declined.id).status == RequestStatus.DENIED
    assert _row(declined.id).decline_reason == "declined in Overseerr"
    assert _row(failed.id).status == RequestStatus.FAILED
    ovs.set_request_status(int(failed.overseerr_id), APPROVED)  # Overseerr's "retry"
    service.reconcile()
    assert _row(failed.id).status == RequestStatus.APPROVED


# -- webhook payloads ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", [
    {"notification_type": "MEDIA_APPROVED", "media": None, "request": None},
    {"notification_type": "MEDIA_APPROVED"},
    {"notification_type": None, "request": {"request_id": ""}},
    {"request": {"request_id": "not a number"}, "media": {"tmdbId": None}},
    {"notification_type": "ISSUE_CREATED", "issue": {"issue_id": "3"}, "request": "???"},
    {},
])
def test_webhook_payloads_without_a_request_are_acknowledged(ctx, ovs, payload):
    assert service.handle_webhook(payload)["matched"] == 0


def test_webhook_test_notification_and_non_objects(ctx, ovs):
    assert service.handle_webhook(ovs.webhook_payload("TEST_NOTIFICATION")) == {"ok": True, "test": True}
    for payload in (None, [], "MEDIA_APPROVED", 12):
        with pytest.raises(ServiceError) as err:
            service.handle_webhook(payload)
        assert err.value.status == 400


def test_webhook_for_an_unknown_request_matches_nothing(ctx, ovs, people):
    alice, _bob, _carol = people
    service.submit(alice.id, "movie", 603)
    payload = {"notification_type": "MEDIA_APPROVED", "request": {"request_id": "777"}, "media": None}
    assert service.handle_webhook(payload) == {"ok": True, "matched": 0}


def test_webhook_secret_check(ctx, ovs):
    from tests.requests_support import WEBHOOK_SECRET

    assert service.webhook_authorized(WEBHOOK_SECRET) is True
    assert service.webhook_authorized(f"Bearer {WEBHOOK_SECRET}") is True
    assert service.webhook_authorized(WEBHOOK_SECRET + "x") is False
    assert service.webhook_authorized("") is False and service.webhook_authorized(None) is False
    assert service.webhook_authorized("é" * 10) is False


# -- user and admin actions --------------------------------------------------------------------------------
def test_cancel_withdraws_in_overseerr_and_tells_followers(ctx, ovs, people):
    alice, bob, _carol = people
    row = service.submit(alice.id, "movie", 603).request
    overseerr_id = int(row.overseerr_id)
    service.submit(bob.id, "movie", 603)
    assert service.cancel(row.id, alice.id) == "The Matrix"
    assert overseerr_id not in ovs.request_rows and _rows() == 0
    assert _notes(bob)[-1].title == "Request withdrawn"


def test_cancel_rules(ctx, ovs, people):
    alice, bob, _carol = people
    with pytest.raises(ServiceError) as err:
        service.cancel(service.submit(alice.id, "movie", 603).request.id, bob.id)  # not hers to cancel
    assert err.value.status == 404
    approved = service.submit(alice.id, "movie", 604).request
    ovs.set_request_status(int(approved.overseerr_id), APPROVED)
    service.sync(approved.id)
    with pytest.raises(ServiceError, match="Only requests still waiting"):
        service.cancel(approved.id, alice.id)
    ovs.go_down()
    pending = service.submit(alice.id, "movie", 605, fallback_title="Revolutions").request  # queued, not sent
    assert service.cancel(pending.id, alice.id) == "Revolutions"
    sent = db.session.scalars(db.select(MediaRequest).where(MediaRequest.tmdb_id == "603")).one()
    with pytest.raises(ServiceError, match="can't be reached"):
        service.cancel(sent.id, alice.id)
    assert _row(sent.id) is not None
    ovs.come_back()
    assert service.forward_pending() == {"found": 0}  # the cancelled one is gone, never sent


def test_admin_approve_and_decline_with_reason(ctx, ovs, people, admin):
    alice, bob, _carol = people
    one = service.submit(alice.id, "movie", 603).request
    two = service.submit(bob.id, "movie", 604).request
    assert service.approve(one.id, admin.id).status == RequestStatus.APPROVED
    assert ovs.request_rows[int(one.overseerr_id)]["status"] == APPROVED
    with pytest.raises(ServiceError, match="Only pending"):
        service.approve(one.id, admin.id)
    declined = service.decline(two.id, admin.id, "  Not on <b>this</b>\n server  ")
    assert declined.status == RequestStatus.DENIED and declined.decline_reason == "Not on <b>this</b> server"
    assert ovs.request_rows[int(two.overseerr_id)]["status"] == DECLINED
    assert "Reason: Not on <b>this</b> server" in _notes(bob)[-1].message
    with pytest.raises(ServiceError):
        service.decline(two.id, admin.id, "again")
    with pytest.raises(ServiceError) as err:
        service.approve("00000000-0000-0000-0000-000000000000", admin.id)
    assert err.value.status == 404


def test_decline_before_it_reached_overseerr_stops_the_forward(ctx, ovs, people, admin):
    alice, _bob, _carol = people
    ovs.go_down()
    row = service.submit(alice.id, "movie", 603, fallback_title="The Matrix").request
    with pytest.raises(ServiceError, match="not reached Overseerr"):
        service.approve(row.id, admin.id)
    declined = service.decline(row.id, admin.id, "")
    assert declined.forward_state == ForwardState.CANCELLED and declined.decline_reason == "No reason was given."
    ovs.come_back()
    assert service.forward(row.id) == service.Outcome.SKIPPED and ovs.requests_made == []


def test_overseerr_not_connected(ctx, people):
    alice, _bob, _carol = people
    with pytest.raises(library.CatalogueUnavailable):
        service.submit(alice.id, "movie", 603)
    row = service.submit(alice.id, "movie", 603, fallback_title="The Matrix").request
    assert row.forward_state == ForwardState.QUEUED and row.forward_error == "Overseerr is not connected yet."
    assert service.reconcile()["skipped"]


# -- the Huey tasks (immediate mode in tests) ---------------------------------------------------------------
def test_forward_task_schedules_its_retry_and_the_periodic_tasks_finish_the_job(ctx, ovs, people):
    from medianest import tasks
    from medianest.worker import huey

    alice = people[0]
    ovs.go_down()
    row = service.submit(alice.id, "movie", 603, fallback_title="The Matrix").request
    retries = [t for t in huey.scheduled() if t.name == "forward_request" and t.args == (str(row.id),)]
    assert retries and retries[-1].eta is not None  # retried later, with a delay
    ovs.come_back()
    tasks.forward_waiting_requests()
    assert _row(row.id).forward_state == ForwardState.SENT and len(ovs.requests_made) == 1
    ovs.set_request_status(int(_row(row.id).overseerr_id), APPROVED, M_AVAILABLE)
    tasks.reconcile_requests()
    assert _row(row.id).status == RequestStatus.COMPLETED
    tasks.forward_request(str(row.id))  # running it again is harmless
    assert len(ovs.requests_made) == 1
    periodic = {t.__name__ for t in huey._registry._periodic_tasks}
    assert {"reconcile_requests", "forward_waiting_requests"} <= periodic
