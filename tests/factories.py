"""Factories: valid rows by default; add, commit, and return a detached, fully loaded object."""
from __future__ import annotations

import itertools
from contextlib import contextmanager

from flask import has_app_context

from medianest.extensions import db
from medianest.services.passwords import hash_password

_counter = itertools.count(1)
_HASHES: dict[str, str] = {}


def password_hash(password: str) -> str:
    """Hashing is slow; hash each distinct test password once."""
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


@contextmanager
def _context(app):
    if has_app_context():
        yield
    else:
        with app.app_context():
            yield


def _save(app, row):
    with _context(app):
        db.session.add(row)
        db.session.commit()
        db.session.refresh(row)
        db.session.expunge(row)
    return row


def make_user(app, *, password: str | None = None, **overrides):
    from medianest.models import User

    n = next(_counter)
    values = {"email": f"user{n}@example.com", "name": f"User {n}", "role": "USER", "status": "active"}
    values.update(overrides)
    if password:
        values["password_hash"] = password_hash(password)
    return _save(app, User(**values))


def make_error_log(app, **overrides):
    from medianest.models import ErrorLog

    values = {"correlation_id": f"cid-{next(_counter):08d}", "error_code": "Boom", "error_message": "boom",
              "status_code": 500, "request_path": "/x", "request_method": "GET"}
    values.update(overrides)
    return _save(app, ErrorLog(**values))


def make_request(app, user, **overrides):
    """A media request row for `user` (default: a film, pending, already forwarded as Overseerr request 1)."""
    from medianest.models import MediaRequest

    n = next(_counter)
    values = {"user_id": user.id, "title": f"Film {n}", "media_type": "movie", "tmdb_id": str(900000 + n),
              "status": "pending", "forward_state": "sent", "overseerr_id": str(n)}
    values.update(overrides)
    return _save(app, MediaRequest(**values))
