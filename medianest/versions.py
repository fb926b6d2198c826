"""Data versions in Redis: a random token per table and per row, replaced whenever a commit changes them.

Conditional polls (ETags) and the cached sign-in compare these tokens instead of asking the database whether
anything changed. They are written by SQLAlchemy session events, so no write path can forget them:
- a flushed ORM change replaces the row's token (`v:<table>:<key>`) and the table's token (`v:<table>`), except
  for updates of the ROW_ONLY tables (a session's "last seen", a user's last sign-in);
- a bulk UPDATE/DELETE statement replaces the table's token (its rows are not known).
Tokens are random, so a Redis that lost its data can never make an old ETag match again. Only with Redis
(the embedded mode has no shared cache between web and worker, and skips all of this).
"""
from __future__ import annotations

import json
import logging
import secrets

import redis
from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from medianest import cache

log = logging.getLogger(__name__)

PREFIX = "medianest:v:"
TTL = 7 * 24 * 3600  # a token nobody bumps for a week is dropped; a reader then makes a new one
# Tables whose own writes (a session's "last seen", a user's last sign-in) must not invalidate everyone else's.
ROW_ONLY = {"sessions", "users"}
# The column naming a row in its key, where it is not the primary key.
ROW_KEYS = {"sessions": "session_token"}
# Bookkeeping columns nobody's view depends on: writing only these changes no version.
UNVERSIONED = {"sessions": {"last_seen_at", "ip_address"}}
_PENDING = "medianest_versions_pending"


def client() -> redis.Redis | None:
    """The Redis client of the app's cache, or None in the embedded mode."""
    if not has_app_context():
        return None
    return getattr(current_app.extensions.get("medianest_cache"), "client", None)


def table_key(table: str) -> str:
    return f"{PREFIX}{table}"


def row_key(table: str, key) -> str:
    return f"{PREFIX}{table}:{key}"


def new_token() -> str:
    return secrets.token_hex(6)


def bump(keys) -> None:
    """Replace these tokens now. Redis errors are logged: the tokens expire on their own within a week, and a
    reader that finds none makes a new one, so a lost bump costs at most stale polls until then."""
    r = client()
    if r is None or not keys:
        return
    try:
        pipe = r.pipeline(transaction=False)
        for key in keys:
            pipe.set(key, new_token(), ex=TTL)
        pipe.execute()
    except redis.RedisError as exc:
        cache.warn_unreachable(log, "data versions not updated", exc)


def ensure(keys, *, r: redis.Redis | None = None) -> None:
    """Give a token to each of these keys that has none (a reader found them missing)."""
    r = r or client()
    if r is None:
        return
    try:
        pipe = r.pipeline(transaction=False)
        for key in keys:
            pipe.set(key, new_token(), ex=TTL, nx=True)
        pipe.execute()
    except redis.RedisError as exc:
        cache.warn_unreachable(log, "data versions not created", exc)


# -- session events -----------------------------------------------------------------------------
def _row_keys_of(obj, *, updated: bool = False) -> list[str]:
    table = getattr(obj, "__tablename__", None)
    if table is None:
        return []
    state = inspect(obj)
    column = ROW_KEYS.get(table)
    if column is not None:
        value = getattr(obj, column, None) if not state.expired else None
        keys = [row_key(table, value)] if value else []
    else:
        identity = state.mapper.primary_key_from_instance(obj)
        keys = [row_key(table, identity[0])] if identity and identity[0] is not None else []
    if not (updated and table in ROW_ONLY):
        keys.append(table_key(table))
    return keys


def _pending(session) -> set:
    return session.info.setdefault(_PENDING, set())


def _after_flush(session, _flush_context):
    if client() is None:
        return
    pending = _pending(session)
    for obj in session.dirty:
        if _changed(obj):
            pending.update(_row_keys_of(obj, updated=True))
    for obj in (*session.new, *session.deleted):
        pending.update(_row_keys_of(obj))


def _changed(obj) -> bool:
    state = inspect(obj)
    ignored = UNVERSIONED.get(getattr(obj, "__tablename__", None), ())
    return any(attr.history.has_changes() for attr in state.attrs if attr.key not in ignored)


def _after_bulk(orm_execute_state):
    if client() is None or orm_execute_state.is_select:
        return
    table = getattr(orm_execute_state.statement, "table", None)
    name = getattr(table, "name", None)
    if name:
        _pending(orm_execute_state.session).add(table_key(name))


def _after_commit(session):
    keys = session.info.pop(_PENDING, None)
    if keys:
        bump(keys)


def _after_rollback(session):
    session.info.pop(_PENDING, None)


def init_app(app) -> None:
    if event.contains(Session, "after_flush", _after_flush):
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _after_bulk)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", lambda session, _tx: _after_rollback(session))


# -- values cached until a table changes ----------------------------------------------------------
VALUE_PREFIX = "medianest:vc:"


def cached(name: str, tables: list[str], compute, ttl: int = 3600):
    """`compute()`, remembered until one of `tables` changes: one MGET on a hit. The versions are read before
    computing, so a change during the computation only costs one more computation. Without Redis (or when it
    is away) it simply computes."""
    r = client()
    if r is None:
        return compute()
    keys = [table_key(t) for t in tables]
    try:
        raw, *found = r.mget([VALUE_PREFIX + name, *keys])
    except redis.RedisError as exc:
        cache.warn_unreachable(log, "cached value not readable", exc)
        return compute()
    if not all(found):  # first use of these tables' versions: make them, then read them back
        ensure([k for k, v in zip(keys, found) if v is None])
        try:
            found = r.mget(keys)
        except redis.RedisError:
            return compute()
        if not all(found):
            return compute()
    tokens = [v.decode() for v in found]
    if raw is not None:
        entry = json.loads(raw)
        if entry.get("v") == tokens:
            return entry["value"]
    value = compute()
    try:
        r.set(VALUE_PREFIX + name, json.dumps({"v": tokens, "value": value}), ex=ttl)
    except redis.RedisError as exc:
        cache.warn_unreachable(log, "cached value not written", exc)
    return value
