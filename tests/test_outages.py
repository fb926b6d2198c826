"""Outages reach the user as what they are and lose nothing (issue 9): Redis stopped (a redis-server of the
test's own), PostgreSQL cut or restarted (a TCP proxy in front of the shared server)."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

import pytest
from huey.storage import RedisStorage

from medianest.extensions import db
from medianest.models import ErrorLog, MediaRequest, YoutubeDownload
from medianest.services import requests as request_service
from medianest.services import youtube as youtube_service
from medianest.worker import huey
from tests.conftest import HX, TEST_DATABASE_URL
from tests.factories import make_user
from tests.requests_support import ALICE_PLEX_ID, connect_overseerr
from tests.support import RedisServer, TcpProxy
from tests.test_youtube_service import IDS, YT_CONFIG


@pytest.fixture
def own_redis():
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def real_queue(own_redis):
    """Huey on the test's own Redis instead of immediate mode, so enqueueing really talks to Redis."""
    immediate, storage = huey._immediate, huey.storage
    huey._immediate = False
    huey.storage = RedisStorage(huey.name, url=own_redis.url)
    yield huey
    huey.storage, huey._immediate = storage, immediate


def test_redis_down_saves_requests_and_downloads_and_the_sweepers_queue_them_once(
        app, make_app, auth, admin, own_redis, real_queue, fake_overseerr, fake_youtube, caplog):
    on_own_redis = make_app(REDIS_URL=own_redis.url, RATELIMIT_STORAGE_URI=own_redis.url, RATELIMIT_ENABLED=True,
                            **YT_CONFIG, MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors)
    connect_overseerr(on_own_redis, fake_overseerr)
    fake_overseerr.add_user(2, ALICE_PLEX_ID, "alice@plex.example", "alice")
    alice = make_user(app, email="alice@example.com", name="Alice", plex_id=str(ALICE_PLEX_ID))
    client = auth.login_as(alice, on_own_redis.test_client())
    url = fake_youtube.add_playlist("PLdown", "Down Playlist", [(IDS[0], "One")])
    assert client.get("/media/movie/603").status_code == 200

    own_redis.stop()
    with caplog.at_level(logging.WARNING):
        asked = client.post("/requests/", data={"media_type": "movie", "tmdb_id": "603"}, headers=HX)
        queued = client.post("/youtube/", data={"url": url, "quality": "best", "container": "mp4"}, headers=HX)
        page = client.get("/requests/")
        dashboard = client.get("/")
    assert asked.status_code == 200 and b"error" not in asked.data.lower()
    assert queued.status_code == 200 and b"Queued" in queued.data
    assert page.status_code == 200 and f"request-{request_row_id(on_own_redis)}".encode() in page.data
    assert dashboard.status_code == 200
    assert any("not queued" in r.getMessage() for r in caplog.records)
    with on_own_redis.app_context():
        [request_row] = db.session.scalars(db.select(MediaRequest)).all()
        [download] = db.session.scalars(db.select(YoutubeDownload)).all()
        assert request_row.forward_state == "queued" and download.status == "queued"
        assert db.session.scalar(db.select(db.func.count()).select_from(ErrorLog)) == 0

    own_redis.start()
    with on_own_redis.app_context():
        assert real_queue.pending_count() == 0  # nothing reached the queue while Redis was down
        request_service.forward_pending()  # the sweeper forwards the waiting request itself
        request_service.forward_pending()
        assert db.session.get(MediaRequest, request_row.id).forward_state == "sent"
        assert len(fake_overseerr.requests_made) == 1
        youtube_service.reap(queued_grace=0)
        youtube_service.reap(queued_grace=0)
        assert real_queue.pending_count() == 1  # queued exactly once
        assert db.session.get(YoutubeDownload, download.id).task_id == real_queue.pending()[0].id


def request_row_id(app):
    with app.app_context():
        return db.session.scalars(db.select(MediaRequest.id)).one()


@pytest.fixture
def pg_proxy():
    if not TEST_DATABASE_URL:
        pytest.skip("a PostgreSQL fault needs the PostgreSQL stack")
    parts = urlsplit(TEST_DATABASE_URL)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    yield proxy, urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    proxy.cut()


def test_postgresql_down_answers_503_and_a_fast_restart_loses_no_request(app, make_app, auth, admin, pg_proxy,
                                                                         caplog):
    from medianest.config import database_url

    proxy, url = pg_proxy
    behind = make_app(SQLALCHEMY_DATABASE_URI=database_url(url, None), SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 2})
    client = auth.login_as(admin, behind.test_client())
    assert client.get("/notifications/").status_code == 200

    proxy.cut()
    with caplog.at_level(logging.WARNING):
        pages = [client.get("/notifications/") for _ in range(5)]
        poll = client.get("/notifications/?show=all", headers=HX)
        api = client.get("/notifications/", headers={"Accept": "application/json"})
    for page in pages:
        assert page.status_code == 503 and page.headers["Retry-After"]
        assert b"The database is not answering; try again in a minute." in page.data
    assert poll.status_code == 503 and poll.json["error"] == "database_unavailable"
    assert poll.headers["HX-Reswap"] == "none"
    assert api.status_code == 503 and api.json["message"].startswith("The database is not answering")
    warnings = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(warnings) == 1  # one line per outage, not one per request

    proxy.restore()
    assert client.get("/notifications/").status_code == 200
    proxy.cut()     # a fast restart: every pooled connection dies ...
    proxy.restore()  # ... and the server is back at once
    with caplog.at_level(logging.INFO, logger="medianest.resilience"):
        in_flight = [client.get("/notifications/").status_code for _ in range(3)]
    assert in_flight == [200, 200, 200]
    assert any("runs again on a fresh one" in r.getMessage() for r in caplog.records)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ErrorLog)) == 0
