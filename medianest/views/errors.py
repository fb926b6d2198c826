"""App-wide error handlers: JSON for API callers, an out-of-band flash for HTMX, a page otherwise."""
from __future__ import annotations

import logging

from flask import jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from medianest import htmx
from medianest.crypto import CryptoError
from medianest.security import client_ip
from medianest.services import errors as error_log

log = logging.getLogger(__name__)

# Client errors are counted per address and minute in error_logs (services/errors.py), never a row each;
# 401 is every signed-out visit. 429s are also recorded in rate_limits.
UNCOUNTED_CLIENT_ERRORS = {401}
MESSAGES = {
    400: "The request could not be understood.",
    401: "Please sign in.",
    403: "You are not allowed to do that.",
    404: "There is nothing here.",
    405: "That action is not allowed here.",
    413: "That upload is too large.",
    415: "This page takes a form, not that kind of data.",
    422: "Please check what you entered.",
    429: "Too many requests. Wait a moment and try again.",
    500: "Something went wrong on our side.",
    503: "A service MediaNest needs is not available right now.",
}


def wants_json() -> bool:
    if request.path.startswith(("/api/", "/webhooks/", "/health", "/ready")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def render_error(status: int, message: str, *, code: str):
    cid = error_log.correlation_id()
    if wants_json():
        resp = jsonify(error=code, message=message, correlation_id=cid)
        resp.status_code = status
        return resp
    if htmx.is_htmx():
        resp = make_response(render_template("_flash.html", oob=True, errors=[(message, cid)]), status)
        return htmx.reswap_none(resp)
    return make_response(render_template("errors/error.html", status=status, message=message, correlation_id=cid), status)


def handle_http(exc: HTTPException):
    status = exc.code or 500
    message = MESSAGES.get(status, exc.description or "Error")
    if isinstance(exc, CSRFError):
        message = "Your form expired or was sent from elsewhere. Reload the page and try again."
    code = "csrf_failed" if isinstance(exc, CSRFError) else exc.name.lower().replace(" ", "_")
    if 400 <= status < 500 and status not in UNCOUNTED_CLIENT_ERRORS:
        error_log.count_client_error(error_code=code, message=str(exc.description or message), status_code=status,
                                     address=client_ip())
    if status == 429:
        return too_many_requests(exc, code)
    if status >= 500:
        return handle_exception(exc)
    resp = render_error(status, message, code=code)
    if exc.response is None and hasattr(exc, "get_headers"):
        for name, value in exc.get_headers():
            if name.lower() not in ("content-type",):
                resp.headers[name] = value
    return resp


def too_many_requests(exc: HTTPException, code: str):
    """A friendly 429 (page, or out-of-band flash for HTMX) with the breach recorded in rate_limits."""
    from medianest.services import rate_limits

    retry_after = rate_limits.record_request_breach(exc)
    message = MESSAGES[429]
    if retry_after:
        wait = f"{retry_after} seconds" if retry_after < 120 else f"{-(-retry_after // 60)} minutes"
        message = f"Too many requests. Wait {wait} and try again."
    resp = render_error(429, message, code=code)
    if retry_after:
        resp.headers["Retry-After"] = str(retry_after)
    return resp


def handle_exception(exc: Exception):
    original = getattr(exc, "original_exception", None) or exc
    code = "crypto_error" if isinstance(original, CryptoError) else type(original).__name__
    cid = error_log.correlation_id()
    log.error("unhandled %s on %s %s (correlation id %s)", code, request.method, error_log.safe_path(), cid,
              exc_info=not isinstance(original, CryptoError))
    error_log.record(error_code=code, message=str(original) or code, status_code=500, exc=original)
    status = exc.code if isinstance(exc, HTTPException) and not isinstance(exc, InternalServerError) else 500
    return render_error(status, MESSAGES[500] if status == 500 else MESSAGES.get(status, "Error"), code="server_error")


def init_app(app):
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_exception)
