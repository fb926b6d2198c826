"""Admin pages: error logs (more admin domains register their own routes on this blueprint)."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, request

from medianest import htmx
from medianest.extensions import db
from medianest.models import ErrorLog
from medianest.security import admin_required
from medianest.services import errors as error_log

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@admin_required
def require_admin():
    return None


def _date(name: str, *, end: bool = False):
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        value = datetime.strptime(raw, "%Y-%m-%d")
        return value + timedelta(days=1) if end else value
    except (ValueError, OverflowError):  # not a date, or the day after 9999-12-31
        return None


def _status_code(value: int | None) -> int | None:
    """An HTTP status to filter by; anything outside 100-599 (which no column could hold) filters nothing."""
    return value if value is not None and 100 <= value <= 599 else None


# (endpoint, title, description) of the admin sections; the hub lists those that are registered.
SECTIONS = [
    ("admin.users", "Users", "Roles, suspensions, password resets."),
    ("admin.services", "Services", "Connect Plex, Overseerr, Uptime Kuma and YouTube."),
    ("admin.requests", "Requests", "Approve or decline what people asked for."),
    ("admin.downloads", "Downloads", "Every YouTube download and the queue."),
    ("admin.incidents", "Incidents", "Outages and slowdowns, with notes."),
    ("admin.metrics", "Metrics", "Response times and uptime over time."),
    ("admin.errors", "Errors", "What went wrong, with correlation ids."),
    ("notifications.broadcast", "Announcements", "Send a message to everybody."),
]


@bp.get("/")
def index():
    return htmx.render_page_or_fragment("admin/index.html", "admin/_sections.html", sections=SECTIONS)


@bp.get("/errors")
def errors():
    filters = {
        "status_code": _status_code(request.args.get("status", type=int)),
        "error_code": request.args.get("code", "").strip()[:100] or None,
        "user_id": request.args.get("user", "").strip()[:255] or None,
        "correlation": request.args.get("correlation", "").strip()[:255] or None,
        "since": _date("from"),
        "until": _date("to", end=True),
    }
    page = max(1, min(request.args.get("page", 1, type=int), 100000))
    pagination = error_log.search(**filters, page=page)
    return htmx.render_page_or_fragment("admin/errors.html", "admin/_errors_table.html",
                                        pagination=pagination, args=request.args)


@bp.get("/errors/<uuid:error_id>")
def error_detail(error_id):
    row = db.session.get(ErrorLog, error_id) or abort(404)
    return htmx.render_page_or_fragment("admin/error_detail.html", "admin/_error_detail.html", error=row)
