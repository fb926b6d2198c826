"""Admin: all media requests, approve and decline (with a reason the requester sees), retry, quotas.

Routes live on the admin blueprint (admin-only by its before_request).
"""
from __future__ import annotations

from flask import abort, flash, make_response, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload

from medianest import htmx, polls, versions
from medianest.extensions import db
from medianest.models import MediaRequest
from medianest.services import ServiceError, quotas, users
from medianest.services import requests as service
from medianest.views.admin import _date, bp

STATUS_FILTERS = ("", "pending", "approved", "downloading", "completed", "denied", "failed", "waiting")
TYPE_FILTERS = ("", "movie", "tv")


def _filters() -> dict:
    args = request.args
    status = args.get("status", "")
    media_type = args.get("type", "")
    return {
        "status": status if status in STATUS_FILTERS else "",
        "media_type": media_type if media_type in TYPE_FILTERS else "",
        "user": args.get("user", "").strip()[:255],
        "since": _date("from"),
        "until": _date("to", end=True),
    }


@bp.get("/requests")
def requests():
    filters = _filters()
    pagination = service.list_all(status=filters["status"] or None, user=filters["user"] or None,
                                  media_type=filters["media_type"] or None, since=filters["since"],
                                  until=filters["until"], page=request.args.get("page", 1))
    context = {"pagination": pagination, "args": request.args, "filters": filters}
    if not htmx.is_fragment_request():
        context.update(defaults=quotas.defaults(), overrides=quotas.overrides())
    return htmx.render_page_or_fragment("admin/requests.html", "admin/_requests_table.html", **context)


polls.page("admin.requests", lambda _args: polls.Depends(
    versions=[versions.table_key(t) for t in ("media_requests", "request_interests", "request_quotas", "users")],
    per_minute=True))


def _row_response(request_id, message: str | None = None, *, error: str | None = None, status: int = 200):
    """The updated table row for HTMX (plus the flash, out of band); a redirect to the list otherwise."""
    if message:
        flash(message, "success")
    if error:
        flash(error, "error")
    if not htmx.is_htmx():
        return htmx.redirect(url_for("admin.requests"))
    row = db.session.scalar(db.select(MediaRequest).where(MediaRequest.id == request_id)
                            .options(joinedload(MediaRequest.user)))
    if row is None:
        abort(404)
    if error:
        return htmx.reswap_none(make_response(render_template("_flash.html", oob=True), status))
    body = render_template("admin/_request_row.html", r=row) + render_template("_flash.html", oob=True)
    return make_response(body, status)


def _act(request_id, action, done: str):
    try:
        row = action()
    except ServiceError as err:
        if err.status == 404:
            abort(404)
        return _row_response(request_id, error=err.message, status=err.status if err.status >= 400 else 422)
    return _row_response(request_id, done.format(title=row.title))


@bp.post("/requests/<uuid:request_id>/approve")
def request_approve(request_id):
    return _act(request_id, lambda: service.approve(request_id, current_user.id), "{title} is approved.")


@bp.post("/requests/<uuid:request_id>/decline")
def request_decline(request_id):
    reason = request.form.get("reason", "")
    return _act(request_id, lambda: service.decline(request_id, current_user.id, reason), "{title} is declined.")


@bp.post("/requests/<uuid:request_id>/retry")
def request_retry(request_id):
    return _act(request_id, lambda: service.retry_forward(request_id, current_user.id),
                "{title} is being sent to Overseerr again.")


@bp.post("/requests/quotas")
def request_quotas():
    form = request.form
    try:
        quotas.set_defaults(form.get("movies"), form.get("seasons"), form.get("days"), updated_by=current_user.id)
    except ServiceError as err:
        return _quota_response(error=err.message)
    return _quota_response(message="Quota defaults saved.")


@bp.post("/requests/quotas/user")
def request_quota_user():
    form = request.form
    user = users.get_by_email(form.get("email", "")) if form.get("email", "").strip() else None
    if user is None:
        return _quota_response(error="There is no user with that email address.")
    try:
        if form.get("clear"):
            quotas.set_override(user.id)
        else:
            quotas.set_override(user.id, form.get("movies"), form.get("seasons"), form.get("days"))
    except ServiceError as err:
        return _quota_response(error=err.message)
    return _quota_response(message=f"Quota for {user.email} saved.")


def _quota_response(message: str | None = None, error: str | None = None):
    if message:
        flash(message, "success")
    if not htmx.is_htmx():
        if error:
            flash(error, "error")
        return htmx.redirect(url_for("admin.requests"))
    body = render_template("admin/_request_quotas.html", defaults=quotas.defaults(), overrides=quotas.overrides(),
                           quota_error=error)
    if message:
        body += render_template("_flash.html", oob=True)
    return make_response(body, 422 if error else 200)
