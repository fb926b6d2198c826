"""Conditional views: an unchanged poll answers 304, and a page seen before is served from its last render,
each after one Redis round trip.

A view registers what it shows: data versions (medianest.versions) and raw cache keys (live download
progress, the status snapshot). One MGET reads the signed-in session (medianest.session_cache), those versions
and keys, and for a cached page its last render; their hash, with the user, the role and the kind of request
(page, fragment, boosted), is the response's ETag.

- `poll(...)`: an HTMX fragment. A revalidation (If-None-Match) of an unchanged fragment is answered 304 by a
  small WSGI layer in front of Flask: no request context, no sign-in query, no log line.
- `page(...)`: also a whole page. Its render is kept per browser session (it holds that session's CSRF
  token) and served again while nothing it depends on has changed, unless flash messages wait in the cookie.
  Only a render that set no cookie is kept.
Otherwise the view renders as usual and the response carries the ETag computed before it read anything (a
change while it renders only costs one more render). Browsers revalidate such responses by themselves
(`Cache-Control: private, no-cache`), so htmx needs nothing special. Without Redis (the embedded mode) views
simply render.
"""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from flask import current_app, g, request
from flask import session as cookie
from flask_login import current_user
from itsdangerous import BadSignature
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_cookie, parse_etags

from medianest import cache, session_cache, versions
from medianest.security import SECURITY_HEADERS
from medianest.services import auth_sessions
from medianest.timeutil import utcnow

COOKIE_MEMORY_SECONDS = 60
COOKIE_MEMORY_SIZE = 2048
PAGE_PREFIX = "medianest:page:"
PAGE_TTL = 600
PAGE_MAX_BYTES = 512 * 1024
STORE = "medianest.store_page"  # WSGI environ key: where the render of this request is to be kept


@dataclass
class Depends:
    versions: list[str] = field(default_factory=list)  # data versions (made when missing)
    keys: list[str] = field(default_factory=list)      # raw Redis keys, missing is a value too
    per_minute: bool = False                           # shows "… ago" texts: new ETag every minute


@dataclass
class _View:
    depends: Callable[[dict], Depends]
    pages: bool  # whole pages too, not only HTMX fragments


_VIEWS: dict[str, _View] = {}
# What every page shows around its content: the bell's count and the service links.
LAYOUT = [versions.table_key("notifications"), versions.table_key("notification_reads"),
          versions.table_key("service_config")]


def poll(endpoint: str, depends: Callable[[dict], Depends]):
    """Register `depends(view_args)` for the polled fragment at `endpoint`."""
    _VIEWS[endpoint] = _View(depends, pages=False)


def page(endpoint: str, depends: Callable[[dict], Depends]):
    """Register `depends(view_args)` for `endpoint`, a page (and its fragment) whose renders may be kept."""
    _VIEWS[endpoint] = _View(lambda args: _with_layout(depends(args)), pages=True)


def _with_layout(spec: Depends) -> Depends:
    return Depends([*spec.versions, *LAYOUT], spec.keys, spec.per_minute)


def is_poll(endpoint: str | None) -> bool:
    view = _VIEWS.get(endpoint)
    return view is not None and not view.pages


def _variant(headers) -> str | None:
    """Which response this request wants ("page", "fragment", "boosted"); None when it is never cached."""
    if headers.get("HX-Request") != "true":
        return "page"
    if "HX-History-Restore-Request" in headers:
        return None
    return "boosted" if "HX-Boosted" in headers else "fragment"


@dataclass
class Tag:
    user_id: str
    data: str               # hash of everything the response depends on, but the role
    role: str               # the cached session's role ("" when it is not current)
    signed_in: bool         # the cached session is current: a match may be answered at once
    page_key: str | None    # where this browser's render of the page is kept
    stored: bytes | None    # that render, as last kept

    def etag(self, role: str | None = None) -> str:
        return hashlib.blake2b(f"{self.data}:{self.role if role is None else role}".encode(),
                               digest_size=12).hexdigest()


def _tag(endpoint: str, view_args: dict, path: str, variant: str, data: dict, *, r, release: str) -> Tag | None:
    """This response's ETag for the cookie's session, from one MGET (on Redis client `r`); None when it cannot
    be known yet."""
    view = _VIEWS.get(endpoint)
    token, user_id = data.get(auth_sessions.COOKIE_KEY), data.get(auth_sessions.USER_KEY)
    if view is None or (variant != "fragment" and not view.pages) or "_flashes" in data \
            or not isinstance(token, str) or not isinstance(user_id, str):
        return None
    spec = view.depends(view_args)
    digest = auth_sessions.token_hash(token)
    page_key = PAGE_PREFIX + hashlib.blake2b(f"{digest}:{variant}:{path}".encode(), digest_size=16).hexdigest() \
        if view.pages else None
    extra = [*spec.versions, *spec.keys, *([page_key] if page_key else [])]
    entry, _, values = session_cache.read(digest, user_id, extra, r=r)
    if values is None:
        return None
    stored = values.pop() if page_key else None
    missing = [k for k, v in zip(spec.versions, values) if v is None]
    if missing:
        versions.ensure(missing, r=r)
        return None
    role = ((entry or {}).get("user") or {}).get("role", "")
    h = hashlib.blake2b(digest_size=16)
    for part in (release, user_id, digest if view.pages else "", variant, path,
                 *(v or b"-" for v in values), str(int(time.time() // 60)) if spec.per_minute else ""):
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    signed_in = session_cache.usable(entry, utcnow(), auth_sessions.LAST_SEEN_EVERY)
    return Tag(user_id, h.hexdigest(), role, signed_in, page_key, stored)


def _path(environ) -> str:
    return environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", "")


def _conditional(response, etag: str):
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.update(("HX-Request", "Cookie"))
    return response


class ConditionalViews:
    """WSGI layer in front of Flask: 304 for a current ETag, a kept render for a page seen before; everything
    else goes to Flask, and a page render that set no cookie is kept on the way out."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self._seen: dict[str, tuple[float, dict]] = {}

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "GET":
            return self.wsgi_app(environ, start_response)
        answer = self._short_answer(environ)
        if answer is not None:
            status, headers, body = answer
            start_response(status, headers)
            return [body] if body else []
        captured = {}

        def capture(status, headers, exc_info=None):
            captured.update(status=status, headers=headers)
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, capture)
        if STORE in environ:
            body = self._keep(environ[STORE], captured, body)
        return body

    def _short_answer(self, environ):
        app = self.app
        headers = EnvironHeaders(environ)
        variant = _variant(headers)
        if variant is None or "no-cache" in headers.get("Cache-Control", ""):  # a hard reload renders anew
            return None
        try:
            endpoint, view_args = app.url_map.bind_to_environ(environ).match()
        except HTTPException:
            return None
        if endpoint not in _VIEWS:
            return None
        r = getattr(app.extensions.get("medianest_cache"), "client", None)
        if r is None:
            return None
        try:
            tag = _tag(endpoint, view_args, _path(environ), variant, self._cookie(environ), r=r,
                       release=app.extensions["medianest_release"])
        except redis.RedisError:
            return None
        if tag is None or not tag.signed_in:
            return None
        etag = tag.etag()
        if etag in parse_etags(environ.get("HTTP_IF_NONE_MATCH")):
            status, body, content_type = "304 Not Modified", b"", None
        elif tag.stored is not None and (kept := json.loads(tag.stored)).get("etag") == etag:
            status, body, content_type = "200 OK", kept["body"].encode(), kept["type"]
        else:
            return None
        headers = [("ETag", f'"{etag}"'), ("Cache-Control", "private, no-cache"), ("Vary", "HX-Request, Cookie"),
                   *SECURITY_HEADERS, ("X-Request-ID", uuid.uuid4().hex)]
        if content_type:
            headers += [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        return status, headers, body

    def _keep(self, store, captured, body):
        key, etag = store
        headers = captured.get("headers") or []
        if not str(captured.get("status", "")).startswith("200") or any(k.lower() == "set-cookie" for k, _ in headers):
            return body
        chunks = list(body)
        if hasattr(body, "close"):
            body.close()
        data = b"".join(chunks)
        if len(data) <= PAGE_MAX_BYTES:
            content_type = next((v for k, v in headers if k.lower() == "content-type"), "text/html; charset=utf-8")
            with self.app.app_context():
                try:
                    versions.client().set(key, json.dumps({"etag": etag, "type": content_type,
                                                           "body": data.decode()}), ex=PAGE_TTL)
                except (redis.RedisError, UnicodeDecodeError) as exc:
                    cache.warn_unreachable(current_app.logger, "page render not kept", exc)
        return chunks

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
    """A registered view about to render notes the ETag of what it will render (read before the view reads
    anything)."""
    variant = _variant(request.headers)
    if request.method == "GET" and variant and request.endpoint in _VIEWS and versions.client() is not None:
        try:
            g.view_tag = _tag(request.endpoint, request.view_args or {}, _path(request.environ), variant,
                              dict(cookie), r=versions.client(), release=current_app.extensions["medianest_release"])
        except redis.RedisError:
            g.view_tag = None


def _tag_rendered(response):
    """A response rendered for the user its ETag was computed for carries that ETag (with the role it was
    rendered for, which is what the next request will find in the cached session); a page's render is
    marked to be kept."""
    tag = g.get("view_tag")
    if tag and response.status_code == 200 and current_user.is_authenticated and str(current_user.id) == tag.user_id:
        etag = tag.etag(current_user.role)
        _conditional(response, etag)
        if tag.page_key and "_flashes" not in cookie and not response.is_streamed:
            request.environ[STORE] = (tag.page_key, etag)
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
    app.wsgi_app = ConditionalViews(app, app.wsgi_app)
