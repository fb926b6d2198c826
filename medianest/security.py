"""Security headers, rate-limit keys and authorization helpers."""
from __future__ import annotations

import functools

from flask import abort, request
from flask_login import current_user
from werkzeug.datastructures import ImmutableMultiDict

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def rate_limit_key() -> str:
    """The signed-in user's id, else the client address (ProxyFix has already applied trusted hops)."""
    if current_user and getattr(current_user, "is_authenticated", False):
        return f"user:{current_user.id}"
    return client_ip()


def client_ip() -> str:
    return request.remote_addr or "unknown"


SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


def set_security_headers(response):
    h = response.headers
    for name, value in SECURITY_HEADERS:
        h.setdefault(name, value)
    if request.is_secure:
        h.setdefault("Strict-Transport-Security", "max-age=31536000")
    if "Cache-Control" not in h and response.mimetype == "text/html":
        h["Cache-Control"] = "no-store"
    return response


def admin_required(view):
    """404 for non-admins: admin pages do not admit they exist."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not (current_user.is_authenticated and current_user.is_admin):
            abort(404)
        return view(*args, **kwargs)

    return wrapper


WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
JSON_BLUEPRINTS = {"webhooks"}  # the only routes that read a JSON body; everything else takes forms


def _has_nul(values) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


def refuse_odd_input():
    """Deal, up front, with input no MediaNest route can use, instead of failing deep inside one (a 500):

    - NUL characters in the query string are dropped (PostgreSQL refuses NUL in text, so a search or filter
      holding one would fail inside its query; searches already ignore control characters);
    - a NUL character in a form field is a 400: no form of ours can hold one;
    - a JSON body where a form is expected is a 415: Flask-WTF would read a JSON list or string as form data
      and fail; only the webhooks take JSON.
    """
    if _has_nul(request.args):
        request.args = ImmutableMultiDict([(k.replace("\x00", ""), v.replace("\x00", ""))
                                           for k, v in request.args.items(multi=True)])
    if request.method not in WRITE_METHODS or request.url_rule is None:
        return
    if request.is_json and request.blueprint not in JSON_BLUEPRINTS:
        abort(415)
    if _has_nul(request.form):
        abort(400)


def limits_before_csrf(app):
    """Make rate limits apply before the CSRF check, so a flood of token-less POSTs is limited like any other.

    Flask-WTF's check is a before_request hook registered before Flask-Limiter's, and a route's own limits
    (`@limiter.limit`) are only checked when its view runs, which a refused CSRF token never reaches. So the
    CSRF hook moves behind the limiter's hook, and when it refuses a request (or its body is too large to
    read) the route's own limits are checked first: over a limit, the answer is 429, not 400.
    """
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import RequestEntityTooLarge

    from medianest.extensions import limiter

    hooks = app.before_request_funcs.setdefault(None, [])
    csrf_hook = next((f for f in hooks if getattr(f, "__name__", "") == "csrf_protect"), None)
    limiter_hook = next((f for f in hooks if getattr(f, "__func__", None) is type(limiter)._check_request_limit), None)
    if csrf_hook is None or limiter_hook is None:
        return

    def csrf_after_rate_limits():
        try:
            return csrf_hook()
        except (CSRFError, RequestEntityTooLarge):
            try:
                limiter._check_request_limit(in_middleware=False)
            except RequestEntityTooLarge:  # a limit keyed by a form field of a body too large to read
                pass
            raise

    hooks.remove(csrf_hook)
    hooks.insert(hooks.index(limiter_hook) + 1, csrf_after_rate_limits)


def init_app(app):
    app.before_request(refuse_odd_input)
    app.after_request(set_security_headers)
    limits_before_csrf(app)
