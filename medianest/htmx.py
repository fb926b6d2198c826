"""The one place that reads and writes HX-* headers."""
from __future__ import annotations

import json

from flask import make_response, render_template, request
from werkzeug.urls import iri_to_uri


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def is_fragment_request() -> bool:
    """An HTMX request that wants a fragment: not a boosted navigation, not a history restore."""
    h = request.headers
    return is_htmx() and "HX-Boosted" not in h and "HX-History-Restore-Request" not in h


def target() -> str | None:
    return request.headers.get("HX-Target")


def current_url() -> str | None:
    return request.headers.get("HX-Current-URL")


def vary(response):
    response.vary.add("HX-Request")
    return response


def render_page_or_fragment(page: str, fragment: str, *, status: int = 200, **context):
    """The full page normally, its fragment for an HTMX request; always `Vary: HX-Request`."""
    template = fragment if is_fragment_request() else page
    return vary(make_response(render_template(template, **context), status))


def hx_redirect(response, url: str):
    # Header values travel as Latin-1: a path with other characters (a `next` typed by someone) is sent
    # percent-encoded, as Flask does for Location, instead of failing in the WSGI server.
    response.headers["HX-Redirect"] = iri_to_uri(url)
    return response


def hx_trigger(response, *events: str, **payload):
    """Add events to HX-Trigger (merging with any already set)."""
    existing = response.headers.get("HX-Trigger")
    data = {}
    if existing:
        try:
            data = json.loads(existing)
        except ValueError:
            data = {name.strip(): None for name in existing.split(",")}
    for name in events:
        data.setdefault(name, None)
    data.update(payload)
    response.headers["HX-Trigger"] = json.dumps(data)
    return response


def reswap_none(response):
    response.headers["HX-Reswap"] = "none"
    return response


def redirect(url: str):
    """Navigate the whole page: HX-Redirect for HTMX requests, 303 otherwise."""
    if is_htmx():
        return hx_redirect(make_response("", 200), url)
    from flask import redirect as flask_redirect

    return flask_redirect(url, code=303)
