"""Liveness and readiness, as JSON, for load balancers and monitors. No secrets."""
from flask import Blueprint, jsonify

from medianest.extensions import limiter
from medianest.services import readiness

bp = Blueprint("health", __name__)


@bp.get("/health")
@limiter.exempt
def liveness():
    return jsonify(status="ok")


@bp.get("/ready")
@limiter.exempt
def readiness_check():
    checks = readiness.check_all()
    ready = all(c["ok"] for c in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503
