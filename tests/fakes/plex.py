"""Fake Plex Media Server (EXTERNAL_APIS.md §2, checklist §2.12; YOUTUBE_AND_PLEX.md §4 and §7.10).

Library: section 1 "Movies" (/data/movies), 2 "TV Shows" (/data/tv), 3 "YouTube" (Other Videos, /data/youtube,
empty). Python API for tests:
    fake.add_item(3, "Title", file="/data/youtube/a/b.mp4")   # already scanned, returns the item dict
    fake.add_file(3, "/data/youtube/alice/PL [x]/01 - Clip [id].mp4", "01 - Clip")  # on disk, not scanned yet
    fake.scan_delay = 0 (scan finishes at once) | seconds | None (until fake.finish_scans())
    fake.refreshes        # [Refresh(section_id, path, force, method, token)]
    fake.raw_queries      # [(method, path, undecoded query string)] to check percent-encoding
    fake.collections      # {rating_key: FakeCollection}; fake.collection_by_title("…")
    fake.add_token("user-token", admin=False)   # non-admin tokens get 401 on scans and collection edits
    fake.override(path, body, status=…, content_type=…)
"""
from __future__ import annotations

import json
import posixpath
import re
import struct
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from werkzeug.wrappers import Request, Response

from tests.fakes.base import FakeServer

ADMIN_TOKEN = "TEST-TOKEN"
MACHINE_ID = "96f2fe7a78c9dc1f16a16bedbe90f98149be16b4"
VERSION = "1.41.6.9685-d301f511a"
LIBRARY_URI = "com.plexapp.plugins.library"
UNAUTHORIZED_HTML = (
    "<html><head><script>window.location = window.location.href.match(/(^.+\\/)[^\\/]*$/)[1] + "
    "'web/index.html';</script><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>"
)
TYPE_NAMES = {1: "movie", 2: "show", 3: "season", 4: "episode", 8: "artist", 9: "album", 10: "track", 12: "clip",
              18: "collection"}
_XML_TAGS = {"movie": "Video", "episode": "Video", "clip": "Video", "track": "Track"}


def png_bytes(width: int = 2, height: int = 2, rgb=(229, 160, 13)) -> bytes:
    """A small but real PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = png_bytes()


def xml_element(tag: str, data: dict, children=()) -> bytes:
    """Render Plex-style XML: scalars become attributes, dicts child elements. Lists of dicts become
    repeated children (PMS style, capitalised keys; `Metadata` as <Video>/<Directory>) or a wrapper with
    singular children (plex.tv style, lower-case keys: <connections><connection/></connections>)."""
    attrs, inner = [], list(children)
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, bool):
            attrs.append(f"{key}={quoteattr('1' if value else '0')}")
        elif isinstance(value, (str, int, float)):
            attrs.append(f"{key}={quoteattr(str(value))}")
        elif isinstance(value, dict):
            inner.append(xml_element(key, value))
        elif isinstance(value, list):
            entries = [v for v in value if isinstance(v, dict)]
            if key[:1].isupper():
                for entry in entries:
                    child_tag = _XML_TAGS.get(entry.get("type"), "Directory") if key == "Metadata" else key
                    inner.append(xml_element(child_tag, entry))
            elif entries:
                inner.append(xml_element(key, {}, [xml_element(key.rstrip("s"), e) for e in entries]))
    head = f"<{tag}{''.join(' ' + a for a in attrs)}"
    if not inner:
        return (head + "/>").encode()
    return head.encode() + b">" + b"".join(inner) + f"</{tag}>".encode()


@dataclass
class Refresh:
    section_id: str
    path: str | None
    force: bool
    method: str
    token: str


@dataclass
class FakeCollection:
    rating_key: str
    title: str
    section_id: str
    items: list[str]
    subtype: str = "movie"
    smart: bool = False
    added_at: int = field(default_factory=lambda: int(time.time()))


@dataclass
class _Scan:
    section_id: str
    path: str | None
    due: float | None


class FakePlex(FakeServer):
    name = "plex"

    def __init__(self, port: int | None = None):
        super().__init__(port)
        self._state = threading.RLock()
        self.reset_state()

    # -- state -------------------------------------------------------------------------------
    def reset_state(self):
        with self._state:
            self.machine_identifier = MACHINE_ID
            self.friendly_name = "HomeServer"
            self.tokens: dict[str, bool] = {ADMIN_TOKEN: True}
            self.scan_delay: float | None = 0.0
            self.refreshes: list[Refresh] = []
            self.raw_queries: list[tuple[str, str, str]] = []
            self.collections: dict[str, FakeCollection] = {}
            self.overrides: dict[str, Response] = {}
            self.placed: list[dict] = []
            self._scans: list[_Scan] = []
            self._next_key = 7001
            self._next_collection = 9001
            self._clock = 1714560000
            self.sections = {
                "1": {"key": "1", "type": "movie", "title": "Movies", "agent": "tv.plex.agents.movie",
                      "scanner": "Plex Movie", "language": "en-US", "locations": ["/data/movies"]},
                "2": {"key": "2", "type": "show", "title": "TV Shows", "agent": "tv.plex.agents.series",
                      "scanner": "Plex TV Series", "language": "en-US", "locations": ["/data/tv"]},
                "3": {"key": "3", "type": "movie", "title": "YouTube", "agent": "com.plexapp.agents.none",
                      "scanner": "Plex Video Files Scanner", "language": "xn", "locations": ["/data/youtube"]},
            }
            self.items: dict[str, dict] = {}
            self._seed()

    def _seed(self):
        self.add_item(1, "The Matrix", rating_key="101", year=1999,
                      file="/data/movies/The Matrix (1999)/The Matrix (1999).mkv",
                      summary="Set in the 22nd century...", contentRating="R",
                      Guid=[{"id": "imdb://tt0133093"}, {"id": "tmdb://603"}, {"id": "tvdb://169"}])
        self.add_item(1, "Spirited Away", rating_key="102", year=2001,
                      file="/data/movies/Spirited Away (2001)/Spirited Away (2001).mkv")
        self.add_item(2, "Severance", rating_key="2200", type="show", year=2022, childCount=1, leafCount=1)
        self.add_item(2, "Season 2", rating_key="2202", type="season", index=2, parentRatingKey="2200",
                      parentTitle="Severance")
        self.add_item(2, "Hello, Ms. Cobel", rating_key="2203", type="episode", index=1, parentRatingKey="2202",
                      parentTitle="Season 2", grandparentRatingKey="2200", grandparentTitle="Severance",
                      file="/data/tv/Severance/Season 02/Severance - S02E01.mkv")

    def _tick(self) -> int:
        self._clock = max(self._clock + 1, int(time.time()))
        return self._clock

    # -- Python API --------------------------------------------------------------------------
    def add_token(self, token: str, *, admin: bool = False):
        with self._state:
            self.tokens[token] = admin

    def add_item(self, section_id, title: str, *, file: str | None = None, type: str | None = None,
                 rating_key: str | None = None, year: int | None = None, **extra) -> dict:
        """Put an already scanned item in a section; returns its JSON dict (ratingKey is a string)."""
        with self._state:
            section = self.sections[str(section_id)]
            if rating_key is None:
                rating_key = str(self._next_key)
                self._next_key += 1
            added = self._tick()
            kind = type or section["type"]
            item = {
                "ratingKey": rating_key, "key": f"/library/metadata/{rating_key}",
                "guid": f"plex://{kind}/{rating_key}", "type": kind, "title": title, "summary": "", "year": year,
                "thumb": f"/library/metadata/{rating_key}/thumb/{added}",
                "art": f"/library/metadata/{rating_key}/art/{added}",
                "addedAt": added, "updatedAt": added, "librarySectionID": int(section["key"]),
                "librarySectionTitle": section["title"], "librarySectionUUID": f"uuid-{section['key']}",
            }
            if kind in ("show", "season"):
                item["key"] += "/children"
            if file:
                media_id = int(rating_key) + 500000
                container = posixpath.splitext(file)[1].lstrip(".")
                item["Media"] = [{"id": media_id, "duration": 60000, "container": container,
                                  "Part": [{"id": media_id + 1, "key": f"/library/parts/{media_id + 1}/{added}/file",
                                            "size": 1000, "file": file}]}]
                item["duration"] = 60000
            item.update(extra)
            self.items[rating_key] = item
            return item

    def add_file(self, section_id, path: str, title: str | None = None):
        """Place a file on the server's disk; it becomes an item after a scan that covers its folder."""
        with self._state:
            self.placed.append({"section_id": str(section_id), "path": path,
                                "title": title or posixpath.splitext(posixpath.basename(path))[0]})

    def finish_scans(self):
        with self._state:
            for scan in list(self._scans):
                self._complete(scan)

    def is_refreshing(self, section_id) -> bool:
        with self._state:
            self._complete_due_scans()
            return any(s.section_id == str(section_id) for s in self._scans)

    def items_in(self, section_id) -> list[dict]:
        with self._state:
            return [i for i in self.items.values() if str(i["librarySectionID"]) == str(section_id)]

    def item_by_file(self, path: str) -> dict | None:
        with self._state:
            return next((i for i in self.items.values() if path in _files(i)), None)

    def collection_by_title(self, title: str) -> FakeCollection | None:
        with self._state:
            return next((c for c in self.collections.values() if c.title == title), None)

    def override(self, path: str, body, *, status: int = 200, content_type: str = "application/json"):
        """Answer every request to `path` with this raw body (malformed JSON, HTML, a huge body…)."""
        with self._state:
            self.overrides[path] = Response(body, status=status, content_type=content_type)

    # -- scans -------------------------------------------------------------------------------
    def _start_scan(self, section_id: str, path: str | None):
        due = None if self.scan_delay is None else time.time() + self.scan_delay
        scan = _Scan(section_id, path, due)
        self._scans.append(scan)
        if self.scan_delay == 0:
            self._complete(scan)

    def _complete_due_scans(self):
        now = time.time()
        for scan in [s for s in self._scans if s.due is not None and s.due <= now]:
            self._complete(scan)

    def _complete(self, scan: _Scan):
        section = self.sections[scan.section_id]
        for placed in list(self.placed):
            file = placed["path"]
            if placed["section_id"] != scan.section_id or not any(_under(file, loc) for loc in section["locations"]):
                continue
            if scan.path is None or _under(file, scan.path):
                self.placed.remove(placed)
                self.add_item(scan.section_id, placed["title"], file=file)
        self._scans.remove(scan)

    # -- HTTP --------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        with self._state:
            self.raw_queries.append((request.method, request.path, request.query_string.decode("latin-1")))
            override = self.overrides.get(request.path)
            if override is not None:
                return override
            if request.path == "/identity":
                return self._mc(request, {"size": 0, "claimed": True, "machineIdentifier": self.machine_identifier,
                                          "version": VERSION})
            token = request.headers.get("X-Plex-Token") or request.args.get("X-Plex-Token") or ""
            if token not in self.tokens:
                return _unauthorized()
            self._complete_due_scans()
            return self._route(request, token, self.tokens[token])

    def _route(self, request: Request, token: str, admin: bool) -> Response:
        path, method = request.path.rstrip("/") or "/", request.method
        admin_only = re.fullmatch(r"/library/sections/(\d+|all)/refresh", path) or (
            path.startswith(("/library/collections", "/library/metadata")) and method != "GET"
        )
        if admin_only and not admin:
            return _unauthorized()
        if path == "/" and method == "GET":
            return self._server_info(request)
        if path == "/library" and method == "GET":
            return self._mc(request, {"size": 3, "title1": "Plex Library", "Directory": [
                {"key": "sections", "title": "Library Sections"}, {"key": "recentlyAdded", "title": "Recently Added"},
                {"key": "onDeck", "title": "On Deck"}]})
        if path == "/library/sections" and method == "GET":
            sections = [self._section_json(s) for s in self.sections.values()]
            return self._mc(request, {"size": len(sections), "allowSync": False, "title1": "Plex Library",
                                      "Directory": sections})
        if path == "/library/recentlyAdded" and method == "GET":
            items = sorted((i for i in self.items.values() if i["type"] != "show"), key=lambda i: -i["addedAt"])
            return self._page(request, items, {"identifier": "com.plexapp.plugins.library", "mixedParents": True})
        if path == "/hubs/search" and method == "GET":
            return self._search(request)
        if path == "/photo/:/transcode" and method == "GET":
            source = request.args.get("url", "")
            if not source:
                return _text("Bad Request", 400)
            return self._image(source.split("?", 1)[0])
        match = re.fullmatch(r"/library/sections/(\d+|all)/(\w+)", path)
        if match:
            return self._section_route(request, token, match.group(1), match.group(2))
        match = re.fullmatch(r"/library/metadata/([\d,]+)(/.*)?", path)
        if match:
            return self._metadata_route(request, match.group(1), match.group(2) or "")
        if path.startswith("/library/collections"):
            return self._collection_route(request, path, method)
        return _text("Not Found", 404)

    def _server_info(self, request: Request) -> Response:
        return self._mc(request, {
            "size": 2, "allowSharing": True, "allowSync": True, "friendlyName": self.friendly_name,
            "machineIdentifier": self.machine_identifier, "multiuser": True, "myPlex": True,
            "myPlexMappingState": "mapped", "myPlexSigninState": "ok", "myPlexSubscription": True,
            "myPlexUsername": "owner@example.com", "ownerFeatures": "collections,webhooks", "platform": "Linux",
            "platformVersion": "6.8.0-52-generic", "transcoderActiveVideoSessions": 0, "updatedAt": 1714560000,
            "version": VERSION,
            "Directory": [{"count": 1, "key": "library", "title": "library"},
                          {"count": 3, "key": "status", "title": "status"}],
        })

    def _section_json(self, section: dict) -> dict:
        key = section["key"]
        return {
            "key": key, "type": section["type"], "title": section["title"], "agent": section["agent"],
            "scanner": section["scanner"], "language": section["language"],
            "refreshing": any(s.section_id == key for s in self._scans), "allowSync": True,
            "thumb": f"/:/resources/{section['type']}.png", "uuid": f"uuid-{key}",
            "createdAt": 1600000000, "updatedAt": 1714560000, "scannedAt": 1714560000,
            "Location": [{"id": int(key) * 10 + n, "path": p} for n, p in enumerate(section["locations"])],
        }

    def _section_route(self, request: Request, token: str, section_id: str, action: str) -> Response:
        ids = list(self.sections) if section_id == "all" else [section_id]
        if any(i not in self.sections for i in ids) or (section_id == "all" and action != "refresh"):
            return _text("Not Found", 404)
        if action == "refresh":
            if request.method in ("GET", "POST"):
                path = request.args.get("path") or None
                for key in ids:
                    self.refreshes.append(Refresh(key, path, request.args.get("force") == "1", request.method, token))
                    self._start_scan(key, path)
                return Response(b"", status=200)
            if request.method == "DELETE":
                self._scans = [s for s in self._scans if s.section_id not in ids]
                return Response(b"", status=200)
        section = self.sections[section_id]
        if action == "all" and request.method == "GET":
            return self._section_all(request, section)
        if action == "collections" and request.method == "GET":
            found = [self._collection_json(c) for c in self.collections.values() if c.section_id == section_id]
            return self._mc(request, {"size": len(found), "librarySectionID": int(section_id), "Metadata": found})
        return _text("Not Found", 404)

    def _section_all(self, request: Request, section: dict) -> Response:
        type_number = request.args.get("type", "")
        wanted = TYPE_NAMES.get(int(type_number)) if type_number.isdigit() else section["type"]
        items = [i for i in self.items_in(section["key"]) if i["type"] == wanted]
        since = request.args.get("addedAt>>")
        if since and since.isdigit():
            items = [i for i in items if i["addedAt"] > int(since)]
        sort = request.args.get("sort", "titleSort")
        field_name, _, direction = sort.partition(":")
        sort_key = {"addedAt": "addedAt", "titleSort": "title", "title": "title"}.get(field_name, "title")
        items.sort(key=lambda i: (i[sort_key], i["ratingKey"]), reverse=direction == "desc")
        return self._page(request, items, {
            "allowSync": True, "identifier": "com.plexapp.plugins.library", "librarySectionID": int(section["key"]),
            "librarySectionTitle": section["title"], "librarySectionUUID": f"uuid-{section['key']}",
            "title1": section["title"], "title2": "All", "viewGroup": section["type"],
        })

    def _search(self, request: Request) -> Response:
        query = (request.args.get("query") or "").strip().casefold()
        if not query:
            return _text("Bad Request", 400)
        limit = int(request.args["limit"]) if request.args.get("limit", "").isdigit() else 3
        section_id = request.args.get("sectionId")
        hubs = []
        for kind, title in (("movie", "Movies"), ("show", "Shows"), ("episode", "Episodes")):
            found = [i for i in self.items.values() if i["type"] == kind and query in i["title"].casefold()
                     and (section_id is None or str(i["librarySectionID"]) == section_id)]
            hub = {"title": title, "type": kind, "hubIdentifier": kind, "context": f"hub.{kind}",
                   "size": min(len(found), limit), "more": len(found) > limit, "style": "shelf"}
            if found:
                hub["Metadata"] = found[:limit]
            hubs.append(hub)
        return self._mc(request, {"size": len(hubs), "Hub": hubs})

    def _metadata_route(self, request: Request, keys: str, rest: str) -> Response:
        first = keys.split(",")[0]
        if first in self.collections:
            return self._collection_route(request, f"/library/collections/{first}{rest}", request.method)
        if request.method != "GET":
            return _text("Not Found", 404)
        if rest == "":
            found = [self.items[k] for k in keys.split(",") if k in self.items]
            if not found:
                return _text("Not Found", 404)
            item = found[0]
            return self._mc(request, {"size": len(found), "librarySectionID": item["librarySectionID"],
                                      "librarySectionTitle": item["librarySectionTitle"], "Metadata": found})
        if first not in self.items:
            return _text("Not Found", 404)
        if rest == "/children":
            children = sorted((i for i in self.items.values() if i.get("parentRatingKey") == first),
                              key=lambda i: (i.get("index") or 0, i["ratingKey"]))
            return self._page(request, children, {"key": first})
        if re.fullmatch(r"/(thumb|art)(/\d+)?", rest):
            return self._image(f"/library/metadata/{first}{rest}")
        return _text("Not Found", 404)

    def _collection_route(self, request: Request, path: str, method: str) -> Response:
        if path == "/library/collections" and method == "POST":
            return self._create_collection(request)
        match = re.fullmatch(r"/library/collections/(\d+)(/.*)?", path)
        collection = self.collections.get(match.group(1)) if match else None
        if collection is None:
            return _text("Collection not found", 404)
        rest = match.group(2) or ""
        if rest == "" and method == "GET":
            return self._mc(request, {"size": 1, "Metadata": [self._collection_json(collection)]})
        if rest == "" and method == "DELETE":
            del self.collections[collection.rating_key]
            return Response(b"", status=200)
        if rest == "/children" and method == "GET":
            items = [self.items[k] for k in collection.items if k in self.items]
            return self._page(request, items, {"key": collection.rating_key, "title1": collection.title})
        if rest == "/items" and method == "PUT":
            keys = self._uri_keys(request.args.get("uri", ""))
            if keys is None:
                return _text("Bad Request", 400)
            collection.items.extend(k for k in keys if k not in collection.items)
            return self._mc(request, {"size": 1, "Metadata": [self._collection_json(collection)]})
        item_match = re.fullmatch(r"/items/(\d+)(/move)?", rest)
        if item_match and item_match.group(1) in collection.items:
            key = item_match.group(1)
            if method == "DELETE" and not item_match.group(2):
                collection.items.remove(key)
                return self._mc(request, {"size": 1, "Metadata": [self._collection_json(collection)]})
            if method == "PUT" and item_match.group(2):
                after = request.args.get("after")
                if after is not None and after not in collection.items:
                    return _text("Bad Request", 400)
                collection.items.remove(key)
                collection.items.insert(collection.items.index(after) + 1 if after else 0, key)
                return self._mc(request, {"size": 1, "Metadata": [self._collection_json(collection)]})
        if re.fullmatch(r"/(composite|thumb|art)(/\d+)?", rest) and method == "GET":
            return self._image(path)
        return _text("Not Found", 404)

    def _create_collection(self, request: Request) -> Response:
        args = request.args
        section = self.sections.get(args.get("sectionId", ""))
        keys = self._uri_keys(args.get("uri", ""))
        if section is None or args.get("smart", "0") != "0" or keys is None:
            return _text("The uri is missing for a smart collection or the section could not be found", 400)
        title = (args.get("title") or "").strip()
        subtype = TYPE_NAMES.get(int(args["type"])) if args.get("type", "").isdigit() else None
        if not title or subtype is None or any(str(self.items[k]["librarySectionID"]) != section["key"] for k in keys):
            return _text("Bad Request", 400)
        collection = FakeCollection(str(self._next_collection), title, section["key"], list(dict.fromkeys(keys)),
                                    subtype=subtype, added_at=self._tick())
        self._next_collection += 1
        self.collections[collection.rating_key] = collection
        return self._mc(request, {"size": 1, "Metadata": [self._collection_json(collection)]})

    def _uri_keys(self, uri: str) -> list[str] | None:
        """Keys from server://<our mid>/com.plexapp.plugins.library/library/metadata/<k1,k2>, or None."""
        prefix = f"server://{self.machine_identifier}/{LIBRARY_URI}/library/metadata/"
        if not uri.startswith(prefix):
            return None
        keys = uri[len(prefix):].split(",")
        if not keys or any(k not in self.items for k in keys):
            return None
        return keys

    def _collection_json(self, collection: FakeCollection) -> dict:
        section = self.sections[collection.section_id]
        rk = collection.rating_key
        return {
            "ratingKey": rk, "key": f"/library/collections/{rk}/children", "type": "collection",
            "title": collection.title, "subtype": collection.subtype, "smart": collection.smart,
            "childCount": len(collection.items), "librarySectionID": int(section["key"]),
            "librarySectionTitle": section["title"], "guid": f"collection://{uuid.uuid5(uuid.NAMESPACE_URL, rk)}",
            "addedAt": collection.added_at, "thumb": f"/library/collections/{rk}/composite/{collection.added_at}",
            "collectionMode": -1, "collectionSort": 0,
        }

    def _image(self, path: str) -> Response:
        match = re.fullmatch(r"/library/(metadata|collections)/(\d+)/(thumb|art|composite)(/\d+)?", path)
        if not match:
            return _text("Not Found", 404)
        known = self.items if match.group(1) == "metadata" else self.collections
        if match.group(2) not in known:
            return _text("Not Found", 404)
        return Response(PNG, content_type="image/png")

    # -- envelopes ---------------------------------------------------------------------------
    def _page(self, request: Request, items: list[dict], container: dict) -> Response:
        start = _int_param(request, "X-Plex-Container-Start", 0)
        size = _int_param(request, "X-Plex-Container-Size", None)
        page = items[start:] if size is None else items[start:start + size]
        body = dict(container, size=len(page), totalSize=len(items), offset=start)
        if page:
            body["Metadata"] = page
        response = self._mc(request, body)
        response.headers["X-Plex-Container-Start"] = str(start)
        response.headers["X-Plex-Container-Total-Size"] = str(len(items))
        return response

    @staticmethod
    def _mc(request: Request, container: dict) -> Response:
        if "application/json" in request.headers.get("Accept", ""):
            response = Response(json.dumps({"MediaContainer": container}), content_type="application/json")
        else:
            body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml_element("MediaContainer", container)
            response = Response(body, content_type="text/xml;charset=utf-8")
        response.headers["X-Plex-Protocol"] = "1.0"
        return response


def _int_param(request: Request, name: str, default):
    value = request.headers.get(name) or request.args.get(name)
    return int(value) if value and value.isdigit() else default


def _files(item: dict) -> list[str]:
    return [part.get("file") for media in item.get("Media", []) for part in media.get("Part", [])]


def _under(path: str, folder: str) -> bool:
    folder = folder.rstrip("/")
    return path == folder or path.startswith(folder + "/")


def _text(message: str, status: int) -> Response:
    response = Response(f"<html><head><title>{message}</title></head><body><h1>{status} {message}</h1></body></html>",
                        status=status, content_type="text/html")
    response.headers["X-Plex-Protocol"] = "1.0"
    return response


def _unauthorized() -> Response:
    response = Response(UNAUTHORIZED_HTML, status=401, content_type="text/html")
    response.headers["X-Plex-Protocol"] = "1.0"
    return response
