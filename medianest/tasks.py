"""Huey tasks: ids in, one service call each. `huey_consumer medianest.tasks.huey` runs them."""
from huey import crontab

from medianest.services import maintenance
from medianest.worker import app_periodic_task, huey  # noqa: F401  (the consumer imports huey from here)


@app_periodic_task(crontab(minute="17"))
def retention_cleanup():
    """Hourly: expired sessions and tokens, old error logs and metrics."""
    return maintenance.cleanup()


# -- monitoring: health checks ------------------------------------------------------------------


# -- requests: forward to Overseerr, reconcile --------------------------------------------------


# -- downloads: yt-dlp, Plex collections, reaper ------------------------------------------------
