"""Sign-in (password or Plex), remember-me, sign-out, password change and reset, and the gate every request passes."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    render_template,
    request,
    url_for,
)
from flask import session as cookie
from flask_login import current_user

from medianest import htmx
from medianest.extensions import limiter, login_manager
from medianest.forms import ChangePasswordForm, LoginForm, PlexSignInForm, ResetPasswordForm
from medianest.security import client_ip
from medianest.models import UserStatus
from medianest.services import ServiceError, as_uuid, auth_sessions, plex_auth, remember, users
from medianest.services.rate_limits import (
    ACCOUNT_ATTEMPTS,
    DEVICE_COOKIE,
    DEVICE_MAX_AGE,
    PASSWORD_ATTEMPTS,
    PLEX_CHECK,
    SIGN_IN,
    account_key,
    device_cookie,
    failed,
    ip_key,
    known_device,
    sign_in_account_key,
    sign_in_key,
)
from medianest.views.forms import form_error_response, safe_next, same_site_path

bp = Blueprint("auth", __name__, url_prefix="/auth")

# Endpoints reachable without signing in; everything else needs a user.
PUBLIC_ENDPOINTS = {"static", "health.liveness", "health.readiness_check", "setup.index"}
PUBLIC_BLUEPRINTS = {"auth", "webhooks", "health"}
PASSWORD_CHANGE_ALLOWED = {"auth.change_password", "auth.logout", "static"}

REMEMBER_COOKIE = "medianest_remember"
PIN_KEY = "plex_pin"            # in the signed session cookie: the PIN this browser started
REAUTH_SHOWN_KEY = "plex_reauth_shown"
MAX_PLEX_POLLS = 5              # "waiting for Plex…" checks before offering a retry
_UNSET = object()


# -- who is this browser? -------------------------------------------------------------------------
@login_manager.request_loader
def load_user_from_session(_request):
    user, reason = auth_sessions.resolve(ip=client_ip())
    if user is None:
        user = _remembered_user()
    if user is None and reason:
        g.signed_out_reason = reason
    return user


def _remembered_user():
    """Sign the browser in again with its remember-me cookie (one-time token, rotated on every use)."""
    token = request.cookies.get(REMEMBER_COOKIE)
    if not token:
        return None
    result = remember.use(token)
    if not result.ok:
        g.remember_cookie = None
        if result.theft:
            g.signed_out_reason = auth_sessions.ENDED
        elif result.reason:
            g.signed_out_reason = result.reason
        return None
    auth_sessions.start(result.user, ip=client_ip(), user_agent=request.user_agent.string,
                        remember_token_id=result.token_id, fresh_cookie=False)
    if result.new_token:
        g.remember_cookie = result.new_token
    return result.user


def _sign_in(user, *, remember_me: bool):
    token_id = None
    if remember_me:
        token, token_id = remember.issue(user.id)
        g.remember_cookie = token
    auth_sessions.start(user, ip=client_ip(), user_agent=request.user_agent.string, remember_token_id=token_id)


@bp.after_app_request
def write_remember_cookie(response):
    """Set (rotated token) or drop (signed out, unusable token) the remember-me cookie."""
    value = g.get("remember_cookie", _UNSET)
    if value is _UNSET:
        return response
    secure = bool(current_app.config.get("SESSION_COOKIE_SECURE"))
    if value:
        response.set_cookie(REMEMBER_COOKIE, value, max_age=int(remember.LIFETIME.total_seconds()), path="/",
                            secure=secure, httponly=True, samesite="Lax")
    else:
        response.delete_cookie(REMEMBER_COOKIE, path="/", secure=secure, httponly=True, samesite="Lax")
    return response


@login_manager.unauthorized_handler
def unauthorized():
    reason = g.get("signed_out_reason")
    if reason:
        flash(_signed_out_message(reason), "warning")
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
    if current_user.plex_token_invalid:
        _ask_to_sign_in_with_plex_again()
    return None


def _ask_to_sign_in_with_plex_again():
    """plex.tv refused the stored token: say so once per browser session, on a full page."""
    if request.method == "GET" and not htmx.is_htmx() and not cookie.get(REAUTH_SHOWN_KEY):
        cookie[REAUTH_SHOWN_KEY] = True
        flash(plex_auth.REAUTH_MESSAGE, "warning")


def _admin_exists() -> bool:
    """Cached once true: the first admin cannot disappear (the last admin is protected)."""
    state = current_app.extensions.setdefault("medianest_setup", {})
    if not state.get("admin_exists"):
        state["admin_exists"] = users.admin_exists()
    return state["admin_exists"]


SUSPENDED_MESSAGE = "This account is suspended. Ask an admin if you think this is a mistake."


def _signed_out_message(reason: str) -> str:
    """Why this browser was signed out. A session that was ended because its account was suspended or lost
    its Plex access says so: the (signed) cookie still names the account."""
    if reason == auth_sessions.ENDED or reason == auth_sessions.SUSPENDED:
        user_id = as_uuid(cookie.get(auth_sessions.USER_KEY))
        user = users.get(user_id) if user_id else None
        if user is not None and user.status == UserStatus.SUSPENDED:
            return SUSPENDED_MESSAGE
        if user is not None and user.plex_access_lost_at is not None:
            return plex_auth.ACCESS_LOST_MESSAGE
    if reason == plex_auth.ACCESS_LOST:
        return plex_auth.ACCESS_LOST_MESSAGE
    return auth_sessions.END_MESSAGES.get(reason, auth_sessions.END_MESSAGES[auth_sessions.ENDED])


# -- password sign-in -----------------------------------------------------------------------------
def _login_page(form=None, *, status: int = 200, plex_error: str | None = None):
    context = {"form": form if form is not None else LoginForm(), "plex_form": PlexSignInForm(prefix="plex"),
               "plex_available": plex_auth.available(), "plex_error": plex_error,
               "next_path": safe_next(request.args.get("next"))}
    if status == 200:
        return htmx.render_page_or_fragment("auth/login.html", "auth/_login_form.html", **context)
    if plex_error:
        return htmx.render_page_or_fragment("auth/login.html", "auth/_plex_signin.html", status=status, **context)
    return form_error_response("auth/login.html", "auth/_login_form.html", **context)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(SIGN_IN, key_func=ip_key, methods=["POST"])
@limiter.limit(PASSWORD_ATTEMPTS, key_func=sign_in_key, methods=["POST"], deduct_when=failed)
@limiter.limit(ACCOUNT_ATTEMPTS, key_func=sign_in_account_key, methods=["POST"], deduct_when=failed,
               exempt_when=known_device)
def login():
    if current_user.is_authenticated:
        return htmx.redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = users.authenticate(form.email.data, form.password.data)
            if user.plex_access_lost_at is not None and not user.is_admin:
                raise ServiceError(plex_auth.ACCESS_LOST_MESSAGE, status=403)
        except ServiceError as err:
            suspended = err.status == 403 and (users.get_by_email(form.email.data or "") or None)
            form.password.errors.append(SUSPENDED_MESSAGE if suspended and suspended.status == UserStatus.SUSPENDED
                                        else err.message)
        else:
            _sign_in(user, remember_me=bool(form.remember.data))
            return _known_device_cookie(htmx.redirect(safe_next(request.args.get("next")) or url_for("dashboard.index")),
                                        user)
    if request.method == "POST":
        return _login_page(form, status=422)
    return _login_page(form)


def _known_device_cookie(response, user):
    """Remember that this browser signed in to this account: it keeps signing in while others are locked out."""
    response.set_cookie(DEVICE_COOKIE, device_cookie(user.id), max_age=DEVICE_MAX_AGE, path=url_for("auth.login"),
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), httponly=True, samesite="Lax")
    return response


def sign_out_this_browser():
    """End this browser's session and its remember-me token, and drop both cookies."""
    remember.forget(request.cookies.get(REMEMBER_COOKIE))
    auth_sessions.end_current()
    g.remember_cookie = None
    flash("You are signed out.", "info")
    return htmx.redirect(url_for("auth.login"))


@bp.post("/logout")
def logout():
    return sign_out_this_browser()


@bp.route("/password", methods=["GET", "POST"])
@limiter.limit(PASSWORD_ATTEMPTS, key_func=account_key, methods=["POST"], deduct_when=failed)
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
            # A changed password must lock out whoever else knew the old one.
            ended = auth_sessions.revoke_others(current_user.id, auth_sessions.current_session_id())
            flash("Your password is changed." + (f" {ended} other sign-in(s) were ended." if ended else ""), "success")
            return htmx.redirect(url_for("dashboard.index"))
    if request.method == "POST":
        return form_error_response("auth/password.html", "auth/_password_form.html", form=form)
    return htmx.render_page_or_fragment("auth/password.html", "auth/_password_form.html", form=form)


# -- Sign in with Plex ----------------------------------------------------------------------------
def _external(path: str) -> str:
    base = current_app.config.get("MEDIANEST_BASE_URL") or request.host_url.rstrip("/")
    return base + path


@bp.post("/plex")
@limiter.limit(SIGN_IN, key_func=ip_key)
def plex_start():
    """Create a PIN at plex.tv, bind it to this browser, and send the browser to Plex's sign-in app."""
    if current_user.is_authenticated:
        return htmx.redirect(url_for("dashboard.index"))
    form = PlexSignInForm(prefix="plex")
    next_path = safe_next(request.args.get("next"))
    try:
        started = plex_auth.begin(lambda pin_id: _external(url_for("auth.plex_callback", pin=pin_id)))
    except plex_auth.PlexSignInError as err:
        return _login_page(status=err.status, plex_error=err.message)
    cookie[PIN_KEY] = {"id": started.pin_id, "nonce": started.nonce, "next": next_path,
                       "remember": bool(form.remember.data)}
    if htmx.is_htmx():
        return htmx.redirect(started.auth_url)
    # Without htmx: a page that moves on by itself. A 303 to plex.tv after a form POST would be blocked by
    # the CSP's form-action 'self' in browsers that apply it to redirects.
    resp = make_response(render_template("auth/plex_continue.html", auth_url=started.auth_url))
    resp.headers["Refresh"] = f"0; url={started.auth_url}"
    return resp


def _plex_status(state: str, *, status: int = 200, pin_id=None, attempt: int = 0, message: str | None = None,
                 kind: str | None = None):
    return htmx.render_page_or_fragment(
        "auth/plex.html", "auth/_plex_status.html", status=status, state=state, pin_id=pin_id, attempt=attempt,
        message=message, kind=kind, plex_form=PlexSignInForm(prefix="plex"),
    )


@bp.get("/plex/callback")
@limiter.limit(PLEX_CHECK, key_func=ip_key)
def plex_callback():
    """Where Plex sends the browser back; also the "waiting for Plex…" poll. Asks plex.tv once per request."""
    if current_user.is_authenticated:
        return htmx.redirect(url_for("dashboard.index"))
    pending = cookie.get(PIN_KEY)
    pin_id = request.args.get("pin", type=int)
    attempt = max(0, min(request.args.get("attempt", 0, type=int), MAX_PLEX_POLLS))
    if not isinstance(pending, dict) or pin_id is None or pending.get("id") != pin_id:
        err = plex_auth.error("not_this_browser")
        return _plex_status("error", status=err.status, message=err.message, kind=err.kind)
    try:
        user = plex_auth.check(pin_id, pending.get("nonce"))
    except plex_auth.PlexSignInError as err:
        retryable = err.kind in ("unreachable", "bad_answer", "server_unreachable")
        if not retryable:
            cookie.pop(PIN_KEY, None)
        return _plex_status("retry" if retryable else "error", status=err.status, pin_id=pin_id, message=err.message,
                            kind=err.kind)
    if user is None:
        if attempt >= MAX_PLEX_POLLS:
            return _plex_status("retry", pin_id=pin_id, attempt=attempt,
                                message="Plex has not confirmed the sign-in yet.")
        return _plex_status("waiting", pin_id=pin_id, attempt=attempt + 1)
    _sign_in(user, remember_me=bool(pending.get("remember")))
    flash(f"Welcome, {user.display_name}.", "success")
    return htmx.redirect(pending.get("next") or url_for("dashboard.index"))


# -- one-time password-reset links ------------------------------------------------------------------
def _reset_invalid():
    return htmx.render_page_or_fragment("auth/reset_invalid.html", "auth/_reset_invalid.html", status=404)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(SIGN_IN, key_func=ip_key, methods=["POST"])
def reset_password(token):
    user = users.reset_token_user(token)
    if user is None:
        return _reset_invalid()
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = users.reset_password(token, form.new_password.data, form.confirm_password.data)
        except ServiceError as err:
            if err.status == 404:
                return _reset_invalid()
            getattr(form, err.field or "new_password").errors.append(err.message)
        else:
            _sign_in(user, remember_me=False)
            flash("Your new password is saved and you are signed in.", "success")
            return htmx.redirect(url_for("dashboard.index"))
    context = {"form": form, "token": token, "reset_user": user}
    if request.method == "POST":
        return form_error_response("auth/reset.html", "auth/_reset_form.html", **context)
    return htmx.render_page_or_fragment("auth/reset.html", "auth/_reset_form.html", **context)
