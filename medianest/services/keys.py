"""Sealed columns and key rotation: re-encrypt every stored secret with the current key."""
from __future__ import annotations

import logging

from medianest import crypto
from medianest.extensions import db
from medianest.models import Account, ServiceConfig, User

log = logging.getLogger(__name__)

# (model, attribute) for every column holding a sealed secret bound to the row's primary key.
ROW_SEALED = [
    (User, "plex_token"),
    (Account, "access_token"),
    (Account, "refresh_token"),
    (Account, "id_token"),
]


def seal(row, attr: str, value: str | None):
    """Store `value` sealed on `row.attr` (row ids are assigned in Python, so they exist already)."""
    table = row.__tablename__
    setattr(row, attr, crypto.secret_box().seal(value, table=table, column=attr, row_id=row.id) if value else None)


def open_(row, attr: str) -> str | None:
    token = getattr(row, attr)
    if not token:
        return None
    return crypto.secret_box().open(token, table=row.__tablename__, column=attr, row_id=row.id)


def _rotate_service_configs(box) -> int:
    """service_config secrets are bound to the service name (see services/service_config.py)."""
    n = 0
    for cfg in db.session.scalars(db.select(ServiceConfig)):
        row_id = f"service:{cfg.service_name}"
        if cfg.api_key and box.needs_rotation(cfg.api_key):
            cfg.api_key = box.rotate(cfg.api_key, table="service_config", column="api_key", row_id=row_id)
            n += 1
        sealed = dict((cfg.config_data or {}).get("sealed") or {})
        changed = False
        for name, token in sealed.items():
            if token and box.needs_rotation(token):
                sealed[name] = box.rotate(token, table="service_config", column=f"config_data.{name}", row_id=row_id)
                changed = True
                n += 1
        if changed:
            cfg.config_data = {**cfg.config_data, "sealed": sealed}
    return n


def rotate_all() -> dict[str, int]:
    box = crypto.secret_box()
    counts = {}
    for model, attr in ROW_SEALED:
        rows = db.session.scalars(db.select(model).where(getattr(model, attr).is_not(None))).all()
        by_id = {row.id: row for row in rows}
        pairs = ((r.id, getattr(r, attr)) for r in rows)
        n = 0
        for row_id, token in box.rotate_values(pairs, table=model.__tablename__, column=attr):
            setattr(by_id[row_id], attr, token)
            n += 1
        counts[f"{model.__tablename__}.{attr}"] = n
    counts["service_config"] = _rotate_service_configs(box)
    db.session.commit()
    log.info("key rotation done: %s", counts)
    return counts
