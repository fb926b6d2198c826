"""A small cache: Redis when REDIS_URL is set, an in-process dict otherwise (embedded mode).

Values are JSON-serialisable. User data is never cached under a key shared across users: callers
put the user id in the key. Redis errors are logged and treated as a miss, never as a failure.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import current_app

log = logging.getLogger(__name__)

PREFIX = "medianest:cache:"
_MISSING = object()


class MemoryBackend:
    def __init__(self, max_items: int = 5000):
        self._data: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self.max_items = max_items

    def get(self, key):
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value = item
            if expires < time.monotonic():
                del self._data[key]
                return None
            return value

    def get_many(self, keys):
        return [self.get(key) for key in keys]

    def add(self, key, value, ttl):
        if self.get(key) is not None:
            return False
        self.set(key, value, ttl)
        return True

    def set(self, key, value, ttl):
        with self._lock:
            if len(self._data) >= self.max_items:
                now = time.monotonic()
                for k in [k for k, (exp, _) in self._data.items() if exp < now] or list(self._data)[:100]:
                    self._data.pop(k, None)
            self._data[key] = (time.monotonic() + ttl, value)

    def delete(self, *keys):
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def clear(self):
        with self._lock:
            self._data.clear()


class RedisBackend:
    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)

    def get(self, key):
        value = self.client.get(key)
        return value.decode() if value is not None else None

    def get_many(self, keys):
        return [v.decode() if v is not None else None for v in self.client.mget(keys)] if keys else []

    def add(self, key, value, ttl):
        return bool(self.client.set(key, value, ex=max(1, int(ttl)), nx=True))

    def set(self, key, value, ttl):
        self.client.set(key, value, ex=max(1, int(ttl)))

    def delete(self, *keys):
        if keys:
            self.client.delete(*keys)

    def clear(self):
        for key in self.client.scan_iter(PREFIX + "*"):
            self.client.delete(key)


_last_warned: dict[str, float] = {}
WARN_EVERY = 30.0


def warn_unreachable(logger: logging.Logger, what: str, exc: Exception) -> None:
    """A Redis failure: one warning per kind per WARN_EVERY seconds (an outage is not a log storm), DEBUG after."""
    now = time.monotonic()
    if now - _last_warned.get(what, -WARN_EVERY) >= WARN_EVERY:
        _last_warned[what] = now
        logger.warning("%s (%s); Redis is not answering", what, type(exc).__name__)
    else:
        logger.debug("%s (%s)", what, type(exc).__name__)


def init_app(app):
    url = app.config.get("REDIS_URL")
    app.extensions["medianest_cache"] = RedisBackend(url) if url else MemoryBackend()


def key(name: str) -> str:
    """The Redis key of a cache entry (for callers that read it raw, e.g. in one MGET with other keys)."""
    return PREFIX + name


def backend():
    return current_app.extensions["medianest_cache"]


def get(key: str, default=None) -> Any:
    try:
        raw = backend().get(PREFIX + key)
    except redis.RedisError as exc:
        warn_unreachable(log, "cache read failed, treated as a miss", exc)
        return default
    return default if raw is None else json.loads(raw)


def get_many(keys: list[str]) -> list[Any]:
    """Several entries in one round trip (None for each miss)."""
    try:
        raws = backend().get_many([PREFIX + k for k in keys])
    except redis.RedisError as exc:
        warn_unreachable(log, "cache read failed, treated as a miss", exc)
        return [None] * len(keys)
    return [None if raw is None else json.loads(raw) for raw in raws]


def add(key: str, value: Any, ttl: float) -> bool:
    """Set only when absent (a short lock, e.g. "a refresh is already asked for"). False when present."""
    try:
        return backend().add(PREFIX + key, json.dumps(value, default=str), ttl)
    except redis.RedisError as exc:
        warn_unreachable(log, "cache write failed", exc)
        return False


def set(key: str, value: Any, ttl: float) -> None:  # noqa: A001  (cache.set reads naturally)
    try:
        backend().set(PREFIX + key, json.dumps(value, default=str), ttl)
    except redis.RedisError as exc:
        warn_unreachable(log, "cache write failed", exc)


def delete(*keys: str) -> None:
    try:
        backend().delete(*(PREFIX + k for k in keys))
    except redis.RedisError as exc:
        warn_unreachable(log, "cache delete failed", exc)


def get_or_set(key: str, ttl: float, compute: Callable[[], Any]) -> Any:
    value = get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        set(key, value, ttl)
    return value
