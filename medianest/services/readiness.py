"""Readiness: can this process reach the database, Redis and the worker queue?"""
from __future__ import annotations

import logging

from flask import current_app

from medianest.extensions import db

log = logging.getLogger(__name__)


def _database() -> dict:
    try:
        db.session.execute(db.text("SELECT 1"))
        return {"ok": True}
    except Exception as exc:
        db.session.rollback()
        log.warning("readiness: database unreachable (%s)", type(exc).__name__)
        return {"ok": False, "error": "database unreachable"}


def _redis() -> dict | None:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
        return {"ok": True}
    except redis.RedisError as exc:
        log.warning("readiness: redis unreachable (%s)", type(exc).__name__)
        return {"ok": False, "error": "redis unreachable"}


def _queue() -> dict:
    from medianest.worker import huey

    try:
        return {"ok": True, "pending": huey.pending_count()}
    except Exception as exc:
        log.warning("readiness: worker queue unreachable (%s)", type(exc).__name__)
        return {"ok": False, "error": "worker queue unreachable"}


def check_all() -> dict:
    checks = {"database": _database()}
    redis_check = _redis()
    if redis_check is not None:
        checks["redis"] = redis_check
    checks["queue"] = _queue()
    return checks
