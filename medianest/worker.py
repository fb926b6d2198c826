"""The Huey instance and the `app_task` decorator.

Built at import from the environment, because the consumer has no app yet: RedisHuey when
REDIS_URL is set, SqliteHuey in the instance folder otherwise (the embedded mode).
"""
from __future__ import annotations

import functools
import logging
import os

from flask import has_app_context
from huey import RedisHuey, SqliteHuey

from medianest.config import instance_dir, load_env_file

log = logging.getLogger(__name__)


def make_huey():
    load_env_file()
    url = os.environ.get("REDIS_URL")
    if url:
        return RedisHuey("medianest", url=url, results=False)
    folder = instance_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("medianest", filename=str(folder / "huey.sqlite3"), results=False, timeout=15)


huey = make_huey()


@functools.cache
def worker_app():
    from medianest import create_app

    return create_app()


def in_app_context(fn):
    """Run `fn` in the caller's app context (immediate mode) or a fresh one of the worker app."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        if has_app_context():
            return fn(*args, **kwargs)
        with worker_app().app_context():
            log.info("task %s%s started", fn.__name__, args)
            try:
                result = fn(*args, **kwargs)
            except Exception:
                log.exception("task %s%s failed", fn.__name__, args)
                raise
            log.info("task %s%s finished", fn.__name__, args)
            return result

    return run


def app_task(**task_opts):
    """`huey.task` whose body runs inside an app context."""

    def decorate(fn):
        return huey.task(**task_opts)(in_app_context(fn))

    return decorate


def app_periodic_task(schedule, **task_opts):
    def decorate(fn):
        return huey.periodic_task(schedule, **task_opts)(in_app_context(fn))

    return decorate
