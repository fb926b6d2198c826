"""Server-side sign-in sessions: one `sessions` row per signed-in browser.

The browser's (signed) cookie carries only a random token; the database keeps its SHA-256.
Deleting the row signs that browser out on its next request.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from flask import session as cookie

from medianest.extensions import db
from medianest.models import Session, User
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(days=7)
COOKIE_KEY = "sid"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User) -> str:
    """Create a session row for `user` and put its token in this browser's cookie."""
    token = secrets.token_urlsafe(32)
    row = Session(session_token=token_hash(token), user_id=user.id, expires=utcnow() + SESSION_LIFETIME)
    db.session.add(row)
    user.last_login_at = utcnow()
    db.session.commit()
    cookie.clear()
    cookie[COOKIE_KEY] = token
    cookie.permanent = False
    log.info("session %s started for user %s", row.id, user.id)
    return token


def current_row() -> Session | None:
    token = cookie.get(COOKIE_KEY)
    if not token or not isinstance(token, str):
        return None
    row = db.session.scalar(db.select(Session).where(Session.session_token == token_hash(token)))
    if row is None or row.expires <= utcnow():
        return None
    return row


def load_user() -> User | None:
    """The active user behind this browser's session cookie, or None."""
    row = current_row()
    if row is None:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return user


def end_current():
    row = current_row()
    if row is not None:
        db.session.delete(row)
        db.session.commit()
    cookie.clear()


def end_all_for(user_id) -> int:
    deleted = db.session.execute(db.delete(Session).where(Session.user_id == user_id)).rowcount
    db.session.commit()
    return deleted
