"""Requests a household can trust (issue 10, items 6-8): messages that are true when shown and a panel that
follows the forward; one active request per user and title, held by the database under concurrent submits;
no Request button without quota; "Also following" that refreshes; overlap that says what is followed."""
from __future__ import annotations

import threading

import pytest
import requests as http
from werkzeug.serving import make_server

from medianest.extensions import db
from medianest.models import MediaRequest
from medianest.worker import huey
from tests.conftest import HX
from tests.fakes.overseerr import APPROVED, M_PROCESSING
from tests.requests_support import ovs, people  # noqa: F401  (fixtures)


def _rows(app):
    with app.app_context():
        return list(db.session.scalars(db.select(MediaRequest).order_by(MediaRequest.created_at)))


@pytest.fixture
def worker_later():
    """Tasks wait in a queue (as with a real worker) until the test runs them with `run_queued(app)`."""
    from huey.storage import MemoryStorage

    original = huey.storage
    huey.immediate = False
    huey.storage = MemoryStorage(huey.name)
    yield huey
    huey.immediate = True
    huey.storage = original


def run_queued(app) -> int:
    ran = 0
    with app.app_context():
        while (task := huey.dequeue()) is not None:
            huey.execute(task)
            ran += 1
    return ran


# -- 6. true messages, a panel that updates itself ---------------------------------------------------------
def test_a_fresh_request_says_sending_then_the_panel_shows_it_sent_when_the_worker_forwards(
        app, auth, people, ovs, worker_later):
    alice = auth.login_as(people[0])
    resp = alice.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "can't be reached" not in page and "can&#39;t be reached" not in page and "Waiting for Overseerr" not in page
    assert "Saved; sending it to Overseerr…" in page and "Sending to Overseerr…" in page
    assert 'hx-trigger="every 2s"' in page  # the panel watches the forward
    listing = alice.get("/requests/").get_data(as_text=True)
    assert "Sending to Overseerr…" in listing and "Waiting for Overseerr" not in listing

    assert run_queued(app) == 1  # the worker, a moment later
    [row] = _rows(app)
    assert row.forward_state == "sent" and len(ovs.requests_made) == 1

    poll = alice.get("/media/movie/603", headers=HX).get_data(as_text=True)
    assert 'id="request-panel"' in poll and "<html" not in poll
    assert "Sent to Overseerr" in poll and "Sending to Overseerr" not in poll
    assert "hx-trigger" not in poll.split('id="request-panel"', 1)[1].split(">", 1)[0]  # the poll has stopped


def test_with_overseerr_down_the_panel_says_waiting_and_polls_slowly(app, auth, people, ovs):
    alice = auth.login_as(people[0])
    alice.get("/media/movie/603")  # details cached while Overseerr was up
    ovs.go_down()
    page = alice.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX).get_data(as_text=True)
    assert "Waiting for Overseerr" in page and "can&#39;t be reached right now" in page
    assert 'hx-trigger="every 30s"' in page and "Saved; sending" not in page


def test_a_request_sent_at_once_says_so(app, auth, people, ovs):
    alice = auth.login_as(people[0])  # immediate mode: the forward runs before the answer
    page = alice.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX).get_data(as_text=True)
    assert "requested and sent to Overseerr" in page and "Sent to Overseerr" in page
    assert "Waiting for Overseerr" not in page and "Sending to Overseerr" not in page


# -- 7. one active request per user and title, also under a race --------------------------------------------
@pytest.fixture
def served(app):
    """The app on a real threaded HTTP server, so requests really run at the same time."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _cookie_of(client) -> str:
    return client.get_cookie("session").value


def _post_at_once(url: str, cookie: str, data: dict, n: int = 4) -> list:
    barrier = threading.Barrier(n)
    answers: list = [None] * n

    def post(i):
        barrier.wait()
        answers[i] = http.post(url, data=data, headers={**HX, "Cookie": f"session={cookie}"}, timeout=60)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    return answers


@pytest.mark.parametrize("data", [
    {"media_type": "movie", "tmdb_id": "603"},
    {"media_type": "tv", "tmdb_id": "1399", "seasons": ["1", "2"]},
])
def test_two_tabs_submitting_the_same_title_at_once_make_one_request(app, auth, people, ovs, served, data):
    from medianest.services import quotas

    alice_client = auth.login_as(people[0])
    answers = _post_at_once(f"{served}/requests/", _cookie_of(alice_client), data)
    assert [a.status_code for a in answers] == [200] * 4, [a.text[:300] for a in answers if a.status_code != 200]
    rows = _rows(app)
    assert len(rows) == 1
    assert sum("You already asked for" in a.text for a in answers) == 3
    with app.app_context():
        summary = quotas.summary(people[0].id)
    used = summary.movies.used if data["media_type"] == "movie" else summary.seasons.used
    assert used == (1 if data["media_type"] == "movie" else 2)


def test_the_database_refuses_a_second_active_request_for_the_same_title_and_season_set(app, people):
    from sqlalchemy.exc import IntegrityError

    alice, bob, _ = people
    with app.app_context():
        db.session.add(MediaRequest(user_id=alice.id, title="GoT", media_type="tv", tmdb_id="1399", seasons=[2, 1]))
        db.session.commit()
        db.session.add(MediaRequest(user_id=alice.id, title="GoT", media_type="tv", tmdb_id="1399", seasons=[3]))
        db.session.add(MediaRequest(user_id=bob.id, title="GoT", media_type="tv", tmdb_id="1399", seasons=[1, 2]))
        db.session.add(MediaRequest(user_id=alice.id, title="GoT", media_type="tv", tmdb_id="1399", seasons=[1, 2],
                                    status="denied"))
        db.session.commit()  # another season set, another user, a final row: all fine
        db.session.add(MediaRequest(user_id=alice.id, title="GoT", media_type="tv", tmdb_id="1399", seasons=[1, 2]))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


# -- 8. quota before the click, "Also following" refreshes, overlap says what is followed ----------------------
def test_with_no_films_left_the_request_button_is_not_offered(app, auth, people, ovs):
    from medianest.services import quotas

    alice, bob, _ = people
    with app.app_context():
        quotas.set_defaults(1, 0, 7)
    alice_client = auth.login_as(alice)
    assert alice_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX).status_code == 200
    page = alice_client.get("/media/movie/27205").get_data(as_text=True)
    assert 'id="quota-full"' in page and "You have used your 1 films this week" in page
    assert 'action="/requests/"' not in page and ">Request</button>" not in page
    bob_page = auth.login_as(bob, app.test_client()).get("/media/movie/27205").get_data(as_text=True)
    assert ">Request</button>" in bob_page and 'id="quota-full"' not in bob_page
    # Asking too for someone else's request costs no quota: still offered.
    other = auth.login_as(bob, app.test_client())
    other.post("/requests/", data={"media_type": "movie", "tmdb_id": "27205"}, headers=HX)
    assert "Ask too" in alice_client.get("/media/movie/27205").get_data(as_text=True)


def test_also_following_refreshes_itself_while_the_followed_request_moves(app, auth, people, ovs):
    alice, bob, _ = people
    alice_client = auth.login_as(alice)
    bob_client = auth.login_as(bob, app.test_client())
    alice_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX)
    bob_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX)
    page = bob_client.get("/requests/").get_data(as_text=True)
    assert 'id="following"' in page and "Also following" in page and "every 10s" in page
    [row] = _rows(app)
    ovs.set_request_status(int(row.overseerr_id), APPROVED, M_PROCESSING)
    with app.app_context():
        from medianest.services import requests as service

        service.reconcile()
    fragment = bob_client.get("/requests/following", headers=HX)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and "HX-Request" in fragment.headers["Vary"]
    assert "Approved" in body and "every 10s" in body
    ovs.set_available(603, "movie")
    with app.app_context():
        service.reconcile()
    done = bob_client.get("/requests/following", headers=HX).get_data(as_text=True)
    assert "Completed" in done and "every 10s" not in done  # nothing moving: the poll stops
    assert "The Matrix" not in alice_client.get("/requests/following", headers=HX).get_data(as_text=True)


def test_a_partly_overlapping_season_request_says_which_seasons_are_followed(app, auth, people, ovs):
    alice, bob, _ = people
    auth.login_as(alice).post("/requests/", data={"media_type": "tv", "tmdb_id": "1399", "seasons": ["1", "2"]},
                              headers=HX)
    bob_client = auth.login_as(bob, app.test_client())
    page = bob_client.post("/requests/", data={"media_type": "tv", "tmdb_id": "1399", "seasons": ["2", "3"]},
                           headers=HX).get_data(as_text=True)
    assert "Season 2 had already been asked for by someone else: you now follow that request too" in page
    bob_row = [r for r in _rows(app) if r.user_id == bob.id][0]
    assert bob_row.seasons == [3]
    assert "Game of Thrones" in bob_client.get("/requests/following", headers=HX).get_data(as_text=True)



def test_reviving_a_failed_request_never_breaks_the_one_active_rule(app, auth, people, ovs):
    """A failed request whose user asked again since: the admin's retry and Overseerr's revival refuse calmly."""
    from medianest.services import ServiceError
    from medianest.services import requests as service
    from tests.factories import make_request

    alice = people[0]
    failed = make_request(app, alice, tmdb_id="603", status="failed", forward_state="failed", overseerr_id=None,
                          forward_error="Overseerr refused it.")
    alice_client = auth.login_as(alice)
    assert alice_client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX).status_code == 200
    with app.app_context():
        with pytest.raises(ServiceError, match="another open request"):
            service.retry_forward(failed.id)
        db.session.rollback()
        row = db.session.get(MediaRequest, failed.id)
        row.overseerr_id, row.forward_state = "77", "sent"
        db.session.commit()
    new = [r for r in _rows(app) if r.id != failed.id][0]
    ovs.set_request_status(int(new.overseerr_id), APPROVED, M_PROCESSING)  # Overseerr's one request is moving
    ovs_rows = ovs.requests_made
    assert len(ovs_rows) == 1
    with app.app_context():
        db.session.execute(db.update(MediaRequest).where(MediaRequest.id == failed.id)
                           .values(overseerr_id=new.overseerr_id))
        db.session.commit()
        result = service.reconcile()
    assert result["checked"] == 2
    statuses = {r.id: r.status for r in _rows(app)}
    assert statuses[failed.id] == "failed" and statuses[new.id] == "approved"
