"""My requests: ask for a title, follow what you asked for, cancel what is still pending.

Every route reads the request through the owner filter: another user's id is a 404 here (admins included;
they see everyone's requests under /admin/requests).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, render_template, request, url_for
from flask_login import current_user

from medianest import htmx, polls, versions
from medianest.extensions import limiter
from medianest.services import ServiceError, library
from medianest.services import requests as service
from medianest.views.media import panel_context

bp = Blueprint("requests", __name__, url_prefix="/requests")

STATUS_FILTERS = ("", "active", "pending", "approved", "downloading", "completed", "denied", "failed")
TYPE_FILTERS = ("", "movie", "tv")
SORTS = ("newest", "oldest", "title", "status")
CHANGED = "requests-changed"


def _own_or_404(request_id):
    return service.owned(request_id, current_user.id) or abort(404)


def _filters() -> dict:
    args = request.args
    status = args.get("status", "")
    media_type = args.get("type", "")
    sort = args.get("sort", "newest")
    return {
        "status": status if status in STATUS_FILTERS else "",
        "media_type": media_type if media_type in TYPE_FILTERS else "",
        "sort": sort if sort in SORTS else "newest",
    }


@bp.get("/")
def index():
    filters = _filters()
    pagination = service.list_own(current_user.id, status=filters["status"] or None,
                                  media_type=filters["media_type"] or None, sort=filters["sort"],
                                  page=request.args.get("page", 1))
    followed = service.following(current_user.id) if not htmx.is_fragment_request() else []
    return htmx.render_page_or_fragment("requests/index.html", "requests/_list.html", pagination=pagination,
                                        filters=filters, args=request.args, followed=followed)


polls.page("requests.index", lambda _args: polls.Depends(
    versions=[versions.table_key(t) for t in ("media_requests", "request_interests", "request_quotas")],
    per_minute=True))


@bp.get("/following")
@limiter.exempt
def following():
    """"Also following", re-read while those requests move or after this user asked for something."""
    return htmx.vary(make_response(render_template("requests/_following.html",
                                                   followed=service.following(current_user.id))))


@bp.post("/")
@limiter.limit("30 per hour; 10 per minute")
def create():
    form = request.form
    media_type = form.get("media_type", "")
    seasons = "all" if form.get("all_seasons") else form.getlist("seasons")
    try:
        result = service.submit(current_user.id, media_type, form.get("tmdb_id"), seasons,
                                fallback_title=form.get("title"))
    except ServiceError as err:
        return _form_error(err, media_type, form)
    details = _details_for(result.request)
    if htmx.is_htmx():
        context = panel_context(details, message=result.message, result=result, oob_state=True)
        return htmx.hx_trigger(make_response(render_template("media/_request_panel.html", **context)), CHANGED)
    flash(result.message, "success" if result.kind != "interest" else "info")
    if result.kind == "interest":
        return htmx.redirect(url_for("media.detail", media_type=result.request.media_type,
                                     tmdb_id=int(result.request.tmdb_id)))
    return htmx.redirect(url_for("requests.detail", request_id=result.request.id))


def _details_for(row) -> dict:
    try:
        return library.title_details(row.media_type, int(row.tmdb_id))
    except (ServiceError, TypeError, ValueError):
        return {"tmdb_id": int(row.tmdb_id), "media_type": row.media_type, "title": row.title, "year": row.year,
                "overview": "", "poster": (row.poster_path or "").lstrip("/") or None, "genres": [], "runtime": None,
                "status": "unknown", "seasons": [], "requested_in_overseerr": False}


def _form_error(err: ServiceError, media_type: str, form):
    """422 with the request panel and the message; 404 for a title Overseerr does not know."""
    try:
        tmdb_id = int(form.get("tmdb_id", ""))
    except ValueError:
        tmdb_id = None
    details = None
    if media_type in library.MEDIA_TYPES and tmdb_id is not None and 0 < tmdb_id < 2**31:
        try:
            details = library.title_details(media_type, tmdb_id)
        except ServiceError:
            details = None
    if details is None:
        details = {"tmdb_id": tmdb_id or 0, "media_type": media_type if media_type in library.MEDIA_TYPES else "movie",
                   "title": (form.get("title") or "This title")[:500], "year": None, "overview": "", "poster": None,
                   "genres": [], "runtime": None, "status": "unknown", "seasons": [], "requested_in_overseerr": False}
    status = 422 if err.status in (409, 422, 429) else (404 if err.status == 404 else 503 if err.status == 503 else 422)
    context = panel_context(details, error=err.message, selected=[s for s in form.getlist("seasons") if s.isdigit()],
                            unavailable=err.status in (404, 503))
    return htmx.render_page_or_fragment("media/detail.html", "media/_request_panel.html", status=status, **context)


@bp.get("/<uuid:request_id>")
@limiter.exempt
def detail(request_id):
    row = _own_or_404(request_id)
    return htmx.render_page_or_fragment("requests/detail.html", "requests/_detail.html", r=row)


@bp.get("/<uuid:request_id>/row")
@limiter.exempt
def row(request_id):
    """One row of My requests, polled while the request is moving (read-only, one query)."""
    return htmx.vary(make_response(render_template("requests/_row.html", r=_own_or_404(request_id))))


polls.poll("requests.row", lambda args: polls.Depends(
    versions=[versions.row_key("media_requests", args["request_id"]), versions.table_key("media_requests")],
    per_minute=True))


@bp.post("/<uuid:request_id>/cancel")
def cancel(request_id):
    _own_or_404(request_id)
    try:
        title = service.cancel(request_id, current_user.id)
    except ServiceError as err:
        if err.status == 404:
            abort(404)
        flash(err.message, "error")
        if htmx.is_htmx():
            return htmx.reswap_none(make_response(render_template("_flash.html", oob=True), err.status))
        return htmx.redirect(url_for("requests.detail", request_id=request_id))
    flash(f"Your request for {title} is cancelled.", "success")
    return htmx.hx_trigger(htmx.redirect(url_for("requests.index")), CHANGED)
