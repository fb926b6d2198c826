"""When PostgreSQL restarts or is away: retry a request that met a dead pooled connection, else answer 503.

There is no pre-ping round trip per checkout. A pooled connection that died with a restarted server fails on
its first statement; SQLAlchemy then drops every connection older than that failure, and the request is run
once more, after waiting up to RETRY_WAIT seconds for the server to accept connections again, unless it had
already committed something (running it again could do that twice). A database that still does not answer
gets a 503 page with Retry-After (JSON for API and HTMX callers), one warning in the log per WARN_EVERY
seconds and no error_logs row (the table is in the unreachable database).
"""
from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa
from flask import Flask, g, has_request_context, jsonify, make_response, render_template, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from medianest import htmx
from medianest.extensions import db

log = logging.getLogger(__name__)

DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, sa.exc.TimeoutError)
MESSAGE = "The database is not answering; try again in a minute."
RETRY_AFTER = 30
RETRY_WAIT = 2.0
WARN_EVERY = 10.0
_last_warning = [0.0]
_warn_lock = threading.Lock()


def is_database_down(exc: BaseException) -> bool:
    return isinstance(exc, DOWN)


class MediaNestFlask(Flask):
    def handle_user_exception(self, e):
        if isinstance(e, sa.exc.DBAPIError) and e.connection_invalidated and not g.get("db_retried") \
                and not g.get("db_committed"):
            g.db_retried = True
            _discard_session()
            g.pop("_login_user", None)  # Flask-Login's user belonged to the dropped session: load it again
            _wait_for_database()
            log.info("database connection was lost; %s %s runs again on a fresh one", request.method, request.path)
            try:
                rv = self.preprocess_request()
                return rv if rv is not None else self.dispatch_request()
            except Exception as again:  # noqa: BLE001  (handled as the first failure would have been)
                return super().handle_user_exception(again)
        return super().handle_user_exception(e)


def _discard_session():
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001  (the connection is gone; the session is dropped below anyway)
        pass
    db.session.remove()


def _wait_for_database():
    deadline = time.monotonic() + RETRY_WAIT
    while True:
        try:
            with db.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return
        except DOWN:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.2)


def _note_commit(_session):
    if has_request_context():
        g.db_committed = True


def database_unavailable(exc):
    _discard_session()
    now = time.monotonic()
    with _warn_lock:
        warn = now - _last_warning[0] >= WARN_EVERY
        if warn:
            _last_warning[0] = now
    if warn:
        log.warning("database unavailable (%s) on %s %s; answering 503", type(exc).__name__, request.method,
                    request.path)
    from medianest.views.errors import wants_json

    if wants_json() or htmx.is_htmx():
        resp = jsonify(error="database_unavailable", message=MESSAGE)
        resp.status_code = 503
        if htmx.is_htmx():
            htmx.reswap_none(resp)
            htmx.hx_trigger(resp, **{"medianest:unavailable": MESSAGE})
    else:
        resp = make_response(render_template("errors/unavailable.html", message=MESSAGE), 503)
    resp.headers["Retry-After"] = str(RETRY_AFTER)
    return resp


def init_app(app: Flask) -> None:
    for exc in DOWN:
        app.register_error_handler(exc, database_unavailable)
    if not event.contains(Session, "after_commit", _note_commit):
        event.listen(Session, "after_commit", _note_commit)
