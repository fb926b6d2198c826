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

The package is split so that importing it does not import yt-dlp (about 30 MB per process, paid by
every web worker otherwise): `common` holds the limits, errors, results, URL checks and file names,
`client` the YtDlpClient, `engine` yt-dlp itself with the classes that subclass or catch its own,
and `listing` the listing handed from preview() to download(). `engine` is loaded by the first
preview or download.
"""
from __future__ import annotations

from medianest.clients.base import ClientError
from medianest.clients.ytdlp.client import YtDlpClient, _format_spec, _postprocessors
from medianest.clients.ytdlp.common import (
    AUDIO_CONTAINERS,
    CANCEL_POLL_SECONDS,
    DEFAULT_ALLOWED_HOSTS,
    DEFAULT_MAX_ENTRIES,
    GENERIC_EXTRACTORS,
    ID_MAX_BYTES,
    LISTING_MAX_CHARS,
    MAX_URL_LENGTH,
    QUALITIES,
    TITLE_MAX_BYTES,
    VIDEO_CONTAINERS,
    YOUTUBE_EXTRACTORS,
    Cancelled,
    DownloadedFile,
    DownloadResult,
    Entry,
    Failure,
    FileTooLarge,
    PermanentError,
    Preview,
    ProgressEvent,
    TransientError,
    UnsafePath,
    UrlRefused,
    check_url,
    ensure_inside,
    playlist_folder_name,
    safe_name,
    safe_stem,
)

__all__ = [
    "AUDIO_CONTAINERS", "CANCEL_POLL_SECONDS", "DEFAULT_ALLOWED_HOSTS", "DEFAULT_MAX_ENTRIES", "GENERIC_EXTRACTORS",
    "ID_MAX_BYTES", "LISTING_MAX_CHARS", "MAX_URL_LENGTH", "QUALITIES", "TITLE_MAX_BYTES", "VIDEO_CONTAINERS",
    "YOUTUBE_EXTRACTORS", "Cancelled", "DownloadedFile", "DownloadResult", "Entry", "Failure", "FileTooLarge",
    "PermanentError", "Preview", "ProgressEvent", "TransientError", "UnsafePath", "UrlRefused", "YtDlpClient",
    "_format_spec", "_postprocessors", "check_url", "classify_error", "ensure_inside", "playlist_folder_name",
    "readable_reason", "safe_name", "safe_stem", "yt_dlp_version",
]


def yt_dlp_version() -> str:
    from medianest.clients.ytdlp import engine

    return engine.yt_dlp_version()


def classify_error(exc: BaseException) -> ClientError:
    """Map anything yt-dlp raised to PermanentError or TransientError with a readable reason."""
    from medianest.clients.ytdlp import engine

    return engine.classify_error(exc)


def readable_reason(message: str) -> str:
    """yt-dlp's message without "ERROR:", the "[extractor] id:" prefix, the cause and the bug-report plea."""
    from medianest.clients.ytdlp import engine

    return engine.readable_reason(message)
