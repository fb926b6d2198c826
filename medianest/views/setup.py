"""First-run setup: create the first admin, then this page is gone for good."""
from flask import Blueprint, abort, current_app, flash, request, url_for

from medianest import htmx
from medianest.extensions import limiter
from medianest.security import client_ip
from medianest.forms import SetupForm
from medianest.services import ServiceError, auth_sessions, first_run, users
from medianest.views.forms import form_error_response

bp = Blueprint("setup", __name__)


@bp.route("/setup", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def index():
    if users.admin_exists():
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        if not first_run.claim():  # another setup form is being saved right now
            return _already_set_up()
        try:
            if users.admin_exists():  # it was saved between this request's first check and the claim
                return _already_set_up()
            user, _ = users.create_admin(form.email.data, form.password.data, name=form.name.data or None)
        except ServiceError as err:
            getattr(form, err.field or "password").errors.append(err.message)
        else:
            current_app.extensions.setdefault("medianest_setup", {})["admin_exists"] = True
            auth_sessions.start(user, ip=client_ip(), user_agent=request.user_agent.string)
            flash("Welcome to MediaNest. Connect your services next under Admin → Services.", "success")
            return htmx.redirect(url_for("dashboard.index"))
        finally:
            first_run.release()
    if request.method == "POST":
        return form_error_response("setup/index.html", "setup/_form.html", form=form)
    return htmx.render_page_or_fragment("setup/index.html", "setup/_form.html", form=form)


def _already_set_up():
    flash("MediaNest has just been set up by someone else. Sign in with that admin account.", "info")
    return htmx.redirect(url_for("auth.login"))
