"""The one seam services use to hand work to the worker; they never import medianest.tasks.

tasks.py registers its tasks here by name; create_app imports tasks, so every process knows them. The row is
the queue of record: a failed enqueue (Redis or the queue database away) is logged and answered with None,
never raised into the user's request, and the periodic sweepers queue what is still waiting once the queue
is back (each claims its row, so it runs once).
"""
from __future__ import annotations

import logging
import sqlite3

import redis

from medianest.worker import huey

log = logging.getLogger(__name__)

_TASKS: dict = {}
QUEUE_DOWN = (redis.RedisError, sqlite3.Error, OSError)


def register(*tasks) -> None:
    for task in tasks:
        _TASKS[task.func.__name__] = task


def prepare(name: str, *args, delay: float = 0):
    """The job for `name(*args)`, with its id, not queued yet (for callers that record the id first)."""
    task = _TASKS[name]
    return task.s(*args, delay=delay) if delay > 0 else task.s(*args)


def submit(job) -> bool:
    """Queue a prepared job. False (and a warning) when the queue cannot be reached."""
    try:
        huey.enqueue(job)
    except QUEUE_DOWN as exc:
        log.warning("job %s not queued (%s): the sweeper will queue it when the queue is back", job.name,
                    type(exc).__name__)
        return False
    return True


def enqueue(name: str, *args, delay: float = 0) -> str | None:
    """Queue `name(*args)` (after `delay` seconds). The job's id, or None when the queue cannot be reached."""
    job = prepare(name, *args, delay=delay)
    return job.id if submit(job) else None


def pending_ids() -> set[str] | None:
    """Ids of jobs waiting in the queue or its schedule; None when the queue cannot be read."""
    try:
        waiting = list(huey.pending()) + list(huey.scheduled())
    except QUEUE_DOWN as exc:
        log.warning("the queue could not be read (%s)", type(exc).__name__)
        return None
    return {job.id for job in waiting}
