"""Retention: what the data model says to delete, and when."""
from __future__ import annotations

import logging
from datetime import timedelta

from medianest.extensions import db
from medianest.models import ErrorLog, ServiceMetric, Session, SessionToken, VerificationToken
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

ERROR_LOG_DAYS = 30
METRIC_DAYS = 90


def cleanup() -> dict[str, int]:
    """Delete expired session tokens and sessions, error logs > 30 days, metrics > 90 days (their rollups later)."""
    now = utcnow()
    counts = {
        "session_tokens": db.session.execute(db.delete(SessionToken).where(SessionToken.expires_at < now)).rowcount,
        "sessions": db.session.execute(db.delete(Session).where(Session.expires < now)).rowcount,
        "verification_tokens": db.session.execute(
            db.delete(VerificationToken).where(VerificationToken.expires < now)).rowcount,
        "error_logs": db.session.execute(
            db.delete(ErrorLog).where(ErrorLog.created_at < now - timedelta(days=ERROR_LOG_DAYS))).rowcount,
        "service_metrics": db.session.execute(
            db.delete(ServiceMetric).where(ServiceMetric.timestamp < now - timedelta(days=METRIC_DAYS))).rowcount,
    }
    from medianest.services import metric_rollups  # hourly rollups one year, daily ones five

    counts.update(metric_rollups.prune(now))
    db.session.commit()
    from medianest.services import youtube  # failed and cancelled downloads' partial files

    counts["download_partials"] = youtube.clean_partial_files()
    log.info("retention cleanup: %s", counts)
    return counts
