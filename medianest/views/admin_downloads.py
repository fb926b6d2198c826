"""Admin: every user's YouTube downloads and the queue, with cancel, retry and delete.

Routes live on the admin blueprint (admin-only by its before_request: 404 for everyone else). The page's
fragment refreshes itself every few seconds while something is queued or running.
"""
from __future__ import annotations

from flask import abort, flash, make_response, render_template, request, url_for

from medianest import htmx
from medianest.extensions import limiter
from medianest.models.youtube import DownloadStatus
from medianest.services import ServiceError
from medianest.services import youtube as service
from medianest.views.admin import bp

CHANGED = "downloads-changed"
STATUS_FILTERS = ("", *DownloadStatus)


def _filters() -> dict:
    status = request.args.get("status", "")
    return {"status": status if status in STATUS_FILTERS else "",
            "user": request.args.get("user", "").strip()[:255], "q": request.args.get("q", "").strip()[:200]}


@bp.get("/downloads")
@limiter.exempt
def downloads():
    filters = _filters()
    page = max(1, min(request.args.get("page", 1, type=int), 100000))
    pagination = service.list_all(status=filters["status"] or None, user=filters["user"] or None,
                                  q=filters["q"] or None, page=page)
    queue = service.queue_snapshot()
    active = bool(queue) or any(d.is_active for d in pagination.items)
    return htmx.render_page_or_fragment("admin/downloads.html", "admin/_downloads.html", pagination=pagination,
                                        queue=queue, filters=filters, args=request.args, active=active)


def _act(action, download_id, message: str):
    try:
        row = action(download_id)
    except ServiceError as err:
        if err.status == 404:
            abort(404)
        flash(err.message, "error")
        status = err.status
    else:
        flash(message.format(title=row.display_title if row is not None else "the download"), "success")
        status = 200
    if htmx.is_htmx():
        response = htmx.reswap_none(make_response(render_template("_flash.html", oob=True), status))
        return htmx.hx_trigger(response, CHANGED) if status == 200 else response
    return htmx.redirect(url_for("admin.downloads"))


@bp.post("/downloads/<uuid:download_id>/cancel")
def download_cancel(download_id):
    return _act(service.cancel, download_id, "Cancel requested: {title}")


@bp.post("/downloads/<uuid:download_id>/retry")
def download_retry(download_id):
    return _act(service.retry, download_id, "Queued again: {title}")


@bp.post("/downloads/<uuid:download_id>/delete")
def download_delete(download_id):
    def remove(did):
        service.delete(did)
        return None

    return _act(remove, download_id, "Deleted {title} and its files.")
