"""Offline media for real yt-dlp runs: tiny ffmpeg clips served from 127.0.0.1 (YOUTUBE_AND_PLEX.md §7).

Routes:
    /v/<name>.mp4          a registered clip, with Content-Length and Range support
    /slow/<name>.mp4       the same clip padded to `slow_size` bytes, dribbled at `slow_rate` bytes/s
                           (a "Range: bytes=N-" request gets 206 and the rest from N)
    /missing/<name>.mp4    always 404 (a broken playlist entry)
    /garbage/<name>.mp4    200 text/html that is not media
    /playlist/<name>.html  a page with one <video> tag per entry: a playlist to yt-dlp's generic
                           extractor (entries "<name>-1".., titles "<title> (1)"..)
    /feed/<name>.rss       RSS 2.0 with one <item> + <enclosure> + <guid> per entry: a playlist whose
                           entry ids and titles are ours (ids = guids, titles = item titles)

Python API:
    server.add_video("clip1")                  -> "http://127.0.0.1:P/v/clip1.mp4"
    server.add_video("big", slow=True)         -> "http://127.0.0.1:P/slow/big.mp4"
    urls = server.add_playlist("demo", "Demo", videos=[("ep1", "One"), ("ep2", "../Two"), ("ep3", "3")],
                               broken=["ep2"], garbage=["ep3"], slow=[])
    urls.html, urls.rss
"""
from __future__ import annotations

import html
import logging
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from werkzeug.wrappers import Request, Response

from tests.fakes.base import FakeServer

log = logging.getLogger(__name__)

# One second, 64x48, H.264 + AAC: about 17 KB each. Different patterns and tones so clips differ.
_PATTERNS = ("testsrc", "smptebars", "rgbtestsrc")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not representable in XML 1.0
_ROUTE = re.compile(r"^/(v|slow|missing|garbage)/([\w.-]+)\.mp4$|^/(playlist)/([\w-]+)\.html$|^/(feed)/([\w-]+)\.rss$")


def make_clips(directory: Path, n: int = 3) -> list[Path]:
    """Create (or reuse) n tiny real mp4 clips in directory. Without ffmpeg, placeholder bytes are written:
    yt-dlp's generic extractor and HTTP downloader do not look at the content."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ffmpeg = shutil.which("ffmpeg")
    paths, jobs = [], []
    for i in range(n):
        path = directory / f"clip{i + 1}.mp4"
        paths.append(path)
        if path.exists() and path.stat().st_size:
            continue
        if ffmpeg is None:
            log.warning("ffmpeg not found; writing placeholder bytes to %s", path)
            path.write_bytes(b"\0\0\0\x18ftypmp42" + bytes([i]) * 20_000)
            continue
        cmd = [
            ffmpeg, "-v", "error", "-y",
            "-f", "lavfi", "-i", f"{_PATTERNS[i % len(_PATTERNS)]}=duration=1:size=64x48:rate=10",
            "-f", "lavfi", "-i", f"sine=frequency={330 + 110 * i}:duration=1",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
            str(path),
        ]
        jobs.append((path, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    for path, proc in jobs:
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg could not build {path.name}: {err.decode(errors='replace')}")
    return paths


def _xml_text(text: str) -> str:
    return xml_escape(_XML_INVALID.sub("", text))


@dataclass
class PlaylistUrls:
    html: str
    rss: str


@dataclass
class FakePlaylist:
    name: str
    title: str
    videos: list[tuple[str, str]]
    broken: set[str] = field(default_factory=set)
    slow: set[str] = field(default_factory=set)
    garbage: set[str] = field(default_factory=set)


class FakeMediaServer(FakeServer):
    name = "media"

    def __init__(self, clips, port: int | None = None):
        """clips: paths (or bytes) of media to hand out, in turn, to videos registered without data."""
        self.clips = [c if isinstance(c, bytes) else Path(c).read_bytes() for c in clips] or [b"\0" * 20_000]
        self._closing = threading.Event()
        super().__init__(port)
        self.reset_state()

    def stop(self):
        self._closing.set()
        super().stop()

    def start(self):
        self._closing.clear()
        return super().start()

    def reset_state(self):
        self.media: dict[str, bytes] = {}
        self.playlists: dict[str, FakePlaylist] = {}
        self.slow_rate = 200_000
        self.slow_size = 2_000_000

    # -- registration --------------------------------------------------------
    def add_video(self, name: str, data: bytes | None = None, *, slow: bool = False) -> str:
        if name not in self.media or data is not None:
            self.media[name] = data if data is not None else self.clips[len(self.media) % len(self.clips)]
        return self.video_url(name, slow=slow)

    def video_url(self, name: str, *, slow: bool = False, broken: bool = False, garbage: bool = False) -> str:
        kind = "missing" if broken else "garbage" if garbage else "slow" if slow else "v"
        return f"{self.url}/{kind}/{name}.mp4"

    def add_playlist(self, name, title, videos, broken=(), slow=(), garbage=()) -> PlaylistUrls:
        """videos: [(id, title)]; ids double as media names. Ids in `broken` answer 404, in `garbage` an
        HTML page instead of media, in `slow` dribble."""
        playlist = FakePlaylist(name, title, list(videos), set(broken), set(slow), set(garbage))
        for video_id, _ in playlist.videos:
            if video_id not in playlist.broken | playlist.garbage:
                self.add_video(video_id)
        self.playlists[name] = playlist
        return PlaylistUrls(html=f"{self.url}/playlist/{name}.html", rss=f"{self.url}/feed/{name}.rss")

    def entry_url(self, playlist: FakePlaylist, video_id: str) -> str:
        return self.video_url(video_id, slow=video_id in playlist.slow, broken=video_id in playlist.broken,
                              garbage=video_id in playlist.garbage)

    # -- HTTP ----------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        match = _ROUTE.match(request.path)
        if not match:
            return Response("not found", status=404)
        kind, name = [g for g in match.groups() if g is not None]
        if kind == "missing":
            return Response("not found", status=404)
        if kind == "garbage":
            return Response("<html><body>this is not a video</body></html>", content_type="text/html")
        if kind in ("playlist", "feed"):
            playlist = self.playlists.get(name)
            if playlist is None:
                return Response("no such playlist", status=404)
            return self._playlist_html(playlist) if kind == "playlist" else self._playlist_rss(playlist)
        data = self.media.get(name)
        if data is None:
            return Response("no such video", status=404)
        if kind == "slow":
            return self._dribble(data, request)
        resp = Response(data, content_type="video/mp4")
        resp.make_conditional(request, accept_ranges=True, complete_length=len(data))
        return resp

    def _dribble(self, data: bytes, request: Request) -> Response:
        body = data.ljust(max(self.slow_size, len(data)), b"\0")
        whole, status, headers = len(body), 200, {"Accept-Ranges": "bytes"}
        wanted = request.range.range_for_length(whole) if request.range else None
        if wanted is not None:  # "bytes=N-": a client continuing a partial file
            status, headers["Content-Range"] = 206, f"bytes {wanted[0]}-{wanted[1] - 1}/{whole}"
            body = body[wanted[0]:wanted[1]]
        rate = max(1, int(self.slow_rate))
        tick = 0.05
        chunk = max(1, int(rate * tick))
        closing = self._closing

        def generate():
            for start in range(0, len(body), chunk):
                if closing.is_set():
                    return
                yield body[start:start + chunk]
                time.sleep(tick)

        return Response(generate(), status=status, content_type="video/mp4",
                        headers={**headers, "Content-Length": str(len(body))}, direct_passthrough=True)

    def _playlist_html(self, playlist: FakePlaylist) -> Response:
        videos = "\n".join(
            f'<video controls src="{html.escape(self.entry_url(playlist, vid))}"></video>'
            for vid, _ in playlist.videos
        )
        page = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(playlist.title)}</title>"
                f"</head><body><h1>{html.escape(playlist.title)}</h1>\n{videos}\n</body></html>")
        return Response(page, content_type="text/html; charset=utf-8")

    def _playlist_rss(self, playlist: FakePlaylist) -> Response:
        items = []
        for vid, title in playlist.videos:
            url = self.entry_url(playlist, vid)
            length = len(self.media.get(vid, b""))
            items.append(
                f"<item><title>{_xml_text(title)}</title><guid isPermaLink=\"false\">{xml_escape(vid)}</guid>"
                f"<enclosure url=\"{xml_escape(url)}\" type=\"video/mp4\" length=\"{length}\"/></item>"
            )
        feed = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{_xml_text(playlist.title)}</title><link>{self.url}/</link>"
                f"<description>fake feed</description>{''.join(items)}</channel></rss>")
        return Response(feed.encode("utf-8"), content_type="application/rss+xml; charset=utf-8")
