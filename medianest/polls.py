"""Conditional polls: an HTMX poll whose fragment has not changed costs one Redis round trip and answers 304.

A poll endpoint registers what its fragment depends on: data versions (medianest.versions) and raw cache keys
(live download progress, the status snapshot). One MGET reads the signed-in session (medianest.session_cache),
those versions and keys; their hash, with the user and their role, is the fragment's ETag.

- A revalidation (If-None-Match) of an unchanged fragment is answered 304 by a small WSGI layer in front of
  Flask: no request context, no sign-in query, no log line.
- Otherwise the view renders as usual and the response carries the ETag computed before it read anything (a
  change while it renders only costs one more render).
Browsers revalidate such responses by themselves (`Cache-Control: private, no-cache`), so htmx needs nothing
special. Without Redis (the embedded mode) polls simply render.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from flask import g, request
from flask import session as cookie
from flask_login import current_user
from itsdangerous import BadSignature
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_etags
from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import parse_cookie
from werkzeug.wrappers import Response

from medianest import session_cache, versions
from medianest.security import SECURITY_HEADERS
from medianest.services import auth_sessions
from medianest.timeutil import utcnow


@dataclass
class Depends:
    versions: list[str] = field(default_factory=list)  # data versions (made when missing)
    keys: list[str] = field(default_factory=list)      # raw Redis keys, missing is a value too
    per_minute: bool = False                           # shows "… ago" texts: new ETag every minute


_POLLS: dict[str, Callable[[dict], Depends]] = {}
COOKIE_MEMORY_SECONDS = 60
COOKIE_MEMORY_SIZE = 2048


def poll(endpoint: str, depends: Callable[[dict], Depends]):
    """Register `depends(view_args)` for the poll at `endpoint` (only HTMX fragment requests are conditional)."""
    _POLLS[endpoint] = depends


def is_poll(endpoint: str | None) -> bool:
    return endpoint in _POLLS


def _wants_fragment(headers) -> bool:
    return (headers.get("HX-Request") == "true" and "HX-Boosted" not in headers
            and "HX-History-Restore-Request" not in headers)


@dataclass
class Tag:
    user_id: str
    data: str        # hash of everything the fragment depends on, but the role
    role: str        # the cached session's role ("" when it is not current)
    signed_in: bool  # the cached session is current: a match may be answered 304

    def etag(self, role: str | None = None) -> str:
        return hashlib.blake2b(f"{self.data}:{self.role if role is None else role}".encode(),
                               digest_size=12).hexdigest()


def _tag(release: str, endpoint: str, view_args: dict, path: str, token, user_id) -> Tag | None:
    """This poll's ETag for the cookie's user, from one MGET; None when it cannot be known yet."""
    if not isinstance(token, str) or not isinstance(user_id, str):
        return None
    spec = _POLLS[endpoint](view_args)
    entry, _, values = session_cache.read(auth_sessions.token_hash(token), user_id, [*spec.versions, *spec.keys])
    if values is None:
        return None
    missing = [k for k, v in zip(spec.versions, values) if v is None]
    if missing:
        versions.ensure(missing)
        return None
    role = ((entry or {}).get("user") or {}).get("role", "")
    h = hashlib.blake2b(digest_size=16)
    for part in (release, user_id, path, *(v or b"-" for v in values),
                 str(int(time.time() // 60)) if spec.per_minute else ""):
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    signed_in = session_cache.usable(entry, utcnow(), auth_sessions.LAST_SEEN_EVERY)
    return Tag(user_id, h.hexdigest(), role, signed_in)


def _path(environ) -> str:
    return environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", "")


def _conditional(response, etag: str):
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.update(("HX-Request", "Cookie"))
    return response


class UnchangedPolls:
    """WSGI layer: 304 for a poll revalidation whose ETag is still current; everything else goes to Flask."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self._seen: dict[str, tuple[float, dict]] = {}

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("HTTP_IF_NONE_MATCH") \
                and environ.get("HTTP_HX_REQUEST") == "true":
            response = self._unchanged(environ)
            if response is not None:
                return response(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def _unchanged(self, environ):
        app = self.app
        headers = EnvironHeaders(environ)
        if not _wants_fragment(headers):
            return None
        try:
            endpoint, view_args = app.url_map.bind_to_environ(environ).match()
        except HTTPException:
            return None
        if endpoint not in _POLLS:
            return None
        data = self._cookie(environ)
        path = _path(environ)
        with app.app_context():
            try:
                tag = _tag(app.extensions["medianest_release"], endpoint, view_args, path,
                           data.get(auth_sessions.COOKIE_KEY), data.get(auth_sessions.USER_KEY))
            except redis.RedisError:
                return None
        if tag is None or not tag.signed_in or tag.etag() not in parse_etags(environ["HTTP_IF_NONE_MATCH"]):
            return None
        response = _conditional(Response(status=304), tag.etag())
        for name, value in SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        return response

    def _cookie(self, environ) -> dict:
        """The signed session cookie's data; a cookie seen in the last minute is not verified again."""
        app = self.app
        value = parse_cookie(environ).get(app.config["SESSION_COOKIE_NAME"])
        if not value:
            return {}
        known = self._seen.get(value)
        now = time.monotonic()
        if known is not None and now - known[0] < COOKIE_MEMORY_SECONDS:
            return known[1]
        serializer = app.session_interface.get_signing_serializer(app)
        try:
            data = serializer.loads(value, max_age=int(app.permanent_session_lifetime.total_seconds()))
        except (BadSignature, AttributeError):
            return {}
        if len(self._seen) >= COOKIE_MEMORY_SIZE:
            self._seen.clear()
        self._seen[value] = (now, data)
        return data


def _note_etag():
    """A poll about to render notes the ETag of what it will render (read before the view reads anything)."""
    if request.method == "GET" and request.endpoint in _POLLS and _wants_fragment(request.headers) \
            and versions.client() is not None:
        try:
            g.poll_tag = _tag(_release(), request.endpoint, request.view_args or {},
                              _path(request.environ), cookie.get(auth_sessions.COOKIE_KEY),
                              cookie.get(auth_sessions.USER_KEY))
        except redis.RedisError:
            g.poll_tag = None


def _release() -> str:
    from flask import current_app

    return current_app.extensions["medianest_release"]


def _tag_rendered(response):
    """A poll rendered for the user its ETag was computed for carries that ETag (with the role it was rendered
    for, which is what the next revalidation will find in the cached session)."""
    tag = g.get("poll_tag")
    if tag and response.status_code == 200 and current_user.is_authenticated and str(current_user.id) == tag.user_id:
        _conditional(response, tag.etag(current_user.role))
    return response


def release(root) -> str:
    """Names, sizes and times of the code and templates: a new release never matches an old ETag."""
    h = hashlib.blake2b(digest_size=8)
    for folder, pattern in ((root / "templates", "*.html"), (root / "medianest", "*.py")):
        for path in sorted(folder.rglob(pattern)):
            stat = path.stat()
            h.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()


def init_app(app) -> None:
    from medianest.config import ROOT

    app.extensions["medianest_release"] = release(ROOT)
    app.before_request_funcs.setdefault(None, []).insert(0, _note_etag)
    app.after_request(_tag_rendered)
    app.wsgi_app = UnchangedPolls(app, app.wsgi_app)
