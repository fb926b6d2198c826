"""Small helpers shared by views that handle forms."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from medianest import htmx


def form_error_response(page: str, fragment: str, **context):
    """Re-render a form with its field errors: 422, the fragment for HTMX, the page otherwise."""
    return htmx.render_page_or_fragment(page, fragment, status=422, **context)


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after sign-in."""
    if not target:
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. an unclosed "[" in a host: not a path of ours
        return None
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if path.startswith("/auth/"):
        return None
    return path


def same_site_path(url: str | None) -> str | None:
    """The path and query of an absolute URL on this host (HX-Current-URL), else None."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
