"""yt-dlp through its Python API: URL checks, playlist preview, downloads with progress and cancel.

No Flask, no database. See /work/shared/reference/YOUTUBE_AND_PLEX.md §1 and §6 for the yt-dlp
behaviour this module relies on.

A download is two steps: the URL is listed once with extract_flat="in_playlist" (the same call
`preview()` makes), then each entry is processed on its own. That gives every entry its own
error, its own archive check and its own progress index; one broken entry never fails the
playlist. Per-entry errors are caught here, which is what yt-dlp's `ignoreerrors` would do,
but with the error attributed to the right video.

The listing is made once per download: `preview()` returns it in a JSON-safe form
(`Preview.listing`) that `download(listing=...)` starts from, so a job that already has the
preview's listing does not list the URL again. Each entry is then processed by one YoutubeDL
object per download, through the extractor the listing named (`ie_key`), never a fresh sniff.
"""
from __future__ import annotations

import copy
import ipaddress
import json
import logging
import re
import shutil
import socket
import string
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, NamedTuple
from urllib.parse import urlsplit

import yt_dlp
from yt_dlp.postprocessor.common import PostProcessor
from yt_dlp.utils import DownloadCancelled, DownloadError, unsmuggle_url

from medianest.clients.base import ClientError

log = logging.getLogger(__name__)

DEFAULT_ALLOWED_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be"})
MAX_URL_LENGTH = 2048
# Extractors a production download may use (YOUTUBE_AND_PLEX.md §1.11). Regexes, full match, lower case.
YOUTUBE_EXTRACTORS = ("youtube", "youtube:tab", "youtube:playlist", "youtubeytbe")
# The generic extractor and the <video>-tag extractor it delegates to: tests only (127.0.0.1 media).
GENERIC_EXTRACTORS = ("generic", "html5")

QUALITIES = ("best", "1080p", "720p", "audio")
VIDEO_CONTAINERS = ("mp4", "mkv", "webm")
AUDIO_CONTAINERS = ("m4a", "mp3", "opus")
DEFAULT_MAX_ENTRIES = 500
LISTING_MAX_CHARS = 2_000_000  # a longer listing (as JSON) is not handed on: the download lists the URL again
CANCEL_POLL_SECONDS = 0.5

TITLE_MAX_BYTES = 150
ID_MAX_BYTES = 64

# RFC 3986 characters; anything else (spaces, quotes, backticks, <>, |, ^, {}, non-ASCII) is refused.
_URL_CHARS = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")


# -- errors --------------------------------------------------------------------


class UrlRefused(ClientError):
    """The URL is not one MediaNest will hand to yt-dlp. The message is for the user."""


class PermanentError(ClientError):
    """Retrying will not help: private, unavailable, removed, unsupported, not allowed, too large."""


class TransientError(ClientError):
    """Worth retrying later: network trouble, timeouts, HTTP 5xx/429, rate limiting."""

    def __init__(self, message: str, *, status: int | None = None, rate_limited: bool = False):
        super().__init__(message, status=status)
        self.rate_limited = rate_limited  # YouTube throttling: pause the whole queue, not just this job


class UnsafePath(PermanentError):
    """A file name built from outside data would land outside its folder."""


class FileTooLarge(PermanentError):
    """The file is larger than the allowed size."""


class Cancelled(Exception):
    """should_cancel() answered True. `result` holds what was finished before the cancel."""

    def __init__(self, result: DownloadResult):
        super().__init__("download cancelled")
        self.result = result


class _CancelSignal(DownloadCancelled):
    """Raised inside yt-dlp: DownloadCancelled is the one exception it never swallows."""

    msg = "cancelled by the user"


# -- data ----------------------------------------------------------------------


class Entry(NamedTuple):
    id: str | None
    title: str | None
    duration: float | None


class Failure(NamedTuple):
    video_id: str | None
    title: str | None
    reason: str


@dataclass
class Preview:
    title: str | None
    id: str | None
    is_playlist: bool
    count: int | None  # None: a truncated listing whose real size the site did not say
    entries: list[Entry]
    total_duration: float | None  # None unless every listed entry has a duration
    truncated: bool
    # What download(listing=...) needs to start without listing the URL again: JSON-safe (cacheable).
    # None when it would be too large (then the download lists the URL itself).
    listing: dict | None = field(default=None, repr=False)


@dataclass
class DownloadedFile:
    video_id: str
    title: str
    path: Path
    size: int


@dataclass
class DownloadResult:
    playlist_id: str | None
    playlist_title: str | None
    files: list[DownloadedFile] = field(default_factory=list)
    skipped_ids: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    truncated: bool = False


@dataclass(frozen=True)
class ProgressEvent:
    """status: "downloading" | "finished" (one file of the entry) | "completed" (entry done, file in
    work_dir) | "skipped" (in the archive) | "failed". Hooks fire many times a second: throttle writes."""

    index: int
    count: int
    video_id: str | None
    title: str | None
    downloaded_bytes: int
    total_bytes: int | None
    speed: float | None
    eta: float | None
    percent_of_playlist: float
    status: str


def yt_dlp_version() -> str:
    return yt_dlp.version.__version__


# -- URL checks ----------------------------------------------------------------


def check_url(url: str, *, allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS, allow_any_host: bool = False) -> str:
    """Return the URL (surrounding whitespace removed) or raise UrlRefused with a user-facing reason.

    allow_any_host is the testing switch (MEDIANEST_YTDLP_ALLOW_ANY_HOST): any host name is accepted
    if it resolves to public addresses or loopback. Private, link-local (cloud metadata), multicast,
    reserved and unspecified addresses are refused in every mode; loopback only with the switch.
    """
    if not isinstance(url, str):
        raise UrlRefused("Enter a link.")
    url = url.strip()
    if not url:
        raise UrlRefused("Enter a link.")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"That link is too long (more than {MAX_URL_LENGTH} characters).")
    if url.startswith("-"):
        raise UrlRefused("That is not a link.")
    bad = {ch for ch in url if ch not in _URL_CHARS}
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in bad):
        raise UrlRefused("The link must not contain spaces or control characters.")
    if bad:
        raise UrlRefused("The link contains characters that are not allowed in a URL: " + " ".join(sorted(bad)))
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise UrlRefused("Only http:// and https:// links are accepted.")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise UrlRefused("The link is malformed.") from None
    if not host:
        raise UrlRefused("The link has no host name.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("The link must not contain a user name or password.")
    host = host.rstrip(".")
    allowed = {h.strip().lower().rstrip(".") for h in allowed_hosts}

    literal = _ip_literal(host)
    if literal is not None:
        _check_address(literal, allow_loopback=allow_any_host)
    if host in allowed and port in (None, 80, 443):
        return url
    if not allow_any_host:
        if host in allowed:
            raise UrlRefused("Links to other ports are not accepted.")
        raise UrlRefused(f"Links to {host} are not accepted. Allowed: {', '.join(sorted(allowed))}.")
    if literal is None:
        for address in _resolve(host, port):
            _check_address(address, allow_loopback=True)
    return url


def _ip_literal(host: str):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _resolve(host: str, port: int | None):
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UrlRefused(f"The host name {host} could not be resolved.") from None
    return {ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos}


def _check_address(address, *, allow_loopback: bool):
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        if allow_loopback:
            return
        raise UrlRefused("Links to this computer (loopback addresses) are not accepted.")
    if (not address.is_global or address.is_private or address.is_link_local or address.is_multicast
            or address.is_reserved or address.is_unspecified):
        raise UrlRefused("Links to private, local or reserved network addresses are not accepted.")


# -- file names ----------------------------------------------------------------

# The characters yt-dlp would replace in a file name, mapped the same way, so that its own
# sanitising leaves our names unchanged.
_LOOKALIKES = {"/": "\u29f8", "\\": "\u29f9", **{ch: chr(ord(ch) + 0xFEE0) for ch in '"*:<>?|'}}
# Bidirectional overrides can make a name display as something else.
_BIDI = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _clean_text(text: str, max_bytes: int) -> str:
    text = unicodedata.normalize("NFC", str(text or ""))
    out = []
    for ch in text:
        if ch in _LOOKALIKES:
            out.append(_LOOKALIKES[ch])
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(" ")
        else:
            out.append(ch)
    cleaned = " ".join("".join(out).split())
    cleaned = _truncate_utf8(cleaned, max_bytes)
    # Leading dots hide files (and ".." must never be a name); leading dashes look like options.
    return cleaned.strip(" .").lstrip("-_ .")


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def _clean_id(value: str | None) -> str:
    # YouTube ids ([A-Za-z0-9_-]{11}) pass unchanged; other sites' ids (an RSS feed's is its URL) are squashed.
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", str(value or ""))[:ID_MAX_BYTES]
    return cleaned if cleaned.strip("_") else "noid"


def safe_stem(title: str | None, video_id: str | None) -> str:
    return f"{_clean_text(title, TITLE_MAX_BYTES) or 'untitled'} [{_clean_id(video_id)}]"


def safe_name(title: str | None, video_id: str | None, ext: str | None) -> str:
    """"<title> [<id>].<ext>": one path component, never hidden, never "." or "..", under 255 bytes."""
    clean_ext = re.sub(r"[^a-z0-9]", "", str(ext or "").lower())[:10] or "bin"
    return f"{safe_stem(title, video_id)}.{clean_ext}"


def playlist_folder_name(title: str | None, playlist_id: str | None) -> str:
    """"<title> [<playlist id>]" for the per-playlist folder."""
    return safe_stem(title, playlist_id)


def ensure_inside(root: Path, candidate: Path) -> Path:
    """Return candidate resolved, or raise UnsafePath if it is not strictly inside root."""
    root_real = Path(root).resolve()
    real = Path(candidate).resolve()
    if real == root_real or not real.is_relative_to(root_real):
        raise UnsafePath("a file name would escape its folder")
    return real


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


def _format_spec(quality: str, container: str) -> str:
    if quality == "audio":
        return "ba[ext=m4a]/ba/b" if container == "m4a" else "ba/b"
    limit = {"best": "", "1080p": "[height<=?1080]", "720p": "[height<=?720]"}[quality]
    choices = []
    if container == "mp4":  # H.264/HEVC + AAC plays directly in Plex (ytdl-sub's Plex preset)
        choices += [f"bv*{limit}[vcodec~='^((he|a)vc|h26[45])']+ba[ext=m4a]", f"bv*{limit}[ext=mp4]+ba[ext=m4a]"]
    elif container == "webm":
        choices += [f"bv*{limit}[ext=webm]+ba[ext=webm]"]
    choices += [f"bv*{limit}+ba", f"b{limit}"]
    if limit:
        choices += ["wv*+ba", "w"]  # nothing small enough: the smallest there is
    return "/".join(choices)


def _postprocessors(quality: str, container: str) -> list[dict]:
    if quality == "audio":
        return [{"key": "FFmpegExtractAudio", "preferredcodec": container}]
    remux = "webm>webm/mkv" if container == "webm" else container
    return [{"key": "FFmpegVideoRemuxer", "preferedformat": remux}]


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


# -- client --------------------------------------------------------------------


class YtDlpClient:
    """yt-dlp with MediaNest's safety settings. Every call builds its own YoutubeDL objects, so one
    instance can be shared, also between threads."""

    def __init__(self, *, allow_generic: bool = False, extra_extractors: Iterable = (), socket_timeout: float = 20.0,
                 retries: int = 3, cache_dir: str | None = None):
        self.allow_generic = allow_generic
        self.extra_extractors = tuple(extra_extractors)
        self.socket_timeout = socket_timeout
        self.retries = retries
        self.cache_dir = cache_dir

    # -- public ----------------------------------------------------------------
    def preview(self, url: str, *, max_entries: int = DEFAULT_MAX_ENTRIES,
                should_cancel: Callable[[], bool] | None = None) -> Preview:
        """List a video or playlist without downloading media (playlists: no request per entry).

        `Preview.listing` can be handed to download() for the same URL. With should_cancel (a job
        listing a long playlist), raises Cancelled (with an empty result) once it answers True.
        """
        run = None
        if should_cancel is not None:
            run = _Run(count=1, archive_ids=frozenset(), on_progress=None, should_cancel=should_cancel,
                       max_filesize=None)
        try:
            info, entries, truncated = self._list(url, max_entries, run=run)
        except DownloadCancelled:
            raise Cancelled(DownloadResult(None, None)) from None
        listed = [Entry(_entry_id(e), e.get("title"), e.get("duration")) for e in entries]
        durations = [e.duration for e in listed]
        total = sum(durations) if listed and all(d is not None for d in durations) else None
        is_playlist = info.get("_type") in ("playlist", "multi_video")
        count = info.get("playlist_count") if is_playlist else 1
        if count is None and not truncated:
            count = len(listed)
        return Preview(info.get("title"), _entry_id(info), is_playlist, count, listed, total, truncated,
                       _listing_of(info, entries, truncated, is_playlist))

    def download(self, url: str, *, work_dir: Path, quality: str = "best", container: str = "mp4",
                 archive_ids: Iterable[str] = (), on_progress: Callable[[ProgressEvent], None] | None = None,
                 should_cancel: Callable[[], bool] | None = None, max_filesize: int | None = None,
                 max_entries: int = DEFAULT_MAX_ENTRIES, temp_dir: Path | None = None,
                 keep_partial: bool = False, listing: dict | None = None) -> DownloadResult:
        """Download a video or every entry of a playlist into work_dir as "<title> [<id>].<ext>".

        Entries whose id is in archive_ids are skipped (archive_ids is not modified). Partial files go to
        a private folder under temp_dir (default: work_dir), removed when the call ends, whatever happens;
        with keep_partial the folder is always the same one and is left for the caller to remove, so a
        later call for the same download continues its .part files (yt-dlp's continuedl, HTTP ranges).
        listing: `Preview.listing` from a preview() of this same URL; the URL is then not listed again
        (a listing that does not have the expected shape is ignored and the URL listed).
        Raises Cancelled (with the finished part), PermanentError / TransientError when the URL cannot be
        listed or a single video fails; a playlist's failing entries are reported in `failed` instead.
        """
        if quality not in QUALITIES:
            raise ValueError(f"quality must be one of {', '.join(QUALITIES)}")
        allowed_containers = AUDIO_CONTAINERS if quality == "audio" else VIDEO_CONTAINERS
        if container not in allowed_containers:
            raise ValueError(f"container for {quality!r} must be one of {', '.join(allowed_containers)}")
        work_dir = Path(work_dir).resolve()
        work_dir.mkdir(parents=True, exist_ok=True)
        scratch_root = Path(temp_dir).resolve() if temp_dir else work_dir
        scratch_root.mkdir(parents=True, exist_ok=True)
        if keep_partial:
            scratch = scratch_root / ".medianest-partial"
            scratch.mkdir(exist_ok=True)
        else:
            scratch = Path(tempfile.mkdtemp(prefix=".medianest-partial-", dir=scratch_root))
        archive = {str(i) for i in archive_ids}
        run = _Run(count=1, archive_ids=archive, on_progress=on_progress, should_cancel=should_cancel,
                   max_filesize=max_filesize)
        result = DownloadResult(None, None)
        try:
            run.check_cancel(force=True)
            listed = _from_listing(listing, max_entries) if listing is not None else None
            info, entries, truncated = listed or self._list(url, max_entries, run=run)
            is_playlist = info.get("_type") in ("playlist", "multi_video")
            if is_playlist:
                result.playlist_id, result.playlist_title = _entry_id(info), info.get("title")
            result.truncated = truncated
            run.count = max(len(entries), 1)
            ydl = self._download_ydl(work_dir, scratch, quality, container, run)
            with ydl:
                for index, entry in enumerate(entries, 1):
                    self._download_entry(ydl, run, result, index, entry, is_playlist, work_dir)
        except DownloadCancelled:
            raise Cancelled(result) from None
        finally:
            if not keep_partial:
                shutil.rmtree(scratch, ignore_errors=True)
        return result

    # -- internals -------------------------------------------------------------
    def _base_params(self) -> dict:
        allowed = YOUTUBE_EXTRACTORS + (GENERIC_EXTRACTORS if self.allow_generic else ())
        return {
            "quiet": True, "noprogress": True, "logger": _Logger(),
            "allowed_extractors": list(allowed),  # closes the generic extractor's SSRF route in production
            "enable_file_urls": False,
            "socket_timeout": self.socket_timeout,
            "retries": self.retries, "fragment_retries": self.retries, "extractor_retries": self.retries,
            "cachedir": self.cache_dir or False,
            "noplaylist": False, "lazy_playlist": False,
            # Nothing but the media file: no info JSON, thumbnails, descriptions or playlist-level files.
            "allow_playlist_files": False, "writeinfojson": False, "writethumbnail": False,
            "writedescription": False, "writesubtitles": False,
            "updatetime": False,
            "color": {"stdout": "no_color", "stderr": "no_color"},
        }

    def _make_ydl(self, params: dict) -> yt_dlp.YoutubeDL:
        # The Python API reads no configuration files and runs no --exec commands unless asked to.
        ydl = _YoutubeDL(params, auto_init=False)
        for extractor in self.extra_extractors:  # the first suitable extractor wins, so these go first
            ydl.add_info_extractor(extractor() if isinstance(extractor, type) else extractor)
        ydl.add_default_info_extractors()
        return ydl

    def _list(self, url: str, max_entries: int, *, run: _Run | None = None):
        params = {**self._base_params(), "extract_flat": "in_playlist", "skip_download": True,
                  "playlistend": max_entries + 1}
        if run is not None:  # long listings can be cancelled too
            params["match_filter"] = lambda info, *, incomplete=False: run.check_cancel(force=True)
        try:
            with self._make_ydl(params) as ydl:
                info = ydl.extract_info(url, download=False)
        except DownloadCancelled:
            raise
        except Exception as exc:
            raise classify_error(exc) from exc
        if not info:
            raise PermanentError("nothing could be found at this link")
        if info.get("_type") in ("playlist", "multi_video"):
            entries = [e for e in info.get("entries") or [] if e]
        else:
            entries = [info]
        truncated = len(entries) > max_entries
        return info, entries[:max_entries], truncated

    def _download_ydl(self, work_dir: Path, scratch: Path, quality: str, container: str, run: _Run):
        params = {
            **self._base_params(),
            "paths": {"home": str(work_dir), "temp": str(scratch)},
            "outtmpl": {"default": "%(medianest_stem)s.%(ext)s"},
            "format": _format_spec(quality, container),
            "merge_output_format": "webm/mkv" if container == "webm" else container,
            "postprocessors": _postprocessors(quality, container),
            "progress_hooks": [run.progress_hook],
            "match_filter": run.match_filter,
            "continuedl": True, "nopart": False,  # a .part left by a killed worker is continued, not restarted
        }
        if quality == "audio":
            params.pop("merge_output_format")
        ydl = self._make_ydl(params)
        ydl.add_post_processor(_SafeNamePP(ydl, work_dir, check=False), when="video")
        ydl.add_post_processor(_SafeNamePP(ydl, work_dir, check=True), when="before_dl")
        return ydl

    def _download_entry(self, ydl, run: _Run, result: DownloadResult, index: int, entry: dict,
                        is_playlist: bool, work_dir: Path):
        video_id, title = _entry_id(entry), entry.get("title")
        run.begin(index, video_id, title)
        run.check_cancel(force=True)
        if video_id and video_id in run.archive_ids:
            self._skip(run, result, video_id)
            return
        try:
            info = ydl.process_ie_result(_reprocessable(entry), download=True)
            video_id, title = (info or {}).get("id") or video_id, (info or {}).get("title") or title
            if run.rejection == "archived":
                self._skip(run, result, video_id)
                return
            if isinstance(run.rejection, ClientError):
                raise run.rejection
            downloads = list(_downloads_in(info or {}))
            if not downloads:
                raise PermanentError("nothing was downloaded")
            for video, item in downloads:
                path = ensure_inside(work_dir, Path(item["filepath"]))
                result.files.append(DownloadedFile(str(video.get("id") or video_id), video.get("title") or title or "",
                                                   path, path.stat().st_size))
            run.emit("completed", fraction=1.0, video_id=video_id, title=title)
        except DownloadCancelled:
            raise
        except Exception as exc:  # one entry's failure, whatever yt-dlp raised, must not end the playlist
            error = classify_error(exc)
            if not is_playlist:
                raise error from exc
            log.info("entry %s of %s failed: %s", index, run.count, error.message)
            result.failed.append(Failure(video_id, title, error.message))
            run.emit("failed", fraction=1.0, video_id=video_id, title=title)

    @staticmethod
    def _skip(run: _Run, result: DownloadResult, video_id: str):
        result.skipped_ids.append(str(video_id))
        run.emit("skipped", fraction=1.0, video_id=video_id)


def _downloads_in(info: dict):
    """(video info, requested download) pairs; an entry that was itself a playlist has them in its entries."""
    for item in info.get("requested_downloads") or ():
        yield info, item
    for entry in info.get("entries") or ():
        if entry:
            yield from _downloads_in(entry)


# What yt-dlp itself drops before re-processing a saved info dict (--load-info-json): the listing
# already ran format selection on video entries, and stale selections must not leak into the download.
_PROCESSED_KEYS = frozenset({"requested_downloads", "requested_formats", "requested_subtitles", "requested_entries",
                             "entries", "filepath", "_filename", "filename", "infojson_filename",
                             "playlist_autonumber"})


def _reprocessable(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if not k.startswith("__") and k not in _PROCESSED_KEYS}


# -- listings handed from preview() to download() -----------------------------------------------------

_LISTING_VERSION = 1
_REFERENCE_TYPES = ("url", "url_transparent")


def _listing_of(info: dict, entries: list[dict], truncated: bool, is_playlist: bool) -> dict | None:
    """The listing as plain JSON data, or None if it cannot be handed on (download() then lists again).

    Playlist entries are kept as listed: references (YouTube's flat entries: ie_key, id, url) or, for
    sites whose listing already resolved them (<video> tags), the resolved entry without what format
    selection added. A single video becomes a reference to its page and extractor: its format URLs
    are signed and expire, so the download extracts it again (exactly once, as it would anyway).
    """
    if is_playlist:
        items = [_json_entry(e) for e in entries]
    else:
        page, key = info.get("webpage_url"), info.get("extractor_key")
        if not (isinstance(page, str) and isinstance(key, str)):
            return None
        items = [{"_type": "url", "url": page, "ie_key": key, "id": _entry_id(info), "title": info.get("title")}]
    listing = {"v": _LISTING_VERSION, "id": _entry_id(info), "title": info.get("title"),
               "is_playlist": is_playlist, "truncated": bool(truncated), "items": items}
    try:  # strict: an entry holding anything but JSON data (a lazy fragment list...) is not handed on
        size = len(json.dumps(listing, separators=(",", ":")))
    except (TypeError, ValueError):
        return None
    return listing if size <= LISTING_MAX_CHARS else None


def _json_entry(entry: dict) -> dict:
    item = _without_private(_reprocessable(entry))
    if item.get("_type") in _REFERENCE_TYPES:
        item.pop("thumbnails", None)  # the extractor supplies its own when the reference is resolved
    return item


def _without_private(value):
    """A copy without yt-dlp's private ("__") keys at any depth, tuples as lists (as JSON keeps them)."""
    if isinstance(value, dict):
        return {k: _without_private(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("__"))}
    if isinstance(value, (list, tuple)):
        return [_without_private(v) for v in value]
    return value


def _from_listing(listing, max_entries: int):
    """(info, entries, truncated) as _list returns them, from a listing made by _listing_of; None if malformed."""
    if not isinstance(listing, dict) or listing.get("v") != _LISTING_VERSION:
        return None
    items = listing.get("items")
    if not isinstance(items, list) or not all(isinstance(e, dict) for e in items):
        return None
    info = {"_type": "playlist" if listing.get("is_playlist") else "video",
            "id": listing.get("id"), "title": listing.get("title")}
    if info["_type"] == "video" and len(items) != 1:
        return None
    # yt-dlp writes into the dicts it processes: every download gets its own copy.
    entries = copy.deepcopy(items[:max_entries])
    return info, entries, bool(listing.get("truncated")) or len(items) > max_entries
