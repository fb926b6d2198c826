"""Server-side sign-in sessions: one `sessions` row per signed-in browser.

The browser's (signed) cookie carries only a random token; the database keeps its SHA-256.
Deleting the row signs that browser out on its next request, HTMX requests included. A user whose
status is no longer `active` is signed out the same way. Each row remembers the browser, the IP address,
when it started and when it was last seen (written at most once a minute, not on every request).
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import session as cookie

from medianest import session_cache, versions
from medianest.extensions import db
from medianest.models import Session, SessionToken, User
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(days=7)
LAST_SEEN_EVERY = timedelta(seconds=60)
COOKIE_KEY = "sid"
USER_KEY = "uid"  # beside the token, so the cached session and its user are read in one round trip
USER_AGENT_MAX = 500
IP_MAX = 45

# Why a browser that carried a session cookie is signed out (shown once on the sign-in page).
ENDED = "ended"
SUSPENDED = "suspended"
END_MESSAGES = {
    ENDED: "You were signed out. Sign in again to continue.",
    SUSPENDED: "This account is not active any more. Ask an admin if you think this is a mistake.",
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clean_ip(ip: str | None) -> str | None:
    return (ip or "")[:IP_MAX] or None


def clean_user_agent(user_agent: str | None) -> str | None:
    text = re.sub(r"[\x00-\x1f\x7f]", "", user_agent or "").strip()
    return text[:USER_AGENT_MAX] or None


def start(user: User, *, ip: str | None = None, user_agent: str | None = None, remember_token_id=None,
          fresh_cookie: bool = True) -> str:
    """Create a session row for `user` and put its token in this browser's cookie.

    A sign-in starts from an empty cookie (no session fixation); a remember-me restore keeps the rest of the
    cookie (e.g. the CSRF token of pages already open) and only sets the new session token.
    """
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = Session(session_token=token_hash(token), user_id=user.id, expires=now + SESSION_LIFETIME,
                  created_at=now, last_seen_at=now, ip_address=clean_ip(ip), user_agent=clean_user_agent(user_agent),
                  remember_token_id=remember_token_id)
    db.session.add(row)
    user.last_login_at = now
    db.session.commit()
    if fresh_cookie:
        cookie.clear()
    cookie[COOKIE_KEY] = token
    cookie[USER_KEY] = str(user.id)
    cookie.permanent = False
    log.info("session %s started for user %s", row.id, user.id)
    return token


def _cookie_token() -> str | None:
    token = cookie.get(COOKIE_KEY)
    return token if isinstance(token, str) and token else None


def current_row() -> Session | None:
    token = _cookie_token()
    if token is None:
        return None
    row = db.session.scalar(db.select(Session).where(Session.session_token == token_hash(token)))
    if row is None or row.expires <= utcnow():
        return None
    return row


def current_session_id():
    """The id of this browser's session row, or None."""
    row = current_row()
    return row.id if row is not None else None


def resolve(*, ip: str | None = None) -> tuple[User | None, str | None]:
    """(the active user behind this browser's cookie, None) or (None, why the browser was signed out).

    With Redis, one cache round trip (medianest.session_cache) when the session was seen in the last minute;
    otherwise one query (session joined with its user), whose answer is then cached.
    The reason is None when there was no session cookie at all.
    """
    token = _cookie_token()
    if token is None:
        return None, None
    digest = token_hash(token)
    now = utcnow()
    entry, tokens, _ = session_cache.read(digest, cookie.get(USER_KEY))
    if session_cache.usable(entry, now, LAST_SEEN_EVERY):
        return session_cache.user_from(entry), None
    if tokens is None and cookie.get(USER_KEY):  # first sight of this session: make its versions, then read them
        versions.ensure(session_cache.version_keys(digest, cookie[USER_KEY]))
        _, tokens, _ = session_cache.read(digest, cookie[USER_KEY])
    found = db.session.execute(
        db.select(Session, User).join(User, Session.user_id == User.id).where(Session.session_token == digest)
    ).first()
    if found is None or found[0].expires <= now:
        cookie.pop(COOKIE_KEY, None)
        return None, ENDED
    row, user = found
    if not user.is_active:
        cookie.pop(COOKIE_KEY, None)
        return None, SUSPENDED
    if cookie.get(USER_KEY) != str(user.id):
        cookie[USER_KEY] = str(user.id)
    write_seen = row.last_seen_at is None or now - row.last_seen_at >= LAST_SEEN_EVERY
    session_cache.store(digest, tokens, user, row.expires, now if write_seen else row.last_seen_at)
    if write_seen:
        row.last_seen_at = now
        if ip:
            row.ip_address = clean_ip(ip)
        db.session.commit()  # "last seen" changes no data version: the cached entry stays current
    return user, None


def load_user() -> User | None:
    """The active user behind this browser's session cookie, or None."""
    return resolve()[0]


def end_current():
    """Sign this browser out: its session row and the remember-me token issued to it."""
    row = current_row()
    if row is not None:
        _delete_sessions(db.select(Session.id).where(Session.id == row.id))
        db.session.commit()
        log.info("session %s ended by its user", row.id)
    cookie.clear()


def end_all_for(user_id) -> int:
    """Sign every browser of this user out, remember-me tokens included."""
    deleted = db.session.execute(db.delete(Session).where(Session.user_id == user_id)).rowcount
    db.session.execute(db.delete(SessionToken).where(SessionToken.user_id == user_id))
    db.session.commit()
    log.info("all %d session(s) of user %s ended", deleted, user_id)
    return deleted


# -- "Your sessions" --------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionView:
    id: object
    browser: str
    ip_address: str | None
    created_at: datetime
    last_seen_at: datetime | None
    current: bool
    remembered: bool


def list_for(user_id, current_id=None) -> list[SessionView]:
    """The user's live sessions, this browser first, then the most recently seen. One query."""
    rows = db.session.scalars(
        db.select(Session).where(Session.user_id == user_id, Session.expires > utcnow())
        .order_by(Session.last_seen_at.desc().nulls_last(), Session.created_at.desc())
    ).all()
    views = [
        SessionView(id=r.id, browser=describe_user_agent(r.user_agent), ip_address=r.ip_address,
                    created_at=r.created_at, last_seen_at=r.last_seen_at, current=r.id == current_id,
                    remembered=r.remember_token_id is not None)
        for r in rows
    ]
    return sorted(views, key=lambda v: not v.current)


def revoke(user_id, session_id) -> bool:
    """Sign out one of the user's own sessions. False when no such session belongs to this user."""
    owned = db.select(Session.id).where(Session.id == session_id, Session.user_id == user_id)
    if db.session.scalar(owned) is None:
        return False
    _delete_sessions(owned)
    db.session.commit()
    log.info("session %s of user %s revoked", session_id, user_id)
    return True


def revoke_others(user_id, keep_session_id) -> int:
    """Sign out every other browser of this user, with their remember-me tokens. Returns how many."""
    keep_token = db.session.scalar(db.select(Session.remember_token_id).where(Session.id == keep_session_id,
                                                                              Session.user_id == user_id))
    others = db.select(Session.id).where(Session.user_id == user_id, Session.id != keep_session_id)
    count = len(db.session.scalars(others).all())
    db.session.execute(db.delete(Session).where(Session.id.in_(others)))
    tokens = db.delete(SessionToken).where(SessionToken.user_id == user_id)
    if keep_token is not None:
        tokens = tokens.where(SessionToken.id != keep_token)
    db.session.execute(tokens)
    db.session.commit()
    log.info("user %s signed out %d other session(s)", user_id, count)
    return count


def _delete_sessions(ids_select):
    """Delete sessions (by a select of their ids) and the remember-me tokens issued to those browsers."""
    token_ids = [t for t in db.session.scalars(db.select(Session.remember_token_id).where(Session.id.in_(ids_select)))
                 if t is not None]
    db.session.execute(db.delete(Session).where(Session.id.in_(ids_select)))
    if token_ids:
        db.session.execute(db.delete(SessionToken).where(SessionToken.id.in_(token_ids)))


# -- a readable browser name from a User-Agent -------------------------------------------------
_BROWSERS = (
    ("Edge", r"\bEdg(?:e|A|iOS)?/"),
    ("Opera", r"\bOPR/|\bOpera\b"),
    ("Samsung Internet", r"\bSamsungBrowser/"),
    ("Firefox", r"\bFirefox/|\bFxiOS/"),
    ("Chromium", r"\bChromium/"),
    ("Chrome", r"\bChrome/|\bCriOS/|HeadlessChrome/"),
    ("Safari", r"\bSafari/"),
    ("curl", r"^curl/"),
)
_SYSTEMS = (
    ("iPhone", r"\biPhone\b"),
    ("iPad", r"\biPad\b"),
    ("Android", r"\bAndroid\b"),
    ("ChromeOS", r"\bCrOS\b"),
    ("Windows", r"\bWindows\b"),
    ("macOS", r"\bMac OS X\b|\bMacintosh\b"),
    ("Linux", r"\bLinux\b|\bX11\b"),
)


def describe_user_agent(user_agent: str | None) -> str:
    """'Firefox on Windows', 'Safari on iPhone', or 'Unknown browser'."""
    ua = user_agent or ""
    browser = next((name for name, pattern in _BROWSERS if re.search(pattern, ua)), None)
    system = next((name for name, pattern in _SYSTEMS if re.search(pattern, ua)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"A browser on {system}" if system else "Unknown browser")
