"""The yt-dlp client against media served from 127.0.0.1: real yt-dlp, real downloads, no internet."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yt_dlp
from yt_dlp.utils import DownloadError

from medianest.clients.ytdlp import (
    DEFAULT_ALLOWED_HOSTS,
    Cancelled,
    FileTooLarge,
    PermanentError,
    TransientError,
    UnsafePath,
    UrlRefused,
    YtDlpClient,
    check_url,
    classify_error,
    ensure_inside,
    playlist_folder_name,
    safe_name,
    yt_dlp_version,
)
from tests.fakes.media_fixtures import fake_media, fake_media_server, fake_youtube, media_clips  # noqa: F401


@pytest.fixture
def client(fake_youtube):
    return YtDlpClient(allow_generic=True, extra_extractors=fake_youtube.extractors, socket_timeout=5, retries=0)


@pytest.fixture
def work_dir(tmp_path):
    path = tmp_path / "alice" / "downloads"
    path.mkdir(parents=True)
    return path


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.parent.rglob("*")
            if p.name.endswith((".part", ".ytdl")) or p.name.startswith(".medianest-")]


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


# -- downloads -------------------------------------------------------------------------------


def test_single_video_is_downloaded_with_a_safe_name(client, fake_media, work_dir, media_clips):
    url = fake_media.add_video("clip1")
    result = client.download(url, work_dir=work_dir)
    assert result.playlist_id is None and result.failed == [] and result.skipped_ids == []
    [file] = result.files
    assert file.video_id == "clip1" and file.path == work_dir / "clip1 [clip1].mp4"
    assert file.path.read_bytes() == fake_media.media["clip1"] and file.size == len(fake_media.media["clip1"])
    assert leftovers(work_dir) == []


def test_html_page_with_video_tags_is_a_playlist(client, fake_media, work_dir):
    urls = fake_media.add_playlist("demo", "Demo Page", [("v1", "a"), ("v2", "b"), ("v3", "c")])
    result = client.download(urls.html, work_dir=work_dir)
    assert (result.playlist_id, result.playlist_title) == ("demo", "Demo Page")
    assert [f.video_id for f in result.files] == ["demo-1", "demo-2", "demo-3"]
    assert sorted(p.name for p in work_dir.iterdir()) == [
        "Demo Page (1) [demo-1].mp4", "Demo Page (2) [demo-2].mp4", "Demo Page (3) [demo-3].mp4"]


def test_rss_feed_is_a_playlist_with_its_own_ids_and_titles(client, fake_media, work_dir):
    urls = fake_media.add_playlist("feed", "Test Feed", [("ep1", "Episode 1"), ("ep2", "Episode 2")])
    result = client.download(urls.rss, work_dir=work_dir)
    assert result.playlist_title == "Test Feed" and result.playlist_id == urls.rss
    assert [(f.video_id, f.title, f.path.name) for f in result.files] == [
        ("ep1", "Episode 1", "Episode 1 [ep1].mp4"), ("ep2", "Episode 2", "Episode 2 [ep2].mp4")]


def test_archive_ids_are_skipped(client, fake_media, fake_youtube, work_dir):
    url = fake_youtube.add_playlist("PLarchive", "Archive", [("AAAAAAAAAA1", "One"), ("AAAAAAAAAA2", "Two")])
    archive = {"AAAAAAAAAA1"}
    result = client.download(url, work_dir=work_dir, archive_ids=archive)
    assert result.skipped_ids == ["AAAAAAAAAA1"] and [f.video_id for f in result.files] == ["AAAAAAAAAA2"]
    assert fake_media.seen("/v/AAAAAAAAAA1") == []  # skipped before any request
    assert archive == {"AAAAAAAAAA1"}  # the caller's set is not modified

    rss = fake_media.add_playlist("feed", "Feed", [("ep1", "One"), ("ep2", "Two")]).rss
    again = client.download(rss, work_dir=work_dir, archive_ids={"ep1", "ep2"})
    assert again.files == [] and again.skipped_ids == ["ep1", "ep2"]


def test_fake_youtube_playlist_keeps_youtube_ids_and_the_production_allow_list(fake_youtube, work_dir):
    strict = YtDlpClient(extra_extractors=fake_youtube.extractors, socket_timeout=5, retries=0)
    url = fake_youtube.add_playlist("PLtest", "My Test Playlist", [("AAAAAAAAAA1", "First"), ("AAAAAAAAAA2", "Second")])
    result = strict.download(url, work_dir=work_dir)
    assert (result.playlist_id, result.playlist_title) == ("PLtest", "My Test Playlist")
    assert [f.path.name for f in result.files] == ["First [AAAAAAAAAA1].mp4", "Second [AAAAAAAAAA2].mp4"]


def test_generic_extractor_is_off_unless_allowed(fake_media, work_dir):
    url = fake_media.add_video("clip1")
    with pytest.raises(PermanentError, match="No suitable extractor"):
        YtDlpClient(socket_timeout=5).download(url, work_dir=work_dir)
    assert fake_media.seen() == []


def test_progress_events_climb_through_several_values(client, fake_media, work_dir):
    fake_media.slow_size, fake_media.slow_rate = 300_000, 600_000
    url = fake_media.add_video("big", slow=True)
    events = []
    client.download(url, work_dir=work_dir, on_progress=events.append)
    downloading = [e for e in events if e.status == "downloading"]
    percents = [e.percent_of_playlist for e in downloading]
    assert len({round(p) for p in percents}) >= 3 and percents == sorted(percents)
    assert 0 <= percents[0] < 50 and max(percents) < 100
    assert downloading[-1].total_bytes == 300_000 and downloading[-1].downloaded_bytes > 0
    assert all((e.index, e.count, e.video_id) == (1, 1, "big") for e in events)
    assert [e.status for e in events][-2:] == ["finished", "completed"] and events[-1].percent_of_playlist == 100


def test_playlist_progress_is_per_entry_and_overall(client, fake_media, work_dir):
    urls = fake_media.add_playlist("p", "P", [("v1", "a"), ("v2", "b")], broken=["v2"])
    events = []
    client.download(urls.rss, work_dir=work_dir, on_progress=events.append)
    done = [(e.status, e.index, e.count, e.video_id, e.percent_of_playlist) for e in events
            if e.status in ("completed", "failed")]
    assert done == [("completed", 1, 2, "v1", 50.0), ("failed", 2, 2, "v2", 100.0)]


def test_cancel_stops_a_slow_download_quickly_and_leaves_no_partial_files(client, fake_media, work_dir):
    fake_media.slow_size, fake_media.slow_rate = 5_000_000, 200_000  # 25 s if not cancelled
    url = fake_media.add_video("slow", slow=True)
    cancel = threading.Event()
    events = []

    def on_progress(event):
        events.append(event)
        if event.downloaded_bytes > 50_000:
            cancel.set()

    started = time.monotonic()
    with pytest.raises(Cancelled) as info:
        client.download(url, work_dir=work_dir, on_progress=on_progress, should_cancel=cancel.is_set)
    assert time.monotonic() - started < 2.5
    assert info.value.result.files == []
    assert 0 < events[-1].percent_of_playlist < 100
    assert list(work_dir.iterdir()) == [] and leftovers(work_dir) == []


def test_cancel_between_entries_keeps_what_was_finished(client, fake_media, work_dir):
    fake_media.slow_size, fake_media.slow_rate = 5_000_000, 200_000
    urls = fake_media.add_playlist("p", "P", [("v1", "fast"), ("v2", "slow"), ("v3", "never")], slow=["v2"])
    cancel = threading.Event()
    timer = threading.Timer(0.1, cancel.set)

    def on_progress(event):
        if event.status == "completed":
            timer.start()

    with pytest.raises(Cancelled) as info:
        client.download(urls.rss, work_dir=work_dir, on_progress=on_progress, should_cancel=cancel.is_set)
    assert [f.video_id for f in info.value.result.files] == ["v1"]
    assert [p.name for p in work_dir.iterdir()] == ["fast [v1].mp4"] and leftovers(work_dir) == []
    assert fake_media.seen("/v/v3") == []


def test_cancel_before_start_downloads_nothing(client, fake_media, work_dir):
    url = fake_media.add_video("clip1")
    with pytest.raises(Cancelled):
        client.download(url, work_dir=work_dir, should_cancel=lambda: True)
    assert fake_media.seen() == [] and list(work_dir.iterdir()) == []


def test_a_broken_entry_is_reported_and_the_rest_downloaded(client, fake_media, work_dir):
    urls = fake_media.add_playlist("p", "P", [("ok1", "One"), ("bad", "Broken"), ("ok2", "Two")], broken=["bad"])
    for url, broken_id in ((urls.rss, "bad"), (urls.html, "p-2")):
        result = client.download(url, work_dir=work_dir)
        assert len(result.files) == 2
        [(video_id, _, reason)] = result.failed
        assert video_id == broken_id and "404" in reason and "ERROR" not in reason
    assert leftovers(work_dir) == []


def test_an_entry_that_is_not_media_is_reported(client, fake_media, work_dir):
    urls = fake_media.add_playlist("p", "P", [("ok", "One"), ("junk", "Junk")], garbage=["junk"])
    result = client.download(urls.rss, work_dir=work_dir)
    assert [f.video_id for f in result.files] == ["ok"]
    [(video_id, _, reason)] = result.failed
    assert (video_id, reason) == ("junk", f"Unsupported URL: {fake_media.url}/garbage/junk.mp4")


def test_fake_youtube_broken_and_private_entries(client, fake_youtube, work_dir):
    fake_youtube.add_video("PRIVATE0001", "Secret", private=True)
    url = fake_youtube.add_playlist("PLmixed", "Mixed", [("AAAAAAAAAA1", "Good"), ("AAAAAAAAAA2", "Gone")],
                                    broken=["AAAAAAAAAA2"])
    result = client.download(url, work_dir=work_dir)
    assert [f.video_id for f in result.files] == ["AAAAAAAAAA1"]
    assert [(f.video_id, f.title) for f in result.failed] == [("AAAAAAAAAA2", "Gone")]
    with pytest.raises(PermanentError, match="Private video"):
        client.download("https://www.youtube.com/watch?v=PRIVATE0001", work_dir=work_dir)
    with pytest.raises(PermanentError, match="unavailable"):
        client.download("https://youtu.be/NOSUCHVIDEO", work_dir=work_dir)


@pytest.mark.parametrize("title", [
    "..", "../x", "../../escape", "a/b", "a\x00b", "/etc/passwd", ".hidden", "-rf", "\u202etxt.exe",
    "emoji 😀🎬 title", "x" * 400, "界" * 200,
])
def test_hostile_titles_stay_inside_work_dir(client, fake_youtube, work_dir, title):
    url = fake_youtube.add_video("AAAAAAAAAA1", title)
    [file] = client.download(url, work_dir=work_dir).files
    assert file.path.parent == work_dir.resolve() and file.path.exists()
    name = file.path.name
    assert name == safe_name(title, "AAAAAAAAAA1", "mp4")  # yt-dlp's own sanitising leaves it alone
    assert name.endswith(" [AAAAAAAAAA1].mp4") and not name.startswith((".", "-"))
    assert "/" not in name and "\x00" not in name and "\u202e" not in name and len(name.encode()) <= 255
    assert sorted(p.name for p in work_dir.parent.rglob("*") if p.is_file()) == [name]


def test_max_filesize_refuses_known_and_announced_sizes(client, fake_media, fake_youtube, work_dir):
    url = fake_media.add_video("clip1")  # the size is only known from Content-Length
    with pytest.raises(FileTooLarge, match="size limit"):
        client.download(url, work_dir=work_dir, max_filesize=1000)
    assert leftovers(work_dir) == [] and list(work_dir.iterdir()) == []

    fake_youtube.add_video("BIGVIDEO001", "Big", data=b"\0" * 5000, known_size=True)  # size announced
    fake_youtube.add_video("SMALLVIDEO1", "Small", data=b"\0" * 500)
    playlist = fake_youtube.add_playlist("PLsize", "Sizes", [("BIGVIDEO001", "Big"), ("SMALLVIDEO1", "Small")])
    result = client.download(playlist, work_dir=work_dir, max_filesize=1000)
    assert [f.video_id for f in result.files] == ["SMALLVIDEO1"]
    assert [(f.video_id, "size limit" in f.reason) for f in result.failed] == [("BIGVIDEO001", True)]
    assert fake_media.seen("/v/BIGVIDEO001") == []


def test_unreachable_and_server_errors_are_transient(client, fake_media, work_dir):
    url = fake_media.add_video("clip1")
    fake_media.fail(503)
    with pytest.raises(TransientError, match="503"):
        client.download(url, work_dir=work_dir)
    fake_media.go_down()
    with pytest.raises(TransientError):
        client.preview(url)
    fake_media.come_back()


def test_a_stalled_server_times_out_as_transient(fake_media, fake_youtube, work_dir):
    url = fake_media.add_video("clip1")
    fake_media.hang()
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out"):
        YtDlpClient(allow_generic=True, socket_timeout=0.5, retries=0).download(url, work_dir=work_dir)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("message, kind, rate_limited", [
    ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access to this video", PermanentError, False),
    ("ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader", PermanentError, False),
    ("ERROR: [youtube] abc: Join this channel to get access to members-only content", PermanentError, False),
    ("ERROR: Unsupported URL: https://example.com/", PermanentError, False),
    ("ERROR: [youtube] abc: Sign in to confirm you're not a bot", TransientError, True),
    ("ERROR: [youtube] abc: This content isn't available, try again later", TransientError, True),
    ("ERROR: unable to download video data: HTTP Error 403: Forbidden", TransientError, False),
    ("ERROR: unable to download video data: HTTP Error 502: Bad Gateway", TransientError, False),
    ("ERROR: [generic] x: Unable to download webpage: <urlopen error [Errno 111] Connection refused>",
     TransientError, False),
    ("ERROR: [generic] x: Unable to download webpage: HTTP Error 410: Gone (caused by <HTTPError 410>)",
     PermanentError, False),
])
def test_errors_are_classified(message, kind, rate_limited):
    error = classify_error(DownloadError(message))
    assert type(error) is kind and getattr(error, "rate_limited", False) is rate_limited
    assert not error.message.startswith(("ERROR", "[")) and "caused by" not in error.message


def test_missing_page_is_permanent(client, fake_media, work_dir):
    with pytest.raises(PermanentError, match="404"):
        client.download(f"{fake_media.url}/playlist/nope.html", work_dir=work_dir)


def test_bad_quality_or_container_is_refused(client, work_dir):
    with pytest.raises(ValueError):
        client.download("https://youtu.be/AAAAAAAAAA1", work_dir=work_dir, quality="4k")
    with pytest.raises(ValueError):
        client.download("https://youtu.be/AAAAAAAAAA1", work_dir=work_dir, quality="audio", container="mp4")


def test_already_downloaded_single_video_is_skipped(client, fake_youtube, fake_media, work_dir):
    url = fake_youtube.add_video("AAAAAAAAAA1", "One")
    result = client.download(url, work_dir=work_dir, archive_ids={"AAAAAAAAAA1"})
    assert result.files == [] and result.skipped_ids == ["AAAAAAAAAA1"] and fake_media.seen() == []


def test_quality_and_container_choice_remuxes_with_ffmpeg(client, fake_youtube, work_dir):
    url = fake_youtube.add_video("AAAAAAAAAA1", "One")
    [file] = client.download(url, work_dir=work_dir, quality="720p", container="mkv").files
    assert file.path.name == "One [AAAAAAAAAA1].mkv" and file.path.read_bytes()[:4] == b"\x1aE\xdf\xa3"  # EBML


def test_audio_extraction_with_ffmpeg(client, fake_media, work_dir):
    url = fake_media.add_video("clip1")
    [file] = client.download(url, work_dir=work_dir, quality="audio", container="m4a").files
    assert file.path.name == "clip1 [clip1].m4a" and file.size > 0
    assert [p.name for p in work_dir.iterdir()] == [file.path.name]


# -- preview ---------------------------------------------------------------------------------


def test_preview_lists_without_downloading_and_says_when_truncated(client, fake_youtube, fake_media):
    videos = [(f"AAAAAAAAA{n:02d}", f"Video {n}") for n in range(1, 6)]
    url = fake_youtube.add_playlist("PLbig", "Big List", videos)
    preview = client.preview(url, max_entries=3)
    assert (preview.title, preview.id, preview.is_playlist) == ("Big List", "PLbig", True)
    assert preview.count == 5 and preview.truncated is True
    assert preview.entries == [(vid, title, 1) for vid, title in videos[:3]]
    assert preview.total_duration == 3
    assert fake_media.seen("/v/") == []

    full = client.preview(url)
    assert full.truncated is False and len(full.entries) == 5 and full.total_duration == 5


def test_preview_of_a_feed_and_a_single_video(client, fake_media):
    rss = fake_media.add_playlist("feed", "Feed", [("ep1", "One"), ("ep2", "Two"), ("ep3", "Three")]).rss
    preview = client.preview(rss, max_entries=2)
    assert [e.id for e in preview.entries] == ["ep1", "ep2"] and preview.truncated and preview.count == 3
    single = client.preview(fake_media.add_video("clip1"))
    assert (single.is_playlist, single.count, single.id, single.truncated) == (False, 1, "clip1", False)


# -- a download that starts from the preview's listing -----------------------------------------


def _cached(listing):
    """What the listing looks like after a trip through the cache (JSON)."""
    return json.loads(json.dumps(listing))


def test_a_download_from_the_preview_listing_does_not_list_the_url_again(client, fake_media, work_dir):
    urls = fake_media.add_playlist("demo", "Demo Page", [("v1", "a"), ("v2", "b"), ("v3", "c")], broken=["v2"])
    preview = client.preview(urls.html)
    assert len(fake_media.seen("/playlist/")) == 1
    result = client.download(urls.html, work_dir=work_dir, listing=_cached(preview.listing))
    assert len(fake_media.seen("/playlist/")) == 1  # the page was read once, by the preview
    assert (result.playlist_id, result.playlist_title) == ("demo", "Demo Page")
    assert [f.video_id for f in result.files] == ["demo-1", "demo-3"]
    assert [f.video_id for f in result.failed] == ["demo-2"]  # still attributed to the right video
    assert sorted(p.name for p in work_dir.iterdir()) == ["Demo Page (1) [demo-1].mp4", "Demo Page (3) [demo-3].mp4"]
    assert leftovers(work_dir) == []


def test_a_youtube_listing_is_references_resolved_by_their_extractor(client, fake_media, fake_youtube, work_dir):
    url = fake_youtube.add_playlist("PLlisted", "Listed", [("AAAAAAAAAA1", "One"), ("AAAAAAAAAA2", "Two")])
    preview = client.preview(url)
    assert [(e["_type"], e["ie_key"], e["id"]) for e in preview.listing["items"]] == [
        ("url", "FakeYouTube", "AAAAAAAAAA1"), ("url", "FakeYouTube", "AAAAAAAAAA2")]
    result = client.download(url, work_dir=work_dir, archive_ids={"AAAAAAAAAA1"}, listing=_cached(preview.listing))
    assert result.skipped_ids == ["AAAAAAAAAA1"] and [f.video_id for f in result.files] == ["AAAAAAAAAA2"]
    assert fake_media.seen("/v/AAAAAAAAAA1") == []

    # The production allow-list still applies: an extractor the download may not use is refused.
    strict = YtDlpClient(socket_timeout=5, retries=0)
    failed = strict.download(url, work_dir=work_dir, listing=_cached(preview.listing))
    assert failed.files == [] and [f.video_id for f in failed.failed] == ["AAAAAAAAAA1", "AAAAAAAAAA2"]
    assert all("No suitable extractor" in f.reason for f in failed.failed)


def test_a_single_video_listing_is_a_reference_to_its_page(client, fake_media, fake_youtube, work_dir):
    url = fake_youtube.add_video("AAAAAAAAAA3", "Three")
    preview = client.preview(url)
    assert preview.listing["items"] == [{"_type": "url", "url": url, "ie_key": "FakeYouTube", "id": "AAAAAAAAAA3",
                                         "title": "Three"}]
    [file] = client.download(url, work_dir=work_dir, listing=_cached(preview.listing)).files
    assert file.path.name == "Three [AAAAAAAAAA3].mp4"

    # A single video that became private after its preview fails as it would without a listing.
    hidden = fake_youtube.add_video("AAAAAAAAAA4", "Hidden")
    listing = _cached(client.preview(hidden).listing)
    fake_youtube.add_video("AAAAAAAAAA4", "Hidden", private=True)
    with pytest.raises(PermanentError, match="Private video"):
        client.download(hidden, work_dir=work_dir, listing=listing)


def test_a_listing_of_the_wrong_shape_is_ignored(client, fake_media, work_dir):
    urls = fake_media.add_playlist("shape", "Shape", [("v1", "a")])
    for listing in ({"v": 99, "items": []}, {"v": 1, "items": "nope"}, {"v": 1, "is_playlist": False, "items": []}):
        result = client.download(urls.html, work_dir=work_dir / str(len(fake_media.seen("/playlist/"))),
                                 listing=listing)
        assert [f.video_id for f in result.files] == ["shape-1"]
    assert len(fake_media.seen("/playlist/")) == 3  # each was listed afresh


def test_cancel_during_a_job_listing(client, fake_youtube):
    url = fake_youtube.add_playlist("PLcancel", "Cancel", [("AAAAAAAAAA1", "One")])
    with pytest.raises(Cancelled) as stop:
        client.preview(url, should_cancel=lambda: True)
    assert stop.value.result.files == []


def test_yt_dlp_still_has_the_print_step_medianest_skips(client, fake_youtube, capsys):
    # _YoutubeDL overrides this private method; if a yt-dlp upgrade renames it, the override is dead code.
    assert callable(getattr(yt_dlp.YoutubeDL, "_forceprint", None))
    ydl = client._make_ydl({**client._base_params(), "skip_download": True,
                            "forceprint": {"pre_process": ["%(id)s printed"]}})
    with ydl:
        ydl.extract_info(fake_youtube.add_video("AAAAAAAAAA5", "Printed"), download=False)
    assert "AAAAAAAAAA5 printed" in capsys.readouterr().out  # asked for, the print still happens


def test_version_is_reported():
    assert yt_dlp_version()[:4].isdigit()


def test_starting_the_web_app_does_not_load_yt_dlp(tmp_path):
    # yt-dlp costs ~30 MB per process; a web worker that never previews or downloads must not pay it.
    env = {**os.environ, "MEDIANEST_SKIP_DOTENV": "1", "MEDIANEST_INSTANCE_DIR": str(tmp_path / "instance")}
    code = ("import sys, app\n"
            "assert 'yt_dlp' not in sys.modules, 'yt_dlp imported at start-up'\n"
            "from medianest.clients.ytdlp import YtDlpClient, check_url\n"
            "check_url('https://www.youtube.com/watch?v=dQw4w9WgXcQ', allowed_hosts={'www.youtube.com'})\n"
            "YtDlpClient()\n"
            "assert 'yt_dlp' not in sys.modules, 'yt_dlp imported by a URL check'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# -- URL checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://youtube.com/playlist?list=PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf",
    "https://m.youtube.com/watch?v=dQw4w9WgXcQ&list=PL123&index=2",
    "https://music.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://youtu.be/dQw4w9WgXcQ?t=42",
    "  https://WWW.YouTube.com/watch?v=dQw4w9WgXcQ  ",
    "http://www.youtube.com:443/watch?v=dQw4w9WgXcQ",
])
def test_youtube_urls_are_accepted(url):
    assert check_url(url, allowed_hosts=DEFAULT_ALLOWED_HOSTS) == url.strip()


@pytest.mark.parametrize("url, reason", [
    ("file:///etc/passwd", "http"),
    ("javascript:alert(1)", "http"),
    ("ftp://www.youtube.com/x", "http"),
    ("http://169.254.169.254/latest/meta-data/", "private"),
    ("http://10.0.0.1/video", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://100.64.0.1/", "private"),
    ("http://0.0.0.0/", "private"),
    ("http://224.0.0.1/", "private"),
    ("http://240.0.0.1/", "private"),
    ("http://[fe80::1]/", "private"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[::1]:8000/", "loopback"),
    ("http://127.0.0.1:8000/", "loopback"),
    ("https://vimeo.com/123456", "not accepted"),
    ("https://www.youtube.com.evil.example/watch?v=x", "not accepted"),
    ("https://www.youtube.com@evil.example/watch?v=x", "user name"),
    ("https://user:pw@www.youtube.com/watch?v=x", "user name"),
    ("https://www.youtube.com:8443/watch?v=x", "port"),
    ("--exec rm -rf ~", "not a link"),
    ("--exec=touch /tmp/pwned", "not a link"),
    ("-o/etc/passwd", "not a link"),
    ("https://www.youtube.com/watch?v=" + "a" * 10000, "too long"),
    ("https://www.youtube.com/watch?v=x;rm -rf /", "spaces"),
    ("https://www.youtube.com/watch?v=x\nX-Injected: 1", "spaces"),
    ("https://www.youtube.com/watch?v=x\x00", "control"),
    ("https://www.youtube.com/watch?v=`id`", "not allowed"),
    ("https://www.youtube.com/watch?v=x|sh", "not allowed"),
    ("https://www.youtube.com/watch?v=x>/tmp/out", "not allowed"),
    ("https://www.youtube.com/watch?v=\"$(id)\"", "not allowed"),
    ("https://www.yоutube.com/watch?v=x", "not allowed"),  # Cyrillic "о"
    ("", "Enter"),
    ("https:///watch?v=x", "host"),
])
def test_unsafe_urls_are_refused(url, reason):
    with pytest.raises(UrlRefused, match=reason):
        check_url(url, allowed_hosts=DEFAULT_ALLOWED_HOSTS)


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://192.168.1.1/",
    "http://[fd00::1]/", "http://0xa000001/", "http://10.1/", "file:///etc/passwd", "javascript:alert(1)",
])
def test_allow_any_host_still_refuses_non_public_addresses(url):
    with pytest.raises(UrlRefused):
        check_url(url, allowed_hosts=DEFAULT_ALLOWED_HOSTS, allow_any_host=True)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/v/clip.mp4", "http://[::1]:8000/x", "http://localhost:8000/x", "http://2130706433/x",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
])
def test_allow_any_host_accepts_loopback(url):
    assert check_url(url, allowed_hosts=DEFAULT_ALLOWED_HOSTS, allow_any_host=True) == url


def test_admin_allowed_hosts_replace_the_default():
    assert check_url("https://example.org/v", allowed_hosts=["Example.org"]) == "https://example.org/v"
    with pytest.raises(UrlRefused):
        check_url("https://www.youtube.com/watch?v=x", allowed_hosts=["example.org"])


# -- names and paths -------------------------------------------------------------------------


@pytest.mark.parametrize("title, expected", [
    ("My Video", "My Video [abc].mp4"),
    ("..", "untitled [abc].mp4"),
    ("", "untitled [abc].mp4"),
    ("../x", "⧸x [abc].mp4"),
    ("a/../b", "a⧸..⧸b [abc].mp4"),
    ("a/b\\c", "a⧸b⧹c [abc].mp4"),
    ("a\x00b\nc\td", "a b c d [abc].mp4"),
    ('AC/DC: "Live" 4x4 | Ep. 12?', "AC⧸DC： ＂Live＂ 4x4 ｜ Ep. 12？ [abc].mp4"),
    ("  ...hidden  ", "hidden [abc].mp4"),
    ("--rm", "rm [abc].mp4"),
    ("😀 party", "😀 party [abc].mp4"),
])
def test_safe_name(title, expected):
    assert safe_name(title, "abc", "mp4") == expected


def test_safe_name_limits_length_and_cleans_ids_and_extensions():
    name = safe_name("界" * 400, "../../id/with spaces", "MP4/../x")
    assert len(name.encode()) <= 255 and name.endswith(" [_id_with_spaces].mp4x") and "/" not in name
    assert safe_name("t", None, None) == "t [noid].bin"
    assert safe_name("t", "_-abc123XY_", "mp4") == "t [_-abc123XY_].mp4"


def test_playlist_folder_name():
    assert playlist_folder_name("My Playlist", "PLx1") == "My Playlist [PLx1]"
    assert playlist_folder_name("..", "..") == "untitled [noid]"
    assert playlist_folder_name("Feed", "http://127.0.0.1:5000/feed/a.rss") == "Feed [http_127_0_0_1_5000_feed_a_rss]"


def test_ensure_inside(tmp_path):
    root = tmp_path / "alice"
    root.mkdir()
    assert ensure_inside(root, root / "a" / "b.mp4") == (root / "a" / "b.mp4").resolve()
    for escape in (root / ".." / "bob" / "x.mp4", root / "..", Path("/etc/passwd"), root):
        with pytest.raises(UnsafePath):
            ensure_inside(root, escape)
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(UnsafePath):
        ensure_inside(root, root / "link" / "x.mp4")
