"""Publishing finished YouTube downloads to Plex (reference/YOUTUBE_AND_PLEX.md §4).

When Plex has a YouTube library section and a path mapping (local prefix -> the same folder as Plex
sees it), a completed download's folder is scanned on its own (`refresh?path=`), the new items are
found by file path after a bounded wait, and a collection named after the playlist is created or
extended. A Plex that is down or slow never fails the download: the row stays `plex_state=pending`
("waiting for Plex") and the periodic sweep (tasks.youtube_plex_sync) tries again.

Settings from app.config: MEDIANEST_PLEX_SCAN_TIMEOUT (60 s: how long one attempt waits for the scan),
MEDIANEST_PLEX_SCAN_POLL (2 s), MEDIANEST_PLEX_GIVE_UP_HOURS (24: then plex_state=failed).
"""
from __future__ import annotations

import logging
import os
import posixpath
import time
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from medianest import jobs
from medianest.clients.base import ClientError, NotFound
from medianest.extensions import db
from medianest.models.youtube import DownloadStatus, PlexState, YoutubeDownload
from medianest.services import service_config
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

COLLECTION_TITLE_MAX = 200


class NotMapped(ValueError):
    """A local path outside the mapped prefix: Plex cannot see it."""


def _cfg(name: str, default):
    value = current_app.config.get(name)
    return default if value is None else value


def settings_if_configured():
    """(settings, client) when Plex is enabled with a YouTube section and a path map, else None."""
    settings = service_config.youtube_settings()
    if not settings.plex_section or not settings.path_map:
        return None
    client = service_config.plex_client()
    if client is None:
        return None
    return settings, client


def is_configured() -> bool:
    settings = service_config.youtube_settings()
    return bool(settings.plex_section and settings.path_map and service_config.plex_client() is not None)


def to_plex_path(local_path, path_map: tuple[str, str]) -> str:
    """The path Plex sees for a local file or folder; NotMapped if it is outside the local prefix."""
    local_root, plex_root = path_map
    rel = os.path.relpath(os.path.realpath(local_path), os.path.realpath(local_root))
    if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        raise NotMapped("outside the mapped root")
    if rel == ".":
        return plex_root
    return posixpath.join(plex_root, *rel.split(os.sep))


def plex_path_or_none(local_path) -> str | None:
    settings = service_config.youtube_settings()
    if not settings.path_map:
        return None
    try:
        return to_plex_path(local_path, settings.path_map)
    except NotMapped:
        return None


def collection_title(row: YoutubeDownload) -> str:
    title = " ".join((row.playlist_title or "").split())[:COLLECTION_TITLE_MAX]
    return title or "YouTube downloads"


# -- tasks ------------------------------------------------------------------------------------------
def enqueue_publish(download_id) -> None:
    jobs.enqueue("youtube_publish_to_plex", str(download_id))


def enqueue_forget(collection_id: str | None, plex_folder: str | None) -> None:
    jobs.enqueue("youtube_plex_forget", collection_id, plex_folder)


def publish(download_id) -> str:
    """One attempt to put a completed download into Plex. Returns the resulting plex_state."""
    try:
        did = uuid.UUID(str(download_id))
    except ValueError:
        return "missing"
    row = db.session.get(YoutubeDownload, did, populate_existing=True)
    if row is None:
        return "missing"
    if row.status != DownloadStatus.COMPLETED or row.plex_state != PlexState.PENDING:
        return row.plex_state or "none"
    found = settings_if_configured()
    if found is None:
        return _set(row, None, None)
    settings, client = found
    from medianest.services import youtube

    try:
        folder = youtube.folder_path(row)
        plex_folder = to_plex_path(folder, settings.path_map)
        files = [(p, to_plex_path(p, settings.path_map)) for p in row.file_paths or ()]
    except (NotMapped, youtube.UnsafePath, TypeError):
        return _set(row, PlexState.FAILED, "The download folder is not inside the folder mapped to Plex; "
                                           "check the Plex path map.")
    try:
        section = next((s for s in client.library_sections() if s.key == str(settings.plex_section)), None)
        if section is None:
            return _set(row, PlexState.FAILED, f"Plex has no library section {settings.plex_section}.")
        item_type = "episode" if section.type == "show" else "movie"
        client.refresh_section(section.key, plex_folder)
        items = _wait_for_items(client, section.key, [plex for _, plex in files], item_type)
        missing = [plex for plex, item in items.items() if item is None]
        if missing:
            return _not_yet(row, f"Waiting for Plex to scan {len(missing)} of {len(files)} file(s).")
        keys_by_local = {local: items[plex].rating_key for local, plex in files}
        if row.is_playlist and keys_by_local:
            _collect(client, section.key, row, list(dict.fromkeys(keys_by_local.values())), item_type)
        _store_keys(row, keys_by_local)
    except ClientError as err:
        log.info("plex step for download %s postponed: %s", row.id, err)
        return _not_yet(row, f"Waiting for Plex: {err}")
    state = _set(row, PlexState.DONE, None)
    from medianest.services import notifications

    where = f" in the collection “{collection_title(row)}”" if row.plex_collection_id else ""
    notifications.notify(row.user_id, "Now in Plex", f"{row.display_title} is in Plex{where}.", type="info",
                         metadata={"download_id": str(row.id), "url": youtube._detail_path(row.id)})
    log.info("download %s published to Plex (collection %s)", row.id, row.plex_collection_id)
    return state


def _wait_for_items(client, section_id: str, plex_paths: list[str], item_type: str) -> dict:
    """Poll until Plex has every file or MEDIANEST_PLEX_SCAN_TIMEOUT passes (then the caller retries later)."""
    deadline = time.monotonic() + float(_cfg("MEDIANEST_PLEX_SCAN_TIMEOUT", 60))
    poll = float(_cfg("MEDIANEST_PLEX_SCAN_POLL", 2))
    while True:
        scanning = client.is_scanning(section_id)
        items = client.items_by_file_path(section_id, plex_paths, item_type=item_type)
        if all(item is not None for item in items.values()):
            return items
        if time.monotonic() >= deadline:
            log.info("plex scan of section %s: %d file(s) not found yet (scanning=%s)", section_id,
                     sum(item is None for item in items.values()), scanning)
            return items
        time.sleep(poll)


def _collect(client, section_id: str, row: YoutubeDownload, keys: list[str], item_type: str) -> None:
    """Create the playlist's collection, or add the missing items to the one that exists."""
    title = collection_title(row)
    existing = None
    if row.plex_collection_id:
        existing = next((c for c in client.collections(section_id) if c.rating_key == row.plex_collection_id), None)
    existing = existing or client.find_collection(section_id, title)
    if existing is None:
        created = client.create_collection(section_id, title, keys, item_type=item_type)
        row.plex_collection_id, row.plex_collection_owned = created.rating_key, True
        return
    have = {item.rating_key for item in client.collection_items(existing.rating_key)}
    wanted = [k for k in keys if k not in have]
    if wanted:
        client.add_to_collection(existing.rating_key, wanted)
    if row.plex_collection_id != existing.rating_key:
        row.plex_collection_id = existing.rating_key
        made_here = db.session.scalar(sa.select(sa.func.count()).select_from(YoutubeDownload).where(
            YoutubeDownload.plex_collection_id == existing.rating_key, YoutubeDownload.plex_collection_owned.is_(True),
            YoutubeDownload.id != row.id))
        row.plex_collection_owned = False if made_here else row.plex_collection_owned


def _store_keys(row: YoutubeDownload, keys_by_local: dict[str, str]) -> None:
    by_name = {Path(local).name: key for local, key in keys_by_local.items()}
    row.entries = [{**e, "plex_key": by_name[e["file"]]} if e.get("file") in by_name else e
                   for e in row.entries or ()]


def _set(row: YoutubeDownload, state: str | None, error: str | None) -> str:
    row.plex_state = state.value if isinstance(state, PlexState) else state
    row.plex_error = error[:500] if error else None
    row.updated_at = utcnow()
    db.session.commit()
    return row.plex_state or "none"


def _not_yet(row: YoutubeDownload, message: str) -> str:
    give_up = timedelta(hours=float(_cfg("MEDIANEST_PLEX_GIVE_UP_HOURS", 24)))
    if row.completed_at and utcnow() - row.completed_at > give_up:
        hours = give_up.total_seconds() / 3600
        return _set(row, PlexState.FAILED, f"Plex did not pick up the files within {hours:.0f} hours. "
                                           f"Last answer: {message}")
    return _set(row, PlexState.PENDING, message)


def publish_pending(limit: int = 20) -> dict[str, int]:
    """The sweep: one more attempt for every download still waiting for Plex."""
    ids = db.session.scalars(sa.select(YoutubeDownload.id).where(
        YoutubeDownload.status == DownloadStatus.COMPLETED, YoutubeDownload.plex_state == PlexState.PENDING)
        .order_by(YoutubeDownload.completed_at).limit(limit)).all()
    counts: dict[str, int] = {}
    for did in ids:
        state = publish(did)
        counts[state] = counts.get(state, 0) + 1
    return counts


def forget(collection_id: str | None, plex_folder: str | None) -> None:
    """After a delete: remove the collection MediaNest made and rescan the folder so Plex drops the files.
    Raises ClientError so the task retries while Plex is down."""
    found = settings_if_configured()
    if found is None:
        return
    settings, client = found
    if collection_id:
        try:
            client.delete_collection(collection_id)
        except NotFound:
            pass  # already gone
    if plex_folder:
        client.refresh_section(settings.plex_section, plex_folder)
