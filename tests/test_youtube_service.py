"""The YouTube download service: real yt-dlp against media served from 127.0.0.1, through the job.

Journeys: submit -> progress at several values -> completed with files in the user's folder and the
archive updated -> resubmit skips; cancel; a broken entry; hostile titles; quota; refused links;
retries; the reaper; partial-file cleanup. Huey runs in immediate mode; where a test watches a job
move, the job runs in a thread (MEDIANEST_YOUTUBE_THREADED_JOBS) and the test polls the row.
"""
from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from medianest import cache
from medianest.config import ConfigError, ProductionConfig
from medianest.extensions import db
from medianest.models import Notification
from medianest.models.youtube import YoutubeDownload
from medianest.services import ServiceError, maintenance, service_config
from medianest.services import youtube as service
from medianest.timeutil import utcnow
from medianest.worker import huey
from tests.factories import make_user
from tests.support import wait_for

# Settings that keep tests quick: short socket timeout, no yt-dlp-internal retries, no backoff wait,
# frequent progress writes (so a test sees several values), a quick heartbeat.
YT_CONFIG = {
    "MEDIANEST_YTDLP_SOCKET_TIMEOUT": 5,
    "MEDIANEST_YTDLP_RETRIES": 0,
    "MEDIANEST_YOUTUBE_RETRY_DELAY": 0,
    "MEDIANEST_YOUTUBE_PROGRESS_INTERVAL": 0.05,
    "MEDIANEST_YOUTUBE_HEARTBEAT": 0.2,
    "MEDIANEST_YOUTUBE_PREVIEW_TIMEOUT": 10,
    "MEDIANEST_PLEX_SCAN_TIMEOUT": 2,
    "MEDIANEST_PLEX_SCAN_POLL": 0.05,
}

IDS = [f"AAAAAAAAA{n:02d}" for n in range(1, 100)]


@pytest.fixture
def app(make_app, fake_youtube):
    return make_app(**YT_CONFIG, MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors)


@pytest.fixture
def threaded_app(make_app, fake_youtube):
    return make_app(**YT_CONFIG, MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors,
                    MEDIANEST_YOUTUBE_THREADED_JOBS=True)


# -- helpers (also used by the other YouTube test modules) ------------------------------------------


def leftovers(root: Path) -> list[Path]:
    """Partial files anywhere under the download root."""
    return [p for p in Path(root).rglob("*") if p.name.endswith((".part", ".ytdl")) or ".part-Frag" in p.name]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def configure_youtube(app, **settings):
    with app.app_context():
        service_config.save("youtube", settings=settings)


def row_of(app, download_id) -> YoutubeDownload:
    with app.app_context():
        row = db.session.get(YoutubeDownload, download_id)
        db.session.expunge(row)
        return row


def submit(app, user, url, **options):
    with app.app_context():
        row = service.submit(user.id, url, **options)
        return row.id


def root_of(app) -> Path:
    return Path(app.config["MEDIANEST_DOWNLOAD_DIR"]).resolve()


def temp_of(app, download_id) -> Path:
    return root_of(app) / ".tmp" / str(download_id)


def progress_now(app, download_id):
    with app.app_context():
        return service.progress_of(db.session.get(YoutubeDownload, download_id))


# -- the main journey ------------------------------------------------------------------------------
def test_playlist_journey_progress_files_archive_and_resubmit(threaded_app, fake_media, fake_youtube):
    app = threaded_app
    user = make_user(app)
    fake_media.slow_size, fake_media.slow_rate = 400_000, 1_000_000
    videos = [(IDS[0], "First"), (IDS[1], "Second"), (IDS[2], "Third")]
    url = fake_youtube.add_playlist("PLjourney", "My Playlist", videos, slow=[v for v, _ in videos])

    did = submit(app, user, url)
    seen = set()

    def finished():
        progress = progress_now(app, did)
        if progress:
            seen.add(progress["percent"])
        return row_of(app, did).status in ("completed", "failed")

    wait_for(finished, timeout=30, interval=0.02)
    row = row_of(app, did)
    assert row.status == "completed", row.error
    assert len(seen) >= 3 and min(seen) < 50 < max(seen), seen  # the bar moved through several values

    folder = root_of(app) / str(user.id) / "My Playlist [PLjourney]"
    assert row.folder == f"{user.id}/My Playlist [PLjourney]"
    assert sorted(p.name for p in folder.iterdir()) == [
        f"First [{IDS[0]}].mp4", f"Second [{IDS[1]}].mp4", f"Third [{IDS[2]}].mp4"]
    assert sorted(row.file_paths) == sorted(str(p) for p in folder.iterdir())
    assert row.bytes_total == sum(p.stat().st_size for p in folder.iterdir())
    assert [e["state"] for e in row.entries] == ["done", "done", "done"]
    assert row.playlist_title == "My Playlist" and row.is_playlist and row.attempts == 1
    assert leftovers(root_of(app)) == [] and not temp_of(app, did).exists()
    with app.app_context():
        assert service.archive_ids(user.id) == {IDS[0], IDS[1], IDS[2]}
    with app.app_context():  # the owner is told right after the row is final
        mine = db.select(Notification).where(Notification.user_id == user.id)
        note = wait_for(lambda: db.session.scalars(mine).first())
        assert note.type == "success" and "3 downloaded" in note.message and note.meta["download_id"] == str(did)

    # Resubmitting the playlist with one new video downloads only the new one.
    requests_before = len(fake_media.seen("/slow/"))
    fake_youtube.add_playlist("PLjourney", "My Playlist", videos + [(IDS[3], "Fourth")])
    again = submit(app, user, url)
    wait_for(lambda: row_of(app, again).status in ("completed", "failed"), timeout=30)
    second = row_of(app, again)
    assert second.status == "completed"
    assert [e["state"] for e in second.entries] == ["skipped", "skipped", "skipped", "done"]
    assert [Path(p).name for p in second.file_paths] == [f"Fourth [{IDS[3]}].mp4"]
    assert len(fake_media.seen("/slow/")) == requests_before  # the three old videos were not fetched again
    assert len(list(folder.iterdir())) == 4


def test_cancel_mid_download_stops_quickly_and_leaves_no_partial_files(threaded_app, fake_media, fake_youtube):
    app = threaded_app
    user = make_user(app)
    fake_media.slow_size, fake_media.slow_rate = 4_000_000, 200_000  # 20 s if nobody stops it
    url = fake_youtube.add_video(IDS[0], "Long one", slow=True)
    did = submit(app, user, url)
    wait_for(lambda: (progress_now(app, did) or {}).get("downloaded", 0) > 0, timeout=10)
    assert leftovers(root_of(app))  # a .part file exists while it runs

    with app.app_context():
        assert service.cancel(did, user_id=user.id).cancel_requested
    asked = time.monotonic()
    wait_for(lambda: row_of(app, did).status == "cancelled", timeout=5)
    assert time.monotonic() - asked < 3
    row = row_of(app, did)
    assert row.error is None and row.file_paths == [] and not row.cancel_requested
    assert leftovers(root_of(app)) == [] and not temp_of(app, did).exists()
    assert files_under(root_of(app) / str(user.id)) == []


def test_cancelling_a_queued_download_needs_no_worker(app, fake_youtube):
    user = make_user(app)
    with app.app_context():
        row = YoutubeDownload(user_id=user.id, playlist_url=fake_youtube.add_video(IDS[0], "x"), status="queued")
        db.session.add(row)
        db.session.commit()
        assert service.cancel(row.id, user_id=user.id).status == "cancelled"
        with pytest.raises(ServiceError, match="already finished"):
            service.cancel(row.id, user_id=user.id)
        assert service.run_download(row.id) == "cancelled"  # a stale job for it does nothing


def test_playlist_with_a_broken_entry_completes_and_reports_it(app, fake_youtube):
    user = make_user(app)
    videos = [(IDS[0], "Fine"), (IDS[1], "Gone"), (IDS[2], "Also fine")]
    url = fake_youtube.add_playlist("PLbroken", "Half broken", videos, broken=[IDS[1]])
    did = submit(app, user, url)
    row = row_of(app, did)
    assert row.status == "completed"
    assert [(e["id"], e["state"]) for e in row.entries] == [(IDS[0], "done"), (IDS[1], "failed"), (IDS[2], "done")]
    assert "404" in row.entries[1]["reason"]
    assert len(row.file_paths) == 2 and row.error is None
    with app.app_context():
        note = db.session.scalars(db.select(Notification).where(Notification.user_id == user.id)).one()
        assert note.type == "warning" and "1 failed" in note.message


def test_every_entry_failing_fails_the_download_with_the_reason(app, fake_youtube):
    user = make_user(app)
    url = fake_youtube.add_playlist("PLdead", "Dead", [(IDS[0], "a"), (IDS[1], "b")], broken=[IDS[0], IDS[1]])
    row = row_of(app, submit(app, user, url))
    assert row.status == "failed" and "None of the 2 videos" in row.error and row.attempts == 1


# -- one listing per job ---------------------------------------------------------------------------
def test_a_previewed_download_is_not_listed_again(app, fake_media):
    user = make_user(app)
    urls = fake_media.add_playlist("listed", "Listed once", [("v1", "One"), ("v2", "Two"), ("v3", "Three")],
                                   broken=["v2"])
    with app.app_context():
        assert service.preview(user.id, urls.html).listed == 3
    did = submit(app, user, urls.html)
    row = row_of(app, did)
    assert row.status == "completed", row.error
    assert len(fake_media.seen("/playlist/")) == 1  # the job started from the preview's listing
    assert [(e["id"], e["state"]) for e in row.entries] == [
        ("listed-1", "done"), ("listed-2", "failed"), ("listed-3", "done")]
    assert len(row.file_paths) == 2
    with app.app_context():
        assert cache.get(service._listing_key(did)) is None  # dropped when the job ended


def test_a_download_without_a_preview_is_listed_once(app, fake_media):
    user = make_user(app)
    urls = fake_media.add_playlist("unlisted", "Not previewed", [("v1", "One"), ("v2", "Two")])
    row = row_of(app, submit(app, user, urls.html))
    assert row.status == "completed" and [e["state"] for e in row.entries] == ["done", "done"]
    assert row.playlist_title == "Not previewed" and len(row.file_paths) == 2
    assert len(fake_media.seen("/playlist/")) == 1


@pytest.mark.parametrize("title", ["..", "../../escape", "a/b\\c:d", "NUL\x00byte", "emoji 🎬🍿 ok", "x" * 600,
                                   "-rf --exec"])
def test_hostile_titles_stay_inside_the_user_folder(app, fake_youtube, title):
    user = make_user(app)
    fake_youtube.add_video(IDS[0], title)
    url = fake_youtube.add_playlist(f"PL{uuid.uuid4().hex[:8]}", title, [(IDS[0], title)])
    row = row_of(app, submit(app, user, url))
    assert row.status == "completed", row.error
    home = (root_of(app) / str(user.id)).resolve()
    everything = files_under(root_of(app))
    assert everything and all(p.resolve().is_relative_to(home) for p in everything)
    [file] = everything
    assert file.parent.parent == home  # <user>/<playlist folder>/<file>: exactly one folder level
    for name in (file.name, file.parent.name):
        assert name not in (".", "..") and not name.startswith((".", "-")) and "\x00" not in name
        assert "/" not in name and len(name.encode()) < 255
    assert "\x00" not in (row.playlist_title or "") and len(row.playlist_title) <= 500


def test_playlists_longer_than_the_cap_are_cut_and_say_so(app, fake_youtube):
    user = make_user(app)
    configure_youtube(app, max_playlist_entries=2)
    url = fake_youtube.add_playlist("PLlong", "Long", [(IDS[n], f"v{n}") for n in range(5)])
    with app.app_context():
        found = service.preview(user.id, url)
    assert found.truncated and found.count == 5 and found.listed == 2 and found.cap == 2
    row = row_of(app, submit(app, user, url))
    assert row.status == "completed" and row.truncated and row.entry_count == 2 and len(row.file_paths) == 2


def test_preview_of_thousands_of_entries_is_capped(app, fake_youtube):
    user = make_user(app)
    url = fake_youtube.add_playlist("PLhuge", "Huge", [(f"B{n:010d}", f"Video {n}") for n in range(3000)])
    with app.app_context():
        found = service.preview(user.id, url)
    assert found.is_playlist and found.count == 3000 and found.listed == 200 and found.truncated


# -- limits ---------------------------------------------------------------------------------------
def test_quota_full_is_refused_before_anything_is_queued(app, fake_youtube):
    user = make_user(app)
    configure_youtube(app, quota_gb=0.001)  # 1 MB
    with app.app_context():
        db.session.add(YoutubeDownload(user_id=user.id, playlist_url="https://www.youtube.com/watch?v=old",
                                       status="completed", bytes_total=2_000_000))
        db.session.commit()
        with pytest.raises(ServiceError, match="download space is full: 2.0 MB of 1.0 MB used"):
            service.submit(user.id, fake_youtube.add_video(IDS[0], "x"))
        assert db.session.scalar(db.select(db.func.count()).select_from(YoutubeDownload)) == 1


def test_a_file_larger_than_the_space_left_is_refused_with_a_clear_reason(app, fake_media, fake_youtube):
    user = make_user(app)
    configure_youtube(app, quota_gb=0.0005)  # 500 kB
    fake_media.slow_size, fake_media.slow_rate = 2_000_000, 4_000_000
    row = row_of(app, submit(app, user, fake_youtube.add_video(IDS[0], "Big", slow=True)))
    assert row.status == "failed" and "size limit" in row.error and row.attempts == 1
    assert leftovers(root_of(app)) == [] and files_under(root_of(app) / str(user.id)) == []


def test_space_running_out_during_a_playlist_stops_it_and_keeps_what_finished(app, media_clips, fake_youtube):
    user = make_user(app)
    size = media_clips[0].stat().st_size
    configure_youtube(app, quota_gb=(size * 1.5) / 1e9)  # room for one clip and a half
    url = fake_youtube.add_playlist("PLquota", "Quota", [(IDS[n], f"v{n}") for n in range(4)])
    row = row_of(app, submit(app, user, url))
    assert row.status == "failed" and "download space is full" in row.error
    states = [e["state"] for e in row.entries]
    assert states[0] == "done" and states[-1] != "done"
    assert leftovers(root_of(app)) == []
    assert {Path(p).name for p in row.file_paths} == {p.name for p in files_under(root_of(app) / str(user.id))}


def test_hourly_limit_counts_submissions(app, fake_youtube):
    user = make_user(app)
    configure_youtube(app, per_hour=2)
    with app.app_context():
        for n in range(2):
            service.submit(user.id, fake_youtube.add_video(IDS[n], f"v{n}"))
        with pytest.raises(ServiceError, match="2 downloads per hour") as err:
            service.submit(user.id, fake_youtube.add_video(IDS[2], "v2"))
        assert err.value.status == 429
        limits = service.limits_for(user.id)
        assert (limits.submitted_last_hour, limits.per_hour, limits.submissions_left) == (2, 2, 0)


def test_the_same_link_cannot_be_queued_twice_at_once(app, fake_youtube):
    user = make_user(app)
    url = fake_youtube.add_video(IDS[0], "x")
    with app.app_context():
        db.session.add(YoutubeDownload(user_id=user.id, playlist_url=url, status="downloading"))
        db.session.commit()
        with pytest.raises(ServiceError, match="already in your queue"):
            service.submit(user.id, url)


def test_a_user_at_the_concurrency_limit_waits(app, fake_youtube):
    user = make_user(app)
    configure_youtube(app, max_concurrent=1)
    with app.app_context():
        db.session.add(YoutubeDownload(user_id=user.id, playlist_url="https://www.youtube.com/watch?v=running",
                                       status="downloading"))
        db.session.commit()
        row = service.submit(user.id, fake_youtube.add_video(IDS[0], "waits"))
        assert row.status == "queued" and row.attempts == 0
        assert row.task_id in {t.id for t in huey.scheduled()}  # deferred, to be tried again shortly
        other = make_user(app)
        assert service.submit(other.id, fake_youtube.add_video(IDS[1], "other user")).status == "completed"


@pytest.mark.parametrize("url, message", [
    ("file:///etc/passwd", "Only http:// and https://"),
    ("javascript:alert(1)", "Only http:// and https://"),
    ("http://169.254.169.254/latest/meta-data/", "private, local or reserved"),
    ("http://10.0.0.7/video.mp4", "private, local or reserved"),
    ("http://[::ffff:192.168.1.1]/x", "private, local or reserved"),
    ("https://vimeo.com/12345", "Links to vimeo.com are not accepted"),
    ("http://127.0.0.1:8080/v.mp4", "loopback"),
    ("https://www.youtube.com/watch?v=`reboot`", "not allowed in a URL"),
    ("https://www.youtube.com/watch?v=a|b", "not allowed in a URL"),
    ("https://www.youtube.com/watch?v=x; rm -rf /", "spaces or control characters"),
    ("--exec 'rm -rf /'", "not a link"),
    ("-o/etc/cron.d/x", "not a link"),
    ("https://www.youtube.com/watch?v=" + "a" * 3000, "too long"),
    ("https://www.youtube.com/watch?v=" + "a" * 10_000, "too long (more than 10,000"),
    ("https://user:pw@www.youtube.com/watch?v=x", "user name or password"),
    ("https://www.youtube.com:8443/watch?v=x", "other ports"),
    ("", "Enter a link"),
])
def test_links_that_are_not_allowed_are_refused_before_anything_is_queued(make_app, url, message):
    app = make_app(**YT_CONFIG, MEDIANEST_YTDLP_ALLOW_ANY_HOST=False)
    user = make_user(app)
    with app.app_context():
        with pytest.raises(ServiceError, match=re.escape(message)) as err:
            service.submit(user.id, url)
        assert err.value.field == "url"
        with pytest.raises(ServiceError, match=re.escape(message)):
            service.preview(user.id, url)
        assert db.session.scalar(db.select(db.func.count()).select_from(YoutubeDownload)) == 0


def test_options_are_checked(app):
    with app.app_context():
        assert service.check_options("audio", "mp4") == ("audio", "m4a")
        assert service.check_options("720p", "mkv") == ("720p", "mkv")
        with pytest.raises(ServiceError, match="For audio only"):
            service.check_options("audio", "webm")
        with pytest.raises(ServiceError, match="For video"):
            service.check_options("best", "mp3")
        with pytest.raises(ServiceError, match="Choose best"):
            service.check_options("4k", "mp4")


def test_production_refuses_the_test_only_host_switch(monkeypatch, tmp_path):
    for name, value in {"SECRET_KEY": "x" * 32, "DATABASE_URL": "postgresql://u@db:5432/m",
                        "REDIS_URL": "redis://r:6379/0",
                        "MEDIANEST_ENCRYPTION_KEY": "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=",
                        "MEDIANEST_INSTANCE_DIR": str(tmp_path), "MEDIANEST_YTDLP_ALLOW_ANY_HOST": "1"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="MEDIANEST_YTDLP_ALLOW_ANY_HOST is for tests only"):
        ProductionConfig()
    monkeypatch.delenv("MEDIANEST_YTDLP_ALLOW_ANY_HOST")
    assert ProductionConfig().MEDIANEST_YTDLP_ALLOW_ANY_HOST is False


# -- errors and retries -------------------------------------------------------------------------------
def test_transient_errors_are_retried_three_times_then_fail(app, fake_media, fake_youtube):
    user = make_user(app)
    url = fake_youtube.add_video(IDS[0], "Flaky")
    fake_media.fail(503)
    row = row_of(app, submit(app, user, url))
    assert row.status == "failed" and row.attempts == 3
    assert "503" in row.error and "gave up after 3 attempts" in row.error
    assert leftovers(root_of(app)) == []


def test_retry_delays_grow_exponentially(make_app, fake_media, fake_youtube):
    app = make_app(**{**YT_CONFIG, "MEDIANEST_YOUTUBE_RETRY_DELAY": 30},
                   MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors)
    user = make_user(app)
    url = fake_youtube.add_video(IDS[0], "Flaky")
    fake_media.fail(503)
    etas = []
    with app.app_context():
        did = service.submit(user.id, url).id
        for attempt in (1, 2):
            row = db.session.get(YoutubeDownload, did, populate_existing=True)
            assert row.status == "queued" and row.attempts == attempt
            assert f"Attempt {attempt} of 3 failed" in row.error
            task = next(t for t in huey.scheduled() if t.id == row.task_id)
            etas.append((task.eta - huey._get_timestamp()).total_seconds())
            service.run_download(did)  # the scheduled retry, run now
        row = db.session.get(YoutubeDownload, did, populate_existing=True)
        assert row.status == "failed" and row.attempts == 3
    assert 25 < etas[0] <= 30 and 55 < etas[1] <= 60


def test_permanent_errors_fail_at_once_with_a_readable_reason(app, fake_youtube):
    user = make_user(app)
    fake_youtube.add_video(IDS[0], "Secret", private=True)
    row = row_of(app, submit(app, user, f"https://www.youtube.com/watch?v={IDS[0]}"))
    assert row.status == "failed" and row.attempts == 1
    assert row.error.startswith("Private video")
    with app.app_context():
        note = db.session.scalars(db.select(Notification).where(Notification.user_id == user.id)).one()
        assert note.type == "error" and "Private video" in note.message


def test_a_failed_download_can_be_retried_by_its_owner(app, fake_youtube):
    user = make_user(app)
    url = fake_youtube.add_playlist("PLretry", "Retry me", [(IDS[0], "ok"), (IDS[1], "later")], broken=[IDS[0], IDS[1]])
    did = submit(app, user, url)
    assert row_of(app, did).status == "failed"
    fake_youtube.add_video(IDS[0], "ok")
    fake_youtube.add_video(IDS[1], "later")
    with app.app_context():
        with pytest.raises(ServiceError) as err:
            service.retry(did, user_id=make_user(app).id)
        assert err.value.status == 404
        row = service.retry(did, user_id=user.id)
        assert row.status == "completed" and row.attempts == 1 and len(row.file_paths) == 2
        with pytest.raises(ServiceError, match="Only failed or cancelled"):
            service.retry(did, user_id=user.id)


def test_an_unwritable_user_folder_fails_cleanly(app, fake_youtube):
    user = make_user(app)
    root_of(app).mkdir(parents=True, exist_ok=True)
    (root_of(app) / str(user.id)).write_text("not a folder")  # e.g. a broken mount
    row = row_of(app, submit(app, user, fake_youtube.add_video(IDS[0], "x")))
    assert row.status == "failed" and "could not be written" in row.error
    assert leftovers(root_of(app)) == [] and not temp_of(app, row.id).exists()


def test_the_job_is_safe_to_run_twice(app, fake_youtube):
    user = make_user(app)
    did = submit(app, user, fake_youtube.add_video(IDS[0], "once"))
    with app.app_context():
        assert service.run_download(did) == "completed"
        assert service.run_download(uuid.uuid4()) == "missing"
        assert service.run_download("not-an-id") == "missing"
    assert row_of(app, did).attempts == 1


# -- reaper and cleanup -----------------------------------------------------------------------------
def _stale_row(app, user, url, **values) -> uuid.UUID:
    with app.app_context():
        row = YoutubeDownload(user_id=user.id, playlist_url=url, status="downloading", attempts=1,
                              updated_at=utcnow() - timedelta(minutes=10), **values)
        db.session.add(row)
        db.session.commit()
        scratch = service.temp_dir(row.id)
        scratch.mkdir(parents=True)
        (scratch / "x.mp4.part").write_bytes(b"\0" * 100)
        return row.id


def test_reaper_requeues_a_download_whose_worker_died(app, fake_youtube):
    user = make_user(app)
    did = _stale_row(app, user, fake_youtube.add_video(IDS[0], "orphan"))
    fresh = _stale_row(app, user, fake_youtube.add_video(IDS[1], "alive"))
    with app.app_context():
        db.session.execute(db.update(YoutubeDownload).where(YoutubeDownload.id == fresh).values(updated_at=utcnow()))
        db.session.commit()
        counts = service.reap(stale_after=60)
    assert counts["requeued"] == 1
    row = row_of(app, did)
    assert row.status == "completed" and row.attempts == 2  # queued again, then run (immediate mode)
    assert row_of(app, fresh).status == "downloading"  # its heartbeat is recent: left alone
    assert not temp_of(app, did).exists() and temp_of(app, fresh).exists()


def test_reaper_fails_a_download_out_of_attempts_and_honours_a_cancel(app, fake_youtube):
    user = make_user(app)
    spent = _stale_row(app, user, fake_youtube.add_video(IDS[0], "a"))
    cancelled = _stale_row(app, user, fake_youtube.add_video(IDS[1], "b"), cancel_requested=True)
    with app.app_context():
        db.session.execute(db.update(YoutubeDownload).where(YoutubeDownload.id == spent).values(attempts=3))
        db.session.commit()
        counts = service.reap(stale_after=60)
    assert (counts["failed"], counts["cancelled"]) == (1, 1)
    assert row_of(app, spent).status == "failed" and "worker stopped" in row_of(app, spent).error
    assert row_of(app, cancelled).status == "cancelled"
    assert leftovers(root_of(app)) == []


def test_reaper_enqueues_queued_downloads_that_have_no_job(app, fake_youtube):
    user = make_user(app)
    with app.app_context():
        lost = YoutubeDownload(user_id=user.id, playlist_url=fake_youtube.add_video(IDS[0], "lost"), status="queued",
                               task_id="vanished-with-redis", updated_at=utcnow() - timedelta(minutes=10))
        waiting = YoutubeDownload(user_id=user.id, playlist_url=fake_youtube.add_video(IDS[1], "new"), status="queued",
                                  task_id="just-queued", updated_at=utcnow())
        db.session.add_all([lost, waiting])
        db.session.commit()
        counts = service.reap(stale_after=60)
        assert counts["enqueued"] == 1
        assert db.session.get(YoutubeDownload, lost.id).status == "completed"
        assert db.session.get(YoutubeDownload, waiting.id).status == "queued"


def test_cleanup_removes_partial_files_of_downloads_that_are_not_running(app):
    user = make_user(app)
    with app.app_context():
        failed = YoutubeDownload(user_id=user.id, playlist_url="https://www.youtube.com/watch?v=a", status="failed")
        running = YoutubeDownload(user_id=user.id, playlist_url="https://www.youtube.com/watch?v=b",
                                  status="downloading")
        db.session.add_all([failed, running])
        db.session.commit()
        for row in (failed, running):
            service.temp_dir(row.id).mkdir(parents=True)
            (service.temp_dir(row.id) / "v.mp4.part").write_bytes(b"\0")
        stray = service.temp_dir("not-a-download")
        stray.mkdir()
        counts = maintenance.cleanup()
        assert counts["download_partials"] == 2
        assert not service.temp_dir(failed.id).exists() and not stray.exists()
        assert (service.temp_dir(running.id) / "v.mp4.part").exists()


# -- delete ---------------------------------------------------------------------------------------------
def test_delete_removes_the_files_and_the_empty_folder(app, fake_youtube):
    user = make_user(app)
    other = make_user(app)
    url = fake_youtube.add_playlist("PLdel", "Delete me", [(IDS[0], "a"), (IDS[1], "b")])
    did = submit(app, user, url)
    folder = root_of(app) / str(user.id) / "Delete me [PLdel]"
    assert len(list(folder.iterdir())) == 2
    with app.app_context():
        with pytest.raises(ServiceError) as err:
            service.delete(did, user_id=other.id)
        assert err.value.status == 404 and folder.exists()
        service.delete(did, user_id=user.id)
        assert db.session.get(YoutubeDownload, did) is None
        assert service.archive_ids(user.id) == set()  # deleted videos can be downloaded again
    assert not folder.exists() and (root_of(app) / str(user.id)).exists()


def test_delete_refuses_an_active_download_and_never_touches_outside_files(app, tmp_path):
    user = make_user(app)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    with app.app_context():
        active = YoutubeDownload(user_id=user.id, playlist_url="https://www.youtube.com/watch?v=a", status="queued")
        forged = YoutubeDownload(user_id=user.id, playlist_url="https://www.youtube.com/watch?v=b", status="failed",
                                 file_paths=[str(outside)], folder=f"{user.id}/../../..")
        db.session.add_all([active, forged])
        db.session.commit()
        with pytest.raises(ServiceError, match="Cancel the download before deleting it"):
            service.delete(active.id, user_id=user.id)
        service.delete(forged.id, user_id=user.id)
    assert outside.read_text() == "keep me"


def test_heartbeat_keeps_a_long_job_alive(threaded_app, fake_media, fake_youtube):
    app = threaded_app
    user = make_user(app)
    fake_media.slow_size, fake_media.slow_rate = 4_000_000, 200_000
    did = submit(app, user, fake_youtube.add_video(IDS[0], "slow", slow=True))
    wait_for(lambda: row_of(app, did).status == "downloading")
    first = row_of(app, did).updated_at
    wait_for(lambda: row_of(app, did).updated_at > first, timeout=5)
    with app.app_context():
        assert service.reap(stale_after=3)["requeued"] == 0
        service.cancel(did, user_id=user.id)
    wait_for(lambda: row_of(app, did).status == "cancelled", timeout=5)


def test_an_empty_playlist_is_refused_at_preview_and_fails_as_a_job(app, fake_youtube):
    user = make_user(app)
    url = fake_youtube.add_playlist("PLempty", "Nothing here", [])
    with app.app_context():
        with pytest.raises(ServiceError, match="That playlist is empty"):
            service.preview(user.id, url)
    row = row_of(app, submit(app, user, url))
    assert row.status == "failed" and "Nothing was found to download" in row.error


def test_an_unexpected_error_fails_the_row_instead_of_leaving_it_running(app, fake_youtube, monkeypatch):
    user = make_user(app)
    url = fake_youtube.add_video(IDS[0], "x")
    with app.app_context():
        row = YoutubeDownload(user_id=user.id, playlist_url=url, status="queued")
        db.session.add(row)
        db.session.commit()
        did = row.id
        monkeypatch.setattr(service, "archive_ids", lambda user_id: 1 / 0)  # a bug inside the job
        with pytest.raises(ZeroDivisionError):
            service.run_download(did)
    row = row_of(app, did)
    assert row.status == "failed" and "unexpected error" in row.error
