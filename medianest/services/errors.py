"""Error logging to `error_logs`, with the request's correlation id."""
from __future__ import annotations

import logging
import re
import traceback
import uuid

from flask import current_app, g, has_request_context, request
from flask_login import current_user

from medianest.extensions import db
from medianest.models import ErrorLog

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
        user_id = None
        if has_request_context() and getattr(current_user, "is_authenticated", False):
            user_id = str(current_user.id)
        row = ErrorLog(
            correlation_id=correlation_id(),
            user_id=user_id,
            error_code=_printable(error_code)[:100],
            error_message=_printable(message)[:2000],
            stack_trace=_printable("".join(traceback.format_exception(exc))) if exc is not None and status_code >= 500
            else None,
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
