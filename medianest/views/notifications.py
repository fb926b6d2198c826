"""Notifications: the bell, the inbox, and the admin broadcast."""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, render_template, request, url_for
from flask_login import current_user

from medianest import htmx, polls, versions
from medianest.extensions import limiter
from medianest.forms import BroadcastForm
from medianest.security import admin_required
from medianest.services import ServiceError
from medianest.services import notifications as service
from medianest.views.forms import form_error_response

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

CHANGED = "notifications-changed"
PER_PAGE = 20


def _me():
    return current_user._get_current_object()


@bp.get("/")
def index():
    unread_only = request.args.get("show", "unread") == "unread"
    page_no = max(1, min(request.args.get("page", 1, type=int), 10000))
    items, total = service.inbox(_me(), unread_only=unread_only, page=page_no, per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return htmx.render_page_or_fragment(
        "notifications/index.html", "notifications/_list.html",
        items=items, total=total, page_no=page_no, pages=pages, unread_only=unread_only,
    )


@bp.get("/bell")
@limiter.exempt
def bell():
    return render_template("notifications/_bell.html")


polls.poll("notifications.bell", lambda _args: polls.Depends(
    versions=[versions.table_key("notifications"), versions.table_key("notification_reads")]))


@bp.post("/<uuid:notification_id>/read")
def mark_read(notification_id):
    try:
        row = service.mark_read(_me(), notification_id)
    except ServiceError:
        abort(404)
    if htmx.is_htmx():
        resp = make_response(render_template("notifications/_item.html", n=row, is_read=True))
        return htmx.hx_trigger(resp, CHANGED)
    return htmx.redirect(url_for("notifications.index"))


@bp.post("/read-all")
def mark_all_read():
    service.mark_all_read(_me())
    if htmx.is_htmx():
        items, total = service.inbox(_me(), unread_only=False, per_page=PER_PAGE)
        resp = make_response(render_template("notifications/_list.html", items=items, total=total, page_no=1,
                                             pages=max(1, -(-total // PER_PAGE)), unread_only=False))
        return htmx.hx_trigger(resp, CHANGED)
    flash("All notifications are marked as read.", "success")
    return htmx.redirect(url_for("notifications.index", show="all"))


@bp.route("/broadcast", methods=["GET", "POST"])
@admin_required
def broadcast():
    form = BroadcastForm()
    if form.validate_on_submit():
        try:
            service.broadcast(form.title.data, form.message.data, type=form.type.data)
        except ServiceError as err:
            getattr(form, err.field or "message").errors.append(err.message)
        else:
            flash("Your announcement was sent to everybody.", "success")
            return htmx.hx_trigger(htmx.redirect(url_for("notifications.broadcast")), CHANGED)
    if request.method == "POST":
        return form_error_response("notifications/broadcast.html", "notifications/_broadcast_form.html", form=form)
    return htmx.render_page_or_fragment("notifications/broadcast.html", "notifications/_broadcast_form.html", form=form)
