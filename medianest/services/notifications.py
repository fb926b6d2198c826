"""Notifications: to one user, to all admins, or to everybody (a broadcast: user_id NULL).

Each user has their own read state for a broadcast (notification_reads). A user sees the
broadcasts sent since their account was created.
"""
from __future__ import annotations

import logging

from sqlalchemy import and_, exists, or_

from medianest.extensions import db
from medianest.models import Notification, NotificationRead, NotificationType, Role, User, UserStatus
from medianest.services import ServiceError
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

TITLE_MAX = 200
MESSAGE_MAX = 5000


def _clean(title: str, message: str, type: str) -> tuple[str, str, str]:
    title = (title or "").strip()
    message = (message or "").strip()
    if not title:
        raise ServiceError("A title is required.", field="title")
    if not message:
        raise ServiceError("A message is required.", field="message")
    if len(title) > TITLE_MAX:
        raise ServiceError(f"Keep the title under {TITLE_MAX} characters.", field="title")
    if len(message) > MESSAGE_MAX:
        raise ServiceError(f"Keep the message under {MESSAGE_MAX} characters.", field="message")
    if type not in set(NotificationType):
        raise ServiceError("Type must be info, success, warning or error.", field="type")
    return title, message, type


def notify(user_id, title: str, message: str, *, type: str = "info", metadata: dict | None = None) -> Notification:
    title, message, type = _clean(title, message, type)
    row = Notification(user_id=user_id, title=title, message=message, type=type, meta=metadata)
    db.session.add(row)
    db.session.commit()
    log.info("notification %s for user %s: %s", row.id, user_id, type)
    return row


def notify_admins(title: str, message: str, *, type: str = "info", metadata: dict | None = None) -> int:
    title, message, type = _clean(title, message, type)
    admin_ids = db.session.scalars(
        db.select(User.id).where(User.role == Role.ADMIN, User.status == UserStatus.ACTIVE)
    ).all()
    db.session.add_all(
        Notification(user_id=uid, title=title, message=message, type=type, meta=metadata) for uid in admin_ids
    )
    db.session.commit()
    log.info("notification to %d admins: %s", len(admin_ids), type)
    return len(admin_ids)


def broadcast(title: str, message: str, *, type: str = "info", metadata: dict | None = None) -> Notification:
    return notify(None, title, message, type=type, metadata=metadata)


# -- reading ------------------------------------------------------------------------------------
def _read_by(user_id):
    return exists().where(NotificationRead.notification_id == Notification.id, NotificationRead.user_id == user_id)


def _visible(user: User):
    return or_(
        Notification.user_id == user.id,
        and_(Notification.user_id.is_(None), Notification.created_at >= user.created_at),
    )


def _unread(user: User):
    return or_(
        and_(Notification.user_id == user.id, Notification.read.is_(False)),
        and_(Notification.user_id.is_(None), Notification.created_at >= user.created_at, ~_read_by(user.id)),
    )


def unread_count(user: User) -> int:
    """One query, whatever the number of notifications."""
    return db.session.scalar(db.select(db.func.count(Notification.id)).where(_unread(user)))


def inbox(user: User, *, unread_only: bool = False, page: int = 1, per_page: int = 20):
    """A page of (notification, is_read) for this user, newest first."""
    read_at = (
        db.select(NotificationRead.read_at)
        .where(NotificationRead.notification_id == Notification.id, NotificationRead.user_id == user.id)
        .scalar_subquery()
    )
    stmt = (
        db.select(Notification, read_at.label("broadcast_read_at"))
        .where(_unread(user) if unread_only else _visible(user))
        .order_by(Notification.created_at.desc(), Notification.id)
    )
    total = db.session.scalar(db.select(db.func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    items = [(n, n.read if n.user_id is not None else broadcast_read_at is not None) for n, broadcast_read_at in rows]
    return items, total


def get_visible(user: User, notification_id) -> Notification | None:
    """The notification if this user may see it (their own, or a broadcast), else None."""
    return db.session.scalar(db.select(Notification).where(Notification.id == notification_id, _visible(user)))


def mark_read(user: User, notification_id) -> Notification:
    row = get_visible(user, notification_id)
    if row is None:
        raise ServiceError("No such notification.", status=404)
    if row.user_id is None:
        if not db.session.get(NotificationRead, (row.id, user.id)):
            db.session.add(NotificationRead(notification_id=row.id, user_id=user.id))
    elif not row.read:
        row.read = True
        row.read_at = utcnow()
    db.session.commit()
    return row


def mark_all_read(user: User) -> None:
    now = utcnow()
    db.session.execute(
        db.update(Notification)
        .where(Notification.user_id == user.id, Notification.read.is_(False))
        .values(read=True, read_at=now)
    )
    unread_broadcasts = db.session.scalars(
        db.select(Notification.id).where(
            Notification.user_id.is_(None), Notification.created_at >= user.created_at, ~_read_by(user.id)
        )
    ).all()
    db.session.add_all(NotificationRead(notification_id=nid, user_id=user.id, read_at=now) for nid in unread_broadcasts)
    db.session.commit()
