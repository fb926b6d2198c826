"""Huey tasks: ids in, one service call each. `huey_consumer medianest.tasks.huey` runs them."""
from huey import crontab

from medianest import jobs
from medianest.services import maintenance
from medianest.worker import app_periodic_task, huey  # noqa: F401  (the consumer imports huey from here)


@app_periodic_task(crontab(minute="17"))
def retention_cleanup():
    """Hourly: expired sessions and tokens, old error logs and metrics."""
    return maintenance.cleanup()


@app_periodic_task(crontab(minute="*/10"))
def metric_rollup():
    """Every ten minutes: roll service_metrics up into hourly and daily rows (the 7- and 30-day charts read them)."""
    from medianest.services import metric_rollups

    return metric_rollups.rollup()


# -- auth: Plex token health --------------------------------------------------------------------
@app_periodic_task(crontab(hour="*/6", minute="41"))
def plex_token_check():
    """Every six hours: ask plex.tv whether the stored Plex tokens still work (only a 401 flags one)."""
    from medianest.services import plex_auth

    return plex_auth.check_all_tokens()


@app_periodic_task(crontab(minute="29"))
def plex_access_check():
    """Hourly: is our Plex server still shared with each account? Where the share is gone, the account is
    signed out everywhere and told why (accounts checked within the hour are skipped)."""
    from medianest.services import plex_auth

    return plex_auth.check_all_access()


# -- monitoring: health checks ------------------------------------------------------------------
from medianest.worker import app_task  # noqa: E402


@app_task(retries=0)
def health_round():
    """One health round, never two at once (`flask services check` runs the same round by hand)."""
    from huey.exceptions import TaskLockedException

    from medianest.services import health

    try:
        with huey.lock_task("health-round"):
            return len(health.run_round())
    except TaskLockedException:
        return 0


@app_periodic_task(crontab(minute="*"))
def health_schedule():
    """Every minute: start the health rounds MEDIANEST_HEALTH_INTERVAL asks for (several a minute when it is
    shorter than 60 s, none when the last round is more recent than the interval)."""
    from medianest.services import health

    for delay in health.round_offsets():
        if delay:
            health_round.schedule(delay=delay)
        else:
            health_round()


# -- requests: forward to Overseerr, reconcile --------------------------------------------------
from huey.exceptions import RetryTask  # noqa: E402

from medianest.services import requests as request_service  # noqa: E402
from medianest.worker import app_task  # noqa: E402


@app_task()
def forward_request(request_id: str):
    """Send one saved request to Overseerr. While Overseerr is away the row stays queued and this retries
    with a growing delay; after that the periodic forward below keeps trying. Safe to run twice."""
    delay = request_service.forward_job(request_id)
    if delay:
        raise RetryTask(delay=delay)


@app_task(retries=3, retry_delay=20)
def sync_request(request_id: str):
    """Re-read one request from Overseerr (after its webhook) and apply the truth."""
    return request_service.sync(request_id)


@app_periodic_task(crontab(minute="*/5"))
def reconcile_requests():
    """Every five minutes: re-read a batch of requests still moving (webhooks get lost)."""
    return request_service.reconcile()


@app_periodic_task(crontab(minute="*/2"))
def forward_waiting_requests():
    """Every two minutes: forward rows still waiting for Overseerr, and claims a dead worker left behind."""
    return request_service.forward_pending()



# -- downloads: yt-dlp, Plex collections, reaper ------------------------------------------------
from medianest.worker import app_task  # noqa: E402,F811  (each section imports what it uses)


@app_task()
def youtube_download(download_id: str):
    """Download one video or playlist (the row's id). Safe to run twice: only a queued row is claimed;
    transient errors re-enqueue it with a growing delay."""
    from medianest.services import youtube

    return youtube.run_download(download_id)


@app_task()
def youtube_publish_to_plex(download_id: str):
    """Scan the download's folder in Plex and add it to its collection (retried by youtube_plex_sync)."""
    from medianest.services import plex_collections

    return plex_collections.publish(download_id)


@app_task(retries=3, retry_delay=60)
def youtube_plex_forget(collection_id: str | None, plex_folder: str | None):
    """After a delete: drop the collection MediaNest made and rescan the folder (retried while Plex is away)."""
    from medianest.services import plex_collections

    return plex_collections.forget(collection_id, plex_folder)


@app_task(retries=0)
def youtube_reap():
    """Downloads whose worker died (heartbeat late) or whose job was lost are queued again (or failed)."""
    from medianest.services import youtube

    return youtube.reap()


@app_periodic_task(crontab(minute="*"))
def youtube_reaper():
    """Every minute, and again every REAP_EVERY seconds within it (crontab's finest step is a minute), so a
    download whose worker died is queued again within STALE_AFTER + REAP_EVERY seconds."""
    from medianest.services import youtube

    for delay in range(youtube.REAP_EVERY, 60, youtube.REAP_EVERY):
        youtube_reap.schedule(delay=delay)
    return youtube.reap()


@app_periodic_task(crontab(minute="*/5"))
def youtube_plex_sync():
    """Every five minutes: one more try for downloads still waiting for Plex."""
    from medianest.services import plex_collections

    return plex_collections.publish_pending()


# -- the status snapshot the dashboard reads ---------------------------------------------------------
@app_task(retries=0)
def refresh_status_cache():
    """Rebuild the dashboard's status snapshot from the database (asked for by a web process that found it
    stale; the web never rebuilds it inline)."""
    from medianest.services import health

    return bool(health.refresh_cache())


# Services enqueue through medianest.jobs by name, never by importing this module.
jobs.register(forward_request, sync_request, youtube_download, youtube_publish_to_plex, youtube_plex_forget,
              refresh_status_cache)
