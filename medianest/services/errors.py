"""Error logging to `error_logs`, with the request's correlation id.

Server errors get a row each, with the stack trace. Client errors (a refused CSRF token, a 404, a 413, a
429…) are counted instead: one row per client address, minute, status and code, whose metadata `count`
goes up, so a flood of bad requests costs one row a minute, not one each. Every secret is scrubbed from the
text before it is cut to the column's size (clients.base.scrub).
"""
from __future__ import annotations

import logging
import re
import traceback
import uuid

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from medianest.clients.base import scrub
from medianest.extensions import db
from medianest.models import ErrorLog
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SENSITIVE_KEYS = ("token", "password", "secret", "key", "csrf", "authorization", "cookie")


def correlation_id() -> str:
    """This request's correlation id: a valid incoming X-Request-ID, else a new one."""
    if not has_request_context():
        return uuid.uuid4().hex
    if "correlation_id" not in g:
        incoming = request.headers.get("X-Request-ID", "")
        g.correlation_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
    return g.correlation_id


def _sensitive(name: str) -> bool:
    return any(s in name.lower() for s in SENSITIVE_KEYS)


def _printable(text: str) -> str:
    """No NUL characters: PostgreSQL refuses them in text and JSONB columns."""
    return text.replace("\x00", "")


def _safe_args() -> dict:
    return {_printable(k)[:100]: ("[redacted]" if _sensitive(k) else _printable(v)[:200])
            for k, v in request.args.items()}


def _path_args() -> dict:
    """The URL's variables, also when routing refused the method (a 405 still names the route)."""
    if request.view_args is not None:
        return request.view_args
    try:
        return current_app.create_url_adapter(request).match(request.path, method="GET")[1]
    except Exception:  # noqa: BLE001  (no route: nothing to redact)
        return {}


def safe_path() -> str:
    """This request's path for logs and error_logs, with secret URL parts (a password-reset token) redacted."""
    path = request.path
    for name, value in _path_args().items():
        if isinstance(value, str) and value and _sensitive(name):
            path = path.replace(value, "[redacted]")
    # A decoded %0a would start a fake log line: control characters are shown escaped.
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", path)


def record(*, error_code: str, message: str, status_code: int, exc: BaseException | None = None,
           metadata: dict | None = None) -> ErrorLog | None:
    """Write one error_logs row in its own transaction; never raises."""
    try:
        db.session.rollback()
        secrets = _service_secrets() if status_code >= 500 else ()
        user_id = None
        if has_request_context() and getattr(current_user, "is_authenticated", False):
            user_id = str(current_user.id)
        row = ErrorLog(
            correlation_id=correlation_id(),
            user_id=user_id,
            error_code=_printable(error_code)[:100],
            error_message=_printable(scrub(message, secrets, 2000)),
            stack_trace=_printable(scrub("".join(traceback.format_exception(exc)), secrets, one_line=False))
            if exc is not None and status_code >= 500 else None,
            request_path=safe_path()[:500] if has_request_context() else None,
            request_method=request.method if has_request_context() else None,
            status_code=status_code,
            meta=(metadata or {}) | ({"args": _safe_args()} if has_request_context() and request.args else {}),
        )
        db.session.add(row)
        db.session.commit()
        return row
    except Exception:  # the error log must never cause a second failure
        db.session.rollback()
        log.exception("could not write error log (correlation id %s)", correlation_id())
        return None


def _service_secrets() -> list[str]:
    """The stored service secrets (API keys, tokens), to scrub from a server error's text and trace."""
    from medianest.services import service_config

    found = []
    try:
        for cfg in service_config.all_configs().values():
            found.append(service_config.secret(cfg))
            for name in ((cfg.config_data or {}).get("sealed") or {}):
                found.append(service_config.extra_secret(cfg, name))
    except Exception:  # noqa: BLE001  (a broken config must not stop the error from being logged)
        db.session.rollback()
    return [s for s in found if s]


_COUNT_KEY = uuid.UUID("6f1c7f0e-2b1e-4d55-9a53-0d6a1b0f9c11")
_PLUS_ONE = {
    "postgresql": "jsonb_set(metadata, '{count}', to_jsonb(COALESCE((metadata->>'count')::int, 1) + 1))",
    "sqlite": "json_set(metadata, '$.count', COALESCE(json_extract(metadata, '$.count'), 1) + 1)",
}


def count_client_error(*, error_code: str, message: str, status_code: int, address: str) -> None:
    """Count one client error: the row of (address, this minute, status, code) is created or its count goes up.
    Its id is derived from those four, so concurrent requests meet on the same row. Never raises."""
    minute = utcnow().replace(second=0, microsecond=0)
    code = _printable(error_code)[:100]
    row_id = uuid.uuid5(_COUNT_KEY, f"{address}|{minute.isoformat()}|{status_code}|{code}")
    plus_one = sa.update(ErrorLog).where(ErrorLog.id == row_id).values(
        {ErrorLog.meta: sa.literal_column(_PLUS_ONE[db.engine.dialect.name])}
    ).execution_options(synchronize_session=False)
    try:
        db.session.rollback()
        if db.session.execute(plus_one).rowcount:
            db.session.commit()
            return
        meta = {"count": 1, "address": address, "minute": minute.isoformat() + "Z"}
        if has_request_context() and request.args:
            meta["args"] = _safe_args()
        db.session.add(ErrorLog(
            id=row_id, correlation_id=correlation_id(), user_id=None, error_code=code,
            error_message=_printable(scrub(message, (), 2000)), status_code=status_code, meta=meta,
            request_path=safe_path()[:500] if has_request_context() else None,
            request_method=request.method if has_request_context() else None, created_at=minute,
        ))
        try:
            db.session.commit()
        except IntegrityError:  # another request of the same minute made the row first
            db.session.rollback()
            db.session.execute(plus_one)
            db.session.commit()
    except Exception:  # noqa: BLE001  (the error log must never cause a second failure)
        db.session.rollback()
        log.exception("could not count a client error (correlation id %s)", correlation_id())


def search(*, status_code=None, error_code=None, user_id=None, correlation=None, since=None, until=None,
           page=1, per_page=50):
    stmt = db.select(ErrorLog).order_by(ErrorLog.created_at.desc())
    if status_code:
        stmt = stmt.where(ErrorLog.status_code == status_code)
    if error_code:
        stmt = stmt.where(ErrorLog.error_code == error_code)
    if user_id:
        stmt = stmt.where(ErrorLog.user_id == user_id)
    if correlation:
        stmt = stmt.where(ErrorLog.correlation_id == correlation)
    if since:
        stmt = stmt.where(ErrorLog.created_at >= since)
    if until:
        stmt = stmt.where(ErrorLog.created_at < until)
    return db.paginate(stmt, page=page, per_page=per_page, max_per_page=200, error_out=False)
