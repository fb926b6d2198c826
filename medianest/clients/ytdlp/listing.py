"""Listings handed from preview() to download(), and the entry copies yt-dlp processes again."""
from __future__ import annotations

import copy
import json

from medianest.clients.ytdlp.common import LISTING_MAX_CHARS
from medianest.clients.ytdlp.engine import _entry_id


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
