"""Fake Overseerr API v1 (reference/EXTERNAL_APIS.md §3), served over real HTTP on 127.0.0.1.

Behaves like the real server where MediaNest can trip: 403 `{"status","error"}` for a bad key, 400 for
query values that are not strictly percent-encoded, 500 for unknown TMDB ids, 201/409/202/403 on
request creation, `X-API-User` acting as another user, and webhooks with string values and null sections.
"""
from __future__ import annotations

import json
import math
import re
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import requests
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .base import FakeServer
from .plex import PNG

API_KEY = "ovs-fake-key-7Hq2Zr9Lm4Xw"
FORBIDDEN = {"status": 403, "error": "You do not have permission to access this endpoint"}

ADMIN, MANAGE_USERS, MANAGE_REQUESTS, REQUEST = 2, 8, 16, 32
AUTO_APPROVE, AUTO_APPROVE_MOVIE, AUTO_APPROVE_TV = 128, 256, 512
REQUEST_MOVIE, REQUEST_TV = 262144, 524288

PENDING, APPROVED, DECLINED, FAILED = 1, 2, 3, 4
M_UNKNOWN, M_PENDING, M_PROCESSING, M_PARTIAL, M_AVAILABLE = 1, 2, 3, 4, 5
MEDIA_STATUS_NAMES = {1: "UNKNOWN", 2: "PENDING", 3: "PROCESSING", 4: "PARTIALLY_AVAILABLE", 5: "AVAILABLE",
                      6: "BLACKLISTED", 7: "DELETED"}
XSS_TITLE = "<script>alert(1)</script> Night"

MOVIES = {
    603: ("The Matrix", "1999-03-31", "Set in the 22nd century, The Matrix tells the story of a computer hacker."),
    604: ("The Matrix Reloaded", "2003-05-15", "Six months after the events depicted in The Matrix."),
    605: ("The Matrix Revolutions", "2003-11-05", "The human city of Zion defends itself."),
    27205: ("Inception", "2010-07-15", "Cobb, a skilled thief, steals secrets from dreams."),
    587807: ("Tom & Jerry", "2021-02-11", "A cat and a mouse wreck a hotel."),
    194: ("Amélie", "2001-04-25", "A shy waitress decides to change the lives of those around her."),
    954: ("Mission: Impossible", "1996-05-22", "An agent is framed for the deaths of his team."),
    424: ("Schindler's List", "1993-12-15", "The true story of Oskar Schindler."),
    614696: ("#Alive", "2020-06-24", "A gamer is trapped in his apartment."),
    157834: ("+1", "2013-09-20", "A party goes very wrong."),
    900101: ('Say "Cheese" [Director\'s Cut]', "2019-01-01", "A photographer; 100% true story?"),
    900666: (XSS_TITLE, "2024-10-31", "<img src=x onerror=alert(2)> An overview with markup."),
}
SERIES = {
    1399: ("Game of Thrones", "2011-04-17", 121361, "Nine noble families fight for control.", 8, True),
    1396: ("Breaking Bad", "2008-01-20", 81189, "A chemistry teacher turns to crime.", 5, True),
    94605: ("Arcane", "2021-11-06", 371028, "Two sisters on opposite sides of a war.", 2, False),
    2316: ("The Office", "2005-03-24", 73244, "A mockumentary about office employees.", 9, True),
}
PEOPLE = {6384: "Keanu Reeves", 1245: "Scarlett Johansson"}

QUERY_PARAMS = {
    "search": {"query", "page", "language"},
    "movie": {"language"},
    "tv": {"language"},
    "requests": {"take", "skip", "filter", "sort", "requestedBy"},
    "users": {"take", "skip", "sort"},
}
REQUEST_FILTERS = {"all", "approved", "available", "pending", "processing", "unavailable", "failed"}
USER_SORTS = {"created", "updated", "requests", "displayname"}
ENCODED_VALUE = re.compile(r"(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})*")
ENCODING_MESSAGE = "Parameter '{}' must be url encoded. Its value may not contain reserved characters."

ROUTES = Map([
    Rule("/api/v1/status", endpoint="status", methods=["GET"]),
    Rule("/api/v1/settings/public", endpoint="public_settings", methods=["GET"]),
    Rule("/api/v1/auth/me", endpoint="me", methods=["GET"]),
    Rule("/api/v1/search", endpoint="search", methods=["GET"]),
    Rule("/api/v1/movie/<int:tmdb_id>", endpoint="movie", methods=["GET"]),
    Rule("/api/v1/tv/<int:tmdb_id>", endpoint="tv", methods=["GET"]),
    Rule("/api/v1/request", endpoint="requests", methods=["GET"]),
    Rule("/api/v1/request", endpoint="create_request", methods=["POST"]),
    Rule("/api/v1/request/<int:request_id>", endpoint="get_request", methods=["GET"]),
    Rule("/api/v1/request/<int:request_id>", endpoint="delete_request", methods=["DELETE"]),
    Rule("/api/v1/request/<int:request_id>/<action>", endpoint="request_action", methods=["POST"]),
    Rule("/api/v1/user", endpoint="users", methods=["GET"]),
    Rule("/api/v1/user/<int:user_id>", endpoint="user", methods=["GET"]),
    # Not Overseerr: this fake also plays TMDB's image CDN (image.tmdb.org) for poster tests.
    Rule("/t/p/<size>/<filename>", endpoint="tmdb_image", methods=["GET"]),
], strict_slashes=False)
PUBLIC = {"status", "public_settings", "tmdb_image"}
TMDB_SIZES = {"w92", "w154", "w185", "w342", "w500", "w600_and_h900_bestv2", "original"}


def _json(data, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _message(text: str, status: int) -> Response:
    return _json({"message": text}, status)


def _validation_error(text: str, path: str) -> Response:
    return _json({"message": text, "errors": [{"path": path, "message": text}]}, 400)


class FakeOverseerr(FakeServer):
    name = "overseerr"

    def __init__(self, port: int | None = None):
        super().__init__(port)
        self._data_lock = threading.RLock()
        self.reset_state()

    # -- state ---------------------------------------------------------------
    def reset_state(self):
        with self._data_lock:
            self.api_key = API_KEY
            self.version = "1.34.0"
            self.search_page_size = 20
            self.users: dict[int, dict] = {}
            self.media: dict[tuple[str, int], dict] = {}
            self.request_rows: dict[int, dict] = {}
            self.requests_made: list[dict] = []
            self.quota_exhausted: set[tuple[int, str]] = set()
            self.overrides: dict[str, tuple] = {}
            self.images_served: list[tuple[str, str]] = []
            self._ids = {"media": 0, "request": 0, "season": 0}
            self._tick = 0
            self.add_user(1, 22526914, "owner@example.com", "serverowner", permissions=ADMIN)

    def _now(self) -> str:
        self._tick += 1
        moment = datetime(2025, 5, 1, 12, 0, tzinfo=timezone.utc) + timedelta(seconds=self._tick)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def _next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    # -- Python API for tests -----------------------------------------------------
    def add_user(self, id: int, plex_id: int | None, email: str | None, username: str | None, *,
                 permissions: int = REQUEST) -> dict:
        with self._data_lock:
            now = self._now()
            user = {"id": id, "email": email, "plexUsername": username, "username": None,
                    "recoveryLinkExpirationDate": None, "userType": 1, "plexId": plex_id,
                    "avatar": f"https://plex.tv/users/{id:016x}/avatar?c=1714560000", "movieQuotaLimit": None,
                    "movieQuotaDays": None, "tvQuotaLimit": None, "tvQuotaDays": None, "permissions": permissions,
                    "createdAt": now, "updatedAt": now}
            self.users[id] = user
            return user

    def set_quota_exhausted(self, user_id: int, media_type: str | None = None, exhausted: bool = True):
        """Make `user_id`'s movie and/or tv quota used up (403 "Movie Quota exceeded.")."""
        with self._data_lock:
            for kind in ([media_type] if media_type else ["movie", "tv"]):
                (self.quota_exhausted.add if exhausted else self.quota_exhausted.discard)((user_id, kind))

    def set_available(self, tmdb_id: int, media_type: str, seasons: list[int] | None = None):
        """Mark a title available (for tv: only `seasons` if given, making it partially available)."""
        with self._data_lock:
            media = self._media_row(media_type, tmdb_id)
            if media_type == "tv":
                numbers = seasons if seasons is not None else self._season_numbers(tmdb_id, specials=False)
                for number in numbers:
                    self._season_row(media, number)["status"] = M_AVAILABLE
                everything = set(self._season_numbers(tmdb_id, specials=False))
                done = {n for n, s in media["seasons"].items() if s["status"] == M_AVAILABLE}
                media["status"] = M_AVAILABLE if everything <= done else M_PARTIAL
            else:
                media["status"] = M_AVAILABLE
            media["updatedAt"] = self._now()

    def set_media_status(self, tmdb_id: int, media_type: str, status: int, status4k: int | None = None):
        """Any integer, including Jellyseerr/Seerr values (6, 7) or nonsense, to test enum tolerance."""
        with self._data_lock:
            media = self._media_row(media_type, tmdb_id)
            media["status"] = status
            if status4k is not None:
                media["status4k"] = status4k

    def set_request_status(self, request_id: int, status: int, media_status: int | None = None):
        """Set a request's raw status (e.g. 4 FAILED, Seerr 5 COMPLETED, 99) and optionally its media's status."""
        with self._data_lock:
            row = self.request_rows[request_id]
            row["status"] = status
            row["updatedAt"] = self._now()
            if media_status is not None:
                self.media[row["media_key"]]["status4k" if row["is4k"] else "status"] = media_status

    def override(self, path: str, body=b"", *, status: int = 200, content_type: str = "text/html; charset=utf-8"):
        """Answer `path` with a raw body until reset (HTML error pages, huge bodies). `body` may be a callable
        returning an iterable of bytes, so a gigantic body is streamed rather than built in memory."""
        self.overrides[path] = (status, body, content_type)

    # -- webhooks ------------------------------------------------------------------
    def webhook_payload(self, notification_type: str, request_id: int | None = None) -> dict:
        """The body Overseerr's default webhook template produces for this event and request."""
        if request_id is None:
            return {"notification_type": notification_type, "event": "", "subject": "Test Notification",
                    "message": "Check check, 1, 2, 3. Are we coming in clear?", "image": "", "media": None,
                    "request": None, "issue": None, "comment": None, "extra": []}
        with self._data_lock:
            row = self.request_rows[request_id]
            media = self.media[row["media_key"]]
            media_type, tmdb_id = row["media_key"]
            title, date, overview, poster = self._title_basics(media_type, tmdb_id)
            user = self._user_json(self.users[row["requestedBy"]])
            kind = ("4K " if row["is4k"] else "") + ("Series" if media_type == "tv" else "Movie")
            events = {"MEDIA_PENDING": f"New {kind} Request", "MEDIA_APPROVED": f"{kind} Request Approved",
                      "MEDIA_DECLINED": f"{kind} Request Declined", "MEDIA_FAILED": f"{kind} Request Failed",
                      "MEDIA_AUTO_APPROVED": f"{kind} Request Automatically Approved",
                      "MEDIA_AVAILABLE": f"{kind} Request Now Available"}
            extra = []
            if media_type == "tv":
                numbers = ", ".join(str(s["seasonNumber"]) for s in row["seasons"])
                extra.append({"name": "Requested Seasons", "value": numbers})
            return {
                "notification_type": notification_type,
                "event": events.get(notification_type, ""),
                "subject": f"{title} ({date[:4]})",
                "message": overview[:500],
                "image": f"https://image.tmdb.org/t/p/w600_and_h900_bestv2{poster}",
                "media": {"media_type": media_type, "tmdbId": str(tmdb_id),
                          "tvdbId": str(media["tvdbId"] or ""),
                          "status": MEDIA_STATUS_NAMES.get(media["status"], ""),
                          "status4k": MEDIA_STATUS_NAMES.get(media["status4k"], "")},
                "request": {"request_id": str(request_id), "requestedBy_email": user["email"] or "",
                            "requestedBy_username": user["displayName"], "requestedBy_avatar": user["avatar"],
                            "requestedBy_settings_discordId": "", "requestedBy_settings_telegramChatId": ""},
                "issue": None, "comment": None, "extra": extra,
            }

    def send_webhook(self, url: str, notification_type: str, request_id: int | None = None, *,
                     secret_header: str = "Authorization", secret: str | None = None, payload: dict | None = None,
                     timeout: float = 5) -> requests.Response:
        """POST the webhook like Overseerr does: JSON, the configured Authorization value verbatim, no signature."""
        body = payload if payload is not None else self.webhook_payload(notification_type, request_id)
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[secret_header] = secret
        return requests.post(url, data=json.dumps(body), headers=headers, timeout=timeout)

    # -- catalogue helpers -------------------------------------------------------------
    @staticmethod
    def _title_basics(media_type: str, tmdb_id: int) -> tuple[str, str, str, str]:
        if media_type == "movie":
            title, date, overview = MOVIES[tmdb_id]
        else:
            title, date, _tvdb, overview, _count, _specials = SERIES[tmdb_id]
        return title, date, overview, f"/poster{tmdb_id}.jpg"

    @staticmethod
    def _season_numbers(tmdb_id: int, *, specials: bool = True) -> list[int]:
        _t, _d, _tvdb, _o, count, has_specials = SERIES[tmdb_id]
        return ([0] if has_specials and specials else []) + list(range(1, count + 1))

    def _media_row(self, media_type: str, tmdb_id: int) -> dict:
        key = (media_type, tmdb_id)
        if key not in self.media:
            now = self._now()
            self.media[key] = {"id": self._next_id("media"), "mediaType": media_type, "tmdbId": tmdb_id,
                               "tvdbId": SERIES[tmdb_id][2] if media_type == "tv" else None, "imdbId": None,
                               "status": M_UNKNOWN, "status4k": M_UNKNOWN, "ratingKey": None, "createdAt": now,
                               "updatedAt": now, "mediaAddedAt": None, "externalServiceId": None, "seasons": {}}
        return self.media[key]

    def _season_row(self, media: dict, number: int) -> dict:
        if number not in media["seasons"]:
            now = self._now()
            media["seasons"][number] = {"id": self._next_id("season"), "seasonNumber": number, "status": M_UNKNOWN,
                                        "status4k": M_UNKNOWN, "createdAt": now, "updatedAt": now}
        return media["seasons"][number]

    # -- JSON shapes --------------------------------------------------------------------
    def _user_json(self, user: dict) -> dict:
        count = sum(1 for r in self.request_rows.values() if r["requestedBy"] == user["id"])
        display = user["username"] or user["plexUsername"] or user["email"]
        return {**user, "requestCount": count, "displayName": display}

    def _media_json(self, media: dict, *, with_requests: bool) -> dict:
        data = {k: v for k, v in media.items() if k != "seasons"}
        data["seasons"] = [media["seasons"][n] for n in sorted(media["seasons"])]
        if with_requests:
            key = (media["mediaType"], media["tmdbId"])
            data["requests"] = [self._request_json(r, with_media=False)
                                for r in self.request_rows.values() if r["media_key"] == key]
        return data

    def _request_json(self, row: dict, *, with_media: bool = True) -> dict:
        modified = self.users.get(row["modifiedBy"]) if row["modifiedBy"] else None
        data = {"id": row["id"], "status": row["status"], "type": row["media_key"][0], "is4k": row["is4k"],
                "isAutoRequest": False, "createdAt": row["createdAt"], "updatedAt": row["updatedAt"],
                "serverId": None, "profileId": None, "rootFolder": None, "languageProfileId": None, "tags": None,
                "requestedBy": self._user_json(self.users[row["requestedBy"]]),
                "modifiedBy": self._user_json(modified) if modified else None,
                "seasons": row["seasons"], "seasonCount": len(row["seasons"])}
        if with_media:
            data["media"] = self._media_json(self.media[row["media_key"]], with_requests=False)
        return data

    def _search_item(self, media_type: str, tmdb_id: int) -> dict:
        if media_type == "person":
            return {"id": tmdb_id, "mediaType": "person", "name": PEOPLE[tmdb_id], "adult": False,
                    "popularity": 20.5, "profilePath": f"/person{tmdb_id}.jpg", "knownFor": []}
        title, date, overview, poster = self._title_basics(media_type, tmdb_id)
        item = {"id": tmdb_id, "mediaType": media_type, "overview": overview, "originalLanguage": "en",
                "popularity": 50.0, "voteAverage": 7.9, "voteCount": 1000, "genreIds": [18],
                "posterPath": poster, "backdropPath": f"/backdrop{tmdb_id}.jpg"}
        if media_type == "movie":
            item.update(title=title, originalTitle=title, releaseDate=date, adult=False, video=False)
        else:
            item.update(name=title, originalName=title, firstAirDate=date, originCountry=["US"])
        media = self.media.get((media_type, tmdb_id))
        if media is not None:
            item["mediaInfo"] = self._media_json(media, with_requests=True)
        return item

    # -- HTTP ------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path in self.overrides:
            status, body, content_type = self.overrides[request.path]
            return Response(body() if callable(body) else body, status=status, content_type=content_type)
        try:
            endpoint, args = ROUTES.bind_to_environ(request.environ).match()
        except NotFound:
            return _json({"message": "not found", "errors": [{"path": request.path, "message": "not found"}]}, 404)
        except MethodNotAllowed:
            return _message(f"{request.method} method not allowed", 405)
        problem = self._check_query(request, endpoint)
        if problem is not None:
            return problem
        if endpoint not in PUBLIC and request.headers.get("X-Api-Key") != self.api_key:
            return _json(FORBIDDEN, 403)
        with self._data_lock:
            user = self._acting_user(request)
            if user is None and endpoint not in PUBLIC:
                return _json(FORBIDDEN, 403)
            return getattr(self, f"_{endpoint}")(request, user, **args)

    def _check_query(self, request: Request, endpoint: str) -> Response | None:
        """Mimic express-openapi-validator: unknown parameters and unencoded reserved characters are 400."""
        raw = request.environ.get("QUERY_STRING", "")
        allowed = QUERY_PARAMS.get(endpoint, set())
        for part in filter(None, raw.split("&")):
            name, sep, value = part.partition("=")
            name = unquote(name)
            if name not in allowed:
                return _validation_error(f"Unknown query parameter '{name}'", f".query.{name}")
            if not ENCODED_VALUE.fullmatch(value) or not sep:
                return _validation_error(ENCODING_MESSAGE.format(name), f".query.{name}")
        return None

    def _acting_user(self, request: Request) -> dict | None:
        header = request.headers.get("X-API-User")
        if header is None:
            return self.users.get(1)
        return self.users.get(int(header)) if header.strip().isdigit() else None

    @staticmethod
    def _number_arg(request: Request, name: str, default: int) -> int | None:
        value = request.args.get(name)
        if value is None:
            return default
        return int(value) if value.isdigit() else None

    # -- endpoints -------------------------------------------------------------------
    def _status(self, request, user):
        return _json({"version": self.version, "commitTag": "c617bba6a43af42d421d254defa95b22e8b353d2",
                      "updateAvailable": False, "commitsBehind": 0, "restartRequired": False})

    def _public_settings(self, request, user):
        return _json({"initialized": True, "applicationTitle": "Overseerr", "localLogin": True})

    def _me(self, request, user):
        return _json(self._user_json(user))

    def _search(self, request, user):
        query = request.args.get("query")
        if not query:
            return _validation_error("request.query should have required property 'query'", ".query.query")
        page = self._number_arg(request, "page", 1)
        if not page:
            return _validation_error("request.query.page should be number", ".query.page")
        matches = self._find(query)
        size = self.search_page_size
        chunk = matches[(page - 1) * size: page * size]
        return _json({"page": page, "totalPages": max(1, math.ceil(len(matches) / size)),
                      "totalResults": len(matches), "results": [self._search_item(*m) for m in chunk]})

    def _find(self, query: str) -> list[tuple[str, int]]:
        prefix = re.fullmatch(r"tmdb:(\d+)", query.strip())
        if prefix:
            tmdb_id = int(prefix.group(1))
            return [(kind, tmdb_id) for kind, table in (("movie", MOVIES), ("tv", SERIES)) if tmdb_id in table]
        needle = query.casefold()
        found = [("movie", i) for i, row in MOVIES.items() if needle in row[0].casefold()]
        found += [("tv", i) for i, row in SERIES.items() if needle in row[0].casefold()]
        found += [("person", i) for i, name in PEOPLE.items() if needle in name.casefold()]
        return found

    def _movie(self, request, user, tmdb_id):
        if tmdb_id not in MOVIES:
            return _message("Unable to retrieve movie.", 500)
        title, date, overview, poster = self._title_basics("movie", tmdb_id)
        data = {"id": tmdb_id, "imdbId": f"tt{tmdb_id:07d}", "title": title, "originalTitle": title,
                "releaseDate": date, "runtime": 120, "status": "Released", "overview": overview,
                "posterPath": poster, "backdropPath": f"/backdrop{tmdb_id}.jpg", "adult": False, "budget": 0,
                "genres": [{"id": 28, "name": "Action"}, {"id": 878, "name": "Science Fiction"}],
                "voteAverage": 8.2, "tagline": "", "credits": {"cast": [], "crew": []},
                "externalIds": {"imdbId": f"tt{tmdb_id:07d}"}, "relatedVideos": [], "watchProviders": []}
        media = self.media.get(("movie", tmdb_id))
        if media is not None:
            data["mediaInfo"] = self._media_json(media, with_requests=True)
        return _json(data)

    def _tv(self, request, user, tmdb_id):
        if tmdb_id not in SERIES:
            return _message("Unable to retrieve series.", 500)
        title, date, overview, poster = self._title_basics("tv", tmdb_id)
        seasons = [{"id": tmdb_id * 100 + n, "seasonNumber": n, "name": "Specials" if n == 0 else f"Season {n}",
                    "airDate": date if n <= 1 else None, "episodeCount": 10, "overview": "",
                    "posterPath": f"/season{tmdb_id}_{n}.jpg"} for n in self._season_numbers(tmdb_id)]
        data = {"id": tmdb_id, "name": title, "originalName": title, "firstAirDate": date,
                "numberOfSeasons": SERIES[tmdb_id][4], "numberOfEpisodes": 10 * len(seasons), "seasons": seasons,
                "status": "Ended", "type": "Scripted", "networks": [], "genres": [{"id": 18, "name": "Drama"}],
                "overview": overview, "posterPath": poster, "backdropPath": f"/backdrop{tmdb_id}.jpg",
                "externalIds": {"tvdbId": SERIES[tmdb_id][2]}, "credits": {"cast": [], "crew": []}}
        media = self.media.get(("tv", tmdb_id))
        if media is not None:
            data["mediaInfo"] = self._media_json(media, with_requests=True)
        return _json(data)

    def _create_request(self, request, user):
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or body.get("mediaType") not in ("movie", "tv") \
                or isinstance(body.get("mediaId"), bool) or not isinstance(body.get("mediaId"), int):
            return _validation_error("request.body should have required properties 'mediaType' and 'mediaId'",
                                     ".body")
        media_type, tmdb_id, seasons = body["mediaType"], body["mediaId"], body.get("seasons")
        if seasons is not None and seasons != "all" and not (
                isinstance(seasons, list) and all(isinstance(n, int) and n >= 0 for n in seasons)):
            return _validation_error("request.body.seasons should match exactly one schema in oneOf", ".body.seasons")
        if tmdb_id not in (MOVIES if media_type == "movie" else SERIES):
            return _message("Unable to retrieve movie." if media_type == "movie" else "Unable to retrieve series.", 500)
        kind = "movie" if media_type == "movie" else "series"
        if body.get("userId") is not None and body["userId"] != user["id"]:
            if not user["permissions"] & (ADMIN | MANAGE_USERS | MANAGE_REQUESTS):
                return _message("You do not have permission to modify the request user.", 403)
            if body["userId"] not in self.users:
                return _message("User not found.", 404)
            user = self.users[body["userId"]]
        perms = user["permissions"]
        if not perms & (ADMIN | REQUEST | (REQUEST_MOVIE if media_type == "movie" else REQUEST_TV)):
            return _message(f"You do not have permission to make {kind} requests.", 403)
        if (user["id"], media_type) in self.quota_exhausted:
            return _message(f"{'Movie' if media_type == 'movie' else 'Series'} Quota exceeded.", 403)
        is4k = body.get("is4k") is True
        key = (media_type, tmdb_id)
        active = [r for r in self.request_rows.values()
                  if r["media_key"] == key and r["is4k"] == is4k and r["status"] != DECLINED]
        numbers: list[int] = []
        if media_type == "movie":
            if active:
                return _message("Request for this media already exists.", 409)
        else:
            wanted = self._season_numbers(tmdb_id, specials=False) if seasons in (None, "all") else seasons
            media = self.media.get(key)
            taken = {s["seasonNumber"] for r in active for s in r["seasons"]}
            if media:
                taken |= {n for n, s in media["seasons"].items() if s["status4k" if is4k else "status"] == M_AVAILABLE}
            numbers = sorted({n for n in wanted if n not in taken})
            if not numbers:
                return _message("No seasons available to request", 202)
        auto = bool(perms & (ADMIN | MANAGE_REQUESTS | AUTO_APPROVE |
                             (AUTO_APPROVE_MOVIE if media_type == "movie" else AUTO_APPROVE_TV)))
        row = self._add_request(key, user, is4k, numbers, APPROVED if auto else PENDING)
        self.requests_made.append({"id": row["id"], "body": body, "api_user": request.headers.get("X-API-User"),
                                   "user_id": user["id"], "status": row["status"]})
        return _json(self._request_json(row), 201)

    def _add_request(self, key, user: dict, is4k: bool, numbers: list[int], status: int) -> dict:
        media = self._media_row(*key)
        field = "status4k" if is4k else "status"
        new_status = M_PROCESSING if status == APPROVED else M_PENDING
        if media[field] in (M_UNKNOWN, M_PENDING):
            media[field] = new_status
        for number in numbers:
            season = self._season_row(media, number)
            if season[field] in (M_UNKNOWN, M_PENDING):
                season[field] = new_status
        now = self._now()
        row = {"id": self._next_id("request"), "status": status, "media_key": key, "is4k": is4k,
               "requestedBy": user["id"], "modifiedBy": user["id"] if status == APPROVED else None,
               "createdAt": now, "updatedAt": now,
               "seasons": [{"id": self._next_id("season"), "seasonNumber": n, "status": status,
                            "createdAt": now, "updatedAt": now} for n in numbers]}
        self.request_rows[row["id"]] = row
        return row

    def _requests(self, request, user):
        take, skip = self._number_arg(request, "take", 10), self._number_arg(request, "skip", 0)
        if not take or skip is None:
            return _validation_error("request.query.take should be number", ".query.take")
        wanted_filter, sort = request.args.get("filter", "all"), request.args.get("sort", "added")
        if wanted_filter not in REQUEST_FILTERS or sort not in ("added", "modified"):
            return _validation_error("request.query.filter should be equal to one of the allowed values", ".query")
        requested_by = self._number_arg(request, "requestedBy", 0)
        rows = [r for r in self.request_rows.values() if self._matches(r, wanted_filter)]
        if requested_by:
            rows = [r for r in rows if r["requestedBy"] == requested_by]
        if not user["permissions"] & (ADMIN | MANAGE_REQUESTS):
            rows = [r for r in rows if r["requestedBy"] == user["id"]]
        rows.sort(key=lambda r: r["id"] if sort == "added" else r["updatedAt"], reverse=True)
        return _json(self._page(rows[skip: skip + take], len(rows), take, skip,
                                lambda r: self._request_json(r)))

    def _matches(self, row: dict, wanted: str) -> bool:
        media = self.media[row["media_key"]]
        media_state = media["status4k" if row["is4k"] else "status"]
        status = row["status"]
        return {
            "all": status in (1, 2, 3, 4) and media_state in (1, 2, 3, 4, 5),
            "pending": status == PENDING,
            "approved": status == APPROVED,
            "processing": status == APPROVED and media_state in (1, 2, 3, 4),
            "available": status == APPROVED and media_state == M_AVAILABLE,
            "unavailable": status in (PENDING, APPROVED) and media_state in (1, 2, 3, 4),
            "failed": status == FAILED,
        }[wanted]

    @staticmethod
    def _page(chunk: list, total: int, take: int, skip: int, render) -> dict:
        return {"pageInfo": {"pages": math.ceil(total / take), "pageSize": take, "results": total,
                             "page": math.ceil(skip / take) + 1},
                "results": [render(item) for item in chunk]}

    def _get_request(self, request, user, request_id):
        row = self.request_rows.get(request_id)
        if row is None:
            return _message("Request not found.", 404)
        if row["requestedBy"] != user["id"] and not user["permissions"] & (ADMIN | MANAGE_REQUESTS):
            return _message("You do not have permission to view this request.", 403)
        return _json(self._request_json(row))

    def _request_action(self, request, user, request_id, action):
        if action not in ("approve", "decline"):
            return _validation_error("request.params.status should be equal to one of the allowed values",
                                     ".params.status")
        if not user["permissions"] & (ADMIN | MANAGE_REQUESTS):
            return _json(FORBIDDEN, 403)
        row = self.request_rows.get(request_id)
        if row is None:
            return _message("Request not found.", 404)
        row["status"] = APPROVED if action == "approve" else DECLINED
        row["modifiedBy"] = user["id"]
        row["updatedAt"] = self._now()
        for season in row["seasons"]:
            season["status"] = row["status"]
        if action == "approve":
            media = self.media[row["media_key"]]
            field = "status4k" if row["is4k"] else "status"
            if media[field] in (M_UNKNOWN, M_PENDING):
                media[field] = M_PROCESSING
        else:
            self._settle_media(row)
        return _json(self._request_json(row))

    def _settle_media(self, row: dict):
        """After a decline/delete: a media row nobody still wants goes back to UNKNOWN."""
        field = "status4k" if row["is4k"] else "status"
        others = [r for r in self.request_rows.values() if r is not row and r["media_key"] == row["media_key"]
                  and r["is4k"] == row["is4k"] and r["status"] in (PENDING, APPROVED)]
        media = self.media[row["media_key"]]
        if not others and media[field] in (M_PENDING, M_PROCESSING):
            media[field] = M_UNKNOWN

    def _delete_request(self, request, user, request_id):
        row = self.request_rows.get(request_id)
        if row is None:
            return _message("Request not found.", 404)
        if not user["permissions"] & (ADMIN | MANAGE_REQUESTS) and (
                row["requestedBy"] != user["id"] or row["status"] != PENDING):
            return _message("You do not have permission to delete this request.", 401)
        self._settle_media(row)
        del self.request_rows[request_id]
        return Response(status=204)

    def _users(self, request, user):
        take, skip = self._number_arg(request, "take", 10), self._number_arg(request, "skip", 0)
        sort = request.args.get("sort", "created")
        if not take or skip is None or sort not in USER_SORTS:
            return _validation_error("request.query should be valid", ".query")
        rows = [self._user_json(u) for u in self.users.values()]
        orders = {"created": (lambda u: u["id"], False), "updated": (lambda u: u["updatedAt"], True),
                  "requests": (lambda u: u["requestCount"], True),
                  "displayname": (lambda u: (u["displayName"] or "").lower(), False)}
        key, reverse = orders[sort]
        rows.sort(key=key, reverse=reverse)
        return _json(self._page(rows[skip: skip + take], len(rows), take, skip, lambda u: u))

    def _tmdb_image(self, request, user, size, filename):
        """image.tmdb.org/t/p/<size>/<file>: a PNG for the posters this fake names, 404 otherwise."""
        if size not in TMDB_SIZES or not re.fullmatch(r"(poster|backdrop|season)[0-9_]+\.jpg", filename):
            return Response("Not Found", status=404, content_type="text/plain")
        self.images_served.append((size, filename))
        return Response(PNG, content_type="image/png", headers={"Cache-Control": "max-age=31536000"})

    def _user(self, request, user, user_id):
        found = self.users.get(user_id)
        return _json(self._user_json(found)) if found else _message("User not found.", 404)
