"""Overseerr API v1 client (also Jellyseerr / Seerr), plus its enums and webhook parsing.

Contract: reference/EXTERNAL_APIS.md §3. The API key travels in the `X-Api-Key` header only and is
scrubbed from every error message. Parsing is tolerant: unknown enum values become "unknown" and
missing optional fields become None.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from .base import (
    DEFAULT_TIMEOUT,
    MAX_BODY_BYTES,
    BadResponse,
    ClientError,
    Conflict,
    HttpClient,
    NotFound,
    Response,
    Unauthorized,
    scrub,
    validate_base_url,
)

log = logging.getLogger(__name__)

API = "/api/v1"
TMDB_IMAGE_BASE = "https://image.tmdb.org/t/p/"
MEDIA_TYPES = ("movie", "tv")
REQUEST_FILTERS = ("all", "approved", "available", "pending", "processing", "unavailable", "failed",
                   "completed", "deleted")  # the last two: Jellyseerr >= 2.6 / Seerr only
REQUEST_SORTS = ("added", "modified")
NOTIFICATION_TYPES = frozenset({
    "MEDIA_PENDING", "MEDIA_APPROVED", "MEDIA_AVAILABLE", "MEDIA_FAILED", "TEST_NOTIFICATION", "MEDIA_DECLINED",
    "MEDIA_AUTO_APPROVED", "ISSUE_CREATED", "ISSUE_COMMENT", "ISSUE_RESOLVED", "ISSUE_REOPENED", "MEDIA_AUTO_REQUESTED",
})


# -- errors ------------------------------------------------------------------
class Forbidden(ClientError):
    """Overseerr refused this action for the acting user (permissions), although the API key is valid."""


class QuotaExceeded(Forbidden):
    """The acting user's movie or series request quota is used up."""


class NothingToRequest(Conflict):
    """TV request where every asked-for season is already requested or available (Overseerr answers 202)."""


# -- enums -------------------------------------------------------------------
class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    FAILED = "failed"
    COMPLETED = "completed"  # Jellyseerr >= 2.6 / Seerr only
    UNKNOWN = "unknown"


class MediaStatus(StrEnum):
    UNKNOWN = "unknown"
    PENDING = "pending"
    PROCESSING = "processing"
    PARTIALLY_AVAILABLE = "partially_available"
    AVAILABLE = "available"
    BLOCKLISTED = "blocklisted"  # Jellyseerr/Seerr; called BLACKLISTED before Seerr 3.x
    DELETED = "deleted"  # Jellyseerr >= 2.6 / Seerr


_REQUEST_STATUS_CODES = {1: RequestStatus.PENDING, 2: RequestStatus.APPROVED, 3: RequestStatus.DECLINED,
                         4: RequestStatus.FAILED, 5: RequestStatus.COMPLETED}
_MEDIA_STATUS_CODES = {1: MediaStatus.UNKNOWN, 2: MediaStatus.PENDING, 3: MediaStatus.PROCESSING,
                       4: MediaStatus.PARTIALLY_AVAILABLE, 5: MediaStatus.AVAILABLE, 6: MediaStatus.BLOCKLISTED,
                       7: MediaStatus.DELETED}
_MEDIA_STATUS_NAMES = {m.name: m for m in MediaStatus} | {"BLACKLISTED": MediaStatus.BLOCKLISTED}
_REQUEST_STATUS_NAMES = {m.name: m for m in RequestStatus}


def _enum_value(value, codes: dict, names: dict, unknown):
    """Map an integer code, a numeric string or an enum name (webhooks send names) to an enum member."""
    if isinstance(value, bool):
        return unknown
    if isinstance(value, int):
        return codes.get(value, unknown)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return codes.get(int(text), unknown)
        return names.get(text.upper(), unknown)
    return unknown


def request_status(value) -> RequestStatus:
    """Overseerr request status (1 pending, 2 approved, 3 declined, 4 failed, Seerr 5 completed); else UNKNOWN."""
    return _enum_value(value, _REQUEST_STATUS_CODES, _REQUEST_STATUS_NAMES, RequestStatus.UNKNOWN)


def media_status(value) -> MediaStatus:
    """Overseerr media status (1 unknown .. 5 available, Seerr 6 blocklisted, 7 deleted); else UNKNOWN."""
    return _enum_value(value, _MEDIA_STATUS_CODES, _MEDIA_STATUS_NAMES, MediaStatus.UNKNOWN)


# -- small converters ----------------------------------------------------------
def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _str(value) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _year(date) -> int | None:
    if isinstance(date, str) and len(date) >= 4 and date[:4].isdigit():
        return int(date[:4])
    return None


def poster_url(path: str | None, size: str = "w342") -> str | None:
    """TMDB image URL for a relative posterPath such as "/abc.jpg"; None for anything else."""
    if isinstance(path, str) and re.fullmatch(r"/[A-Za-z0-9._-]+", path):
        return f"{TMDB_IMAGE_BASE}{size}{path}"
    return None


def encode_query(params: dict) -> str:
    """Query string Overseerr's validator accepts: every reserved character percent-encoded, spaces as %20.

    `requests`' params= would send spaces as '+', which Overseerr answers with 400 (sct/overseerr#2010).
    """
    return "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in params.items() if v is not None)


# -- data ----------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    results: tuple
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class ServerStatus:
    version: str
    commit_tag: str | None
    update_available: bool
    restart_required: bool


@dataclass(frozen=True)
class User:
    id: int
    display_name: str
    email: str | None = None
    plex_id: int | None = None
    plex_username: str | None = None
    username: str | None = None
    user_type: int | None = None
    permissions: int = 0
    avatar: str | None = None
    request_count: int | None = None


@dataclass(frozen=True)
class MediaRequest:
    id: int
    status: RequestStatus
    media_type: str | None
    tmdb_id: int | None
    media_status: MediaStatus
    is_4k: bool = False
    seasons: tuple[int, ...] = ()
    requested_by: User | None = None
    modified_by: User | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class SeasonStatus:
    number: int
    status: MediaStatus
    status_4k: MediaStatus


@dataclass(frozen=True)
class MediaInfo:
    id: int | None
    media_type: str | None
    tmdb_id: int | None
    status: MediaStatus
    status_4k: MediaStatus
    requests: tuple[MediaRequest, ...] = ()
    seasons: tuple[SeasonStatus, ...] = ()
    plex_url: str | None = None


@dataclass(frozen=True)
class SearchResult:
    tmdb_id: int
    media_type: str  # movie | tv | person | collection | whatever a newer server adds
    title: str
    year: int | None
    poster_path: str | None
    overview: str
    media_info: MediaInfo | None

    @property
    def status(self) -> MediaStatus:
        return self.media_info.status if self.media_info else MediaStatus.UNKNOWN

    @property
    def requestable(self) -> bool:
        return self.media_type in MEDIA_TYPES


@dataclass(frozen=True)
class Season:
    number: int
    name: str
    episode_count: int | None
    air_date: str | None
    status: MediaStatus
    status_4k: MediaStatus

    @property
    def is_special(self) -> bool:
        return self.number == 0


@dataclass(frozen=True)
class TitleDetails:
    tmdb_id: int
    media_type: str
    title: str
    year: int | None
    overview: str
    poster_path: str | None
    backdrop_path: str | None
    genres: tuple[str, ...]
    imdb_id: str | None
    tvdb_id: int | None
    runtime: int | None
    seasons: tuple[Season, ...]
    media_info: MediaInfo | None

    @property
    def status(self) -> MediaStatus:
        return self.media_info.status if self.media_info else MediaStatus.UNKNOWN


@dataclass(frozen=True)
class WebhookEvent:
    notification_type: str
    event: str = ""
    subject: str = ""
    message: str = ""
    image: str | None = None
    media_type: str | None = None
    tmdb_id: int | None = None
    tvdb_id: int | None = None
    media_status: MediaStatus | None = None
    media_status_4k: MediaStatus | None = None
    request_id: int | None = None
    requested_by_email: str | None = None
    requested_by_username: str | None = None
    requested_seasons: tuple[int, ...] = ()

    @property
    def is_test(self) -> bool:
        return self.notification_type == "TEST_NOTIFICATION"

    @property
    def is_known_type(self) -> bool:
        return self.notification_type in NOTIFICATION_TYPES


# -- parsing -------------------------------------------------------------------
def parse_user(data: dict) -> User:
    user_id = _int(data.get("id"))
    if user_id is None:
        raise BadResponse("overseerr: user without an id")
    display = _str(data.get("displayName")) or _str(data.get("username")) or _str(data.get("plexUsername")) \
        or _str(data.get("email")) or f"user {user_id}"
    return User(
        id=user_id,
        display_name=display,
        email=_str(data.get("email")),
        plex_id=_int(data.get("plexId")),
        plex_username=_str(data.get("plexUsername")),
        username=_str(data.get("username")),
        user_type=_int(data.get("userType")),
        permissions=_int(data.get("permissions")) or 0,
        avatar=_str(data.get("avatar")),
        request_count=_int(data.get("requestCount")),
    )


def _optional_user(data) -> User | None:
    if not isinstance(data, dict) or _int(data.get("id")) is None:
        return None
    return parse_user(data)


def parse_request(data: dict, media: dict | None = None) -> MediaRequest:
    """A MediaRequest; `media` is the parent Media row when the request is nested in mediaInfo.requests."""
    request_id = _int(data.get("id"))
    if request_id is None:
        raise BadResponse("overseerr: request without an id")
    media = _dict(data.get("media")) or _dict(media)
    is_4k = data.get("is4k") is True
    return MediaRequest(
        id=request_id,
        status=request_status(data.get("status")),
        media_type=_str(data.get("type")) or _str(media.get("mediaType")),
        tmdb_id=_int(media.get("tmdbId")),
        media_status=media_status(media.get("status4k" if is_4k else "status")),
        is_4k=is_4k,
        seasons=tuple(n for n in (_int(_dict(s).get("seasonNumber")) for s in _list(data.get("seasons")))
                      if n is not None),
        requested_by=_optional_user(data.get("requestedBy")),
        modified_by=_optional_user(data.get("modifiedBy")),
        created_at=_str(data.get("createdAt")),
        updated_at=_str(data.get("updatedAt")),
    )


def _parse_list(items, parse, what: str) -> tuple:
    parsed = []
    for item in _list(items):
        try:
            if not isinstance(item, dict):
                raise BadResponse(f"overseerr: {what} is not an object")
            parsed.append(parse(item))
        except BadResponse:
            log.warning("overseerr: skipped a malformed %s in a list", what)
    return tuple(parsed)


def parse_media_info(data) -> MediaInfo | None:
    if not isinstance(data, dict):
        return None
    seasons = []
    for season in _list(data.get("seasons")):
        number = _int(_dict(season).get("seasonNumber"))
        if number is not None:
            seasons.append(SeasonStatus(number, media_status(season.get("status")),
                                        media_status(season.get("status4k"))))
    return MediaInfo(
        id=_int(data.get("id")),
        media_type=_str(data.get("mediaType")),
        tmdb_id=_int(data.get("tmdbId")),
        status=media_status(data.get("status")),
        status_4k=media_status(data.get("status4k")),
        requests=_parse_list(data.get("requests"), lambda r: parse_request(r, data), "request"),
        seasons=tuple(seasons),
        plex_url=_str(data.get("plexUrl")),
    )


def parse_search_result(data: dict) -> SearchResult:
    tmdb_id = _int(data.get("id"))
    if tmdb_id is None:
        raise BadResponse("overseerr: search result without an id")
    media_type = _str(data.get("mediaType")) or "unknown"
    return SearchResult(
        tmdb_id=tmdb_id,
        media_type=media_type,
        title=_str(data.get("title")) or _str(data.get("name")) or "",
        year=_year(data.get("releaseDate") or data.get("firstAirDate")),
        poster_path=_str(data.get("posterPath")) or _str(data.get("profilePath")),
        overview=_str(data.get("overview")) or "",
        media_info=parse_media_info(data.get("mediaInfo")),
    )


def parse_details(data: dict, media_type: str) -> TitleDetails:
    tmdb_id = _int(data.get("id"))
    if tmdb_id is None:
        raise BadResponse(f"overseerr: {media_type} details without an id")
    media_info = parse_media_info(data.get("mediaInfo"))
    season_status = {s.number: s for s in media_info.seasons} if media_info else {}
    seasons = []
    for season in _list(data.get("seasons")):
        number = _int(_dict(season).get("seasonNumber"))
        if number is None:
            continue
        known = season_status.get(number)
        seasons.append(Season(
            number=number,
            name=_str(season.get("name")) or f"Season {number}",
            episode_count=_int(season.get("episodeCount")),
            air_date=_str(season.get("airDate")),
            status=known.status if known else MediaStatus.UNKNOWN,
            status_4k=known.status_4k if known else MediaStatus.UNKNOWN,
        ))
    external = _dict(data.get("externalIds"))
    return TitleDetails(
        tmdb_id=tmdb_id,
        media_type=media_type,
        title=_str(data.get("title")) or _str(data.get("name")) or "",
        year=_year(data.get("releaseDate") or data.get("firstAirDate")),
        overview=_str(data.get("overview")) or "",
        poster_path=_str(data.get("posterPath")),
        backdrop_path=_str(data.get("backdropPath")),
        genres=tuple(g["name"] for g in _list(data.get("genres")) if isinstance(g, dict) and _str(g.get("name"))),
        imdb_id=_str(data.get("imdbId")) or _str(external.get("imdbId")),
        tvdb_id=_int(external.get("tvdbId")),
        runtime=_int(data.get("runtime")),
        seasons=tuple(sorted(seasons, key=lambda s: s.number)),
        media_info=media_info,
    )


def _parse_page(data: dict, parse, what: str) -> Page:
    info = _dict(data.get("pageInfo"))
    results = _parse_list(data.get("results"), parse, what)
    total = _int(info.get("results"))
    return Page(results=results, page=_int(info.get("page")) or 1, pages=_int(info.get("pages")) or 0,
                total=len(results) if total is None else total)


def _seasons_from_extra(extra) -> tuple[int, ...]:
    for item in _list(extra):
        if isinstance(item, dict) and item.get("name") == "Requested Seasons" and isinstance(item.get("value"), str):
            return tuple(int(part) for part in re.findall(r"\d+", item["value"]))
    return ()


def parse_webhook(payload: dict) -> WebhookEvent:
    """Parse Overseerr's default webhook body. Values arrive as strings; sections may be null or missing.

    Admins can edit the template, so nothing here is trusted: re-read the request for authoritative state.
    Raises ValueError only when the body is not a JSON object at all.
    """
    if not isinstance(payload, dict):
        raise ValueError("webhook payload is not a JSON object")
    media = _dict(payload.get("media"))
    request = _dict(payload.get("request"))
    notification_type = payload.get("notification_type")
    notification_type = notification_type.strip().upper() if isinstance(notification_type, str) else ""
    media_type = _str(media.get("media_type"))
    return WebhookEvent(
        notification_type=notification_type,
        event=_str(payload.get("event")) or "",
        subject=_str(payload.get("subject")) or "",
        message=_str(payload.get("message")) or "",
        image=_str(payload.get("image")),
        media_type=media_type.lower() if media_type else None,
        tmdb_id=_int(media.get("tmdbId")),
        tvdb_id=_int(media.get("tvdbId")),
        media_status=media_status(media.get("status")) if media else None,
        media_status_4k=media_status(media.get("status4k")) if media else None,
        request_id=_int(request.get("request_id")),
        requested_by_email=_str(request.get("requestedBy_email")),
        requested_by_username=_str(request.get("requestedBy_username")),
        requested_seasons=_seasons_from_extra(payload.get("extra")),
    )


# -- client --------------------------------------------------------------------
def _tmdb_id(value) -> int:
    tmdb_id = _int(value)
    if tmdb_id is None or tmdb_id <= 0:
        raise ValueError("TMDB id must be a positive integer")
    return tmdb_id


class OverseerrClient(HttpClient):
    """Talks to Overseerr/Jellyseerr/Seerr with the admin API key (optionally acting as another user)."""

    service = "overseerr"

    def __init__(self, base_url: str, api_key: str, *, timeout=DEFAULT_TIMEOUT, max_bytes: int = MAX_BODY_BYTES):
        root = validate_base_url(base_url)
        if root.endswith(API):
            root = root[: -len(API)]
        super().__init__(root, timeout=timeout, max_bytes=max_bytes)
        self._api_key = (api_key or "").strip()
        self.session.headers["X-Api-Key"] = self._api_key
        self.session.headers["Accept"] = "application/json"

    # -- plumbing ------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        return scrub(text, [self._api_key], limit=200)  # the key goes first, then the cut

    @staticmethod
    def _json_or_none(resp: Response):
        try:
            return resp.json()
        except BadResponse:
            return None

    def _message(self, data) -> str:
        message = (data.get("message") or data.get("error")) if isinstance(data, dict) else None
        return self._scrub(message) if isinstance(message, str) else ""

    def raise_for_status(self, resp: Response):
        code, data = resp.status, self._json_or_none(resp)
        message = self._message(data)
        detail = f": {message}" if message else ""
        if code == 403:
            if not (isinstance(data, dict) and "message" in data):
                # The auth middleware's answer ({"status":403,"error":...}): key refused or X-API-User unknown.
                raise Unauthorized(f"{self.service}: API key refused (HTTP 403)", status=code)
            if "quota" in message.lower():
                raise QuotaExceeded(f"{self.service}: request quota used up{detail}", status=code)
            raise Forbidden(f"{self.service}: not allowed{detail}", status=code)
        if code == 401:
            raise Unauthorized(f"{self.service}: API key refused (HTTP 401)", status=code)
        if code == 404:
            raise NotFound(f"{self.service}: not found{detail}", status=code)
        if code == 409:
            raise Conflict(f"{self.service}: already requested{detail}", status=code)
        if code == 400:
            raise BadResponse(f"{self.service}: rejected our request (HTTP 400){detail}", status=code)
        if code >= 500:
            raise BadResponse(f"{self.service}: server error (HTTP {code}){detail}", status=code)
        super().raise_for_status(resp)

    def _call(self, method: str, path: str, *, params: dict | None = None, **kwargs) -> Response:
        url = f"{API}{path}"
        if params:
            url = f"{url}?{encode_query(params)}"
        resp = self.request(method, url, **kwargs)
        log.debug("overseerr %s %s -> %s in %d ms", method, path, resp.status, resp.elapsed_ms)
        return resp

    def _object(self, resp: Response) -> dict:
        data = resp.json()
        if not isinstance(data, dict):
            raise BadResponse(f"{self.service}: expected a JSON object", status=resp.status)
        return data

    def _get(self, path: str, **params) -> dict:
        return self._object(self._call("GET", path, params=params))

    # -- server --------------------------------------------------------------
    def status(self) -> ServerStatus:
        """Public version endpoint; proves the URL points at Overseerr, not that the key works."""
        data = self._get("/status")
        version = _str(data.get("version"))
        if version is None:
            raise BadResponse(f"{self.service}: /status has no version; is this an Overseerr server?")
        return ServerStatus(version, _str(data.get("commitTag")), data.get("updateAvailable") is True,
                            data.get("restartRequired") is True)

    def me(self) -> User:
        """The user the API key acts as (the admin). Bad key -> Unauthorized. Use it to test the key."""
        return parse_user(self._get("/auth/me"))

    # -- catalogue -----------------------------------------------------------
    def search(self, query: str, page: int = 1, *, language: str | None = None) -> Page:
        """One page of results (movies, series, people, collections); filter on `SearchResult.requestable`."""
        query = (query or "").strip()
        if not query:
            raise ValueError("search query is empty")
        data = self._get("/search", query=query, page=max(1, int(page)), language=language)
        results = _parse_list(data.get("results"), parse_search_result, "search result")
        return Page(results=results, page=_int(data.get("page")) or 1, pages=_int(data.get("totalPages")) or 0,
                    total=_int(data.get("totalResults")) or 0)

    def movie(self, tmdb_id: int) -> TitleDetails:
        return self._details("movie", tmdb_id)

    def tv(self, tmdb_id: int) -> TitleDetails:
        return self._details("tv", tmdb_id)

    def _details(self, media_type: str, tmdb_id) -> TitleDetails:
        """NotFound only for a 404. Overseerr answers 500 both for an unknown TMDB id and when TMDB (or
        Overseerr itself) has trouble, so a 5xx stays a BadResponse: callers treat it as "unavailable"."""
        tmdb_id = _tmdb_id(tmdb_id)
        return parse_details(self._get(f"/{media_type}/{tmdb_id}"), media_type)

    # -- requests ------------------------------------------------------------
    def create_request(self, media_type: str, tmdb_id: int, seasons=None, as_user_id: int | None = None, *,
                       is_4k: bool = False) -> MediaRequest:
        """Create a request; with `as_user_id` it is made as (and checked against) that Overseerr user.

        TV `seasons` is a list of season numbers or "all" (the default). Raises Conflict (already requested),
        NothingToRequest (no seasons left), QuotaExceeded / Forbidden (403), Unauthorized (bad key or user).
        """
        if media_type not in MEDIA_TYPES:
            raise ValueError("media_type must be 'movie' or 'tv'")
        body: dict = {"mediaType": media_type, "mediaId": _tmdb_id(tmdb_id), "is4k": bool(is_4k)}
        if media_type == "tv":
            if seasons is None or seasons == "all":
                body["seasons"] = "all"
            else:
                body["seasons"] = sorted({int(n) for n in seasons})
                if not body["seasons"] or min(body["seasons"]) < 0:
                    raise ValueError("seasons must be 'all' or a non-empty list of season numbers")
        headers = {"X-API-User": str(int(as_user_id))} if as_user_id is not None else None
        try:
            resp = self._call("POST", "/request", json=body, headers=headers)
        except Unauthorized as exc:
            if as_user_id is None:
                raise
            raise Unauthorized(f"{self.service}: API key refused, or Overseerr user {int(as_user_id)} does not exist",
                               status=exc.status) from exc
        data = self._object(resp)
        if resp.status == 202 and "id" not in data:  # Overseerr's "No seasons available to request" error body
            message = self._message(data) or "no seasons left to request"
            raise NothingToRequest(f"{self.service}: nothing left to request: {message}", status=202)
        return parse_request(data)

    def get_request(self, request_id: int) -> MediaRequest:
        return parse_request(self._get(f"/request/{int(request_id)}"))

    def list_requests(self, take: int = 10, skip: int = 0, filter: str = "all", sort: str = "added", *,
                      requested_by: int | None = None) -> Page:
        if filter not in REQUEST_FILTERS:
            raise ValueError(f"unknown request filter {filter!r}")
        if sort not in REQUEST_SORTS:
            raise ValueError(f"unknown request sort {sort!r}")
        data = self._get("/request", take=int(take), skip=int(skip), filter=filter, sort=sort,
                         requestedBy=requested_by)
        return _parse_page(data, parse_request, "request")

    def approve_request(self, request_id: int) -> MediaRequest:
        return parse_request(self._object(self._call("POST", f"/request/{int(request_id)}/approve")))

    def decline_request(self, request_id: int) -> MediaRequest:
        return parse_request(self._object(self._call("POST", f"/request/{int(request_id)}/decline")))

    def delete_request(self, request_id: int) -> None:
        self._call("DELETE", f"/request/{int(request_id)}")

    # -- users ---------------------------------------------------------------
    def users(self, take: int = 10, skip: int = 0, sort: str = "created") -> Page:
        return _parse_page(self._get("/user", take=int(take), skip=int(skip), sort=sort), parse_user, "user")

    def find_user_by_plex_id(self, plex_id: int, *, email: str | None = None, page_size: int = 50,
                             max_pages: int = 200) -> User | None:
        """The Overseerr user linked to this plex.tv account id, else (if given) the one with this email."""
        plex_id = _int(plex_id)
        wanted_email = email.strip().lower() if email else None
        by_email = None
        for page_number in range(max_pages):
            page = self.users(take=page_size, skip=page_number * page_size)
            for user in page.results:
                if plex_id is not None and user.plex_id == plex_id:
                    return user
                if by_email is None and wanted_email and (user.email or "").lower() == wanted_email:
                    by_email = user
            if len(page.results) < page_size or (page.pages and page_number + 1 >= page.pages):
                break
        return by_email
