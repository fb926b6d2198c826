"""YouTube downloads: MediaNest against plain yt-dlp on the same 20-video local playlist, in the same run.

Media: 20 videos of VIDEO_BYTES each (a real ffmpeg clip padded with zeros), listed by an HTML page with
20 <video> tags and served from 127.0.0.1, twice: at loopback speed (the worst case for MediaNest: its
fixed costs per video are all there is to measure) and throttled to THROTTLED_RATE bytes/s per video (closer
to a real download, where bytes dominate). Plain yt-dlp downloads the page as a playlist with the same
format selection (MediaNest's "best"/MP4 format string), paths, output template shape and remux step,
into 20 files as MediaNest does. MediaNest goes the way a user does: the form's preview, then submit,
whose job runs at once (Huey in immediate mode): archive, per-video progress, database writes, file
checks; the job starts from the preview's listing, as it does after the form's preview step. Submit + job
is what is compared (the target); preview + submit + job is reported too, so the listing that plain
yt-dlp does inside its own run is counted on both sides there. Both sides get a warm-up run; the order
alternates each round; the best of ROUNDS counts. Target: MediaNest within 10 % of plain yt-dlp.
Also reported: the progress-write rate of the throttled run, counted at the database between the first and
the last write of a download (the throttle is MEDIANEST_YOUTUBE_PROGRESS_INTERVAL, 0.5 s by default, so
at most 2/s), and the shortest gap between two writes.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

VIDEOS = 20
VIDEO_BYTES = 1_000_000
THROTTLED_RATE = 10_000_000
ROUNDS = 5


def _plain_ytdlp(url: str, home: Path, temp: Path) -> float:
    import yt_dlp

    from medianest.clients.ytdlp import _format_spec

    params = {
        "quiet": True, "no_warnings": True, "noprogress": True,
        "allowed_extractors": ["generic", "html5"], "socket_timeout": 20,
        "paths": {"home": str(home), "temp": str(temp)}, "outtmpl": {"default": "%(title)s [%(id)s].%(ext)s"},
        "format": _format_spec("best", "mp4"),  # MediaNest's selection for "best" / MP4, so both pick alike
        "merge_output_format": "mp4", "postprocessors": [{"key": "FFmpegVideoRemuxer", "preferedformat": "mp4"}],
        "download_archive": set(), "cachedir": False,
    }
    started = time.perf_counter()
    with yt_dlp.YoutubeDL(params) as ydl:
        assert ydl.download([url]) == 0
    elapsed = time.perf_counter() - started
    assert len(list(home.glob("*.mp4"))) == VIDEOS, list(home.iterdir())
    return elapsed


def _medianest(app, url: str) -> tuple[float, float, list[float]]:
    """Preview (what the form does), then submit. Returns (preview s, submit + job s, progress write times)."""
    from sqlalchemy import event

    from medianest.extensions import db
    from medianest.models.youtube import YoutubeDownload
    from medianest.services import youtube
    from tests.factories import make_user

    user = make_user(app, email=f"bench-{time.time_ns()}@example.com")
    writes = []

    def on_execute(conn, cursor, statement, params, context, executemany):
        if statement.startswith("UPDATE youtube_downloads SET") and '"percent"' in str(params):
            writes.append(time.perf_counter())

    with app.app_context():
        started = time.perf_counter()
        youtube.preview(user.id, url)
        preview = time.perf_counter() - started
        event.listen(db.engine, "before_cursor_execute", on_execute)
        try:
            started = time.perf_counter()
            did = youtube.submit(user.id, url).id
            elapsed = time.perf_counter() - started
        finally:
            event.remove(db.engine, "before_cursor_execute", on_execute)
        row = db.session.get(YoutubeDownload, did, populate_existing=True)
        assert row.status == "completed" and len(row.file_paths) == VIDEOS, (row.status, row.error)
    return preview, elapsed, writes


def _compare(report, app, url: str, work: Path, label: str):
    _plain_ytdlp(url, work / f"warm-{label}" / "home", work / f"warm-{label}" / "temp")
    _medianest(app, url)
    plain, ours, totals, previews, rates, gaps = [], [], [], [], [], []
    for n in range(ROUNDS):
        def plain_side(n=n):
            plain.append(_plain_ytdlp(url, work / f"plain-{label}{n}" / "home", work / f"plain-{label}{n}" / "temp"))

        def our_side():
            preview, elapsed, writes = _medianest(app, url)
            previews.append(preview)
            ours.append(elapsed)
            totals.append(preview + elapsed)
            if len(writes) >= 2:
                rates.append((len(writes) - 1) / (writes[-1] - writes[0]))
                gaps.append(min(b - a for a, b in zip(writes, writes[1:])))

        for side in ((plain_side, our_side) if n % 2 == 0 else (our_side, plain_side)):
            side()
    best_plain, best_ours = min(plain), min(ours)
    report(f"{label}: plain yt-dlp", best_plain, "s", f"best of {ROUNDS}")
    report(f"{label}: MediaNest preview", min(previews), "s", f"best of {ROUNDS}")
    report(f"{label}: MediaNest submit + job", best_ours, "s", f"best of {ROUNDS}")
    ratio = best_ours / best_plain
    report(f"{label}: MediaNest / plain yt-dlp", ratio, "x", "target <= 1.10" + ("" if ratio <= 1.10 else " (missed)"))
    report(f"{label}: MediaNest preview+submit+job / plain", min(totals) / best_plain, "x",
           "listing counted on both sides")
    return rates, gaps


def run(report):
    from flask_migrate import upgrade

    from medianest import create_app
    from medianest.extensions import db
    from medianest.worker import huey
    from tests.conftest import base_config
    from tests.fakes.media import FakeMediaServer, make_clips

    huey.immediate = True  # the job runs inside submit(), in this process
    work = Path(tempfile.mkdtemp(prefix="medianest-bench-youtube-"))
    clips = make_clips(work / "clips", 3)
    server = FakeMediaServer(clips).start()
    try:
        database = base_config()["SQLALCHEMY_DATABASE_URI"].replace("test.sqlite3", "bench_youtube.sqlite3")
        app = create_app(base_config(SQLALCHEMY_DATABASE_URI=database, MEDIANEST_DOWNLOAD_DIR=str(work / "library"),
                                     MEDIANEST_YTDLP_ALLOW_ANY_HOST=True))
        with app.app_context():
            upgrade()
        videos = [(f"b{n:02d}", f"Bench video {n}") for n in range(VIDEOS)]
        for n, (video_id, _) in enumerate(videos):
            server.add_video(video_id, clips[n % len(clips)].read_bytes().ljust(VIDEO_BYTES, b"\0"))
        fast = server.add_playlist("bench", "Bench Playlist", videos).html
        server.slow_size, server.slow_rate = VIDEO_BYTES, THROTTLED_RATE
        slow = server.add_playlist("benchslow", "Bench Playlist Throttled", videos, slow=[v for v, _ in videos]).html

        _compare(report, app, fast, work, "loopback")
        rates, gaps = _compare(report, app, slow, work, f"{THROTTLED_RATE / 1e6:.0f} MB/s")
        interval = app.config.get("MEDIANEST_YOUTUBE_PROGRESS_INTERVAL") or 0.5
        if rates:
            report("progress writes per second per download", max(rates), "writes/s",
                   f"throttled run, first to last write; limit {1 / interval:.0f}/s")
            report("shortest gap between progress writes", min(gaps), "s", f"throttled run; limit {interval:g} s")
        with app.app_context():
            db.engine.dispose()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
