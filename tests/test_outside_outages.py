"""A slow or failing outside service costs one slow request, not a web thread per view (issue 9, items 4–5).

The app runs on a real threaded HTTP server; Plex and Overseerr are the fake servers, made to hang
(accept and never answer) or to answer 5xx. The bounds are generous: "answered, not timed out".
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from werkzeug.serving import make_server

from medianest import breaker
from medianest.services import service_config
from tests.conftest import HX, TEST_REDIS_URL
from tests.factories import make_user
from tests.fakes.base import free_port
from tests.fakes.plex import ADMIN_TOKEN, MACHINE_ID
from tests.requests_support import connect_overseerr, connect_plex, ovs, people  # noqa: F401  (fixtures)
from tests.support import wait_for

PLEX_DOWN = "Plex is not answering right now"
ANSWERED_WITHIN = 8  # seconds: far above the 3 s web read timeout, far below the old 10 s per call


class Served:
    """The app on 127.0.0.1 in threads (a new thread per request, like gunicorn's threads)."""

    def __init__(self, app):
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def get(self, path: str, cookie: str, **kwargs):
        return requests.get(f"http://127.0.0.1:{self.port}{path}", cookies={"session": cookie},
                            timeout=ANSWERED_WITHIN, allow_redirects=False, **kwargs)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served():
    started = []

    def start(app):
        started.append(Served(app))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def signed_in(auth, user, app) -> str:
    client = auth.login_as(user, app.test_client())
    return client.get_cookie("session").value


def views(server, cookie, paths):
    with ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(lambda p: server.get(p, cookie), paths))


# -- Plex hanging ------------------------------------------------------------------------------------
def test_hanging_plex_costs_one_slow_request_not_a_thread_per_view(app, auth, user, fake_plex, served):
    connect_plex(app, fake_plex)
    server = served(app)
    cookie = signed_in(auth, user, app)
    fake_plex.hang()  # accepts, never answers; the library cache is cold

    answers = views(server, cookie, ["/media/"] * 8 + ["/"])
    library, dashboard = answers[:8], answers[8]
    assert dashboard.status_code == 200  # the dashboard never waits on Plex
    for resp in library:  # each answered (the client gives up after ANSWERED_WITHIN s)
        assert resp.status_code == 200 and PLEX_DOWN in resp.text
        assert 'class="retry" href="/media/"' in resp.text
    assert len(fake_plex.seen()) <= breaker.MAX_IN_FLIGHT  # the other views did not wait on Plex at all

    asked = len(fake_plex.seen())
    again = views(server, cookie, ["/media/", "/media/?q=matrix", "/media/sections/1", "/media/"])
    assert all(PLEX_DOWN in r.text for r in again)  # remembered: answered at once
    assert len(fake_plex.seen()) == asked


def test_a_failure_is_remembered_for_a_while_then_one_request_probes(make_app, auth, user, fake_plex, served):
    app = make_app(MEDIANEST_BREAKER_SECONDS=1)
    connect_plex(app, fake_plex)
    server = served(app)
    cookie = signed_in(auth, user, app)
    fake_plex.fail(503)
    assert PLEX_DOWN in server.get("/media/", cookie).text
    asked = len(fake_plex.seen())
    assert PLEX_DOWN in server.get("/media/", cookie).text and len(fake_plex.seen()) == asked

    fake_plex.reset_faults()
    fake_plex.hang()
    time.sleep(1.1)  # the open interval passes (a wait for the breaker, not a speed assertion)
    answers = views(server, cookie, ["/media/"] * 4)
    assert all(PLEX_DOWN in r.text for r in answers)
    assert len(fake_plex.seen()) == asked + 1  # half-open: one probe, the others answered at once

    fake_plex.reset_faults()  # Plex is back: after the next interval the probe succeeds and closes it
    page = wait_for(lambda: (r := server.get("/media/", cookie)) and "Recently added" in r.text and r, timeout=15,
                    interval=0.3)
    assert "Spirited Away" in page.text and PLEX_DOWN not in page.text


def test_a_plex_answer_other_than_an_outage_keeps_the_breaker_closed(app, auth, user, fake_plex):
    connect_plex(app, fake_plex)
    viewer = auth.login_as(user)
    fake_plex.override("/library/sections", "<html>not json</html>", content_type="text/html")
    first = viewer.get("/media/", headers=HX)
    assert b"did not expect" in first.data
    with app.app_context():
        assert not breaker.is_open("plex")


@pytest.mark.skipif(not TEST_REDIS_URL, reason="the breaker is shared through Redis on the production stack")
def test_every_web_worker_sees_the_open_breaker(make_app, auth, user, fake_plex):
    first, second = make_app(), make_app()  # two gunicorn workers: same database, same Redis
    connect_plex(first, fake_plex)
    fake_plex.go_down()
    assert PLEX_DOWN.encode() in auth.login_as(user, first.test_client()).get("/media/").data
    asked = len(fake_plex.seen())
    other = auth.login_as(user, second.test_client())
    assert PLEX_DOWN.encode() in other.get("/media/").data and len(fake_plex.seen()) == asked


def test_a_hanging_overseerr_costs_one_slow_search(app, auth, people, ovs, served):  # noqa: F811
    server = served(app)
    cookie = signed_in(auth, people[0], app)
    ovs.hang()
    answers = views(server, cookie, ["/media/discover?q=matrix"] * 4 + ["/media/discover?q=dune", "/"])
    assert answers[-1].status_code == 200
    for resp in answers[:-1]:
        assert resp.status_code == 200 and "can&#39;t be reached" in resp.text and 'class="retry"' in resp.text
    assert len(ovs.seen("/api/v1/search")) <= breaker.MAX_IN_FLIGHT


# -- Overseerr 5xx / timeout on title details -------------------------------------------------------
def _rows(app):
    from medianest.extensions import db
    from medianest.models import MediaRequest

    with app.app_context():
        return db.session.scalars(db.select(MediaRequest)).all()


def _slow_body(seconds: float):
    def body():
        time.sleep(seconds)  # before the first byte: the client's read timeout fires first
        yield json.dumps({"id": 603}).encode()
    return body


@pytest.mark.parametrize("failure", ["500", "502", "timeout"])
def test_overseerr_failing_on_details_saves_the_request_instead_of_not_found(app, auth, people, ovs, failure):  # noqa: F811
    alice = auth.login_as(people[0])
    if failure == "timeout":
        ovs.override("/api/v1/movie/603", _slow_body(4), content_type="application/json")
    else:
        ovs.override("/api/v1/movie/603", json.dumps({"message": "Unable to retrieve movie."}), status=int(failure),
                     content_type="application/json")
    resp = alice.post("/requests/", data={"media_type": "movie", "tmdb_id": "603", "title": "The Matrix"}, headers=HX)
    assert resp.status_code == 200 and b"knows no" not in resp.data
    [row] = _rows(app)
    assert row.title == "The Matrix" and row.status == "pending"
    assert [r["body"]["mediaId"] for r in ovs.requests_made] == [603]  # forwarded (Overseerr takes requests)

    detail = alice.get("/media/movie/603")  # the page itself: unavailable, with a way to try again
    assert detail.status_code == 503 and b"can&#39;t be reached" in detail.data
    assert b'class="retry" href="/media/movie/603"' in detail.data


def test_overseerr_failing_on_details_and_requests_keeps_the_request_waiting(app, auth, people, ovs):  # noqa: F811
    alice = auth.login_as(people[0])
    ovs.fail(500)
    resp = alice.post("/requests/", data={"media_type": "tv", "tmdb_id": "1399", "title": "Game of Thrones",
                                          "all_seasons": "1"}, headers=HX)
    assert resp.status_code == 200 and b"Waiting for Overseerr" in resp.data
    [row] = _rows(app)
    assert row.forward_state == "queued" and row.title == "Game of Thrones"


def test_only_a_real_404_is_not_found(app, auth, people, ovs):  # noqa: F811
    alice = auth.login_as(people[0])
    ovs.override("/api/v1/movie/604", json.dumps({"message": "Movie not found."}), status=404,
                 content_type="application/json")
    assert alice.get("/media/movie/604").status_code == 404
    resp = alice.post("/requests/", data={"media_type": "movie", "tmdb_id": "604", "title": "Reloaded"}, headers=HX)
    assert resp.status_code == 404 and b"knows no film" in resp.data and _rows(app) == []
    with app.app_context():
        assert not breaker.is_open("overseerr")



# -- plex.tv during sign-in ---------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["hang", "503"])
def test_plex_tv_failing_during_sign_in_answers_quickly_as_an_outage(make_app, fake_plextv, fake_plex, fault):
    app = make_app(MEDIANEST_PLEX_TV_URL=fake_plextv.url, MEDIANEST_PLEX_APP_URL=fake_plextv.url + "/auth")
    make_user(app, email="admin@example.com", role="ADMIN")
    with app.app_context():
        service_config.save("plex", url=fake_plex.url, secret_value=ADMIN_TOKEN,
                            settings={"machine_identifier": MACHINE_ID})
    fake_plextv.hang() if fault == "hang" else fake_plextv.fail(503)
    visitor = app.test_client()
    resp = visitor.post("/auth/plex", headers=HX)  # the default (web) timeouts: ~3 s, not 5 or 10
    assert resp.status_code == 503 and b"plex.tv is not answering right now" in resp.data
