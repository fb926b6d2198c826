"""Your account: who you are, how you sign in, and the browsers signed in as you (sign out one or all others)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, render_template, url_for
from flask_login import current_user

from medianest import htmx
from medianest.services import auth_sessions
from medianest.views.auth import sign_out_this_browser

bp = Blueprint("account", __name__, url_prefix="/account")


def _sessions_context() -> dict:
    current_id = auth_sessions.current_session_id()
    return {"sessions": auth_sessions.list_for(current_user.id, current_id), "current_id": current_id}


def _sessions_response():
    """After a change: the sessions fragment for HTMX (with the flash out of band), else back to the page."""
    if htmx.is_htmx():
        body = render_template("account/_sessions.html", **_sessions_context()) + render_template("_flash.html", oob=True)
        return make_response(body)
    return htmx.redirect(url_for("account.sessions"))


@bp.get("/")
def index():
    return htmx.render_page_or_fragment("account/index.html", "account/_sessions.html", **_sessions_context())


@bp.get("/sessions")
def sessions():
    return htmx.render_page_or_fragment("account/sessions.html", "account/_sessions.html", **_sessions_context())


@bp.post("/sessions/<uuid:session_id>/revoke")
def revoke(session_id):
    if session_id == auth_sessions.current_session_id():
        return sign_out_this_browser()
    if not auth_sessions.revoke(current_user.id, session_id):
        abort(404)
    flash("That browser is signed out.", "success")
    return _sessions_response()


@bp.post("/sessions/revoke-others")
def revoke_others():
    count = auth_sessions.revoke_others(current_user.id, auth_sessions.current_session_id())
    flash("No other browser was signed in." if count == 0 else
          f"Signed out {count} other browser{'s' if count != 1 else ''}.", "success")
    return _sessions_response()
