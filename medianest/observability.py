"""Correlation ids on every response and log line, request timing, and slow-query logging."""
from __future__ import annotations

import logging
import time

from flask import Flask, g, has_request_context, request
from sqlalchemy import event

from medianest import polls
from medianest.services.errors import correlation_id, safe_path

log = logging.getLogger("medianest.requests")
slow_log = logging.getLogger("medianest.slow_queries")

SLOW_QUERY_SECONDS = 1.0
SLOW_REQUEST_MS = 1000


class CorrelationFilter(logging.Filter):
    """Adds `correlation_id` to every record (a dash outside requests)."""

    def filter(self, record):
        record.correlation_id = correlation_id() if has_request_context() else "-"
        return True


def _start():
    g.request_started = time.monotonic()
    correlation_id()


def _finish(response):
    response.headers["X-Request-ID"] = correlation_id()
    started = g.get("request_started")
    if started is None or request.endpoint == "static":
        return response
    ms = (time.monotonic() - started) * 1000
    # A poll answers every few seconds per open tab: a line each would drown the log, so only its failures and
    # slow answers are written (the rest at DEBUG).
    quiet = polls.is_poll(request.endpoint) and response.status_code < 400 and ms < SLOW_REQUEST_MS
    if not quiet or log.isEnabledFor(logging.DEBUG):
        log.log(logging.DEBUG if quiet else logging.INFO, "%s %s %s %.0fms cid=%s", request.method, safe_path(),
                response.status_code, ms, correlation_id())
    return response


def _before_cursor(conn, cursor, statement, parameters, context, executemany):
    conn.info.setdefault("query_started", []).append(time.monotonic())


def _after_cursor(conn, cursor, statement, parameters, context, executemany):
    started = conn.info["query_started"].pop()
    elapsed = time.monotonic() - started
    if elapsed > SLOW_QUERY_SECONDS:
        cid = correlation_id() if has_request_context() else "-"
        slow_log.warning("slow query %.2fs cid=%s: %s", elapsed, cid, statement[:500])


def init_app(app: Flask, engine):
    app.before_request(_start)
    app.after_request(_finish)
    for handler in logging.getLogger().handlers:
        handler.addFilter(CorrelationFilter())
    if not event.contains(engine, "before_cursor_execute", _before_cursor):
        event.listen(engine, "before_cursor_execute", _before_cursor)
        event.listen(engine, "after_cursor_execute", _after_cursor)
