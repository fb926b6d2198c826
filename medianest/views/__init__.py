"""Blueprints, one per domain, and the template helpers they share."""
from flask import Flask, current_app, request, url_for
from flask_login import current_user

from medianest import versions

from medianest.views import (  # noqa: F401  (admin_* modules add routes to the admin blueprint)
    account,
    admin,
    admin_downloads,
    admin_monitoring,
    admin_requests,
    admin_services,
    admin_users,
    auth,
    dashboard,
    health,
    media,
    notifications,
    requests,
    setup,
    webhooks,
    youtube,
)

BLUEPRINTS = [auth.bp, setup.bp, health.bp, dashboard.bp, admin.bp, account.bp, notifications.bp, media.bp,
              requests.bp, webhooks.bp, youtube.bp]

# (endpoint, label, admin only). Entries whose endpoint is not registered are left out.
NAVIGATION = [
    ("dashboard.index", "Dashboard", False),
    ("media.index", "Library", False),
    ("media.discover", "Discover", False),
    ("requests.index", "My requests", False),
    ("youtube.index", "YouTube", False),
    ("admin.index", "Admin", True),
]


def nav_items():
    """Navigation for this user; the current entry is the one whose endpoint is open, else its blueprint's index."""
    entries = [
        (endpoint, label) for endpoint, label, admin_only in NAVIGATION
        if endpoint in current_app.view_functions
        and (not admin_only or (current_user.is_authenticated and current_user.is_admin))
    ]
    endpoints = {endpoint for endpoint, _ in entries}
    if request.endpoint in endpoints:
        current = request.endpoint
    else:
        current = f"{request.blueprint}.index" if request.blueprint else None
    return [{"url": url_for(endpoint), "label": label, "active": endpoint == current} for endpoint, label in entries]


def page_url(endpoint: str, args, page: int, **values) -> str:
    """The URL of another page of a list, keeping its filters."""
    params = {k: v for k, v in dict(args).items() if k != "page" and v not in ("", None)}
    return url_for(endpoint, **values, **params, page=page)


def has_endpoint(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def unread_notifications() -> int:
    from medianest.services.notifications import unread_count

    if not current_user.is_authenticated:
        return 0
    user = current_user._get_current_object()
    return versions.cached(f"unread:{user.id}", ["notifications", "notification_reads"], lambda: unread_count(user))


def init_template_helpers(app: Flask):
    from medianest.timeutil import time_ago

    app.jinja_env.filters["time_ago"] = time_ago
    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.globals["page_url"] = page_url
    app.jinja_env.globals["has_endpoint"] = has_endpoint
    app.jinja_env.globals["unread_notifications"] = unread_notifications
