"""The home page: every watched service's status, from the status cache (or the database when it is cold).

The page and its polled fragment never call an outside service; the worker's health round keeps the cache
fresh. The fragment refreshes itself every POLL_SECONDS (15 s) and is exempt from rate limits.
"""
from flask import Blueprint, current_app

from medianest import cache, htmx, polls
from medianest.extensions import limiter
from medianest.services import health, service_config

bp = Blueprint("dashboard", __name__)

POLL_SECONDS = 15  # MEDIANEST_DASHBOARD_POLL_SECONDS overrides it (tests use 1)


@bp.get("/")
@limiter.exempt
def index():
    poll = current_app.config.get("MEDIANEST_DASHBOARD_POLL_SECONDS", POLL_SECONDS)
    return htmx.render_page_or_fragment("dashboard/index.html", "dashboard/_panel.html", state=health.dashboard(),
                                        poll_seconds=poll, setup_checklist=service_config.setup_checklist)


polls.page("dashboard.index", lambda _args: polls.Depends(keys=[cache.key(health.SNAPSHOT_KEY)], per_minute=True))
