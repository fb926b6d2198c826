"""Security headers, rate-limit keys and authorization helpers."""
from __future__ import annotations

import functools

from flask import abort, request
from flask_login import current_user

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


def set_security_headers(response):
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
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


def init_app(app):
    app.after_request(set_security_headers)
