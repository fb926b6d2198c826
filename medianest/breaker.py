"""A circuit breaker per outside service, for the calls a web request makes (Plex, Overseerr, TMDB posters).

Sign-in with Plex only gets the short timeouts: there the person asks plex.tv again on purpose ("Check again"),
and an answer plex.tv gives a second after an outage must not be refused for half a minute.

When such a call times out, cannot connect or gets a 5xx, the service's breaker opens for OPEN_SECONDS:
every web worker (the state lives in the cache: Redis, or this process in embedded mode) then answers
at once instead of asking again, so a hanging service costs one slow request per interval, not a web
thread per view. After the interval one request is let through as a probe (half-open, guarded by a
set-if-absent lock); its success closes the breaker, its failure opens it for another interval.

Within one process at most MAX_IN_FLIGHT page calls per service run at the same time: a burst of views
on a cold cache cannot tie up every thread while the first call is still finding out that the service
hangs. Image proxies share the service's open/closed state but not that limit (a page of posters loads
many at once, and only pages that rendered, so from a service that answered, ask for them).
Cache trouble never blocks a call: a breaker that cannot be read is closed. app.config may set
MEDIANEST_BREAKER_SECONDS (default 30).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from flask import current_app, has_request_context

from medianest import cache
from medianest.clients.base import CircuitOpen, ClientError, Unreachable

log = logging.getLogger(__name__)

OPEN_SECONDS = 30
PROBE_SECONDS = 15  # a probe that never reports back (its process died) frees the lock after this
MAX_IN_FLIGHT = 2
SLOT_WAIT = 0.2  # seconds a call waits for a free slot; a healthy service answers well within it
STATE_TTL = 24 * 3600

_slots: dict[str, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()
_probes: dict[tuple, float] = {}  # embedded mode: (cache, service) -> probe lock expiry (monotonic)
_probes_lock = threading.Lock()


def is_outage(exc: ClientError) -> bool:
    """Timeouts, refused connections and server errors; a 4xx means the service answered."""
    return isinstance(exc, Unreachable) or (exc.status or 0) >= 500


def _key(service: str) -> str:
    return f"breaker:{service}"


def state(service: str) -> dict | None:
    """{"until": epoch seconds, "reason": text} while the service has failed recently, else None."""
    found = cache.get(_key(service))
    return found if isinstance(found, dict) else None


def is_open(service: str) -> bool:
    found = state(service)
    return found is not None and found.get("until", 0) > time.time()


def trip(service: str, reason: str) -> None:
    seconds = float(current_app.config.get("MEDIANEST_BREAKER_SECONDS", OPEN_SECONDS))
    cache.set(_key(service), {"until": time.time() + seconds, "reason": reason[:200]}, STATE_TTL)
    _release_probe(service)
    log.warning("%s is not answering (%s); web requests will not ask it for %g s", service, reason, seconds)


def reset(service: str) -> None:
    cache.delete(_key(service))
    _release_probe(service)


def _probe_key(service: str) -> str:
    return f"{cache.PREFIX}breaker-probe:{service}"


def _take_probe(service: str) -> bool:
    """The one caller allowed to try a service whose open interval has passed."""
    store = cache.backend()
    client = getattr(store, "client", None)
    if isinstance(client, redis.Redis):
        try:
            return bool(client.set(_probe_key(service), "1", nx=True, ex=PROBE_SECONDS))
        except redis.RedisError:
            return True
    with _probes_lock:
        now = time.monotonic()
        if _probes.get((id(store), service), 0) > now:
            return False
        _probes[(id(store), service)] = now + PROBE_SECONDS
        return True


def _release_probe(service: str) -> None:
    store = cache.backend()
    client = getattr(store, "client", None)
    if isinstance(client, redis.Redis):
        try:
            client.delete(_probe_key(service))
        except redis.RedisError:
            pass
    with _probes_lock:
        _probes.pop((id(store), service), None)


def _slot(service: str) -> threading.BoundedSemaphore:
    with _slots_lock:
        if service not in _slots:
            _slots[service] = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        return _slots[service]


class Breaker:
    """What HttpClient.request calls through (client.breaker): `call(service, fn)` runs fn or refuses at once."""

    def __init__(self, name: str, *, limit: bool = True):
        self.name = name
        self.limit = limit

    def call(self, service: str, fn: Callable):
        found = state(self.name)
        probing = False
        if found is not None:
            if found.get("until", 0) > time.time() or not _take_probe(self.name):
                raise CircuitOpen(f"{service}: not answering right now (not asked again for a moment)")
            probing = True
        slot = _slot(self.name) if self.limit else None
        if slot is not None and not slot.acquire(timeout=SLOT_WAIT):
            if probing:
                _release_probe(self.name)
            raise CircuitOpen(f"{service}: busy with slow calls right now")
        try:
            result = fn()
        except ClientError as exc:
            if is_outage(exc):
                trip(self.name, exc.message)
            elif probing:
                reset(self.name)
            raise
        except BaseException:
            if probing:
                _release_probe(self.name)
            raise
        finally:
            if slot is not None:
                slot.release()
        if probing:
            reset(self.name)
            log.info("%s answers again", self.name)
        return result


def guard(client, name: str, *, limit: bool = True):
    """Attach the shared breaker of service `name` to a client (None passes through); limit=False for
    image fetches (no in-flight limit). Only in a web request: the worker and the CLI are asked to do exactly
    this call (forward a request, reconcile) and wait for it."""
    if client is not None and has_request_context():
        client.breaker = Breaker(name, limit=limit)
    return client
