"""yt-dlp itself and what subclasses or catches its classes. Imported on first use by YtDlpClient
(a preview or a download), never at start-up: a web worker that runs neither does not load yt-dlp."""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import yt_dlp
from yt_dlp.postprocessor.common import PostProcessor
from yt_dlp.utils import DownloadCancelled, DownloadError, unsmuggle_url

from medianest.clients.base import ClientError
from medianest.clients.ytdlp.common import (
    CANCEL_POLL_SECONDS,
    FileTooLarge,
    PermanentError,
    ProgressEvent,
    TransientError,
    ensure_inside,
    safe_stem,
)

log = logging.getLogger("medianest.clients.ytdlp")


class _CancelSignal(DownloadCancelled):
    """Raised inside yt-dlp: DownloadCancelled is the one exception it never swallows."""

    msg = "cancelled by the user"


def yt_dlp_version() -> str:
    return yt_dlp.version.__version__


# -- errors from yt-dlp --------------------------------------------------------

_PERMANENT = re.compile(
    r"private video|video unavailable|is not available|no longer available|has been removed|"
    r"removed by the uploader|terminated|deleted|unsupported url|no suitable extractor|not allowed|"
    r"members[- ]only|available to this channel's members|confirm your age|age[- ]restricted|copyright|"
    r"does not exist|requested format is not available|no video formats found|file:// urls|"
    r"http error 4(?:0[0-24-9]|1\d)", re.I)
_RATE_LIMITED = re.compile(r"not a bot|rate[- ]limit|too many requests|http error 429|try again later", re.I)
_TRANSIENT = re.compile(
    r"timed out|timeout|connection (?:refused|reset|aborted)|temporary failure|name resolution|"
    r"network is unreachable|remote end closed|incomplete ?read|content too short|http error (?:5\d\d|403)|"
    r"unable to connect|ssl|eof occurred", re.I)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_HTTP_STATUS = re.compile(r"HTTP Error (\d{3})")


def readable_reason(message: str) -> str:
    """yt-dlp's message without "ERROR:", the "[extractor] id:" prefix, the cause and the bug-report plea."""
    text = _ANSI.sub("", str(message or "")).strip()
    text = re.sub(r"^ERROR:\s*", "", text)
    text = re.sub(r"^\[[\w:.-]+\]\s*(?:[^\s:]+:\s+)?", "", text)
    text = re.split(r" \(caused by |; please report this issue|\n", text, maxsplit=1)[0]
    text = text.strip().rstrip(";,")
    return (text[:297] + "...") if len(text) > 300 else (text or "download failed")


def classify_error(exc: BaseException) -> ClientError:
    """Map anything yt-dlp raised to PermanentError or TransientError with a readable reason."""
    if isinstance(exc, ClientError):
        return exc
    if isinstance(exc, OSError):
        return TransientError(f"file system error: {exc.strerror or exc}")
    if not isinstance(exc, (DownloadError, yt_dlp.utils.YoutubeDLError)):
        log.warning("unexpected error from yt-dlp", exc_info=exc)
        return PermanentError(f"unexpected error ({type(exc).__name__})")
    message = str(exc)
    reason = readable_reason(message)
    found = _HTTP_STATUS.search(message)
    status = int(found.group(1)) if found else None
    if _RATE_LIMITED.search(message):
        return TransientError(reason, status=status, rate_limited=True)
    if _PERMANENT.search(message):
        return PermanentError(reason, status=status)
    if _TRANSIENT.search(message):
        return TransientError(reason, status=status)
    cause = (getattr(exc, "exc_info", None) or (None, None))[1]
    if isinstance(cause, yt_dlp.networking.exceptions.TransportError):
        return TransientError(reason, status=status)
    if isinstance(cause, yt_dlp.utils.ExtractorError) and cause.expected:
        return PermanentError(reason, status=status)
    return TransientError(reason, status=status)


# -- yt-dlp plumbing -----------------------------------------------------------


class _Logger:
    """Route yt-dlp's output to logging. Errors are raised and reported by this module, so debug only."""

    def debug(self, msg):
        log.debug("%s", msg)

    def info(self, msg):
        log.debug("%s", msg)

    def warning(self, msg):
        log.info("yt-dlp: %s", _ANSI.sub("", msg))

    def error(self, msg):
        log.debug("%s", _ANSI.sub("", msg))


class _YoutubeDL(yt_dlp.YoutubeDL):
    """YoutubeDL without the unused --print work. Before every postprocessing stage (six per video)
    yt-dlp renders a copy of the info dict for `--print` (file name, formats, thumbnails and subtitle
    tables) even when nothing is to be printed: a fifth of its CPU time per video on a fast link.
    MediaNest never sets `forceprint` / `print_to_file`; when either names the stage, yt-dlp's own
    method runs unchanged. The "video" stage's copy feeds the --get-* options: always yt-dlp's."""

    def _forceprint(self, key, *args, **kwargs):
        if (key == "video" or (self.params.get("forceprint") or {}).get(key)
                or (self.params.get("print_to_file") or {}).get(key)):
            return super()._forceprint(key, *args, **kwargs)
        return None


class _SafeNamePP(PostProcessor):
    """Per video, at two stages. "video" (after format selection, right before yt-dlp computes the file
    name): sets the field the output template uses. "before_dl" (nothing written yet): checks that the
    file name yt-dlp computed (`_filename`, the path it will move the finished file to) stays inside
    the download folder."""

    def __init__(self, downloader, home: Path, check: bool):
        super().__init__(downloader)
        self._home = home
        self._check = check

    def run(self, info):
        if not self._check:
            info["medianest_stem"] = safe_stem(info.get("title"), info.get("id"))
            return [], info
        final = info.get("_filename") or self._downloader.prepare_filename(info)
        ensure_inside(self._home, Path(final))
        return [], info

def _entry_id(entry: dict) -> str | None:
    if entry.get("id"):
        return str(entry["id"])
    # RSS entries carry their guid smuggled in the URL until they are resolved.
    _, data = unsmuggle_url(entry.get("url") or "", {})
    return data.get("force_videoid")

class _Run:
    """State of one download() call, shared by the progress hook and the match filter."""

    def __init__(self, *, count, archive_ids, on_progress, should_cancel, max_filesize):
        self.count = max(count, 1)
        self.archive_ids = archive_ids
        self.on_progress = on_progress
        self.should_cancel = should_cancel
        self.max_filesize = max_filesize
        self._last_cancel_check = 0.0
        self.begin(0, None, None)

    def begin(self, index, video_id, title):
        self.index, self.video_id, self.title = index, video_id, title
        self.rejection: ClientError | str | None = None
        self.parts_total = 1
        self.parts_done = 0
        self.bytes_done = 0

    def check_cancel(self, *, force=False):
        if self.should_cancel is None:
            return
        now = time.monotonic()
        if not force and now - self._last_cancel_check < CANCEL_POLL_SECONDS:
            return
        self._last_cancel_check = now
        if self.should_cancel():
            raise _CancelSignal()

    def emit(self, status, *, fraction, downloaded=0, total=None, speed=None, eta=None, video_id=None, title=None):
        if self.on_progress is None:
            return
        percent = 100.0 * (max(self.index - 1, 0) + min(max(fraction, 0.0), 1.0)) / self.count
        self.on_progress(ProgressEvent(
            index=max(self.index, 1), count=self.count, video_id=video_id or self.video_id,
            title=title or self.title, downloaded_bytes=int(downloaded or 0), total_bytes=total,
            speed=speed, eta=eta, percent_of_playlist=round(min(percent, 100.0), 2), status=status))

    # yt-dlp callbacks ------------------------------------------------------
    def match_filter(self, info, *, incomplete=False):
        self.check_cancel(force=True)
        video_id = info.get("id")
        if video_id and str(video_id) in self.archive_ids:
            self.rejection = "archived"
            return "already downloaded"
        if incomplete is False:
            self.parts_total = len(info.get("requested_formats") or ()) or 1
            size = info.get("filesize") or info.get("filesize_approx")
            if self.max_filesize and size and size > self.max_filesize:
                self.rejection = FileTooLarge(_too_large(size, self.max_filesize))
                return self.rejection.message
        return None

    def progress_hook(self, d):
        self.check_cancel()
        status = d.get("status")
        if status not in ("downloading", "finished"):
            return
        info = d.get("info_dict") or {}
        downloaded = d.get("downloaded_bytes") or 0
        total = d.get("total_bytes") or d.get("total_bytes_estimate")
        if self.max_filesize:
            expected = self.bytes_done + max(downloaded, d.get("total_bytes") or 0)
            if expected > self.max_filesize:
                raise FileTooLarge(_too_large(expected, self.max_filesize))
        if d.get("fragment_count"):
            part = (d.get("fragment_index") or 0) / d["fragment_count"]
        else:
            part = downloaded / total if total else 0.0
        if status == "finished":
            self.parts_done += 1
            self.bytes_done += downloaded
            fraction = self.parts_done / self.parts_total
        else:
            fraction = min((self.parts_done + min(part, 1.0)) / self.parts_total, 0.99)
        self.emit(status, fraction=fraction, downloaded=downloaded, total=total, speed=d.get("speed"),
                  eta=d.get("eta"), video_id=info.get("id"), title=info.get("title"))


def _too_large(size, limit) -> str:
    return f"larger than the size limit ({_human_size(size)} > {_human_size(limit)})"


def _human_size(size: float) -> str:
    for unit in ("bytes", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"

def _downloads_in(info: dict):
    """(video info, requested download) pairs; an entry that was itself a playlist has them in its entries."""
    for item in info.get("requested_downloads") or ():
        yield info, item
    for entry in info.get("entries") or ():
        if entry:
            yield from _downloads_in(entry)
