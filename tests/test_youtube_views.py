"""YouTube pages: submit (preview, confirm), the list, the detail page, the polled status fragment,
cancel/retry/delete, user isolation, the hourly limit, the admin view and the `flask downloads` CLI.
Every HTMX view is checked as a page and as a fragment."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from medianest import cache
from medianest.extensions import db
from medianest.models.youtube import YoutubeDownload
from medianest.services import youtube as service
from medianest.timeutil import utcnow
from tests.conftest import HX
from tests.factories import make_user
from tests.support import count_queries
from tests.test_youtube_service import IDS, YT_CONFIG, configure_youtube, root_of, row_of, wait_for


@pytest.fixture
def app(make_app, fake_youtube):
    return make_app(**YT_CONFIG, MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors)


@pytest.fixture
def alice(app, admin):  # an admin exists, so the setup wizard is done
    return make_user(app, email="alice@example.com", name="Alice")


@pytest.fixture
def bob(app):
    return make_user(app, email="bob@example.com", name="Bob")


@pytest.fixture
def alice_client(auth, alice):
    return auth.login_as(alice)




def queries(app, client, url, headers=None) -> int:
    with app.app_context():
        engine = db.engine
    client.get(url, headers=headers)  # warm-up: the first request also refreshes the sign-in session
    with count_queries(engine) as seen:
        assert client.get(url, headers=headers).status_code == 200
    return len(seen)


def make_download(app, user, **values) -> YoutubeDownload:
    values.setdefault("playlist_url", f"https://www.youtube.com/watch?v={IDS[0]}")
    values.setdefault("playlist_title", "A download")
    values.setdefault("status", "completed")
    with app.app_context():
        row = YoutubeDownload(user_id=user.id, **values)
        db.session.add(row)
        db.session.commit()
        db.session.refresh(row)
        db.session.expunge(row)
        return row


# -- the page -------------------------------------------------------------------------------------
def test_index_page_and_fragment(app, alice_client, alice, bob):
    make_download(app, alice, playlist_title="Mine")
    make_download(app, bob, playlist_title="Not mine")
    page = alice_client.get("/youtube/")
    assert page.status_code == 200 and b"<html" in page.data
    assert b"Mine" in page.data and b"Not mine" not in page.data
    assert b'id="youtube-form"' in page.data and b'id="downloads"' in page.data
    assert b"1 of 5 downloads queued" in page.data and b"0 bytes of 10.0 GB used" in page.data
    assert "HX-Request" in page.headers["Vary"]
    fragment = alice_client.get("/youtube/", headers=HX)
    assert b"<html" not in fragment.data and b'id="downloads"' in fragment.data
    assert b'id="youtube-limits" class="yt-limits" hx-swap-oob="true"' in fragment.data
    boosted = alice_client.get("/youtube/", headers={**HX, "HX-Boosted": "true"})
    assert b"<html" in boosted.data


def test_index_filters_and_paginates(app, alice_client, alice):
    for n in range(23):
        make_download(app, alice, playlist_title=f"Video {n:02d}", status="failed" if n % 2 else "completed")
    page = alice_client.get("/youtube/?status=failed", headers=HX)
    assert page.data.count(b'class="yt-item"') == 11 and b"Video 00" not in page.data
    search = alice_client.get("/youtube/?q=Video+1", headers=HX)
    assert search.data.count(b'class="yt-item"') == 10  # 10..19
    first, second = alice_client.get("/youtube/", headers=HX), alice_client.get("/youtube/?page=2", headers=HX)
    assert first.data.count(b'class="yt-item"') == 20 and second.data.count(b'class="yt-item"') == 3
    assert b"Page 1 of 2" in first.data
    assert b"Nothing matches" in alice_client.get("/youtube/?q=zzz").data
    assert b"Video 22" in alice_client.get("/youtube/?status=bogus").data


def test_list_query_count_does_not_grow_with_rows(app, alice_client, alice):
    make_download(app, alice, status="downloading")
    make_download(app, alice, status="queued")
    one = queries(app, alice_client, "/youtube/")
    one_fragment = queries(app, alice_client, "/youtube/", HX)
    for n in range(18):
        make_download(app, alice, status=("queued", "downloading", "completed")[n % 3], playlist_title=f"n{n}")
    assert queries(app, alice_client, "/youtube/") == one
    # session, page, count, settings (youtube + plex), limits, queue positions
    assert queries(app, alice_client, "/youtube/", HX) == one_fragment <= 7


# -- submit ----------------------------------------------------------------------------------------
def test_preview_then_confirm_queues_and_downloads(app, alice_client, alice, fake_youtube):
    url = fake_youtube.add_playlist("PLview", "View Playlist", [(IDS[0], "One"), (IDS[1], "Two")])
    preview = alice_client.post("/youtube/preview", data={"url": url, "quality": "720p", "container": "mp4"},
                                headers=HX)
    assert preview.status_code == 200 and b"<html" not in preview.data
    assert b"View Playlist" in preview.data and b"Playlist \xc2\xb7 2 videos" in preview.data
    assert b'id="youtube-confirm"' in preview.data and f'value="{url}"'.encode() in preview.data.replace(b"&amp;", b"&")

    confirm = alice_client.post("/youtube/", data={"url": url, "quality": "720p", "container": "mp4"}, headers=HX)
    assert confirm.status_code == 200 and "downloads-changed" in confirm.headers["HX-Trigger"]
    assert b'id="youtube-form"' in confirm.data and b"Queued: View Playlist" in confirm.data
    assert b'hx-swap-oob="true"' in confirm.data  # the flash
    with app.app_context():
        row = db.session.scalars(db.select(YoutubeDownload)).one()
        assert (row.status, row.quality, row.container, row.user_id) == ("completed", "720p", "mp4", alice.id)
        assert row.playlist_title == "View Playlist" and row.entry_count == 2  # listing kept from the preview


def test_preview_without_htmx_renders_the_page(alice_client, fake_youtube):
    url = fake_youtube.add_video(IDS[0], "Only one")
    page = alice_client.post("/youtube/preview", data={"url": url, "quality": "best", "container": "mp4"})
    assert page.status_code == 200 and b"<html" in page.data and b"One video" in page.data


def test_submit_without_htmx_redirects(alice_client, fake_youtube):
    url = fake_youtube.add_video(IDS[0], "Plain")
    resp = alice_client.post("/youtube/", data={"url": url, "quality": "best", "container": "mp4"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/youtube/")
    assert b"Queued: Plain" in alice_client.get("/youtube/").data


@pytest.mark.parametrize("data, message", [
    ({"url": ""}, b"Paste a YouTube link."),
    ({"url": "file:///etc/passwd"}, b"Only http:// and https:// links are accepted."),
    ({"url": "http://169.254.169.254/"}, b"private, local or reserved"),
    ({"url": "https://www.youtube.com/watch?v=<script>"}, b"not allowed in a URL: &lt; &gt;"),
    ({"url": "https://www.youtube.com/watch?v=" + "a" * 10_001}, b"That link is too long."),
    ({"url": "https://www.youtube.com/watch?v=AAAAAAAAA01", "quality": "8k"}, b"Not a valid choice"),
    ({"url": "https://www.youtube.com/watch?v=AAAAAAAAA01", "quality": "audio", "container": "webm"},
     b"For audio only, choose M4A, MP3 or Opus."),
])
def test_bad_input_is_refused_with_the_form_re_rendered(alice_client, fake_youtube, data, message):
    fake_youtube.add_video(IDS[0], "x")
    data = {"quality": "best", "container": "mp4", **data}
    for endpoint in ("/youtube/preview", "/youtube/"):
        resp = alice_client.post(endpoint, data=data, headers=HX)
        assert resp.status_code == 422 and message in resp.data, (endpoint, resp.data[-3000:])
        assert b'id="youtube-form"' in resp.data and b"<html" not in resp.data
    page = alice_client.post("/youtube/", data=data)
    assert page.status_code == 422 and b"<html" in page.data and message in page.data


def test_a_private_video_is_refused_at_preview(alice_client, fake_youtube):
    fake_youtube.add_video(IDS[0], "Hidden", private=True)
    resp = alice_client.post("/youtube/preview", data={"url": f"https://www.youtube.com/watch?v={IDS[0]}",
                                                       "quality": "best", "container": "mp4"}, headers=HX)
    assert resp.status_code == 422 and b"That video is private." in resp.data  # plain words (issue 10, item 15)


def test_a_huge_playlist_preview_says_it_is_cut(alice_client, fake_youtube):
    url = fake_youtube.add_playlist("PLhuge", "Huge", [(f"C{n:010d}", f"V{n}") for n in range(1500)])
    resp = alice_client.post("/youtube/preview", data={"url": url, "quality": "best", "container": "mp4"}, headers=HX)
    assert resp.status_code == 200 and b"1500 videos" in resp.data
    assert b"Only the first 200 will be downloaded" in resp.data


def test_limits_are_shown_and_a_full_quota_disables_the_form(app, alice_client, alice):
    configure_youtube(app, quota_gb=1, per_hour=5)
    make_download(app, alice, bytes_total=1_500_000_000)
    make_download(app, alice, status="queued")
    page = alice_client.get("/youtube/")
    assert b"2 of 5 downloads queued" in page.data and b"1.5 GB of 1.0 GB used" in page.data
    assert b"Your download space is full" in page.data
    assert re.search(rb'id="youtube-preview-button" disabled', page.data)


def test_submissions_are_rate_limited_per_user(make_app, auth, admin, fake_youtube):
    limited = make_app(**YT_CONFIG, MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors, RATELIMIT_ENABLED=True)
    user = make_user(limited)
    configure_youtube(limited, per_hour=5)
    client = auth.login_as(user, limited.test_client())
    codes = []
    for n in range(6):
        url = fake_youtube.add_video(IDS[n], f"v{n}")
        codes.append(client.post("/youtube/", data={"url": url, "quality": "best", "container": "mp4"},
                                 headers=HX).status_code)
    assert codes == [200] * 5 + [429]
    other = auth.login_as(make_user(limited), limited.test_client())
    url = fake_youtube.add_video(IDS[7], "someone else")
    assert other.post("/youtube/", data={"url": url, "quality": "best", "container": "mp4"},
                      headers=HX).status_code == 200


def test_refused_submissions_do_not_use_up_the_hourly_limit(make_app, auth, admin, fake_youtube):
    limited = make_app(**YT_CONFIG, MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors, RATELIMIT_ENABLED=True)
    client = auth.login_as(make_user(limited), limited.test_client())
    for _ in range(6):
        assert client.post("/youtube/", data={"url": "ftp://x", "quality": "best", "container": "mp4"},
                           headers=HX).status_code == 422


# -- detail and status -------------------------------------------------------------------------------
def test_detail_page_and_fragment_list_files_and_per_video_state(app, alice_client, alice):
    row = make_download(app, alice, playlist_title="Detailed", is_playlist=True, folder=f"{alice.id}/Detailed [PL]",
                        entries=[{"id": "a", "title": "Good one", "state": "done", "file": "Good one [a].mp4",
                                  "size": 1234},
                                 {"id": "b", "title": "Bad one", "state": "failed", "reason": "HTTP Error 404."}],
                        bytes_total=1234, plex_state="pending", plex_error="Waiting for Plex: down")
    page = alice_client.get(f"/youtube/{row.id}")
    assert page.status_code == 200 and b"<html" in page.data
    for text in (b"Detailed", b"Good one [a].mp4", b"1.2 kB", b"HTTP Error 404.", b"Waiting for Plex", b"Detailed [PL]",
                 b"1 of 2 downloaded, 1 failed"):
        assert text in page.data, text
    fragment = alice_client.get(f"/youtube/{row.id}", headers=HX)
    assert b"<html" not in fragment.data and b'id="download-detail"' in fragment.data
    assert "HX-Request" in fragment.headers["Vary"]


def test_status_fragment_polls_only_while_active(app, alice_client, alice):
    progress = {"percent": 22.5, "index": 3, "count": 12, "title": "Third video", "downloaded": 1_500_000,
                "total": 3_000_000, "speed": 250_000, "eta": 6}
    running = make_download(app, alice, status="downloading", entries=[{"id": "x", "state": "downloading"}] * 12,
                            progress=progress)
    if app.config.get("REDIS_URL"):  # with Redis the job writes progress to the cache, not the row
        with app.app_context():
            cache.set(f"youtube:progress:{running.id}", progress, 60)
    queued = make_download(app, alice, status="queued")
    done = make_download(app, alice, status="completed")
    resp = alice_client.get(f"/youtube/{running.id}/status", headers=HX)
    body = resp.data.decode()
    for text in ('value="22.5"', "3 of 12", "Third video", "1.5 MB of 3.0 MB", "250.0 kB/s", "6 seconds left"):
        assert text in body, text
    assert 'hx-trigger="every 1s"' in body and "<html" not in body and "HX-Trigger" not in resp.headers
    waiting = alice_client.get(f"/youtube/{queued.id}/status", headers=HX).data.decode()
    assert "Number 1 in the queue" in waiting and 'hx-trigger="every 3s"' in waiting
    final = alice_client.get(f"/youtube/{done.id}/status", headers=HX)
    assert b"hx-trigger" not in final.data and "download-finished" in final.headers["HX-Trigger"]


def test_status_poll_is_cheap(app, alice_client, alice):
    running = make_download(app, alice, status="downloading")
    queued = make_download(app, alice, status="queued")
    assert queries(app, alice_client, f"/youtube/{running.id}/status", HX) <= 2  # session + row
    assert queries(app, alice_client, f"/youtube/{queued.id}/status", HX) <= 3  # + queue position


def test_a_running_download_shows_live_progress_from_the_job(make_app, auth, admin, fake_media, fake_youtube):
    app = make_app(**YT_CONFIG, MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors,
                   MEDIANEST_YOUTUBE_THREADED_JOBS=True)
    user = make_user(app)
    client = auth.login_as(user, app.test_client())
    fake_media.slow_size, fake_media.slow_rate = 3_000_000, 300_000
    url = fake_youtube.add_video(IDS[0], "Watch me", slow=True)
    client.post("/youtube/", data={"url": url, "quality": "best", "container": "mp4"}, headers=HX)
    with app.app_context():
        did = db.session.scalar(db.select(YoutubeDownload.id))
    body = wait_for(lambda: (lambda b: b if "1 of 1" in b else None)(
        client.get(f"/youtube/{did}/status", headers=HX).data.decode()), timeout=10)
    assert "Watch me" in body and "<progress" in body and 'hx-trigger="every 1s"' in body
    resp = client.post(f"/youtube/{did}/cancel", headers=HX)
    assert resp.status_code == 200 and "downloads-changed" in resp.headers["HX-Trigger"]
    assert b"Cancelling" in resp.data and resp.headers["HX-Reswap"] == "none"
    wait_for(lambda: row_of(app, did).status == "cancelled", timeout=5)
    final = client.get(f"/youtube/{did}/status", headers=HX)
    assert b"Cancelled" in final.data and b"hx-trigger" not in final.data


# -- actions -----------------------------------------------------------------------------------------
def test_cancel_retry_delete_with_htmx(app, alice_client, alice, fake_youtube):
    url = fake_youtube.add_video(IDS[0], "Act on me")
    queued = make_download(app, alice, status="queued", playlist_url=url, playlist_title="Act on me")
    resp = alice_client.post(f"/youtube/{queued.id}/cancel", headers=HX)
    assert resp.status_code == 200 and b"Cancelled. Act on me" in resp.data
    assert row_of(app, queued.id).status == "cancelled"
    again = alice_client.post(f"/youtube/{queued.id}/cancel", headers=HX)
    assert again.status_code == 409 and b"already finished" in again.data and again.headers["HX-Reswap"] == "none"

    resp = alice_client.post(f"/youtube/{queued.id}/retry", headers=HX)
    assert resp.status_code == 200 and b"Queued again" in resp.data
    assert row_of(app, queued.id).status == "completed"  # immediate mode ran it

    resp = alice_client.post(f"/youtube/{queued.id}/delete", headers=HX)
    assert resp.status_code == 200 and "downloads-changed" in resp.headers["HX-Trigger"]
    with app.app_context():
        assert db.session.get(YoutubeDownload, queued.id) is None
    assert list((root_of(app) / str(alice.id)).rglob("*.mp4")) == []


def test_delete_from_the_detail_page_goes_back_to_the_list(app, alice_client, alice):
    row = make_download(app, alice)
    resp = alice_client.post(f"/youtube/{row.id}/delete", data={"next": "/youtube/"}, headers=HX)
    assert resp.headers["HX-Redirect"] == "/youtube/"
    row = make_download(app, alice)
    plain = alice_client.post(f"/youtube/{row.id}/delete", data={"next": "https://evil.example/"})
    assert plain.status_code == 303 and plain.headers["Location"].endswith("/youtube/")


def test_actions_without_htmx_redirect_back(app, alice_client, alice):
    row = make_download(app, alice, status="queued")
    resp = alice_client.post(f"/youtube/{row.id}/cancel", data={"next": f"/youtube/{row.id}"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/youtube/{row.id}")
    active = make_download(app, alice, status="downloading")
    resp = alice_client.post(f"/youtube/{active.id}/delete")
    assert resp.status_code == 303
    assert b"Cancel the download before deleting it." in alice_client.get(f"/youtube/{active.id}").data


@pytest.mark.parametrize("method, path", [
    ("get", "/youtube/{id}"), ("get", "/youtube/{id}/status"), ("post", "/youtube/{id}/cancel"),
    ("post", "/youtube/{id}/retry"), ("post", "/youtube/{id}/delete"),
])
def test_another_users_download_is_a_404_everywhere(app, auth, alice, bob, method, path):
    row = make_download(app, alice, status="failed")
    client = auth.login_as(bob)
    for headers in (None, HX):
        assert getattr(client, method)(path.format(id=row.id), headers=headers).status_code == 404
    assert row_of(app, row.id).status == "failed"


def test_admins_get_404_on_user_pages_too(app, auth, admin, alice):
    row = make_download(app, alice)
    assert auth.login_as(admin).get(f"/youtube/{row.id}").status_code == 404


def test_signed_out_poll_gets_401_with_hx_redirect(app, client, alice):
    row = make_download(app, alice, status="downloading")
    resp = client.get(f"/youtube/{row.id}/status", headers=HX)
    assert resp.status_code == 401 and resp.headers["HX-Redirect"].startswith("/auth/login")


# -- admin ---------------------------------------------------------------------------------------------
def test_admin_sees_every_download_and_the_queue(app, auth, admin, alice, bob):
    make_download(app, alice, playlist_title="Alice running", status="downloading")
    make_download(app, bob, playlist_title="Bob waiting", status="queued")
    make_download(app, bob, playlist_title="Bob done", status="completed")
    client = auth.login_as(admin)
    page = client.get("/admin/downloads")
    assert page.status_code == 200 and b"<html" in page.data
    for text in (b"Alice running", b"Bob waiting", b"Bob done", b"alice@example.com", b"bob@example.com"):
        assert text in page.data
    assert b"every 3s" in page.data
    fragment = client.get("/admin/downloads?user=bob", headers=HX)
    assert b"<html" not in fragment.data and b'id="admin-downloads"' in fragment.data
    assert b"Bob done" in fragment.data
    assert b"Downloads" in client.get("/admin/").data


def test_admin_downloads_is_admin_only(app, auth, alice):
    assert auth.login_as(alice).get("/admin/downloads").status_code == 404


def test_admin_list_query_count_does_not_grow_with_rows(app, auth, admin, alice, bob):
    client = auth.login_as(admin)
    make_download(app, alice)
    one = queries(app, client, "/admin/downloads", HX)
    for n in range(15):
        make_download(app, bob if n % 2 else alice, status="queued" if n % 3 else "completed")
    assert queries(app, client, "/admin/downloads", HX) == one


def test_admin_can_cancel_retry_and_delete_anyones_download(app, auth, admin, alice, fake_youtube):
    client = auth.login_as(admin)
    url = fake_youtube.add_video(IDS[0], "Admin acts")
    row = make_download(app, alice, status="queued", playlist_url=url)
    assert client.post(f"/admin/downloads/{row.id}/cancel", headers=HX).status_code == 200
    assert row_of(app, row.id).status == "cancelled"
    resp = client.post(f"/admin/downloads/{row.id}/retry", headers=HX)
    assert resp.status_code == 200 and "downloads-changed" in resp.headers["HX-Trigger"]
    assert row_of(app, row.id).status == "completed"
    resp = client.post(f"/admin/downloads/{row.id}/delete")
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.get(YoutubeDownload, row.id) is None
    assert client.post(f"/admin/downloads/{row.id}/delete", headers=HX).status_code == 404


# -- CLI ------------------------------------------------------------------------------------------------
def test_cli_list_retry_cancel_reap_and_plex_sync(app, runner, alice, fake_youtube):
    url = fake_youtube.add_video(IDS[0], "From the shell")
    failed = make_download(app, alice, status="failed", playlist_url=url, playlist_title="From the shell")
    result = runner.invoke(args=["downloads", "list"])
    assert result.exit_code == 0 and str(failed.id) in result.output and "alice@example.com" in result.output
    assert "From the shell" in runner.invoke(args=["downloads", "list", "--status", "failed"]).output
    assert "no downloads" in runner.invoke(args=["downloads", "list", "--user", "nobody"]).output

    result = runner.invoke(args=["downloads", "retry", str(failed.id)])
    assert result.exit_code == 0 and f"{failed.id}: completed" in result.output
    result = runner.invoke(args=["downloads", "retry", str(failed.id)])
    assert result.exit_code != 0 and "Only failed or cancelled" in result.output
    assert runner.invoke(args=["downloads", "cancel", "nope"]).exit_code != 0

    queued = make_download(app, alice, status="queued")
    assert f"{queued.id}: cancelled" in runner.invoke(args=["downloads", "cancel", str(queued.id)]).output

    stale = make_download(app, alice, status="downloading", attempts=3, updated_at=utcnow() - timedelta(hours=1))
    result = runner.invoke(args=["downloads", "reap", "--stale-after", "60"])
    assert result.exit_code == 0 and "failed: 1" in result.output and "partial_dirs: 0" in result.output
    assert row_of(app, stale.id).status == "failed"
    result = runner.invoke(args=["downloads", "plex-sync"])
    assert result.exit_code == 0 and "nothing waiting for Plex" in result.output


def test_periodic_tasks_are_registered(app):
    from medianest import tasks

    names = {t.name for t in tasks.huey._registry.periodic_tasks}
    assert {"medianest.tasks.youtube_reaper", "medianest.tasks.youtube_plex_sync"} <= names or \
        {"youtube_reaper", "youtube_plex_sync"} <= names
    with app.app_context():
        assert tasks.youtube_reaper.call_local()["requeued"] == 0
        assert tasks.youtube_plex_sync.call_local() == {}
    assert service.MAX_ATTEMPTS == 3
