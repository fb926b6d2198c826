"""The yt-dlp client's plain parts: limits, errors, results, URL checks and file names.

Nothing here imports yt-dlp (about 30 MB per process): web workers import this package to check
URLs and read the constants; yt-dlp itself is loaded by `engine` when a preview or download runs.
"""
from __future__ import annotations

import ipaddress
import re
import socket
import string
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, NamedTuple
from urllib.parse import urlsplit

from medianest.clients.base import ClientError

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
