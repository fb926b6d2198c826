"""Incoming webhooks (Overseerr); authenticated by a shared secret, exempt from CSRF, answered in JSON.

Overseerr sends the admin-configured Authorization header verbatim and signs nothing, so the secret is
compared in constant time and the payload is only a hint: the request is re-read from Overseerr.
"""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from medianest.extensions import csrf, limiter
from medianest.security import client_ip
from medianest.services import ServiceError
from medianest.services import requests as request_service

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _answer(status: int, **body):
    resp = jsonify(body)
    resp.status_code = status
    return resp


@bp.post("/overseerr")
@csrf.exempt
@limiter.limit("240 per minute")
def overseerr():
    header = request.headers.get("Authorization")
    authorized = request_service.webhook_authorized(header)
    if authorized is None:
        log.warning("overseerr webhook from %s refused: no webhook secret is configured", client_ip())
        return _answer(403, error="webhook_disabled", message="Set a webhook secret for Overseerr in MediaNest first.")
    if not header:
        return _answer(401, error="unauthorized", message="The Authorization header is missing.")
    if not authorized:
        log.warning("overseerr webhook from %s refused: wrong secret", client_ip())
        return _answer(403, error="forbidden", message="The Authorization header is wrong.")
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # JSON nested deeper than the parser goes: not an Overseerr payload
        payload = None
    try:
        result = request_service.handle_webhook(payload)
    except ServiceError as err:
        return _answer(err.status, error="bad_payload", message=err.message)
    return _answer(200, **result)
