"""Key rotation: re-encrypt every encrypted column with the current key."""
from __future__ import annotations

import logging

from medianest import crypto
from medianest.extensions import db
from medianest.models import Account, ServiceConfig, User

log = logging.getLogger(__name__)

# (model, attribute, table, column) for every column holding a sealed secret.
ENCRYPTED_COLUMNS = [
    (User, "plex_token", "users", "plex_token"),
    (ServiceConfig, "api_key", "service_config", "api_key"),
    (Account, "access_token", "accounts", "access_token"),
    (Account, "refresh_token", "accounts", "refresh_token"),
    (Account, "id_token", "accounts", "id_token"),
]


def seal(row, attr: str, table: str, value: str | None):
    """Store `value` sealed on `row.attr` (row ids are assigned in Python, so they exist already)."""
    setattr(row, attr, None if value in (None, "") else crypto.secret_box().seal(value, table=table, column=attr, row_id=row.id))


def open_(row, attr: str, table: str) -> str | None:
    token = getattr(row, attr)
    if not token:
        return None
    return crypto.secret_box().open(token, table=table, column=attr, row_id=row.id)


def rotate_all() -> dict[str, int]:
    box = crypto.secret_box()
    counts = {}
    for model, attr, table, column in ENCRYPTED_COLUMNS:
        column_attr = getattr(model, attr)
        rows = db.session.scalars(db.select(model).where(column_attr.is_not(None))).all()
        by_id = {row.id: row for row in rows}
        n = 0
        for row_id, token in box.rotate_values(((r.id, getattr(r, attr)) for r in rows), table=table, column=column):
            setattr(by_id[row_id], attr, token)
            n += 1
        counts[f"{table}.{column}"] = n
    db.session.commit()
    log.info("key rotation done: %s", counts)
    return counts
