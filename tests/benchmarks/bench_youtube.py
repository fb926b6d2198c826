"""YouTube downloads: MediaNest's job against plain yt-dlp on the same 20-video local playlist, same run.

Media: 20 videos of VIDEO_BYTES each (a real ffmpeg clip padded with zeros), listed by an HTML page with
20 <video> tags and served from 127.0.0.1. Plain yt-dlp downloads the page as a playlist with the same
output template, paths and remux step; MediaNest goes the way a user does (preview in the form, submit),
and the job runs at once (Huey in immediate mode): archive, per-video progress, database writes, file checks.
Submit + job is what is compared. Each side runs three times, alternating; the best time counts.
Target: MediaNest within 10 % of plain yt-dlp. Also reported: progress writes per second per download
(throttled by MEDIANEST_YOUTUBE_PROGRESS_INTERVAL, 0.5 s by default).
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

VIDEOS = 20
VIDEO_BYTES = 1_000_000
ROUNDS = 3


def _plain_ytdlp(url: str, home: Path, temp: Path) -> float:
    import yt_dlp

    params = {
        "quiet": True, "no_warnings": True, "noprogress": True,
        "allowed_extractors": ["generic", "html5"], "socket_timeout": 20,
        "paths": {"home": str(home), "temp": str(temp)}, "outtmpl": {"default": "%(title)s [%(id)s].%(ext)s"},
        "merge_output_format": "mp4", "postprocessors": [{"key": "FFmpegVideoRemuxer", "preferedformat": "mp4"}],
        "download_archive": set(), "cachedir": False,
    }
    started = time.perf_counter()
    with yt_dlp.YoutubeDL(params) as ydl:
        assert ydl.download([url]) == 0
    elapsed = time.perf_counter() - started
    assert len(list(home.glob("*.mp4"))) == VIDEOS, list(home.iterdir())
    return elapsed


def _medianest(app, url: str, n: int) -> tuple[float, float, int]:
    """The web flow: preview (what the form does), then submit, whose job runs at once (Huey's immediate
    mode, as the test rig sets it). Returns (preview seconds, submit + job seconds, progress writes)."""
    from sqlalchemy import event

    from medianest.extensions import db
    from medianest.models.youtube import YoutubeDownload
    from medianest.services import youtube
    from tests.factories import make_user

    user = make_user(app, email=f"bench-{n}-{time.time_ns()}@example.com")
    writes = []

    def on_execute(conn, cursor, statement, params, context, executemany):
        if statement.startswith("UPDATE youtube_downloads SET") and "progress=" in statement:
            writes.append(statement)

    with app.app_context():
        started = time.perf_counter()
        youtube.preview(user.id, url)
        preview = time.perf_counter() - started
        event.listen(db.engine, "before_cursor_execute", on_execute)
        try:
            started = time.perf_counter()
            did = youtube.submit(user.id, url).id  # Huey in immediate mode: the job runs inside submit()
            elapsed = time.perf_counter() - started
        finally:
            event.remove(db.engine, "before_cursor_execute", on_execute)
        row = db.session.get(YoutubeDownload, did, populate_existing=True)
        assert row.status == "completed" and len(row.file_paths) == VIDEOS, (row.status, row.error)
    return preview, elapsed, len(writes)


def run(report):
    from flask_migrate import upgrade

    from medianest.worker import huey

    huey.immediate = True  # the job runs inside submit(), in this process

    from medianest import create_app
    from medianest.extensions import db
    from tests.conftest import base_config
    from tests.fakes.media import FakeMediaServer, make_clips

    work = Path(tempfile.mkdtemp(prefix="medianest-bench-youtube-"))
    clips = make_clips(work / "clips", 3)
    server = FakeMediaServer(clips).start()
    try:
        videos = [(f"b{n:02d}", f"Bench video {n}") for n in range(VIDEOS)]
        for n, (video_id, _) in enumerate(videos):
            server.add_video(video_id, clips[n % len(clips)].read_bytes().ljust(VIDEO_BYTES, b"\0"))
        url = server.add_playlist("bench", "Bench Playlist", videos).html

        database = base_config()["SQLALCHEMY_DATABASE_URI"].replace("test.sqlite3", "bench_youtube.sqlite3")
        app = create_app(base_config(SQLALCHEMY_DATABASE_URI=database, MEDIANEST_DOWNLOAD_DIR=str(work / "library"),
                                     MEDIANEST_YTDLP_ALLOW_ANY_HOST=True))
        with app.app_context():
            upgrade()

        _plain_ytdlp(url, work / "warm" / "home", work / "warm" / "temp")  # warm caches (imports, ffmpeg probe)
        plain, ours, previews, rates = [], [], [], []
        for n in range(ROUNDS):
            plain.append(_plain_ytdlp(url, work / f"plain{n}" / "home", work / f"plain{n}" / "temp"))
            preview, elapsed, writes = _medianest(app, url, n)
            previews.append(preview)
            ours.append(elapsed)
            rates.append(writes / elapsed)
        best_plain, best_ours = min(plain), min(ours)
        report("plain yt-dlp: 20-video playlist", best_plain, "s", f"best of {ROUNDS}")
        report("MediaNest preview (the form's listing)", min(previews), "s", f"best of {ROUNDS}")
        report("MediaNest submit + download job: same playlist", best_ours, "s", f"best of {ROUNDS}")
        ratio = best_ours / best_plain
        report("MediaNest / plain yt-dlp", ratio, "x", "target <= 1.10" + ("" if ratio <= 1.10 else " (MISSED)"))
        report("progress writes per second per download", max(rates), "writes/s",
               f"max of {ROUNDS} runs; throttle {app.config.get('MEDIANEST_YOUTUBE_PROGRESS_INTERVAL') or 0.5} s")
        with app.app_context():
            db.engine.dispose()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
