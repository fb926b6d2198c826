"""Remember me: `session_tokens` exactly as the data model says.

A random token lives in a long-lived cookie; only its SHA-256 is stored, with a 90-day expiry. Each token
works once: using it signs the browser in again (a new `sessions` row), stamps `last_used_at` and issues a
fresh token for the cookie. A used token is kept (until it expires) so that if it is ever presented again
we know a copy exists somewhere: that is treated as theft, and all of that user's remember-me tokens and
sessions are revoked and the user is told. Browsers that fire several requests at once (restoring tabs)
present the same token together; a second use within REUSE_GRACE signs in without a new token instead of
raising the alarm.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from medianest.extensions import db
from medianest.models import Session, SessionToken, User
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

LIFETIME = timedelta(days=90)
REUSE_GRACE = timedelta(seconds=10)
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 128

THEFT_TITLE = "You were signed out everywhere"
THEFT_MESSAGE = (
    "A saved sign-in for your account was used twice, which can mean someone copied it from one of your "
    "browsers. To be safe, MediaNest signed you out on every device. Sign in again; if this keeps "
    "happening, check the devices you use and change your passwords."
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(user_id) -> tuple[str, uuid.UUID]:
    """A new remember-me token for this user: (the token for the cookie, its row id). Commits."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = SessionToken(id=uuid.uuid4(), user_id=user_id, token_hash=_hash(token), expires_at=utcnow() + LIFETIME)
    db.session.add(row)
    db.session.commit()
    log.info("remember-me token %s issued for user %s", row.id, user_id)
    return token, row.id


@dataclass(frozen=True)
class Use:
    """The outcome of presenting a remember-me cookie."""

    user: User | None = None
    new_token: str | None = field(default=None, repr=False)  # None: keep the cookie as it is (grace) or drop it
    token_id: uuid.UUID | None = None
    theft: bool = False
    reason: str | None = None  # why a known token no longer signs in, for the sign-in page (plex_auth.ACCESS_LOST)

    @property
    def ok(self) -> bool:
        return self.user is not None


def use(token: str) -> Use:
    """Sign in with a remember-me token: rotate it, or detect reuse. Never raises for bad input."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return Use()
    now = utcnow()
    found = db.session.execute(
        db.select(SessionToken, User).join(User, SessionToken.user_id == User.id)
        .where(SessionToken.token_hash == _hash(token))
    ).first()
    if found is None:
        return Use()
    row, user = found
    if row.expires_at <= now:
        return Use(reason=_why_ended(user))
    if row.last_used_at is not None:
        if now - row.last_used_at <= REUSE_GRACE and user.is_active:
            log.info("remember-me token %s presented again within the grace period", row.id)
            return Use(user=user)
        revoke_everything(user.id, reason="remember-me token reused")
        _tell(user.id)
        return Use(theft=True)
    if not user.is_active:
        return Use()
    from medianest.services import plex_auth

    if not plex_auth.access_still_there(user):  # re-checked at every remember-me sign-in (at most every 10 min)
        return Use(reason=plex_auth.ACCESS_LOST)
    # Claim the token atomically: of two racing requests only one rotates it.
    claimed = db.session.execute(
        db.update(SessionToken).where(SessionToken.id == row.id, SessionToken.last_used_at.is_(None))
        .values(last_used_at=now)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return Use(user=user)
    new_token = secrets.token_urlsafe(TOKEN_BYTES)
    new_row = SessionToken(id=uuid.uuid4(), user_id=user.id, token_hash=_hash(new_token), expires_at=now + LIFETIME)
    db.session.add(new_row)
    db.session.commit()
    log.info("remember-me token %s used by user %s; rotated to %s", row.id, user.id, new_row.id)
    return Use(user=user, new_token=new_token, token_id=new_row.id)


def forget(token: str | None) -> None:
    """Delete the row of a token this browser is giving up (sign-out)."""
    if isinstance(token, str) and token and len(token) <= MAX_TOKEN_LENGTH:
        db.session.execute(db.delete(SessionToken).where(SessionToken.token_hash == _hash(token)))
        db.session.commit()


def _why_ended(user: User) -> str | None:
    from medianest.services import plex_auth

    return plex_auth.ACCESS_LOST if user.plex_access_lost_at is not None else None


def revoke_everything(user_id, *, reason: str, keep_tombstones: bool = False) -> None:
    """Every remember-me token and every session of this user, at once.

    With keep_tombstones the tokens are expired instead of deleted (retention removes them later), so a browser
    presenting one can still be told why it was signed out."""
    sessions = db.session.execute(db.delete(Session).where(Session.user_id == user_id)).rowcount
    if keep_tombstones:
        tokens = db.session.execute(db.update(SessionToken).where(SessionToken.user_id == user_id)
                                    .values(expires_at=utcnow())).rowcount
    else:
        tokens = db.session.execute(db.delete(SessionToken).where(SessionToken.user_id == user_id)).rowcount
    db.session.commit()
    log.warning("user %s: %s; revoked %d session(s) and %d remember-me token(s)", user_id, reason, sessions, tokens)


def _tell(user_id) -> None:
    from medianest.services import notifications

    notifications.notify(user_id, THEFT_TITLE, THEFT_MESSAGE, type="warning", metadata={"event": "remember_token_reuse"})
