"""Sign-in, sign-out, password change, and the gate every request passes."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, make_response, render_template, request, url_for
from flask_login import current_user

from medianest import htmx
from medianest.extensions import limiter, login_manager
from medianest.forms import ChangePasswordForm, LoginForm
from medianest.services import ServiceError, auth_sessions, users
from medianest.views.forms import form_error_response, safe_next, same_site_path

bp = Blueprint("auth", __name__, url_prefix="/auth")

# Endpoints reachable without signing in; everything else needs a user.
PUBLIC_ENDPOINTS = {"static", "health.liveness", "health.readiness_check", "setup.index"}
PUBLIC_BLUEPRINTS = {"auth", "webhooks", "health"}
PASSWORD_CHANGE_ALLOWED = {"auth.change_password", "auth.logout", "static"}


@login_manager.request_loader
def load_user_from_session(_request):
    return auth_sessions.load_user()


@login_manager.unauthorized_handler
def unauthorized():
    target = same_site_path(htmx.current_url()) if htmx.is_htmx() else request.full_path.rstrip("?")
    login_url = url_for("auth.login", next=safe_next(target) or None)
    if htmx.is_htmx():
        return htmx.hx_redirect(make_response("", 401), login_url)
    if request.path.startswith("/api/"):
        abort(401)
    return htmx.redirect(login_url)


@bp.before_app_request
def gate():
    endpoint = request.endpoint or ""
    if endpoint in ("static", "health.liveness", "health.readiness_check"):
        return None
    if not _admin_exists():
        if endpoint == "setup.index" or endpoint.startswith("webhooks."):
            return None
        return htmx.redirect(url_for("setup.index"))
    if endpoint in PUBLIC_ENDPOINTS or request.blueprint in PUBLIC_BLUEPRINTS and endpoint not in PASSWORD_CHANGE_ALLOWED:
        return None
    if not current_user.is_authenticated:
        return unauthorized()
    if current_user.requires_password_change and endpoint not in PASSWORD_CHANGE_ALLOWED:
        flash("Choose a new password before you continue.", "warning")
        return htmx.redirect(url_for("auth.change_password"))
    return None


def _admin_exists() -> bool:
    """Cached once true: the first admin cannot disappear (the last admin is protected)."""
    state = current_app.extensions.setdefault("medianest_setup", {})
    if not state.get("admin_exists"):
        state["admin_exists"] = users.admin_exists()
    return state["admin_exists"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return htmx.redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = users.authenticate(form.email.data, form.password.data)
        except ServiceError as err:
            form.password.errors.append(err.message)
        else:
            auth_sessions.start(user)
            return htmx.redirect(safe_next(request.args.get("next")) or url_for("dashboard.index"))
    if request.method == "POST":
        return form_error_response("auth/login.html", "auth/_login_form.html", form=form)
    return htmx.render_page_or_fragment("auth/login.html", "auth/_login_form.html", form=form)


@bp.post("/logout")
def logout():
    auth_sessions.end_current()
    flash("You are signed out.", "info")
    return htmx.redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    if not current_user.is_authenticated:
        return unauthorized()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            users.change_password(current_user.id, form.current_password.data, form.new_password.data,
                                  form.confirm_password.data)
        except ServiceError as err:
            getattr(form, err.field or "new_password").errors.append(err.message)
        else:
            flash("Your password is changed.", "success")
            return htmx.redirect(url_for("dashboard.index"))
    if request.method == "POST":
        return form_error_response("auth/password.html", "auth/_password_form.html", form=form)
    return htmx.render_page_or_fragment("auth/password.html", "auth/_password_form.html", form=form)
