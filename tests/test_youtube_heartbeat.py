"""A dead worker is noticed fast (issue 9, item 6): the row says so, the reaper runs often enough to queue
it again within a minute, and the next attempt continues the partial file.

The killed-worker test with a real `huey_consumer` is in test_youtube_worker.py (it needs Redis)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from medianest import tasks
from medianest.extensions import db
from medianest.models.youtube import YoutubeDownload
from medianest.services import youtube as service
from medianest.timeutil import utcnow
from medianest.worker import huey
from tests.conftest import HX, TEST_REDIS_URL
from tests.factories import make_user
from tests.support import wait_for
from tests.test_youtube_service import YT_CONFIG, leftovers, progress_now, root_of, row_of, submit, temp_of

RESTARTING = b"Restarting: the worker stopped"


@pytest.fixture
def app(make_app, fake_youtube):
    return make_app(**YT_CONFIG, MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors)


def _running_row(app, user, beat_age: timedelta, progress=None):
    with app.app_context():
        row = YoutubeDownload(user_id=user.id, playlist_url="https://www.youtube.com/watch?v=AAAAAAAAA01",
                              status="downloading", attempts=1, started_at=utcnow() - timedelta(minutes=2),
                              updated_at=utcnow() - beat_age, progress=progress)
        db.session.add(row)
        db.session.commit()
        return row.id


def test_a_download_whose_worker_stopped_says_so_instead_of_a_frozen_bar(app, auth, user):
    client = auth.login_as(user)
    bar = {"percent": 41.0, "index": 1, "count": 1, "title": "Clip", "downloaded": 1000, "total": 2000,
           "speed": 100.0, "eta": 10}
    alive = _running_row(app, user, timedelta(seconds=0), progress=bar)
    dead = _running_row(app, user, timedelta(seconds=30), progress=bar)
    fresh = client.get(f"/youtube/{alive}/status", headers=HX)
    assert b"Downloading" in fresh.data and RESTARTING not in fresh.data
    stopped = client.get(f"/youtube/{dead}/status", headers=HX)
    assert RESTARTING in stopped.data and b"41%" not in stopped.data
    assert b"hx-trigger" in stopped.data  # still polled: it moves on once the reaper queues it again
    listing = client.get("/youtube/")
    assert listing.data.count(RESTARTING) == 1


def test_the_reaper_queues_a_dead_workers_download_again_within_a_minute(make_app, auth, fake_youtube):
    # Default timings (no STALE_AFTER / HEARTBEAT overrides): what production does.
    app = make_app(MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors, MEDIANEST_YOUTUBE_RETRY_DELAY=0)
    user = make_user(app)
    url = fake_youtube.add_video("AAAAAAAAA02", "Orphan")
    with app.app_context():
        row = YoutubeDownload(user_id=user.id, playlist_url=url, status="downloading", attempts=1,
                              updated_at=utcnow() - timedelta(seconds=service.STALE_AFTER + 1))
        recent = YoutubeDownload(user_id=user.id, playlist_url=url, status="downloading", attempts=1,
                                 updated_at=utcnow() - timedelta(seconds=20))  # two missed beats: not yet
        db.session.add_all([row, recent])
        db.session.commit()
        did, alive = row.id, recent.id
        huey.storage.flush_schedule()
        counts = tasks.youtube_reaper.call_local()  # the periodic task's own run
        runs = sorted((t.eta - huey._get_timestamp()).total_seconds() for t in huey.scheduled()
                      if t.name.endswith("youtube_reap"))
        huey.storage.flush_schedule()
    assert counts["requeued"] == 1
    assert row_of(app, did).status == "completed" and row_of(app, did).attempts == 2  # requeued, then run
    assert row_of(app, alive).status == "downloading"
    # It runs again every REAP_EVERY seconds: a dead worker is found within STALE_AFTER + REAP_EVERY <= 60 s.
    assert len(runs) == 3 and runs[0] <= service.REAP_EVERY and runs[-1] <= 60
    assert service.STALE_AFTER + service.REAP_EVERY <= 60


def test_a_retry_continues_the_partial_file(make_app, fake_media, fake_youtube):
    app = make_app(**{**YT_CONFIG, "MEDIANEST_YOUTUBE_RETRY_DELAY": 1},
                   MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors, MEDIANEST_YOUTUBE_THREADED_JOBS=True)
    user = make_user(app)
    fake_media.slow_size, fake_media.slow_rate = 1_200_000, 300_000
    url = fake_youtube.add_video("AAAAAAAAA03", "Cut off", slow=True)
    did = submit(app, user, url)
    wait_for(lambda: (progress_now(app, did) or {}).get("downloaded", 0) > 200_000, timeout=20)
    fake_media.go_down()  # the connection ends half-way: a transient error, retried in a second
    wait_for(lambda: row_of(app, did).status == "queued", timeout=20)
    kept = leftovers(root_of(app))
    assert kept and all(p.is_relative_to(temp_of(app, did)) for p in kept)  # the .part is kept for the retry
    fake_media.come_back()
    wait_for(lambda: row_of(app, did).status in ("completed", "failed"), timeout=30)
    row = row_of(app, did)
    assert (row.status, row.attempts) == ("completed", 2), row.error
    fetches = fake_media.seen("/slow/")
    resumed = fetches[-1].headers.get("Range", "")
    assert resumed.startswith("bytes=") and int(resumed[6:].split("-")[0]) > 200_000  # continued, not restarted
    assert leftovers(root_of(app)) == [] and not temp_of(app, did).exists()


@pytest.mark.skipif(not TEST_REDIS_URL, reason="conditional polls (ETags from data versions) need Redis")
def test_a_conditional_status_poll_turns_to_restarting_when_the_heartbeat_stops(app, auth, user):
    client = auth.login_as(user)
    did = _running_row(app, user, timedelta(seconds=0))
    first = client.get(f"/youtube/{did}/status", headers=HX)
    assert b"Downloading" in first.data and first.headers.get("ETag")
    with app.app_context():  # the heartbeat stops: nothing is written any more (the beat itself goes around the ORM)
        with db.engine.begin() as conn:
            conn.execute(sa.update(YoutubeDownload.__table__).where(YoutubeDownload.__table__.c.id == did)
                         .values(updated_at=utcnow() - timedelta(seconds=30)))
    revalidate = {**HX, "If-None-Match": first.headers["ETag"]}
    assert client.get(f"/youtube/{did}/status", headers=revalidate).status_code == 304  # nothing changed yet
    with app.app_context():
        service.reap()  # the next reaper run, before the row is stale enough to queue again
    again = client.get(f"/youtube/{did}/status", headers=revalidate)
    assert again.status_code == 200 and RESTARTING in again.data and row_of(app, did).status == "downloading"
