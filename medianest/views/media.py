"""The Plex library, the image proxies, and Discover (search Overseerr, title details, the request form)."""
from __future__ import annotations

from flask import Blueprint, abort, make_response, request
from flask_login import current_user

from medianest import htmx
from medianest.extensions import limiter
from medianest.services import ServiceError, library, quotas
from medianest.services import requests as request_service

bp = Blueprint("media", __name__, url_prefix="/media")

IMAGE_CACHE = "private, max-age=86400"  # Plex image paths carry a timestamp and TMDB files never change


def _page_arg() -> int:
    return request_service.page_number(request.args.get("page", 1))


def _retry_url() -> str:
    """This same page, for the "Try again" link next to an outage message."""
    return request.full_path.rstrip("?")


@bp.get("/")
def index():
    query = library.clean_query(request.args.get("q"))
    context = {"query": query, "results": None, "recent": [], "sections": [], "error": None}
    try:
        if query:
            context["results"] = library.plex_search(query)
        else:
            context["sections"] = library.sections()
            context["recent"] = library.recently_added()
    except ServiceError as err:
        context["error"], context["retry_url"] = err.message, _retry_url()
    return htmx.render_page_or_fragment("media/index.html", "media/_library.html", **context)


@bp.get("/sections/<int:section_id>")
def section(section_id):
    try:
        data = library.section_page(section_id, _page_arg())
    except ServiceError as err:
        if err.status == 404:
            abort(404)
        return htmx.render_page_or_fragment("media/section.html", "media/_section_items.html", status=502,
                                            error=err.message, retry_url=_retry_url(),
                                            section={"key": section_id, "title": "Library"},
                                            items=[], page_no=1, pages=1, total=0)
    data["page_no"] = data.pop("page")
    return htmx.render_page_or_fragment("media/section.html", "media/_section_items.html", error=None, **data)


def _image_response(body: bytes, content_type: str):
    resp = make_response(body)
    resp.headers["Content-Type"] = content_type
    resp.headers["Cache-Control"] = IMAGE_CACHE
    return resp


@bp.get("/image")
@limiter.exempt
def image():
    """Plex posters and artwork: the token is added here, never sent to the browser."""
    try:
        width = request.args.get("w", type=int)
        body, content_type = library.plex_image(request.args.get("path", ""), width)
    except ValueError:
        abort(404)
    except ServiceError as err:
        return make_response("", 404 if err.status in (404, 503) else 502)
    return _image_response(body, content_type)


@bp.get("/poster/<size>/<filename>")
@limiter.exempt
def poster(size, filename):
    """TMDB posters for Discover (the page may only load images from MediaNest)."""
    try:
        body, content_type = library.poster(size, filename)
    except ValueError:
        abort(404)
    except ServiceError as err:
        return make_response("", 404 if err.status == 404 else 502)
    return _image_response(body, content_type)


@bp.get("/discover")
def discover():
    query = library.clean_query(request.args.get("q"))
    context = {"query": query, "results": [], "page_no": 1, "pages": 0, "total": 0, "error": None, "states": {}}
    try:
        found = library.discover(query, _page_arg())
    except ServiceError as err:
        context["error"], context["retry_url"] = err.message, _retry_url()
    else:
        found["page_no"] = found.pop("page")
        context.update(found)
        context["states"] = request_service.states_for(
            current_user.id, [(r["media_type"], r["tmdb_id"]) for r in found["results"]])
    return htmx.render_page_or_fragment("media/discover.html", "media/_discover_results.html", **context)


def panel_context(details: dict, **extra) -> dict:
    """What the request panel shows: the title's state for this user, their quota, the form."""
    state = request_service.states_for(current_user.id, [(details["media_type"], details["tmdb_id"])])
    context = {
        "details": details,
        "state": state.get((details["media_type"], details["tmdb_id"])) or {},
        "quota": quotas.summary(current_user.id),
        "error": None,
        "message": None,
        "selected": [],
    }
    context.update(extra)
    return context


@bp.get("/<any(movie, tv):media_type>/<int:tmdb_id>")
def detail(media_type, tmdb_id):
    try:
        details = library.title_details(media_type, tmdb_id)
    except library.CatalogueUnavailable as err:
        return htmx.render_page_or_fragment("media/detail.html", "media/_request_panel.html", status=503,
                                            **panel_context(_placeholder(media_type, tmdb_id), error=err.message,
                                                            unavailable=True, retry_url=_retry_url()))
    except ServiceError as err:
        abort(404, description=err.message)
    return htmx.render_page_or_fragment("media/detail.html", "media/_request_panel.html", **panel_context(details))


def _placeholder(media_type: str, tmdb_id: int) -> dict:
    return {"tmdb_id": tmdb_id, "media_type": media_type, "title": "This title", "year": None, "overview": "",
            "poster": None, "genres": [], "runtime": None, "status": "unknown", "seasons": [],
            "requested_in_overseerr": False}
