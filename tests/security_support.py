"""Helpers for the security and robustness tests: every registered route, URLs for them, and a world
with a second user ("Bob") who owns one row of every user-owned kind, to try other users' ids on."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from flask import url_for

from medianest import create_app
from medianest.extensions import db
from tests.conftest import base_config
from tests.factories import make_error_log, make_request, make_user
from tests.requests_support import connect_overseerr, connect_plex

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Admin-only endpoints outside the admin blueprint.
ADMIN_ENDPOINTS = {"notifications.broadcast"}
# Ids of rows that belong to a user: a plain user gets 404 for anybody else's.
OWNED_ARGS = {"request_id", "notification_id", "session_id", "download_id"}


@dataclass(frozen=True)
class Route:
    rule: str
    endpoint: str
    methods: tuple[str, ...]
    args: tuple[str, ...]
    converters: tuple[tuple[str, str], ...]

    @property
    def admin_only(self) -> bool:
        return self.endpoint.startswith("admin.") or self.endpoint in ADMIN_ENDPOINTS

    @property
    def owned_args(self) -> set[str]:
        return set(self.args) & OWNED_ARGS

    def __str__(self) -> str:
        return f"{'|'.join(self.methods)} {self.rule}"


def _routes() -> list[Route]:
    """Every rule of the app (read once, at collection, from an app that never serves a request)."""
    app = create_app(base_config())
    found = []
    for rule in app.url_map.iter_rules():
        methods = tuple(sorted(rule.methods - {"HEAD", "OPTIONS"}))
        converters = tuple((name, type(conv).__name__) for name, conv in sorted(rule._converters.items()))
        found.append(Route(rule.rule, rule.endpoint, methods, tuple(sorted(rule.arguments)), converters))
    return sorted(found, key=lambda r: (r.rule, r.methods))


ROUTES = _routes()


def route_params(routes, *, methods=None):
    """pytest params (route, method) with readable ids."""
    return [pytest.param(r, m, id=f"{m} {r.rule}") for r in routes for m in r.methods
            if methods is None or m in methods]


DEFAULT_VALUES = {"name": "plex", "token": "no-such-token", "size": "w92", "filename": "abc.jpg",
                  "media_type": "movie", "tmdb_id": 603, "section_id": 1}


def url_for_route(app, route: Route, ids: dict | None = None, **query) -> str:
    """A URL for `route`: UUID arguments from `ids` (else random), the others from DEFAULT_VALUES."""
    values = {}
    for name, converter in route.converters:
        if converter == "UUIDConverter":
            values[name] = (ids or {}).get(name) or uuid.uuid4()
        elif converter == "IntegerConverter":
            values[name] = DEFAULT_VALUES.get(name, 1)
        elif route.endpoint == "static":
            values[name] = "css/medianest.css"
        else:
            values[name] = DEFAULT_VALUES.get(name, "x")
    with app.test_request_context():
        return url_for(route.endpoint, **values, **query)


# -- a world with another user's rows -------------------------------------------------------------------
BOB_MARKERS = ("bob.private@example.com", "Bobs Private Film", "Bob private note", "Bob secret video", "10.9.8.7")


@dataclass
class World:
    app: object
    admin: object
    viewer: object
    bob: object
    ids: dict = field(default_factory=dict)  # URL argument name -> a row of Bob's (or an admin-only row)

    def leaks(self, body: bytes) -> list[str]:
        text = body.decode("utf-8", "replace")
        return [m for m in BOB_MARKERS if m in text]

    def bob_rows(self) -> dict:
        """What Bob owns, to compare before and after another user's attempts."""
        from medianest.models import MediaRequest, Notification, Session, User, YoutubeDownload

        with self.app.app_context():
            bob = db.session.get(User, self.bob.id)
            req = db.session.get(MediaRequest, self.ids["request_id"])
            note = db.session.get(Notification, self.ids["notification_id"])
            return {
                "user": (bob.role, bob.status, bob.requires_password_change) if bob else None,
                "request": req.status if req else None,
                "notification": note.read if note else None,
                "session": db.session.get(Session, self.ids["session_id"]) is not None,
                "download": db.session.get(YoutubeDownload, self.ids["download_id"]) is not None,
            }


@pytest.fixture
def world(app, admin, user, fake_plex, fake_overseerr):
    """Plex and Overseerr connected; Bob with a request, a notification, a session and a download; an error
    log and an incident for the admin-only detail pages."""
    from medianest.models import Session, YoutubeDownload
    from medianest.services import incidents, notifications
    from medianest.services.auth_sessions import token_hash
    from medianest.timeutil import utcnow

    connect_plex(app, fake_plex)
    connect_overseerr(app, fake_overseerr)
    app.config["MEDIANEST_TMDB_IMAGE_URL"] = fake_overseerr.url  # the fake also plays image.tmdb.org
    bob = make_user(app, email="bob.private@example.com", name="Bob Privatename")
    request_row = make_request(app, bob, title="Bobs Private Film")
    error = make_error_log(app)
    with app.app_context():
        note = notifications.notify(bob.id, "Bob private note", "For Bob only.")
        session = Session(session_token=token_hash(f"bob-{uuid.uuid4()}"), user_id=bob.id,
                          expires=utcnow() + timedelta(days=1), ip_address="10.9.8.7", user_agent="BobBrowser/1.0")
        download = YoutubeDownload(user_id=bob.id, playlist_url="https://www.youtube.com/watch?v=bobbobbob12",
                                   playlist_title="Bob secret video", status="completed")
        db.session.add_all([session, download])
        db.session.commit()
        incident = incidents.open_manual("plex", "outage", "low", "Something for admins.", by_user_id=admin.id)
        ids = {"request_id": request_row.id, "notification_id": note.id, "session_id": session.id,
               "download_id": download.id, "user_id": bob.id, "error_id": error.id, "incident_id": incident.id}
    return World(app=app, admin=admin, viewer=user, bob=bob, ids=ids)


def fresh_client(app, auth, user):
    """A new browser signed in as `user` (a fresh session each time, so a sign-out cannot leak into the next call)."""
    client = app.test_client()
    auth.login_as(user, client)
    return client


__all__ = ["ADMIN_ENDPOINTS", "BOB_MARKERS", "OWNED_ARGS", "ROUTES", "Route", "World", "WRITE_METHODS",
           "fresh_client", "make_user", "route_params", "url_for_route", "world"]
