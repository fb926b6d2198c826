"""YouTube downloads: submit (check, preview, limits), the download job, cancel, retry, delete, the reaper.

A download is a `youtube_downloads` row plus a Huey task that takes its id (tasks.youtube_download).
The row holds the job state (status, error, attempts, per-video `entries`, files); live progress
goes to Redis through medianest.cache, or to the row's `progress` column in the embedded mode,
at most every MEDIANEST_YOUTUBE_PROGRESS_INTERVAL seconds. See reference/YOUTUBE_AND_PLEX.md.
The URL is listed once: submit keeps the preview's yt-dlp listing with the queued download (cache
key youtube:listing:<id>, the same entries the row shows) and the job starts from it; a job without
one lists the URL itself, once, and keeps that listing for its retries.

Folders: `<MEDIANEST_DOWNLOAD_DIR>/<user id>/<playlist title [id]>/<title [video id]>.<ext>`, built
from sanitised values and checked with realpath; partial files live in
`<MEDIANEST_DOWNLOAD_DIR>/.tmp/<download id>/` and are removed when the job ends, however it ends.

Settings read from app.config (all optional):
    MEDIANEST_YTDLP_SOCKET_TIMEOUT (20 s), MEDIANEST_YTDLP_RETRIES (3: yt-dlp's own HTTP retries),
    MEDIANEST_YOUTUBE_PREVIEW_TIMEOUT (10 s), MEDIANEST_YOUTUBE_RETRY_DELAY (30 s, doubled per attempt),
    MEDIANEST_YOUTUBE_PROGRESS_INTERVAL (0.5 s), MEDIANEST_YOUTUBE_HEARTBEAT (10 s),
    MEDIANEST_YOUTUBE_STALE_AFTER (40 s: a `downloading` row without a heartbeat for that long has no
    live task; the reaper runs every 15 s, so a dead worker's download is queued again within a minute),
    MEDIANEST_YOUTUBE_DEFER_DELAY (15 s: wait when the user is at the concurrency limit).
A download queued again after its worker died (or after a transient error) keeps its partial files in
its scratch folder, and yt-dlp continues them where the server allows it (HTTP range requests).
Test-only (never read from the environment):
    MEDIANEST_YTDLP_EXTRA_EXTRACTORS (yt-dlp extractors added ahead of the built-ins),
    MEDIANEST_YOUTUBE_THREADED_JOBS (run jobs in a thread of this process instead of the Huey queue,
    so a test or a browser can watch a download move while Huey runs in immediate mode).
"""
from __future__ import annotations

import errno
import hashlib
import logging
import shutil
import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased, joinedload

from medianest import cache, jobs, versions
from medianest.clients.base import ClientError
from medianest.clients.ytdlp import (
    AUDIO_CONTAINERS,
    QUALITIES,
    VIDEO_CONTAINERS,
    Cancelled,
    PermanentError,
    TransientError,
    UnsafePath,
    UrlRefused,
    YtDlpClient,
    check_url,
    ensure_inside,
    playlist_folder_name,
)
from medianest.extensions import db
from medianest.models.users import User
from medianest.models.youtube import DownloadStatus, EntryState, PlexState, YoutubeDownload
from medianest.services import ServiceError, as_uuid, service_config
from medianest.timeutil import human_duration, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
URL_FIELD_MAX = 10_000  # the form accepts this much; check_url refuses anything over 2 048 with a clear message
PREVIEW_TTL = 15 * 60
PROGRESS_TTL = 6 * 3600
LISTING_TTL = 6 * 3600  # a queued download's listing (from its preview): the job starts from it
CANCEL_CHECK_SECONDS = 0.5  # a cancel is seen within this (plus yt-dlp's own 0.5 s hook throttle)
RATE_LIMITED_DELAY = 3600  # "rate-limited by YouTube for up to an hour"
TEMP_FOLDER = ".tmp"
TITLE_MAX = 500
ENTRY_TITLE_MAX = 300
REASON_MAX = 500
CONTAINER_LABELS = {"mp4": "MP4", "mkv": "MKV", "webm": "WebM", "m4a": "M4A", "mp3": "MP3", "opus": "Opus"}

_YD = YoutubeDownload


# -- settings and small helpers --------------------------------------------------------------------
def _cfg(name: str, default):
    value = current_app.config.get(name)
    return default if value is None else value


def download_root() -> Path:
    return Path(current_app.config["MEDIANEST_DOWNLOAD_DIR"]).resolve()


def user_root(user_id) -> Path:
    return download_root() / str(user_id)


def temp_dir(download_id) -> Path:
    """Scratch space of one job: outside every user's folder, so Plex never sees half-written files."""
    return download_root() / TEMP_FOLDER / str(download_id)


def folder_path(row: YoutubeDownload) -> Path | None:
    """The row's folder, checked to lie inside its owner's folder."""
    if not row.folder:
        return None
    return ensure_inside(user_root(row.user_id), download_root() / row.folder)


def uses_redis() -> bool:
    return bool(current_app.config.get("REDIS_URL"))


def ytdlp_client(*, socket_timeout: float | None = None) -> YtDlpClient:
    cfg = current_app.config
    return YtDlpClient(
        allow_generic=bool(cfg.get("MEDIANEST_YTDLP_ALLOW_ANY_HOST")),
        extra_extractors=tuple(cfg.get("MEDIANEST_YTDLP_EXTRA_EXTRACTORS") or ()),
        socket_timeout=socket_timeout or float(_cfg("MEDIANEST_YTDLP_SOCKET_TIMEOUT", 20)),
        retries=int(_cfg("MEDIANEST_YTDLP_RETRIES", 3)),
    )


def clean_text(value, limit: int) -> str:
    """Outside text made safe to store and show: no NUL or other control characters (PostgreSQL refuses
    NUL), whitespace collapsed, clipped to `limit` characters."""
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") else ch for ch in str(value or ""))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def human_size(size: float | None) -> str:
    if size is None:
        return "unknown size"
    size = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _detail_path(download_id) -> str:
    return current_app.url_map.bind("").build("youtube.detail", {"download_id": download_id})


# -- limits -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Limits:
    per_hour: int
    submitted_last_hour: int
    max_concurrent: int
    active: int
    quota_bytes: int | None  # None: no quota
    used_bytes: int

    @property
    def submissions_left(self) -> int:
        return max(self.per_hour - self.submitted_last_hour, 0)

    @property
    def quota_full(self) -> bool:
        return self.quota_bytes is not None and self.used_bytes >= self.quota_bytes

    @property
    def quota_remaining(self) -> int | None:
        return None if self.quota_bytes is None else max(self.quota_bytes - self.used_bytes, 0)

    @property
    def quota_percent(self) -> float:
        if not self.quota_bytes:
            return 0.0
        return min(100.0 * self.used_bytes / self.quota_bytes, 100.0)


def _quota_bytes(settings) -> int | None:
    return int(settings.quota_gb * 1_000_000_000) if settings.quota_gb and settings.quota_gb > 0 else None


def limits_for(user_id, settings=None) -> Limits:
    """The user's limits and how much of them is used: one query."""
    settings = settings or service_config.youtube_settings()
    hour_ago = utcnow() - timedelta(hours=1)
    # The hourly limit counts downloads that are waiting, running or fetched something: a failure or a
    # cancel before any data arrived costs the user nothing.
    counted = sa.and_(_YD.created_at >= hour_ago,
                      sa.or_(_YD.status.not_in((DownloadStatus.FAILED.value, DownloadStatus.CANCELLED.value)),
                             _YD.bytes_total > 0))
    recent = sa.func.coalesce(sa.func.sum(sa.case((counted, 1), else_=0)), 0)
    active = sa.func.coalesce(sa.func.sum(sa.case((_YD.status.in_(("queued", "downloading")), 1), else_=0)), 0)
    used = sa.func.coalesce(sa.func.sum(_YD.bytes_total), 0)
    submitted, running, used_bytes = db.session.execute(
        sa.select(recent, active, used).where(_YD.user_id == user_id)).one()
    return Limits(per_hour=settings.per_hour, submitted_last_hour=int(submitted),
                  max_concurrent=settings.max_concurrent,
                  active=int(running), quota_bytes=_quota_bytes(settings), used_bytes=int(used_bytes))


def quota_message(limits: Limits) -> str:
    return (f"Your download space is full: {human_size(limits.used_bytes)} of {human_size(limits.quota_bytes)} used. "
            "Delete downloads you no longer need, then try again.")


# -- URL and options --------------------------------------------------------------------------------
def check_link(url: str, settings=None) -> str:
    """The URL as it will be queued, or ServiceError(field="url") with the reason."""
    settings = settings or service_config.youtube_settings()
    if isinstance(url, str) and len(url) > URL_FIELD_MAX:
        raise ServiceError(f"That link is too long (more than {URL_FIELD_MAX:,} characters).", field="url")
    try:
        return check_url(url, allowed_hosts=settings.allowed_hosts,
                         allow_any_host=bool(current_app.config.get("MEDIANEST_YTDLP_ALLOW_ANY_HOST")))
    except UrlRefused as err:
        raise ServiceError(err.message, field="url") from None


def check_options(quality: str, container: str) -> tuple[str, str]:
    quality = (quality or "best").strip()
    container = (container or "mp4").strip().lower()
    if quality not in QUALITIES:
        raise ServiceError("Choose best, 1080p, 720p or audio only.", field="quality")
    if quality == "audio":
        if container == "mp4":
            container = "m4a"  # the audio-only flavour of mp4
        if container not in AUDIO_CONTAINERS:
            raise ServiceError("For audio only, choose M4A, MP3 or Opus.", field="container")
    elif container not in VIDEO_CONTAINERS:
        raise ServiceError("For video, choose MP4, MKV or WebM.", field="container")
    return quality, container


# -- preview ----------------------------------------------------------------------------------------
@dataclass
class PreviewInfo:
    url: str
    title: str | None = None
    video_id: str | None = None
    is_playlist: bool = False
    count: int | None = None  # the site's count (may exceed the cap)
    entries: list[tuple[str | None, str, float | None]] = field(default_factory=list)
    total_duration: float | None = None
    truncated: bool = False
    cap: int = 0
    timed_out: bool = False
    listing: dict | None = field(default=None, repr=False)  # yt-dlp's listing, for the job (not for display)

    @property
    def listed(self) -> int:
        return len(self.entries)

    @property
    def duration_text(self) -> str | None:
        return human_duration(self.total_duration) if self.total_duration else None


def _preview_key(user_id, url: str) -> str:
    return f"youtube:preview:{user_id}:{hashlib.sha256(url.encode()).hexdigest()[:32]}"


def preview(user_id, url: str) -> PreviewInfo:
    """Check the URL and list it (flat: no request per entry) within MEDIANEST_YOUTUBE_PREVIEW_TIMEOUT.

    Raises ServiceError for a refused URL or a listing error. On timeout returns timed_out=True: the
    download can still be queued and the worker lists it. The listing is cached for the confirm step.
    """
    settings = service_config.youtube_settings()
    url = check_link(url, settings)
    timeout = float(_cfg("MEDIANEST_YOUTUBE_PREVIEW_TIMEOUT", 10))
    client = ytdlp_client(socket_timeout=max(2.0, min(timeout, 10.0)))
    outcome: dict = {}

    def work():
        try:
            outcome["preview"] = client.preview(url, max_entries=settings.max_playlist_entries)
        except Exception as exc:  # handed to the request thread below
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="youtube-preview", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        log.info("preview for user %s timed out after %.0f s", user_id, timeout)
        return PreviewInfo(url=url, timed_out=True, cap=settings.max_playlist_entries)
    error = outcome.get("error")
    if error is not None:
        raise _preview_refusal(error)
    found = outcome["preview"]
    info = PreviewInfo(
        url=url, title=clean_text(found.title, TITLE_MAX) or None, video_id=found.id, is_playlist=found.is_playlist,
        count=found.count,
        entries=[(e.id, clean_text(e.title, ENTRY_TITLE_MAX), e.duration) for e in found.entries],
        total_duration=found.total_duration, truncated=found.truncated, cap=settings.max_playlist_entries,
        listing=found.listing,
    )
    if info.is_playlist and not info.entries:
        raise ServiceError("That playlist is empty.", field="url")
    cache.set(_preview_key(user_id, url), _listing_of(info), PREVIEW_TTL)
    return info


_PLAIN_REASONS = (  # yt-dlp's words -> what a family member is told (the details go to the admin's error log)
    (r"private", "That video is private."),
    (r"members[- ]only|available to this channel's members", "That video is only for the channel's members."),
    (r"confirm your age|age[- ]restricted|sign in to confirm", "That video needs a signed-in, age-checked account."),
    (r"copyright|removed|terminated|no longer available|does not exist|unavailable|not available",
     "That video is not available any more (removed, or blocked here)."),
    (r"not a bot|rate[- ]limit|too many requests|http error 429", "The site is limiting downloads right now. "
                                                                  "Try again later."),
)


def _preview_refusal(error: BaseException) -> ServiceError:
    """A plain sentence for the person; yt-dlp's and the network's own words go to the admin's error log."""
    import re

    from medianest.services import errors as error_log

    if isinstance(error, UrlRefused):
        return ServiceError(error.message, field="url")
    detail = getattr(error, "message", None) or str(error) or type(error).__name__
    error_log.record(error_code="youtube_preview", message=f"Preview failed: {detail}", status_code=502,
                     metadata={"kind": type(error).__name__})
    text = detail.lower()
    plain = next((sentence for pattern, sentence in _PLAIN_REASONS if re.search(pattern, text)), None)
    if isinstance(error, TransientError):
        return ServiceError(plain if plain and "limiting" in plain else
                            "The site could not be reached. Try again in a moment.", field="url")
    if isinstance(error, ClientError):
        return ServiceError(plain or "That link cannot be downloaded.", field="url")
    log.warning("preview failed", exc_info=error)
    return ServiceError("That link could not be read.", field="url")


def _listing_of(info: PreviewInfo) -> dict:
    return {"title": info.title, "id": info.video_id, "is_playlist": info.is_playlist, "truncated": info.truncated,
            "entries": [[vid, title] for vid, title, _ in info.entries], "ytdlp": info.listing}


def _listing_key(download_id) -> str:
    return f"youtube:listing:{download_id}"


def _apply_listing(row: YoutubeDownload, listing: dict) -> None:
    entries = [{"id": str(vid) if vid else None, "title": clean_text(title, ENTRY_TITLE_MAX) or None,
                "state": EntryState.QUEUED.value} for vid, title in listing.get("entries") or ()]
    title = clean_text(listing.get("title"), TITLE_MAX) or (entries[0]["title"] if entries else None)
    row.playlist_title = title
    row.is_playlist = bool(listing.get("is_playlist"))
    row.truncated = bool(listing.get("truncated"))
    row.entries = entries
    row.folder = f"{row.user_id}/{playlist_folder_name(title, listing.get('id'))}"


# -- submit -----------------------------------------------------------------------------------------
def submit(user_id, url: str, quality: str = "best", container: str = "mp4") -> YoutubeDownload:
    """Check everything, create the row `queued`, enqueue the job. Raises ServiceError with the reason."""
    settings = service_config.youtube_settings()
    url = check_link(url, settings)
    quality, container = check_options(quality, container)
    limits = limits_for(user_id, settings)
    if limits.submitted_last_hour >= limits.per_hour:
        raise ServiceError(f"You can queue {limits.per_hour} downloads per hour. Try again later.", status=429)
    if limits.quota_full:
        raise ServiceError(quota_message(limits), field="url")
    duplicate = db.session.scalar(sa.select(_YD.id).where(
        _YD.user_id == user_id, _YD.playlist_url == url, _YD.status.in_(("queued", "downloading"))).limit(1))
    if duplicate is not None:
        raise ServiceError("This link is already in your queue.", field="url", status=409)
    row = YoutubeDownload(user_id=user_id, playlist_url=url, quality=quality, container=container,
                          status=DownloadStatus.QUEUED, file_paths=[], updated_at=utcnow())
    listing = cache.get(_preview_key(user_id, url))
    if listing:
        _apply_listing(row, listing)
    db.session.add(row)
    db.session.commit()
    if listing and listing.get("ytdlp"):
        # The job downloads exactly the entries the row was given, without listing the URL again.
        cache.set(_listing_key(row.id), listing["ytdlp"], LISTING_TTL)
    log.info("download %s queued by user %s", row.id, user_id)
    enqueue(row.id)
    db.session.refresh(row)
    return row


# -- queue ------------------------------------------------------------------------------------------
def enqueue(download_id, delay: float = 0) -> str:
    """Hand the job to the worker (Huey), after `delay` seconds. Records the task id on the row first:
    in immediate mode the task runs inside this call."""
    did = str(download_id)
    if current_app.config.get("MEDIANEST_YOUTUBE_THREADED_JOBS"):
        task_id = f"thread-{uuid.uuid4().hex}"
        _set_task_id(did, task_id)
        _start_thread(current_app._get_current_object(), did, delay)
        return task_id
    job = jobs.prepare("youtube_download", did, delay=delay)
    _set_task_id(did, job.id)
    jobs.submit(job)
    return job.id


def _set_task_id(download_id: str, task_id: str) -> None:
    db.session.execute(sa.update(_YD).where(_YD.id == as_uuid(download_id))
                       .values(task_id=task_id, updated_at=utcnow()))
    db.session.commit()


def _start_thread(app, download_id: str, delay: float) -> None:
    def target():
        with app.app_context():
            try:
                run_download(download_id)
            except Exception:
                log.exception("download %s failed in its thread", download_id)

    timer = threading.Timer(max(delay, 0), target)
    timer.name = f"youtube-{download_id[:8]}"
    timer.daemon = True
    timer.start()


def queue_positions() -> dict[uuid.UUID, int]:
    """Every queued download's place in the (global, first in first out) queue, 1 = next."""
    ids = db.session.scalars(sa.select(_YD.id).where(_YD.status == DownloadStatus.QUEUED)
                             .order_by(_YD.updated_at, _YD.created_at)).all()
    return {did: n for n, did in enumerate(ids, 1)}


def queue_position(row: YoutubeDownload) -> int | None:
    if row.status != DownloadStatus.QUEUED:
        return None
    ahead = db.session.scalar(sa.select(sa.func.count()).select_from(_YD).where(
        _YD.status == DownloadStatus.QUEUED,
        sa.or_(_YD.updated_at < row.updated_at,
               sa.and_(_YD.updated_at == row.updated_at, _YD.created_at < row.created_at))))
    return int(ahead or 0) + 1


# -- reading ----------------------------------------------------------------------------------------
def get_for_user(download_id, user_id) -> YoutubeDownload | None:
    did = as_uuid(download_id)
    if did is None:
        return None
    return db.session.scalar(sa.select(_YD).where(_YD.id == did, _YD.user_id == user_id))


def _get(download_id, user_id=None) -> YoutubeDownload:
    """The row, owned by user_id unless user_id is None (admins and the CLI); ServiceError 404 otherwise."""
    did = as_uuid(download_id)
    row = None
    if did is not None:
        row = db.session.get(_YD, did) if user_id is None else get_for_user(did, user_id)
    if row is None:
        raise ServiceError("There is no such download.", status=404)
    return row


def _search(stmt, status: str | None, q: str | None):
    if status in set(DownloadStatus):
        stmt = stmt.where(_YD.status == status)
    q = (q or "").strip()[:200]
    if q:
        stmt = stmt.where(sa.or_(_YD.playlist_title.icontains(q, autoescape=True),
                                 _YD.playlist_url.icontains(q, autoescape=True)))
    return stmt


def list_for_user(user_id, *, status: str | None = None, q: str | None = None, page: int = 1, per_page: int = 20):
    stmt = _search(sa.select(_YD).where(_YD.user_id == user_id), status, q)
    return db.paginate(stmt.order_by(_YD.created_at.desc(), _YD.id), page=page, per_page=per_page, error_out=False)


def list_all(*, status: str | None = None, q: str | None = None, user: str | None = None, page: int = 1,
             per_page: int = 25):
    """Admins: every user's downloads, newest first, with their owner loaded."""
    stmt = _search(sa.select(_YD).options(joinedload(_YD.user)), status, q)
    user = (user or "").strip()[:255]
    if user:
        stmt = stmt.join(User, User.id == _YD.user_id).where(User.email.icontains(user, autoescape=True))
    return db.paginate(stmt.order_by(_YD.created_at.desc(), _YD.id), page=page, per_page=per_page, error_out=False)


def queue_snapshot(limit: int = 100) -> list[YoutubeDownload]:
    """Running downloads, then the queue in order, with their owners."""
    running = db.session.scalars(sa.select(_YD).options(joinedload(_YD.user))
                                 .where(_YD.status == DownloadStatus.DOWNLOADING).order_by(_YD.started_at)).all()
    waiting = db.session.scalars(sa.select(_YD).options(joinedload(_YD.user))
                                 .where(_YD.status == DownloadStatus.QUEUED)
                                 .order_by(_YD.updated_at, _YD.created_at).limit(limit)).all()
    return list(running) + list(waiting)


def progress_key(download_id) -> str:
    return f"youtube:progress:{download_id}"


def progress_of(row: YoutubeDownload) -> dict | None:
    """Live progress of a running download: {percent, index, count, title, downloaded, total, speed, eta}."""
    if row.status != DownloadStatus.DOWNLOADING:
        return None
    if uses_redis():
        return cache.get(progress_key(row.id))
    return row.progress or None


def archive_ids(user_id) -> set[str]:
    """Ids of the videos this user already has (yt-dlp's download archive, from the database)."""
    ids = set()
    for entries in db.session.scalars(sa.select(_YD.entries).where(_YD.user_id == user_id)):
        for entry in entries or ():
            if entry.get("state") == EntryState.DONE and entry.get("id"):
                ids.add(str(entry["id"]))
    return ids


# -- cancel, retry, delete --------------------------------------------------------------------------
def cancel(download_id, *, user_id=None) -> YoutubeDownload:
    """Queued: cancelled at once. Running: flag it; the job stops within a second or two."""
    row = _get(download_id, user_id)
    now = utcnow()
    stopped = db.session.execute(sa.update(_YD).where(_YD.id == row.id, _YD.status == DownloadStatus.QUEUED).values(
        status=DownloadStatus.CANCELLED, completed_at=now, updated_at=now, progress=None,
        error=None)).rowcount
    if not stopped:
        flagged = db.session.execute(sa.update(_YD).where(
            _YD.id == row.id, _YD.status == DownloadStatus.DOWNLOADING).values(cancel_requested=True)).rowcount
        if not flagged:
            db.session.rollback()
            raise ServiceError("This download has already finished.", status=409)
    db.session.commit()
    if stopped:
        cache.delete(_listing_key(row.id))
    db.session.refresh(row)
    log.info("download %s: cancel requested (%s)", row.id, "stopped" if stopped else "flagged")
    return row


def retry(download_id, *, user_id=None) -> YoutubeDownload:
    """Queue a failed or cancelled download again; videos it already has are skipped."""
    row = _get(download_id, user_id)
    if not row.can_retry:
        raise ServiceError("Only failed or cancelled downloads can be retried.", status=409)
    limits = limits_for(row.user_id)
    if limits.quota_full:
        raise ServiceError(quota_message(limits))
    row.status = DownloadStatus.QUEUED
    row.attempts = 0
    row.error = None
    row.cancel_requested = False
    row.progress = None
    row.completed_at = None
    row.updated_at = utcnow()
    row.entries = [e if e.get("state") == EntryState.DONE else {**e, "state": EntryState.QUEUED.value, "reason": None}
                   for e in row.entries or ()] if row.entries is not None else None
    db.session.commit()
    log.info("download %s queued again", row.id)
    enqueue(row.id)
    db.session.refresh(row)
    return row


def delete(download_id, *, user_id=None) -> None:
    """Remove a finished download: its files, its folder if now empty, and its Plex collection if
    MediaNest made it and no other download shares it (Plex is told by a task)."""
    row = _get(download_id, user_id)
    if row.is_active:
        raise ServiceError("Cancel the download before deleting it.", status=409)
    home = user_root(row.user_id)
    for name in row.file_paths or ():
        try:
            ensure_inside(home, Path(name)).unlink(missing_ok=True)
        except UnsafePath:
            log.warning("download %s: refusing to delete a file outside the user's folder", row.id)
        except OSError as err:
            log.warning("download %s: could not delete a file (%s)", row.id, err.strerror)
    folder = None
    try:
        folder = folder_path(row)
    except UnsafePath:
        log.warning("download %s: folder outside the user's folder", row.id)
    if folder is not None and folder.is_dir():
        try:
            folder.rmdir()
        except OSError:
            pass  # other downloads of the same playlist still have files there
    forget_collection = None
    if row.plex_collection_id:
        sharing = db.session.scalars(sa.select(_YD).where(_YD.plex_collection_id == row.plex_collection_id,
                                                          _YD.id != row.id).limit(1)).first()
        if sharing is not None and row.plex_collection_owned:
            sharing.plex_collection_owned = True
        elif sharing is None and row.plex_collection_owned:
            forget_collection = row.plex_collection_id
    from medianest.services import plex_collections

    plex_folder = plex_collections.plex_path_or_none(folder) if folder is not None and row.plex_state else None
    shutil.rmtree(temp_dir(row.id), ignore_errors=True)
    cache.delete(progress_key(row.id), _listing_key(row.id))
    db.session.delete(row)
    db.session.commit()
    log.info("download %s deleted", download_id)
    if forget_collection or plex_folder:
        plex_collections.enqueue_forget(forget_collection, plex_folder)


# -- the job ----------------------------------------------------------------------------------------
@dataclass
class Outcome:
    status: str
    retry_in: float | None = None
    publish: bool = False
    notice: tuple[str, str, str] | None = None  # (title, message, type) for the owner
    disk_full: bool = False


def run_download(download_id) -> str:
    """The task body: claim the row, download, record the result. Safe to run twice: only a `queued`
    row is claimed. Returns the resulting status ("deferred" when the user is at the concurrency limit)."""
    did = as_uuid(download_id)
    if did is None:
        return "missing"
    settings = service_config.youtube_settings()
    if not _claim(did, settings.max_concurrent):
        row = db.session.get(_YD, did, populate_existing=True)
        if row is None:
            return "missing"
        if row.status == DownloadStatus.QUEUED:
            enqueue(did, delay=float(_cfg("MEDIANEST_YOUTUBE_DEFER_DELAY", 15)))
            return "deferred"
        return row.status
    row = db.session.get(_YD, did, populate_existing=True)
    log.info("download %s started (attempt %s)", did, row.attempts)
    job = _Job(row, settings)
    beat = _Heartbeat(db.engine, did, float(_cfg("MEDIANEST_YOUTUBE_HEARTBEAT", 10)))
    beat.start()
    outcome = None
    try:
        outcome = job.run()
    except Exception:
        log.exception("download %s: unexpected error", did)
        _fail_unexpected(did)
        raise
    finally:
        beat.stop()
        if outcome is None or outcome.retry_in is None:  # a retry continues the partial files
            shutil.rmtree(temp_dir(did), ignore_errors=True)
    log.info("download %s: %s (%d progress writes)", did, outcome.status, job.writes)
    _after(did, row.user_id, outcome)
    return outcome.status


def _fail_unexpected(did: uuid.UUID) -> None:
    """A bug or a lost database must not leave the row `downloading` until the reaper comes by."""
    try:
        db.session.rollback()
        now = utcnow()
        db.session.execute(sa.update(_YD).where(_YD.id == did, _YD.status == DownloadStatus.DOWNLOADING).values(
            status=DownloadStatus.FAILED, error="An unexpected error stopped the download. Retry it, or ask an admin.",
            completed_at=now, updated_at=now, progress=None).execution_options(synchronize_session=False))
        db.session.commit()
    except Exception as exc:  # the reaper will find the row
        log.warning("download %s: could not record the failure (%s)", did, type(exc).__name__)
        db.session.rollback()


def _claim(did: uuid.UUID, max_concurrent: int) -> bool:
    user_id = db.session.scalar(sa.select(_YD.user_id).where(_YD.id == did))
    if user_id is None:
        return False
    others = aliased(_YD)
    running = (sa.select(sa.func.count()).select_from(others)
               .where(others.user_id == user_id, others.status == DownloadStatus.DOWNLOADING).scalar_subquery())
    now = utcnow()
    claimed = db.session.execute(
        sa.update(_YD).where(_YD.id == did, _YD.status == DownloadStatus.QUEUED, _YD.cancel_requested.is_(False),
                             running < max(int(max_concurrent), 1))
        .values(status=DownloadStatus.DOWNLOADING, attempts=_YD.attempts + 1, started_at=now, updated_at=now,
                completed_at=None, progress=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return bool(claimed)


def _after(did: uuid.UUID, user_id, outcome: Outcome) -> None:
    """Follow-ups once the job's state is committed: retry later, Plex, notifications."""
    if outcome.retry_in is not None:
        enqueue(did, delay=outcome.retry_in)
    if outcome.publish:
        from medianest.services import plex_collections

        plex_collections.enqueue_publish(did)
    from medianest.services import notifications

    if outcome.notice:
        title, message, kind = outcome.notice
        notifications.notify(user_id, title, message, type=kind,
                             metadata={"download_id": str(did), "url": _detail_path(did)})
    if outcome.disk_full:
        notifications.notify_admins("Download disk is full", "A YouTube download stopped because the download "
                                    "folder's disk is full.", type="error", metadata={"download_id": str(did)})


STALE_AFTER = 40  # seconds without a heartbeat (four missed beats) before the reaper requeues a download
REAP_EVERY = 15  # seconds between reaper runs (tasks.youtube_reaper): requeued within STALE_AFTER + REAP_EVERY
WORKER_STOPPED = "Restarting: the worker stopped."


def worker_stopped(row: YoutubeDownload) -> bool:
    """A `downloading` row whose heartbeat is late (2.5 beats): its worker most likely died, and the reaper
    will queue it again; the page says so instead of showing a frozen progress bar."""
    if row.status != DownloadStatus.DOWNLOADING or row.updated_at is None:
        return False
    late = 2.5 * float(_cfg("MEDIANEST_YOUTUBE_HEARTBEAT", 10))
    return utcnow() - row.updated_at > timedelta(seconds=late)


class _Heartbeat(threading.Thread):
    """Bumps updated_at of a running download every `interval` seconds, also while yt-dlp is busy
    without progress (listing, merging): the reaper treats a silent row as one whose worker died."""

    def __init__(self, engine, download_id: uuid.UUID, interval: float):
        super().__init__(name=f"heartbeat-{str(download_id)[:8]}", daemon=True)
        self.engine = engine
        self.download_id = download_id
        self.interval = max(interval, 0.05)
        self._stopped = threading.Event()

    def run(self):
        table = _YD.__table__
        while not self._stopped.wait(self.interval):
            try:
                with self.engine.begin() as conn:
                    conn.execute(sa.update(table).where(table.c.id == self.download_id,
                                                        table.c.status == DownloadStatus.DOWNLOADING)
                                 .values(updated_at=utcnow()))
            except Exception as exc:  # a missed beat is not worth failing the download for
                log.warning("download %s: heartbeat failed (%s)", self.download_id, type(exc).__name__)

    def stop(self):
        """Does not wait for the thread: the job's follow-ups (notifications, Plex) never queue behind a
        slow beat. A beat still running afterwards only touches the row if it is (again) downloading."""
        self._stopped.set()


class _Job:
    """One run of one download: progress hook, cancel check, quota, and the final record."""

    def __init__(self, row: YoutubeDownload, settings):
        self.row = row
        self.id = row.id
        self.user_id = row.user_id
        self.settings = settings
        self.engine = db.engine
        self.redis = uses_redis()
        self.interval = float(_cfg("MEDIANEST_YOUTUBE_PROGRESS_INTERVAL", 0.5))
        self.entries: list[dict] = [dict(e) for e in row.entries or ()]
        self.progress: dict = {}
        self.last_write = 0.0
        self.writes = 0  # progress writes of this run (a few per second at most)
        self.entries_dirty = False
        self.cancel_checked_at = 0.0
        self.cancel_seen = False
        self.quota_remaining: int | None = None
        self.bytes_done = 0
        self.quota_hit = False
        self.client = ytdlp_client()

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> Outcome:
        try:
            listing = self._listing()
            work_dir = self._work_dir()
            limits = limits_for(self.user_id, self.settings)
            if limits.quota_full:
                return self._fail(quota_message(limits))
            self.quota_remaining = limits.quota_remaining
            result = self.client.download(
                self.row.playlist_url, work_dir=work_dir, quality=self.row.quality, container=self.row.container,
                archive_ids=archive_ids(self.user_id), on_progress=self.on_progress, should_cancel=self.should_cancel,
                max_filesize=self.quota_remaining or None, max_entries=self.settings.max_playlist_entries,
                temp_dir=temp_dir(self.id), keep_partial=True, listing=listing)
        except Cancelled as stop:
            self._record(stop.result)
            if self.quota_hit:
                return self._fail(self._quota_stop_message())
            return self._finish(DownloadStatus.CANCELLED)
        except TransientError as err:
            if _disk_full(err.message):
                return self._fail(DISK_FULL, disk_full=True)
            return self._transient(err)
        except (PermanentError, UrlRefused) as err:
            return self._fail(_sentence(err.message))
        except UnsafePath:
            return self._fail("A title would have put files outside your folder, so nothing was written.")
        except OSError as err:
            log.warning("download %s: file system error %s", self.id, err)
            if err.errno == errno.ENOSPC:
                return self._fail(DISK_FULL, disk_full=True)
            return self._fail(f"The download folder could not be written ({err.strerror or type(err).__name__}).")
        except ClientError as err:
            return self._fail(_sentence(err.message))
        self._record(result)
        return self._complete(result)

    def _listing(self) -> dict | None:
        """yt-dlp's listing for the download, so that the URL is listed once per job at most: the one
        saved at submit from the preview the row's entries came from, or (a row without entries: no
        preview, or it timed out) a fresh one, also saved for a retry. None: the download lists it."""
        if self.entries:
            return cache.get(_listing_key(self.id))
        found = self.client.preview(self.row.playlist_url, max_entries=self.settings.max_playlist_entries,
                                    should_cancel=self.should_cancel)
        listing = {"title": found.title, "id": found.id, "is_playlist": found.is_playlist,
                   "truncated": found.truncated, "entries": [[e.id, e.title] for e in found.entries]}
        _apply_listing(self.row, listing)
        self.row.updated_at = utcnow()
        db.session.commit()
        self.entries = [dict(e) for e in self.row.entries or ()]
        if found.listing:
            cache.set(_listing_key(self.id), found.listing, LISTING_TTL)
        return found.listing

    def _work_dir(self) -> Path:
        home = user_root(self.user_id)
        if not self.row.folder:
            self.row.folder = f"{self.user_id}/{playlist_folder_name(self.row.playlist_title, None)}"
            db.session.commit()
        work_dir = ensure_inside(home, download_root() / self.row.folder)
        work_dir.mkdir(parents=True, exist_ok=True)
        return work_dir

    # -- yt-dlp callbacks ----------------------------------------------------------------------
    def should_cancel(self) -> bool:
        """Asked by yt-dlp's hooks many times a second: the database is read at most every CANCEL_CHECK_SECONDS."""
        if self.quota_hit:
            return True
        now = time.monotonic()
        if now - self.cancel_checked_at >= CANCEL_CHECK_SECONDS:
            self.cancel_checked_at = now
            table = _YD.__table__
            with self.engine.connect() as conn:
                self.cancel_seen = bool(conn.execute(
                    sa.select(table.c.cancel_requested).where(table.c.id == self.id)).scalar())
        return self.cancel_seen

    def on_progress(self, event) -> None:
        index = max(event.index, 1) - 1
        while len(self.entries) < max(event.count, index + 1):
            self.entries.append({"id": None, "title": None, "state": EntryState.QUEUED.value})
            self.entries_dirty = True
        entry = self.entries[index]
        before = (entry.get("state"), entry.get("id"), entry.get("title"))
        if event.video_id and not entry.get("id"):
            entry["id"] = str(event.video_id)
        if event.title and not entry.get("title"):
            entry["title"] = clean_text(event.title, ENTRY_TITLE_MAX)
        if event.status == "downloading":
            entry["state"] = EntryState.DOWNLOADING.value
            if self.quota_remaining is not None and self.bytes_done + event.downloaded_bytes > self.quota_remaining:
                self.quota_hit = True
        elif event.status == "finished":
            self.bytes_done += event.downloaded_bytes
        elif event.status == "completed":
            entry["state"] = EntryState.DONE.value
        elif event.status == "skipped":
            if entry.get("state") != EntryState.DONE:
                entry["state"], entry["reason"] = EntryState.SKIPPED.value, "already downloaded"
        elif event.status == "failed":
            entry["state"] = EntryState.FAILED.value
        if (entry.get("state"), entry.get("id"), entry.get("title")) != before:
            self.entries_dirty = True
        self.progress = {
            "percent": round(float(event.percent_of_playlist), 1), "index": index + 1, "count": max(event.count, 1),
            "title": entry.get("title") or clean_text(event.title, ENTRY_TITLE_MAX),
            "downloaded": int(event.downloaded_bytes or 0), "total": event.total_bytes,
            "speed": event.speed, "eta": event.eta,
        }
        self._write()

    def _write(self) -> None:
        """Progress (and per-video states that changed) at most every `interval` seconds; the final
        state is written by _record/_finish when the run ends."""
        now = time.monotonic()
        if now - self.last_write < self.interval:
            return
        self.last_write = now
        self.writes += 1
        values = {}
        if self.redis:
            cache.set(progress_key(self.id), self.progress, PROGRESS_TTL)
        else:
            values["progress"] = self.progress
        if self.entries_dirty:
            values["entries"] = [dict(e) for e in self.entries]
            self.entries_dirty = False
        if values:
            table = _YD.__table__
            values["updated_at"] = utcnow()
            with self.engine.begin() as conn:
                conn.execute(sa.update(table).where(table.c.id == self.id).values(**values))

    # -- results -------------------------------------------------------------------------------
    def _record(self, result) -> None:
        """Put what yt-dlp reported into entries, file_paths and bytes_total (the row is reloaded first:
        progress writes went around the session)."""
        row = self.row = db.session.get(_YD, self.id, populate_existing=True)
        entries = self.entries or [dict(e) for e in row.entries or ()]
        by_id = {str(e.get("id")): e for e in entries if e.get("id")}
        paths = list(row.file_paths or ())
        total = row.bytes_total or 0
        for file in result.files:
            entry = by_id.get(str(file.video_id))
            if entry is None:
                entry = {"id": str(file.video_id), "title": None, "state": EntryState.QUEUED.value}
                entries.append(entry)
                by_id[entry["id"]] = entry
            entry.update(state=EntryState.DONE.value, reason=None, file=file.path.name, size=file.size,
                         title=entry.get("title") or clean_text(file.title, ENTRY_TITLE_MAX))
            if str(file.path) not in paths:
                paths.append(str(file.path))
                total += file.size
        for video_id in result.skipped_ids:
            entry = by_id.get(str(video_id))
            if entry is not None and entry.get("state") != EntryState.DONE:
                entry.update(state=EntryState.SKIPPED.value, reason="already downloaded")
        for failure in result.failed:
            entry = by_id.get(str(failure.video_id)) if failure.video_id else None
            if entry is None:
                entry = next((e for e in entries if e.get("state") in (EntryState.DOWNLOADING, EntryState.QUEUED)
                              and e.get("title") == failure.title), None)
            if entry is None:
                entry = {"id": failure.video_id, "title": clean_text(failure.title, ENTRY_TITLE_MAX) or None}
                entries.append(entry)
            entry.update(state=EntryState.FAILED.value, reason=clean_text(_sentence(failure.reason), REASON_MAX))
        for entry in entries:
            if entry.get("state") == EntryState.DOWNLOADING:
                entry["state"] = EntryState.QUEUED.value
        if result.playlist_title and row.is_playlist and not row.playlist_title:
            row.playlist_title = clean_text(result.playlist_title, TITLE_MAX)
        if result.truncated:
            row.truncated = True
        row.entries = entries
        row.file_paths = paths
        row.bytes_total = total
        self.entries = entries
        db.session.commit()

    def _complete(self, result) -> Outcome:
        done = [e for e in self.entries if e.get("state") == EntryState.DONE and e.get("file")]
        failed = [e for e in self.entries if e.get("state") == EntryState.FAILED]
        skipped = [e for e in self.entries if e.get("state") == EntryState.SKIPPED]
        new_files = bool(result.files)
        if not (done or failed or skipped):
            return self._fail("Nothing was found to download at this link (an empty playlist?).")
        if failed and not done and not skipped:
            reason = failed[0].get("reason") or "download failed"
            if len(failed) == 1:
                return self._fail(reason)
            return self._fail(f"None of the {len(failed)} videos could be downloaded. The first said: {reason}")
        outcome = self._finish(DownloadStatus.COMPLETED, publish=new_files)
        parts = [f"{len(done)} downloaded"]
        if skipped:
            parts.append(f"{len(skipped)} already downloaded before")
        if failed:
            parts.append(f"{len(failed)} failed")
        title = self.row.display_title
        outcome.notice = ("Download finished", f"{title}: {', '.join(parts)}.", "warning" if failed else "success")
        return outcome

    def _finish(self, status: str, *, error: str | None = None, publish: bool = False) -> Outcome:
        shutil.rmtree(temp_dir(self.id), ignore_errors=True)  # before the final state shows: nothing half-written
        row = self.row = db.session.get(_YD, self.id, populate_existing=True)
        now = utcnow()
        row.status = status
        row.error = error
        row.completed_at = now
        row.updated_at = now
        row.progress = None
        row.cancel_requested = False
        if self.entries:
            row.entries = [{**e, "state": EntryState.QUEUED.value} if e.get("state") == EntryState.DOWNLOADING else e
                           for e in self.entries]
        from medianest.services import plex_collections

        publish = publish and status == DownloadStatus.COMPLETED and plex_collections.is_configured()
        if publish:
            row.plex_state, row.plex_error = PlexState.PENDING.value, None
        db.session.commit()
        cache.delete(progress_key(self.id), _listing_key(self.id))
        return Outcome(status=status, publish=publish)

    def _fail(self, reason: str, *, disk_full: bool = False) -> Outcome:
        reason = clean_text(reason, 2000)
        outcome = self._finish(DownloadStatus.FAILED, error=reason)
        outcome.notice = ("Download failed", f"{self.row.display_title}: {reason}", "error")
        outcome.disk_full = disk_full
        return outcome

    def _transient(self, err: TransientError) -> Outcome:
        attempts = self.row.attempts or 1
        reason = _sentence(err.message)
        if attempts >= MAX_ATTEMPTS:
            return self._fail(f"{reason} (gave up after {attempts} attempts)")
        base = float(_cfg("MEDIANEST_YOUTUBE_RETRY_DELAY", 30))
        delay = RATE_LIMITED_DELAY if err.rate_limited else base * 2 ** (attempts - 1)
        row = self.row = db.session.get(_YD, self.id, populate_existing=True)
        row.status = DownloadStatus.QUEUED
        row.error = clean_text(f"Attempt {attempts} of {MAX_ATTEMPTS} failed: {reason} Trying again in "
                               f"{human_duration(delay) if delay >= 1 else 'a moment'}.", 2000)
        row.progress = None
        row.updated_at = utcnow()
        if self.entries:
            row.entries = [{**e, "state": EntryState.QUEUED.value} if e.get("state") == EntryState.DOWNLOADING else e
                           for e in self.entries]
        db.session.commit()
        if self.redis:
            cache.delete(progress_key(self.id))
        log.info("download %s: transient error, retry %s in %.0f s", self.id, attempts + 1, delay)
        return Outcome(status=DownloadStatus.QUEUED, retry_in=delay)

    def _quota_stop_message(self) -> str:
        done = len([e for e in self.entries if e.get("state") == EntryState.DONE])
        kept = f" The {done} video{'s' if done != 1 else ''} finished before that were kept." if done else ""
        return ("Stopped: your download space is full "
                f"({human_size(_quota_bytes(self.settings))}). Delete downloads you no longer need, then retry." + kept)


DISK_FULL = "The download disk is full. An administrator has been told; try again later."


def _disk_full(message: str) -> bool:
    return "no space left" in (message or "").lower()


def _sentence(text: str) -> str:
    text = (text or "").strip() or "Download failed"
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ")")) else text + "."


# -- the reaper ---------------------------------------------------------------------------------------
def live_task_ids() -> set[str] | None:
    """Ids of download tasks waiting in the Huey queue or schedule; None if the queue cannot be read."""
    return jobs.pending_ids()


def _refresh_late_rows(now, stale_after: float) -> None:
    """Rows whose heartbeat is late but not yet stale: their status polls are answered from data versions
    (medianest.polls), and the heartbeat stopping changes no data, so make them render "Restarting" now."""
    late = timedelta(seconds=2.5 * float(_cfg("MEDIANEST_YOUTUBE_HEARTBEAT", 10)))
    ids = db.session.scalars(sa.select(_YD.id).where(
        _YD.status == DownloadStatus.DOWNLOADING, _YD.updated_at < now - late,
        _YD.updated_at >= now - timedelta(seconds=stale_after))).all()
    versions.bump([versions.row_key(_YD.__tablename__, did) for did in ids])


def reap(*, stale_after: float | None = None, queued_grace: float | None = None) -> dict[str, int]:
    """Rows that claim to be running or queued without a live job: a `downloading` row whose heartbeat
    stopped (worker killed) is queued again (or failed after MAX_ATTEMPTS); a `queued` row whose task is
    in no queue (Redis restarted) is enqueued again. Leftover partial files are removed."""
    stale_after = float(_cfg("MEDIANEST_YOUTUBE_STALE_AFTER", STALE_AFTER) if stale_after is None else stale_after)
    queued_grace = max(stale_after, 60.0) if queued_grace is None else float(queued_grace)
    now = utcnow()
    counts = {"requeued": 0, "failed": 0, "cancelled": 0, "enqueued": 0}
    stale = db.session.scalars(sa.select(_YD).where(
        _YD.status == DownloadStatus.DOWNLOADING, _YD.updated_at < now - timedelta(seconds=stale_after))).all()
    _refresh_late_rows(now, stale_after)
    to_enqueue = []
    for row in stale:
        row.progress = None
        row.updated_at = now
        row.entries = [{**e, "state": EntryState.QUEUED.value} if e.get("state") == EntryState.DOWNLOADING else e
                       for e in row.entries or ()] if row.entries is not None else None
        if row.cancel_requested:
            row.status, row.completed_at, row.cancel_requested = DownloadStatus.CANCELLED, now, False
            counts["cancelled"] += 1
        elif (row.attempts or 0) >= MAX_ATTEMPTS:
            row.status, row.completed_at = DownloadStatus.FAILED, now
            row.error = f"The worker stopped during the download (gave up after {row.attempts} attempts)."
            counts["failed"] += 1
        else:
            row.status = DownloadStatus.QUEUED
            row.error = WORKER_STOPPED + " It continues where it stopped."
            to_enqueue.append(row.id)
            counts["requeued"] += 1
        if row.status != DownloadStatus.QUEUED:
            shutil.rmtree(temp_dir(row.id), ignore_errors=True)
        log.warning("reaper: download %s had no live task; now %s", row.id, row.status)
    db.session.commit()
    for did in to_enqueue:
        enqueue(did)
    live = live_task_ids()
    if live is not None:
        orphans = db.session.scalars(sa.select(_YD.id).where(
            _YD.status == DownloadStatus.QUEUED, _YD.updated_at < now - timedelta(seconds=queued_grace),
            sa.or_(_YD.task_id.is_(None), _YD.task_id.not_in(live) if live else sa.true()))).all()
        for did in orphans:
            if did in to_enqueue:
                continue
            log.warning("reaper: queued download %s had no job; enqueued again", did)
            enqueue(did)
            counts["enqueued"] += 1
    counts["partial_dirs"] = clean_partial_files()
    return counts


def clean_partial_files() -> int:
    """Remove scratch folders of downloads that are not running or queued (failed, cancelled, deleted, done):
    a queued download continues its partial files."""
    scratch = download_root() / TEMP_FOLDER
    if not scratch.is_dir():
        return 0
    folders = [p for p in scratch.iterdir()]
    ids = {p: as_uuid(p.name) for p in folders}
    running = set(db.session.scalars(sa.select(_YD.id).where(
        _YD.status.in_([DownloadStatus.DOWNLOADING, DownloadStatus.QUEUED]),
        _YD.id.in_([i for i in ids.values() if i]))).all()) if ids else set()
    removed = 0
    for path, did in ids.items():
        if did is not None and did in running:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.info("removed %d leftover partial download folder(s)", removed)
    return removed
