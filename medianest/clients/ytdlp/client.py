"""YtDlpClient: previews and downloads. yt-dlp is loaded (`engine`) the first time one runs."""
from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from medianest.clients.base import ClientError
from medianest.clients.ytdlp.common import (
    AUDIO_CONTAINERS,
    DEFAULT_MAX_ENTRIES,
    GENERIC_EXTRACTORS,
    QUALITIES,
    VIDEO_CONTAINERS,
    YOUTUBE_EXTRACTORS,
    Cancelled,
    DownloadedFile,
    DownloadResult,
    Entry,
    Failure,
    PermanentError,
    Preview,
    ProgressEvent,
    ensure_inside,
)

log = logging.getLogger("medianest.clients.ytdlp")

if TYPE_CHECKING:
    from medianest.clients.ytdlp.engine import _Run


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
        from medianest.clients.ytdlp import engine, listing  # loads yt-dlp (first call only)

        run = None
        if should_cancel is not None:
            run = engine._Run(count=1, archive_ids=frozenset(), on_progress=None, should_cancel=should_cancel,
                       max_filesize=None)
        try:
            info, entries, truncated = self._list(url, max_entries, run=run)
        except engine.DownloadCancelled:
            raise Cancelled(DownloadResult(None, None)) from None
        listed = [Entry(engine._entry_id(e), e.get("title"), e.get("duration")) for e in entries]
        durations = [e.duration for e in listed]
        total = sum(durations) if listed and all(d is not None for d in durations) else None
        is_playlist = info.get("_type") in ("playlist", "multi_video")
        count = info.get("playlist_count") if is_playlist else 1
        if count is None and not truncated:
            count = len(listed)
        return Preview(info.get("title"), engine._entry_id(info), is_playlist, count, listed, total, truncated,
                       listing._listing_of(info, entries, truncated, is_playlist))

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
        from medianest.clients.ytdlp import engine, listing as listings  # loads yt-dlp (first call only)

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
        run = engine._Run(count=1, archive_ids=archive, on_progress=on_progress, should_cancel=should_cancel,
                   max_filesize=max_filesize)
        result = DownloadResult(None, None)
        try:
            run.check_cancel(force=True)
            listed = listings._from_listing(listing, max_entries) if listing is not None else None
            info, entries, truncated = listed or self._list(url, max_entries, run=run)
            is_playlist = info.get("_type") in ("playlist", "multi_video")
            if is_playlist:
                result.playlist_id, result.playlist_title = engine._entry_id(info), info.get("title")
            result.truncated = truncated
            run.count = max(len(entries), 1)
            ydl = self._download_ydl(work_dir, scratch, quality, container, run)
            with ydl:
                for index, entry in enumerate(entries, 1):
                    self._download_entry(ydl, run, result, index, entry, is_playlist, work_dir)
        except engine.DownloadCancelled:
            raise Cancelled(result) from None
        finally:
            if not keep_partial:
                shutil.rmtree(scratch, ignore_errors=True)
        return result

    # -- internals -------------------------------------------------------------
    def _base_params(self) -> dict:
        from medianest.clients.ytdlp import engine

        allowed = YOUTUBE_EXTRACTORS + (GENERIC_EXTRACTORS if self.allow_generic else ())
        return {
            "quiet": True, "noprogress": True, "logger": engine._Logger(),
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

    def _make_ydl(self, params: dict):
        from medianest.clients.ytdlp import engine

        # The Python API reads no configuration files and runs no --exec commands unless asked to.
        ydl = engine._YoutubeDL(params, auto_init=False)
        for extractor in self.extra_extractors:  # the first suitable extractor wins, so these go first
            ydl.add_info_extractor(extractor() if isinstance(extractor, type) else extractor)
        ydl.add_default_info_extractors()
        return ydl

    def _list(self, url: str, max_entries: int, *, run: _Run | None = None):
        from medianest.clients.ytdlp import engine

        params = {**self._base_params(), "extract_flat": "in_playlist", "skip_download": True,
                  "playlistend": max_entries + 1}
        if run is not None:  # long listings can be cancelled too
            params["match_filter"] = lambda info, *, incomplete=False: run.check_cancel(force=True)
        try:
            with self._make_ydl(params) as ydl:
                info = ydl.extract_info(url, download=False)
        except engine.DownloadCancelled:
            raise
        except Exception as exc:
            raise engine.classify_error(exc) from exc
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
        from medianest.clients.ytdlp import engine

        ydl = self._make_ydl(params)
        ydl.add_post_processor(engine._SafeNamePP(ydl, work_dir, check=False), when="video")
        ydl.add_post_processor(engine._SafeNamePP(ydl, work_dir, check=True), when="before_dl")
        return ydl

    def _download_entry(self, ydl, run: _Run, result: DownloadResult, index: int, entry: dict,
                        is_playlist: bool, work_dir: Path):
        from medianest.clients.ytdlp import engine, listing

        video_id, title = engine._entry_id(entry), entry.get("title")
        run.begin(index, video_id, title)
        run.check_cancel(force=True)
        if video_id and video_id in run.archive_ids:
            self._skip(run, result, video_id)
            return
        try:
            info = ydl.process_ie_result(listing._reprocessable(entry), download=True)
            video_id, title = (info or {}).get("id") or video_id, (info or {}).get("title") or title
            if run.rejection == "archived":
                self._skip(run, result, video_id)
                return
            if isinstance(run.rejection, ClientError):
                raise run.rejection
            downloads = list(engine._downloads_in(info or {}))
            if not downloads:
                raise PermanentError("nothing was downloaded")
            for video, item in downloads:
                path = ensure_inside(work_dir, Path(item["filepath"]))
                result.files.append(DownloadedFile(str(video.get("id") or video_id), video.get("title") or title or "",
                                                   path, path.stat().st_size))
            run.emit("completed", fraction=1.0, video_id=video_id, title=title)
        except engine.DownloadCancelled:
            raise
        except Exception as exc:  # one entry's failure, whatever yt-dlp raised, must not end the playlist
            error = engine.classify_error(exc)
            if not is_playlist:
                raise error from exc
            log.info("entry %s of %s failed: %s", index, run.count, error.message)
            result.failed.append(Failure(video_id, title, error.message))
            run.emit("failed", fraction=1.0, video_id=video_id, title=title)

    @staticmethod
    def _skip(run: _Run, result: DownloadResult, video_id: str):
        result.skipped_ids.append(str(video_id))
        run.emit("skipped", fraction=1.0, video_id=video_id)
