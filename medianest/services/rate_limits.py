"""Rate limits: what MediaNest limits with Flask-Limiter, who a limit counts, and the breach record.

- Every sign-in POST (password, Plex, reset link): SIGN_IN per client IP.
- Password sign-in: failed tries count per (account, client address), PASSWORD_ATTEMPTS, so a stranger only
  locks out their own address; and per account from anywhere, ACCOUNT_ATTEMPTS, a slower limit against
  guessing spread over many addresses. A browser that signed in to that account before (a signed "known
  device" cookie) counts on its own instead of per address and is exempt from the account-wide limit, so the
  owner keeps signing in while someone else hammers the account. `unlock_sign_in` (the CLI's `users unlock`,
  the admin's button) starts every counter of an account afresh: the counters are keyed by
  users.sign_in_unlocks. Successful tries are never counted.
- Password change: PASSWORD_ATTEMPTS failed tries per signed-in user.
- The Plex sign-in status check (it asks plex.tv): PLEX_CHECK per client IP.
- Everything else: the generous MEDIANEST_RATELIMIT_DEFAULT per user (per IP when signed out), from config.py.
- Read-only poll endpoints are exempt (`@limiter.exempt`) so an open tab never runs into a limit.

The client IP is `request.remote_addr` after ProxyFix, which create_app applies only for
MEDIANEST_TRUSTED_PROXIES hops: with 0, X-Forwarded-For is ignored and cannot be spoofed. Storage is Redis
in production (memory in embedded mode); when Redis is down Flask-Limiter falls back to memory
(RATELIMIT_IN_MEMORY_FALLBACK_ENABLED) and logs "Rate limit storage unreachable". A breach answers 429
(views/errors.py) and is recorded in `rate_limits`: who (a user or an IP), endpoint, count, window start.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

from flask import current_app, g, request
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer

from medianest.extensions import db, limiter
from medianest.models import RateLimit, User
from medianest.security import client_ip
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

SIGN_IN = "10 per minute"
PASSWORD_ATTEMPTS = "10 per 15 minutes"
ACCOUNT_ATTEMPTS = "20 per hour"
DEVICE_COOKIE = "medianest_device"
DEVICE_MAX_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie
PLEX_CHECK = "60 per minute"
WHO_MAX = 255


def ip_key() -> str:
    """The client address (after the trusted proxy hops only)."""
    return client_ip()


def account_key() -> str:
    """The account a password attempt is for: the email typed in, else the signed-in user."""
    email = request.form.get("email", "")
    if isinstance(email, str) and email.strip():
        return "account:" + email.strip().lower()[:200]
    if getattr(current_user, "is_authenticated", False):
        return f"user:{current_user.id}"
    return client_ip()


def _typed_email() -> str | None:
    email = request.form.get("email", "")
    return email.strip().lower()[:200] if isinstance(email, str) and email.strip() else None


def _account(email: str) -> tuple[str, object]:
    """(the account's limiter key, its user id or None) for the email typed; one query per request."""
    cached = g.get("sign_in_account")
    if cached is None or cached[0] != email:
        found = db.session.execute(db.select(User.id, User.sign_in_unlocks).where(User.email == email)).first()
        user_id, unlocks = (found.id, found.sign_in_unlocks or 0) if found else (None, 0)
        key = f"account:{email}" + (f"#{unlocks}" if unlocks else "")
        cached = g.sign_in_account = (email, key, user_id)
    return cached[1], cached[2]


def _devices() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="medianest-known-device")


def device_cookie(user_id) -> str:
    """The signed "this browser signed in to this account before" value (no secret in it)."""
    import secrets

    return _devices().dumps({"u": str(user_id), "d": secrets.token_urlsafe(9)})


def _known_device(user_id) -> str | None:
    """This browser's device id when its cookie vouches for `user_id`."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or user_id is None or len(raw) > 300:
        return None
    try:
        data = _devices().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != str(user_id):
        return None
    return str(data.get("d") or "")[:20] or None


def sign_in_key() -> str:
    """Failed password sign-ins: per account and client address (per device for a known browser)."""
    email = _typed_email()
    if email is None:
        return client_ip()
    key, user_id = _account(email)
    device = _known_device(user_id)
    return f"{key}|device:{device}" if device else f"{key}|{client_ip()}"


def sign_in_account_key() -> str:
    """Failed password sign-ins per account, from any address."""
    email = _typed_email()
    return _account(email)[0] if email else client_ip()


def known_device() -> bool:
    """exempt_when of the account-wide limit: this browser signed in to the account typed before."""
    email = _typed_email()
    return bool(email) and _known_device(_account(email)[1]) is not None


def unlock_sign_in(user_id) -> User:
    """Clear every password lockout of this account (all addresses, the account-wide limit). Commits."""
    from medianest.services import ServiceError

    user = db.session.get(User, user_id)
    if user is None:
        raise ServiceError("No such user.", status=404)
    user.sign_in_unlocks = (user.sign_in_unlocks or 0) + 1
    db.session.commit()
    log.info("user %s: password sign-in lockouts cleared", user.id)
    return user


def failed(response) -> bool:
    """deduct_when for password attempts: only answers that refused the attempt count."""
    return response.status_code >= 400


# -- breach records ------------------------------------------------------------------------------
def record_breach(who: str, endpoint: str, *, limit_amount: int, window_seconds: int,
                  window_start: datetime | None = None) -> RateLimit:
    """Count one refused request: one row per (who, endpoint, window), its request_count going up. Commits."""
    who = (who or "unknown")[:WHO_MAX]
    endpoint = (endpoint or "unknown")[:255]
    now = utcnow()
    start = window_start or now
    row = db.session.scalar(
        db.select(RateLimit).where(RateLimit.user_id == who, RateLimit.endpoint == endpoint,
                                   RateLimit.window_start > now - timedelta(seconds=window_seconds))
        .order_by(RateLimit.window_start.desc()).limit(1)
    )
    if row is None:
        row = RateLimit(user_id=who, endpoint=endpoint, request_count=limit_amount + 1, window_start=start)
        db.session.add(row)
        log.warning("rate limit %d per %ds breached by %s on %s", limit_amount, window_seconds, who, endpoint)
    else:
        row.request_count = (row.request_count or limit_amount) + 1
    db.session.commit()
    return row


def record_request_breach(exc) -> int | None:
    """Record the breach behind a RateLimitExceeded raised for this request; returns seconds until retry.

    Never raises: the 429 must go out even when the database or the limiter storage misbehave.
    """
    runtime_limit = getattr(exc, "limit", None)
    if runtime_limit is None:
        return None
    item = runtime_limit.limit
    window_seconds = int(item.get_expiry())
    retry_after = None
    window_start = None
    try:
        current = limiter.current_limit
        if current is not None:
            reset_at = current.reset_at
            retry_after = max(1, int(reset_at - time.time()))
            window_start = datetime.fromtimestamp(reset_at - window_seconds, timezone.utc).replace(tzinfo=None)
    except Exception:  # limiter storage trouble: the breach is still recorded, without a window
        log.warning("rate limit window unknown for %s", request.endpoint)
    try:
        who = runtime_limit.key_func()
    except Exception:
        who = client_ip()
    try:
        db.session.rollback()
        record_breach(who, request.endpoint or request.path, limit_amount=item.amount, window_seconds=window_seconds,
                      window_start=window_start)
    except Exception:
        db.session.rollback()
        log.exception("could not record a rate-limit breach")
    return retry_after


def recent_breaches(limit: int = 100) -> list[RateLimit]:
    return list(db.session.scalars(db.select(RateLimit).order_by(RateLimit.window_start.desc()).limit(limit)))
