"""The signed-in session, resolved from one Redis round trip instead of the database.

An entry (`medianest:auth:<token hash>`) holds the session's user id, expiry and last-seen time and the user's
columns (never a secret), together with the data versions of the session row, the user row and both tables at
the moment it was read from the database. One MGET reads the entry and those versions; the entry counts only
while every version is unchanged, so signing a browser out, suspending a user or changing their role takes
effect on the very next request (medianest.versions replaces the tokens on every such commit).
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta

import redis
import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached

from medianest import cache, versions
from medianest.extensions import db
from medianest.models import User
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

PREFIX = "medianest:auth:"
TTL = 3600
SECRET_COLUMNS = {"password_hash", "plex_token"}
_COLUMNS = [c for c in User.__table__.columns if c.key not in SECRET_COLUMNS]


def _loader(column):
    if isinstance(column.type, sa.Uuid):
        return uuid.UUID
    if isinstance(column.type, sa.DateTime):
        return datetime.fromisoformat
    return None


_LOADERS = [(c.key, _loader(c)) for c in _COLUMNS]


def entry_key(token_hash: str) -> str:
    return PREFIX + token_hash


def version_keys(token_hash: str, user_id: str) -> list[str]:
    return [versions.table_key("sessions"), versions.row_key("sessions", token_hash),
            versions.table_key("users"), versions.row_key("users", user_id)]


def read(token_hash: str, user_id: str | None, extra: list[str] = (), *, r: redis.Redis | None = None):
    """(entry or None, the session's versions, values of `extra` keys), in one round trip.

    Versions are None when a token is missing (the caller makes them with `versions.ensure`); everything is
    None when Redis is away or the cookie names no user.
    """
    r = r or versions.client()
    if r is None or not user_id:
        return None, None, None
    keys = version_keys(token_hash, user_id)
    try:
        values = r.mget([entry_key(token_hash), *keys, *extra])
    except redis.RedisError as exc:
        cache.warn_unreachable(log, "sign-in cache not readable", exc)
        return None, None, None
    raw, found, rest = values[0], values[1:1 + len(keys)], values[1 + len(keys):]
    tokens = [v.decode() for v in found] if all(found) else None
    entry = None
    if raw is not None and tokens is not None:
        try:
            entry = json.loads(raw)
        except ValueError:
            entry = None
        if entry is not None and (entry.get("v") != tokens or entry.get("u") != user_id):
            entry = None
    return entry, tokens, rest


def usable(entry: dict | None, now: datetime, last_seen_every: timedelta) -> bool:
    """A current entry of an active user whose last-seen time does not need writing yet."""
    if not entry:
        return False
    try:
        expires, seen = datetime.fromisoformat(entry["exp"]), datetime.fromisoformat(entry["seen"])
    except (KeyError, TypeError, ValueError):
        return False
    user = entry.get("user") or {}
    return (expires > now and now - seen < last_seen_every and user.get("status") == "active"
            and not user.get("requires_password_change"))


def store(token_hash: str, tokens: list[str] | None, user: User, expires: datetime, seen: datetime | None) -> None:
    """Remember this session for its next requests, tied to the versions read before the database was."""
    r = versions.client()
    if r is None or tokens is None:
        return
    values = {c.key: _dump(getattr(user, c.key)) for c in _COLUMNS}
    entry = {"u": str(user.id), "v": tokens, "exp": expires.isoformat(), "seen": (seen or utcnow()).isoformat(),
             "user": values}
    try:
        r.set(entry_key(token_hash), json.dumps(entry), ex=TTL)
    except redis.RedisError as exc:
        cache.warn_unreachable(log, "sign-in cache not written", exc)


def user_from(entry: dict) -> User:
    """The entry's user as a persistent object of this request's database session, without a query: reading a
    column that is not cached (a secret) or a relationship loads it as usual."""
    cached = entry["user"]
    values = {key: (load(cached[key]) if load and cached.get(key) is not None else cached.get(key))
              for key, load in _LOADERS}
    key = db.session.identity_key(User, values["id"])
    existing = db.session.identity_map.get(key)
    if existing is not None:
        return existing
    user = User(**values)
    make_transient_to_detached(user)
    db.session.add(user)
    return user


def _dump(value):
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value

