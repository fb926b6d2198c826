"""What there is to watch: the Plex library (browse, search, posters) and the Overseerr/TMDB catalogue (Discover).

Plex answers are cached briefly and Overseerr searches and title details for five minutes. Everything
cached here is the same for every user (no per-user data in a shared key): who requested what is read
from the database by services/requests.py and laid over these results per user.

Every call here is made while someone waits for the page: short timeouts (clients.base.WEB_TIMEOUT)
and a circuit breaker per service (medianest.breaker), so a hanging Plex or Overseerr costs one slow
view per interval and the views in between say at once that it is not answering.

The image proxies add the Plex token on the server side and only fetch Plex image paths or TMDB
poster files, so the browser never sees a token and the proxy cannot fetch arbitrary URLs.
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
import unicodedata
from dataclasses import asdict

from flask import current_app

from medianest import breaker, cache
from medianest.clients import overseerr
from medianest.clients.base import WEB_TIMEOUT, ClientError, NotFound
from medianest.clients.tmdb import DEFAULT_URL as TMDB_IMAGE_URL
from medianest.clients.tmdb import TmdbImages, poster_path_ok
from medianest.services import ServiceError, service_config

log = logging.getLogger(__name__)

RECENT_TTL = 60
SECTIONS_TTL = 300
ITEMS_TTL = 120
PLEX_SEARCH_TTL = 60
CATALOGUE_TTL = 300  # Overseerr search results and title details: five minutes per query
SECTION_PAGE_SIZE = 48
RECENT_LIMIT = 18
SEARCH_MAX = 200
MAX_DISCOVER_PAGE = 500  # TMDB serves at most 500 pages
MAX_SECTION_PAGE = 10000
PLEX_IMAGE_WIDTHS = (150, 300, 600)
RASTER_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"})
BROWSABLE_SECTIONS = ("movie", "show", "artist", "photo")
MEDIA_TYPES = ("movie", "tv")


class CatalogueUnavailable(ServiceError):
    """Overseerr is not connected or does not answer right now."""

    def __init__(self, message: str):
        super().__init__(message, status=503)


def clean_query(raw: str | None) -> str:
    """A search as typed, minus control characters and surrounding space; Unicode kept (NFC)."""
    text = unicodedata.normalize("NFC", raw or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch == " ")
    return re.sub(r"\s+", " ", text).strip()


def check_query(query: str) -> None:
    if len(query) > SEARCH_MAX:
        raise ServiceError(f"Searches are limited to {SEARCH_MAX} characters.", field="q")


def _key(*parts) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:40]


# -- Plex ------------------------------------------------------------------------------------------
def plex_connected() -> bool:
    return service_config.plex_client() is not None


PLEX_DOWN = "Plex is not answering right now, so the library can't be reached. Try again in a moment."


def _plex(*, limit: bool = True):
    client = breaker.guard(service_config.plex_client(timeout=WEB_TIMEOUT), "plex", limit=limit)
    if client is None:
        raise ServiceError("Plex is not connected yet. An admin can connect it under Admin → Services.", status=503)
    return client


def _plex_error(exc: ClientError) -> ServiceError:
    log.warning("plex library call failed: %s", exc.message)
    if breaker.is_outage(exc):
        return ServiceError(PLEX_DOWN, status=502)
    return ServiceError("Plex answered in a way MediaNest did not expect. Try again later.", status=502)


def _item(item) -> dict:
    subtitle = ""
    if item.type == "episode":
        subtitle = " · ".join(p for p in (item.grandparent_title, item.parent_title) if p)
    elif item.type == "season":
        subtitle = item.parent_title
    return {"rating_key": item.rating_key, "type": item.type, "title": item.title, "year": item.year,
            "thumb": item.thumb or None, "subtitle": subtitle, "section": item.section_title}


def sections() -> list[dict]:
    """The server's libraries (cached five minutes)."""
    def load():
        try:
            found = _plex().library_sections()
        except ClientError as exc:
            raise _plex_error(exc) from None
        return [{"key": s.key, "type": s.type, "title": s.title} for s in found if s.type in BROWSABLE_SECTIONS]

    return cache.get_or_set("plex:sections", SECTIONS_TTL, load)


def recently_added(limit: int = RECENT_LIMIT) -> list[dict]:
    """Newest items across every library (cached a minute)."""
    def load():
        try:
            return [_item(i) for i in _plex().recently_added(limit)]
        except ClientError as exc:
            raise _plex_error(exc) from None

    return cache.get_or_set(f"plex:recent:{limit}", RECENT_TTL, load)


def section_page(section_id: int, page: int = 1) -> dict:
    """One page of a library: {section, items, page, pages, total}. Unknown section -> ServiceError 404."""
    page = max(1, min(int(page), MAX_SECTION_PAGE))
    known = {s["key"]: s for s in sections()}
    section = known.get(str(section_id))
    if section is None:
        raise ServiceError("There is no such library.", status=404)
    item_type = {"show": "show", "movie": "movie"}.get(section["type"])

    def load():
        try:
            result = _plex().section_items(section["key"], (page - 1) * SECTION_PAGE_SIZE, SECTION_PAGE_SIZE,
                                           item_type=item_type, sort="titleSort")
        except NotFound:
            raise ServiceError("There is no such library.", status=404) from None
        except ClientError as exc:
            raise _plex_error(exc) from None
        return {"items": [_item(i) for i in result.items], "total": result.total}

    data = cache.get_or_set(f"plex:section:{section['key']}:{page}", ITEMS_TTL, load)
    pages = max(1, math.ceil(data["total"] / SECTION_PAGE_SIZE))
    return {"section": section, "items": data["items"], "page": page, "pages": pages, "total": data["total"]}


def plex_search(query: str) -> list[dict]:
    """Movies, shows and episodes whose title matches (Plex /hubs/search; cached a minute per query)."""
    query = clean_query(query)
    check_query(query)
    if not query:
        return []

    def load():
        try:
            return [_item(i) for i in _plex().search(query, limit=30)]
        except ClientError as exc:
            raise _plex_error(exc) from None

    return cache.get_or_set(f"plex:search:{_key(query.casefold())}", PLEX_SEARCH_TTL, load)


def _raster(found: tuple[bytes, str]) -> tuple[bytes, str]:
    """Only bitmap formats are served from MediaNest's origin: an SVG (or anything else) could carry script."""
    body, content_type = found
    if content_type not in RASTER_TYPES:
        log.warning("image proxy refused a %s answer", content_type[:100])
        raise ServiceError("That image format is not served.", status=502)
    return body, content_type


def plex_image(path: str, width: int | None = None) -> tuple[bytes, str]:
    """A Plex poster or artwork. ValueError unless `path` is a Plex image path; ServiceError when Plex fails."""
    if width is not None:
        width = min(PLEX_IMAGE_WIDTHS, key=lambda w: abs(w - int(width)))
    client = _plex(limit=False)
    try:
        return _raster(client.fetch_image(path, width=width))
    except ValueError:
        raise
    except NotFound:
        raise ServiceError("No such image.", status=404) from None
    except ClientError as exc:
        raise _plex_error(exc) from None


# -- TMDB posters ------------------------------------------------------------------------------------
def poster(size: str, filename: str) -> tuple[bytes, str]:
    """A TMDB poster by size and file name (ValueError for anything else)."""
    base = current_app.config.get("MEDIANEST_TMDB_IMAGE_URL") or TMDB_IMAGE_URL
    try:
        return _raster(breaker.guard(TmdbImages(base, timeout=WEB_TIMEOUT), "tmdb", limit=False).poster(size, filename))
    except ValueError:
        raise
    except NotFound:
        raise ServiceError("No such image.", status=404) from None
    except ClientError as exc:
        log.info("poster fetch failed: %s", exc.message)
        raise ServiceError("The poster can't be loaded right now.", status=502) from None


def poster_file(path: str | None) -> str | None:
    """The file name part of a TMDB poster path, or None when there is no usable poster."""
    return path.lstrip("/") if poster_path_ok(path) else None


# -- Overseerr catalogue (Discover) ------------------------------------------------------------------
def _overseerr():
    client = breaker.guard(service_config.overseerr_client(timeout=WEB_TIMEOUT), "overseerr")
    if client is None:
        raise CatalogueUnavailable("Discover needs Overseerr. An admin can connect it under Admin → Services.")
    return client


def _catalogue_error(exc: ClientError) -> ServiceError:
    log.warning("overseerr catalogue call failed: %s", exc.message)
    if breaker.is_outage(exc):
        return CatalogueUnavailable("Overseerr can't be reached right now. Try again in a moment.")
    return ServiceError("Overseerr could not answer that. Try again later.", status=502)


def _result(result: overseerr.SearchResult) -> dict:
    return {"tmdb_id": result.tmdb_id, "media_type": result.media_type, "title": result.title, "year": result.year,
            "poster": poster_file(result.poster_path), "overview": result.overview[:600],
            "status": result.status.value}


def discover(query: str, page: int = 1) -> dict:
    """Films and series matching `query`: {query, results, page, pages, total}; cached five minutes per query."""
    query = clean_query(query)
    check_query(query)
    page = max(1, min(int(page), MAX_DISCOVER_PAGE))
    if not query:
        overseerr = service_config.get("overseerr")
        if overseerr is None or not overseerr.enabled:
            _overseerr()  # says "Discover needs Overseerr" before anyone types
        return {"query": "", "results": [], "page": 1, "pages": 0, "total": 0}

    def load():
        try:
            found = _overseerr().search(query, page)
        except ClientError as exc:
            raise _catalogue_error(exc) from None
        return {"results": [_result(r) for r in found.results if r.requestable],
                "pages": min(found.pages, MAX_DISCOVER_PAGE), "total": found.total}

    data = cache.get_or_set(f"overseerr:search:{_key(query.casefold(), page)}", CATALOGUE_TTL, load)
    return {"query": query, "page": page, **data}


def details_cache_key(media_type: str, tmdb_id: int) -> str:
    return f"overseerr:details:{media_type}:{int(tmdb_id)}"


def title_details(media_type: str, tmdb_id: int, *, fresh: bool = False) -> dict:
    """A film or series with its seasons and Overseerr's availability; cached five minutes.

    Only Overseerr's 404 is "not found". Overseerr down, timing out or answering 5xx -> CatalogueUnavailable:
    it answers 500 for an unknown TMDB id and for a TMDB outage alike, so a request for the title is kept
    and forwarded later (the forward gives up after a few server errors).
    """
    if media_type not in MEDIA_TYPES:
        raise ServiceError("Only films and series can be requested.", status=404)
    if not isinstance(tmdb_id, int) or isinstance(tmdb_id, bool) or not 0 < tmdb_id < 2**31:
        raise ServiceError("That is not a TMDB id.", status=404)
    key = details_cache_key(media_type, tmdb_id)
    if not fresh:
        hit = cache.get(key)
        if hit is not None:
            return hit
    client = _overseerr()
    try:
        found = client.movie(tmdb_id) if media_type == "movie" else client.tv(tmdb_id)
    except NotFound:
        kind = "film" if media_type == "movie" else "series"
        raise ServiceError(f"Overseerr knows no {kind} with TMDB id {tmdb_id}.", status=404) from None
    except ClientError as exc:
        raise _catalogue_error(exc) from None
    data = _details(found)
    cache.set(key, data, CATALOGUE_TTL)
    return data


def _details(found: overseerr.TitleDetails) -> dict:
    info = found.media_info
    open_requests = [r for r in (info.requests if info else ())
                     if r.status in (overseerr.RequestStatus.PENDING, overseerr.RequestStatus.APPROVED) and not r.is_4k]
    return {
        "tmdb_id": found.tmdb_id,
        "media_type": found.media_type,
        "title": found.title or f"TMDB {found.tmdb_id}",
        "year": found.year,
        "overview": found.overview[:2000],
        "poster": poster_file(found.poster_path),
        "genres": list(found.genres)[:6],
        "runtime": found.runtime,
        "status": found.status.value,
        "requested_in_overseerr": bool(open_requests),
        "seasons": [{**asdict(s), "status": s.status.value, "status_4k": s.status_4k.value} for s in found.seasons],
    }


def forget_title(media_type: str, tmdb_id) -> None:
    """Drop a title's cached details (after a request changes what Overseerr knows about it)."""
    try:
        cache.delete(details_cache_key(media_type, int(tmdb_id)))
    except (TypeError, ValueError):
        pass
