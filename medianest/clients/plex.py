"""Plex Media Server: server info, libraries, search, images, partial scans and collections.

Contract: reference/EXTERNAL_APIS.md §2 and YOUTUBE_AND_PLEX.md §4. The token travels only in the
X-Plex-Token header (never in a URL, a log line or an error). Scans and collection edits need the
owner/admin token. Everything returned is a frozen dataclass; ids (`rating_key`, section `key`) are strings.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from medianest.clients.base import DEFAULT_TIMEOUT, MAX_BODY_BYTES, BadResponse, HttpClient, NotFound, Response
from medianest.clients.plextv import (
    DEFAULT_VERSION,
    as_bool,
    as_int,
    check_header_value,
    clip,
    plex_identity_headers,
)

log = logging.getLogger(__name__)

TYPE_NUMBERS = {"movie": 1, "show": 2, "season": 3, "episode": 4, "artist": 8, "album": 9, "track": 10, "clip": 12}
LIBRARY_URI = "com.plexapp.plugins.library"
MAX_ITEMS_PER_PAGE = 500
_IMAGE_PATH = re.compile(
    r"^/library/(?:metadata|collections)/\d{1,12}/(?:thumb|art|banner|theme|poster|composite)(?:/\d{1,20})?$"
)
_TRANSCODE_PATH = "/photo/:/transcode"
_RATING_KEY = re.compile(r"^\d{1,12}$")


@dataclass(frozen=True)
class ServerIdentity:
    """GET /identity: answers without a token; use it for "is Plex up?"."""

    machine_identifier: str
    version: str
    claimed: bool


@dataclass(frozen=True)
class ServerInfo:
    """GET /: the token-checked "test connection" answer."""

    machine_identifier: str
    friendly_name: str
    version: str
    platform: str = ""
    platform_version: str = ""
    my_plex_username: str = ""
    active_transcodes: int = 0


@dataclass(frozen=True)
class LibrarySection:
    """One library. `locations` are folders as the Plex server sees them."""

    key: str
    type: str
    title: str
    agent: str = ""
    scanner: str = ""
    language: str = ""
    refreshing: bool = False
    locations: tuple[str, ...] = ()
    uuid: str = ""
    thumb: str = ""
    updated_at: int | None = None
    scanned_at: int | None = None


@dataclass(frozen=True)
class MediaItem:
    """A movie, show, season, episode or clip. `files` are its Media/Part file paths (Plex-side)."""

    rating_key: str
    type: str
    title: str
    key: str = ""
    year: int | None = None
    summary: str = ""
    thumb: str = ""
    art: str = ""
    added_at: int | None = None
    updated_at: int | None = None
    duration_ms: int | None = None
    content_rating: str = ""
    section_id: str = ""
    section_title: str = ""
    parent_title: str = ""
    grandparent_title: str = ""
    index: int | None = None
    child_count: int | None = None
    leaf_count: int | None = None
    guids: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemPage:
    """One page of a section listing: `total` is the section's total for the query."""

    items: list[MediaItem]
    offset: int
    total: int


@dataclass(frozen=True)
class Collection:
    """A collection in one section."""

    rating_key: str
    title: str
    section_id: str = ""
    child_count: int = 0
    subtype: str = ""
    smart: bool = False
    thumb: str = ""
    added_at: int | None = None


class PlexClient(HttpClient):
    """Plex Media Server at `base_url`, authenticated with `token` (kept out of reprs, URLs and errors)."""

    service = "Plex"

    def __init__(self, base_url: str, token: str, *, client_identifier: str = "medianest",
                 product: str = "MediaNest", version: str = DEFAULT_VERSION,
                 timeout=DEFAULT_TIMEOUT, max_bytes: int = MAX_BODY_BYTES):
        super().__init__(base_url, timeout=timeout, max_bytes=max_bytes)
        self.session.headers.update(plex_identity_headers(client_identifier, product, version))
        self.session.headers["X-Plex-Token"] = check_header_value(token, "Plex token")
        self._machine_identifier: str | None = None

    def __repr__(self) -> str:
        return f"PlexClient({self.base_url!r})"

    # -- server ------------------------------------------------------------------------------
    def identity(self) -> ServerIdentity:
        """GET /identity, sent without the token."""
        mc = self._container(self.request("GET", "/identity", headers={"X-Plex-Token": None}, ok=(200,)))
        return ServerIdentity(
            machine_identifier=clip(mc.get("machineIdentifier"), 128),
            version=clip(mc.get("version"), 64),
            claimed=as_bool(mc.get("claimed")),
        )

    def server_info(self) -> ServerInfo:
        """GET /. Raises Unauthorized for a bad token, BadResponse without a machineIdentifier."""
        mc = self._container(self.request("GET", "/", ok=(200,)))
        machine_identifier = clip(mc.get("machineIdentifier"), 128)
        if not machine_identifier:
            raise BadResponse("Plex: server info has no machineIdentifier")
        self._machine_identifier = machine_identifier
        return ServerInfo(
            machine_identifier=machine_identifier,
            friendly_name=clip(mc.get("friendlyName")),
            version=clip(mc.get("version"), 64),
            platform=clip(mc.get("platform"), 64),
            platform_version=clip(mc.get("platformVersion"), 64),
            my_plex_username=clip(mc.get("myPlexUsername")),
            active_transcodes=as_int(mc.get("transcoderActiveVideoSessions")) or 0,
        )

    @property
    def machine_identifier(self) -> str:
        """The server's id for collection URIs; fetched once from GET /."""
        if self._machine_identifier is None:
            self.server_info()
        return self._machine_identifier

    # -- libraries ---------------------------------------------------------------------------
    def library_sections(self) -> list[LibrarySection]:
        """GET /library/sections."""
        mc = self._container(self.request("GET", "/library/sections", ok=(200,)))
        sections = []
        for entry in _entries(mc, "Directory"):
            key = clip(entry.get("key"), 32)
            if not key:
                continue
            locations = tuple(
                clip(loc.get("path"), 1024) for loc in _entries(entry, "Location") if clip(loc.get("path"), 1024)
            )
            sections.append(LibrarySection(
                key=key,
                type=clip(entry.get("type"), 32),
                title=clip(entry.get("title")),
                agent=clip(entry.get("agent")),
                scanner=clip(entry.get("scanner")),
                language=clip(entry.get("language"), 32),
                refreshing=as_bool(entry.get("refreshing")),
                locations=locations,
                uuid=clip(entry.get("uuid"), 64),
                thumb=clip(entry.get("thumb"), 1024),
                updated_at=as_int(entry.get("updatedAt")),
                scanned_at=as_int(entry.get("scannedAt")),
            ))
        return sections

    def section_items(self, section_id, start: int = 0, size: int = 50, *, item_type: str | None = None,
                      sort: str | None = None) -> ItemPage:
        """GET /library/sections/{id}/all, one page. `item_type` is "movie", "episode"…; `sort` e.g. "addedAt:desc"."""
        params = {"X-Plex-Container-Start": max(0, int(start)),
                  "X-Plex-Container-Size": max(0, min(int(size), MAX_ITEMS_PER_PAGE))}
        if item_type:
            params["type"] = _type_number(item_type)
        if sort:
            params["sort"] = sort
        resp = self.request("GET", f"/library/sections/{_key(section_id)}/all", params=params, ok=(200,))
        mc = self._container(resp)
        items = _items(mc)
        offset = as_int(mc.get("offset"))
        total = as_int(mc.get("totalSize"))
        if total is None:
            total = as_int(resp.headers.get("X-Plex-Container-Total-Size"))
        return ItemPage(items=items, offset=params["X-Plex-Container-Start"] if offset is None else offset,
                        total=len(items) if total is None else total)

    def recently_added(self, limit: int = 10) -> list[MediaItem]:
        """GET /library/recentlyAdded, newest first, across all sections."""
        params = {"X-Plex-Container-Start": 0, "X-Plex-Container-Size": max(1, min(int(limit), MAX_ITEMS_PER_PAGE))}
        mc = self._container(self.request("GET", "/library/recentlyAdded", params=params, ok=(200,)))
        return _items(mc)[:limit]

    def search(self, query: str, limit: int = 10, *, section_id=None) -> list[MediaItem]:
        """GET /hubs/search: items from every hub, in hub order, at most `limit` in total."""
        query = (query or "").strip()
        if not query:
            return []
        params = {"query": query[:200], "limit": max(1, min(int(limit), 100))}
        if section_id is not None:
            params["sectionId"] = _key(section_id)
        mc = self._container(self.request("GET", "/hubs/search", params=params, ok=(200,)))
        found = []
        for hub in _entries(mc, "Hub"):
            found.extend(_items(hub))
        return found[:limit]

    def metadata(self, rating_key) -> MediaItem:
        """GET /library/metadata/{ratingKey}. Raises NotFound for an unknown key."""
        mc = self._container(self.request("GET", f"/library/metadata/{_key(rating_key)}", ok=(200,)))
        items = _items(mc)
        if not items:
            raise NotFound("Plex: no such item", status=200)
        return items[0]

    def children(self, rating_key) -> list[MediaItem]:
        """GET /library/metadata/{ratingKey}/children: seasons of a show, episodes of a season."""
        mc = self._container(self.request("GET", f"/library/metadata/{_key(rating_key)}/children", ok=(200,)))
        return _items(mc)

    def fetch_image(self, path: str, width: int | None = None, height: int | None = None) -> tuple[bytes, str]:
        """Download a Plex image: `/library/metadata/{rk}/thumb|art[/ts]`, collection images, or a
        `/photo/:/transcode?url=<one of those>` path. With width/height the server resizes it.

        Returns (bytes, content type). Raises ValueError for anything that is not a Plex image path,
        so a caller can pass user-supplied paths without opening a proxy to arbitrary URLs.
        """
        source = _image_source(path)
        if width or height:
            params = {"url": source, "minSize": 1, "upscale": 1}
            if width:
                params["width"] = max(1, min(int(width), 4000))
            if height:
                params["height"] = max(1, min(int(height), 4000))
            resp = self.request("GET", _TRANSCODE_PATH, params=params, headers={"Accept": "image/*"}, ok=(200,))
        else:
            resp = self.request("GET", source, headers={"Accept": "image/*"}, ok=(200,))
        content_type = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not content_type.startswith("image/") or not resp.body:
            raise BadResponse("Plex: the image answer is not an image", status=resp.status)
        return resp.body, content_type

    # -- scans -------------------------------------------------------------------------------
    def refresh_section(self, section_id, path: str | None = None) -> None:
        """GET /library/sections/{id}/refresh[?path=]: scan one folder (Plex-side path) or the whole section.

        Returns at once; the scan runs in the background (see is_scanning). Needs the admin token.
        """
        params = {"path": path} if path else None
        self.request("GET", f"/library/sections/{_key(section_id)}/refresh", params=params, ok=(200, 204))
        log.info("plex scan requested section=%s partial=%s", section_id, bool(path))

    def cancel_refresh(self, section_id) -> None:
        """DELETE /library/sections/{id}/refresh."""
        self.request("DELETE", f"/library/sections/{_key(section_id)}/refresh", ok=(200, 204))

    def is_scanning(self, section_id) -> bool:
        """Whether the section is being scanned (its `refreshing` flag). Raises NotFound for an unknown section."""
        key = _key(section_id)
        for section in self.library_sections():
            if section.key == key:
                return section.refreshing
        raise NotFound("Plex: no such library section", status=200)

    def items_by_file_path(self, section_id, paths, *, item_type: str | None = None,
                           page_size: int = 200, max_items: int = 20000) -> dict[str, MediaItem | None]:
        """Match Plex items to files by Media/Part file path (Plex-side paths), newest items first.

        Returns {path: item or None}; None means Plex has not scanned that file yet. For show libraries
        pass item_type="episode" (files hang off episodes).
        """
        wanted = {p: None for p in paths}
        missing = set(wanted)
        start = 0
        while missing and start < max_items:
            page = self.section_items(section_id, start, page_size, item_type=item_type, sort="addedAt:desc")
            for item in page.items:
                for file in item.files:
                    if file in missing:
                        wanted[file] = item
                        missing.discard(file)
            start += len(page.items)
            if not page.items or start >= page.total:
                break
        return wanted

    # -- collections -------------------------------------------------------------------------
    def collections(self, section_id) -> list[Collection]:
        """GET /library/sections/{id}/collections."""
        mc = self._container(self.request("GET", f"/library/sections/{_key(section_id)}/collections", ok=(200,)))
        return [c for c in (_collection(e) for e in _entries(mc, "Metadata")) if c is not None]

    def find_collection(self, section_id, title: str) -> Collection | None:
        """The section's collection with exactly this title, or None."""
        return next((c for c in self.collections(section_id) if c.title == title), None)

    def collection_items(self, collection_id) -> list[MediaItem]:
        """GET /library/collections/{id}/children, in the collection's order."""
        path = f"/library/collections/{_key(collection_id)}/children"
        return _items(self._container(self.request("GET", path, ok=(200,))))

    def create_collection(self, section_id, title: str, rating_keys, *, item_type: str = "movie") -> Collection:
        """POST /library/collections with the items (which must share `item_type`). Needs the admin token."""
        query = _query({
            "sectionId": _key(section_id),
            "smart": "0",
            "title": title,
            "type": str(_type_number(item_type)),
            "uri": self._items_uri(rating_keys),
        })
        mc = self._container(self.request("POST", f"/library/collections?{query}", ok=(200, 201)))
        entries = _entries(mc, "Metadata") or _entries(mc, "Directory")
        created = _collection(entries[0]) if entries else None
        if created is None:
            raise BadResponse("Plex: the new collection is missing from the answer")
        log.info("plex collection created section=%s collection=%s", section_id, created.rating_key)
        return created

    def add_to_collection(self, collection_id, rating_keys) -> None:
        """PUT /library/collections/{id}/items?uri=…. Raises NotFound for an unknown collection."""
        query = _query({"uri": self._items_uri(rating_keys)})
        self.request("PUT", f"/library/collections/{_key(collection_id)}/items?{query}", ok=(200, 201, 204))

    def remove_from_collection(self, collection_id, rating_key) -> None:
        """DELETE /library/collections/{id}/items/{ratingKey}."""
        path = f"/library/collections/{_key(collection_id)}/items/{_key(rating_key)}"
        self.request("DELETE", path, ok=(200, 204))

    def move_in_collection(self, collection_id, rating_key, after=None) -> None:
        """PUT /library/collections/{id}/items/{rk}/move[?after=rk2]: without `after` the item goes first."""
        path = f"/library/collections/{_key(collection_id)}/items/{_key(rating_key)}/move"
        if after is not None:
            path += f"?after={_key(after)}"
        self.request("PUT", path, ok=(200, 204))

    def delete_collection(self, collection_id) -> None:
        """DELETE /library/collections/{id} (the items stay in the library)."""
        self.request("DELETE", f"/library/collections/{_key(collection_id)}", ok=(200, 204))

    # -- plumbing ----------------------------------------------------------------------------
    def _items_uri(self, rating_keys) -> str:
        keys = [_key(k) for k in rating_keys]
        if not keys:
            raise ValueError("a collection needs at least one item")
        return f"server://{self.machine_identifier}/{LIBRARY_URI}/library/metadata/{','.join(keys)}"

    def _container(self, resp: Response) -> dict:
        if resp.body.lstrip()[:1] == b"<":
            raise BadResponse("Plex: answered XML/HTML instead of JSON", status=resp.status)
        try:
            data = resp.json()
        except BadResponse as exc:
            raise BadResponse("Plex: answer is not valid JSON", status=resp.status) from exc
        container = data.get("MediaContainer") if isinstance(data, dict) else None
        if not isinstance(container, dict):
            raise BadResponse("Plex: answer has no MediaContainer", status=resp.status)
        return container


def _key(value) -> str:
    """A ratingKey or section key: digits only, so it is safe inside a URL path."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not _RATING_KEY.match(text):
        raise ValueError("Plex keys are numeric")
    return text


def _type_number(item_type: str) -> int:
    if item_type not in TYPE_NUMBERS:
        raise ValueError(f"unknown Plex item type {item_type!r}")
    return TYPE_NUMBERS[item_type]


def _query(params: dict) -> str:
    """Percent-encode every value with safe='' and sort keys case-insensitively, as python-plexapi does."""
    return "&".join(f"{k}={quote(str(v), safe='')}" for k, v in sorted(params.items(), key=lambda kv: kv[0].lower()))


def _image_source(path: str) -> str:
    path = (path or "").strip() if isinstance(path, str) else ""
    if path.startswith(_TRANSCODE_PATH + "?"):
        inner = dict(parse_qsl(path.split("?", 1)[1])).get("url", "")
        path = inner.split("?", 1)[0]
    if not _IMAGE_PATH.fullmatch(path):  # fullmatch: "$" alone would let a trailing newline through
        raise ValueError("not a Plex image path")
    return path


def _entries(container: dict, name: str) -> list[dict]:
    value = container.get(name)
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def _items(container: dict) -> list[MediaItem]:
    items = []
    for entry in _entries(container, "Metadata"):
        item = _item(entry, container)
        if item is not None:
            items.append(item)
    return items


def _item(entry: dict, container: dict) -> MediaItem | None:
    rating_key = clip(entry.get("ratingKey"), 32)
    if not rating_key:
        return None
    files = tuple(
        clip(part.get("file"), 4096)
        for media in _entries(entry, "Media")
        for part in _entries(media, "Part")
        if clip(part.get("file"), 4096)
    )
    section_id = entry.get("librarySectionID", container.get("librarySectionID"))
    section_title = entry.get("librarySectionTitle", container.get("librarySectionTitle"))
    return MediaItem(
        rating_key=rating_key,
        type=clip(entry.get("type"), 32),
        title=clip(entry.get("title"), 500),
        key=clip(entry.get("key"), 1024),
        year=as_int(entry.get("year")),
        summary=clip(entry.get("summary"), 5000),
        thumb=clip(entry.get("thumb"), 1024),
        art=clip(entry.get("art"), 1024),
        added_at=as_int(entry.get("addedAt")),
        updated_at=as_int(entry.get("updatedAt")),
        duration_ms=as_int(entry.get("duration")),
        content_rating=clip(entry.get("contentRating"), 32),
        section_id=clip(section_id, 32),
        section_title=clip(section_title),
        parent_title=clip(entry.get("parentTitle"), 500),
        grandparent_title=clip(entry.get("grandparentTitle"), 500),
        index=as_int(entry.get("index")),
        child_count=as_int(entry.get("childCount")),
        leaf_count=as_int(entry.get("leafCount")),
        guids=tuple(clip(g.get("id"), 255) for g in _entries(entry, "Guid") if clip(g.get("id"), 255)),
        files=files,
    )


def _collection(entry: dict) -> Collection | None:
    rating_key = clip(entry.get("ratingKey"), 32)
    if not rating_key:
        return None
    return Collection(
        rating_key=rating_key,
        title=clip(entry.get("title"), 500),
        section_id=clip(entry.get("librarySectionID"), 32),
        child_count=as_int(entry.get("childCount")) or 0,
        subtype=clip(entry.get("subtype"), 32),
        smart=as_bool(entry.get("smart")),
        thumb=clip(entry.get("thumb"), 1024),
        added_at=as_int(entry.get("addedAt")),
    )
