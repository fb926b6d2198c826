"""Accounts: first admin, sign-in with a password, password changes, and admin user management
(search, roles, suspension, forced password changes, one-time reset links, deletion).

Admin actions take the acting admin's id: nobody changes their own role or status or deletes themselves
here, and the last active admin can be neither demoted, suspended nor deleted (the admin rows are locked
while checking, so two admins cannot demote each other at the same moment).
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from flask import current_app

from medianest.extensions import db
from medianest.models import MediaRequest, Role, User, UserStatus, VerificationToken, YoutubeDownload
from medianest.services import ServiceError
from medianest.services.passwords import hash_password, password_problem, verify_password
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)


_HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$",
                        re.IGNORECASE)


def normalize_email(email: str) -> str:
    """A syntactically valid address on any domain, lower-cased. Accounts live on home networks, so
    nas.local, localhost and example.test are fine even though no public mail server would take them."""
    text = (email or "").strip()
    local, at, domain = text.rpartition("@")
    try:
        if at and _HOST_NAME.match(domain):
            # email_validator refuses special-use domains outright: check the local part against a
            # neutral domain and the host name with the pattern above.
            checked = validate_email(f"{local}@example.com", check_deliverability=False)
            return f"{checked.local_part}@{domain}".lower()
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ServiceError(f"Enter a valid email address ({exc}).", field="email") from None


def admin_exists() -> bool:
    return db.session.scalar(db.select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None


def get_by_email(email: str) -> User | None:
    return db.session.scalar(db.select(User).where(User.email == email.strip().lower()))


def create_admin(email: str, password: str, name: str | None = None) -> tuple[User, bool]:
    """Create a local admin; idempotent for the same email. Returns (user, created)."""
    email = normalize_email(email)
    problem = password_problem(password, email=email)
    if problem:
        raise ServiceError(problem, field="password")
    existing = get_by_email(email)
    if existing is not None:
        if existing.role != Role.ADMIN:
            raise ServiceError("A non-admin account with this email already exists.", field="email")
        if not verify_password(existing.password_hash, password):
            raise ServiceError(f"An admin account {email} already exists with another password; it was left as it "
                               f"is. To set a new password, run `flask users reset-link {email}`.", field="email")
        return existing, False
    user = User(email=email, name=name or email.split("@")[0], role=Role.ADMIN, status=UserStatus.ACTIVE,
                password_hash=hash_password(password))
    db.session.add(user)
    db.session.commit()
    log.info("admin %s created", user.id)
    return user, True


def authenticate(email: str, password: str) -> User:
    """The user for these credentials, or ServiceError with a message that reveals nothing."""
    user = get_by_email(email or "")
    ok = verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None:
        raise ServiceError("Email or password is wrong.", status=401)
    if user.status != UserStatus.ACTIVE:
        raise ServiceError("This account is not active. Ask an admin.", status=403)
    return user


def change_password(user_id, current: str, new: str, confirm: str) -> User:
    user = db.session.get(User, user_id)
    if user.password_hash and not verify_password(user.password_hash, current or ""):
        raise ServiceError("Your current password is wrong.", field="current_password")
    if new != confirm:
        raise ServiceError("The two new passwords differ.", field="confirm_password")
    if user.password_hash and verify_password(user.password_hash, new):
        raise ServiceError("Choose a password different from the current one.", field="new_password")
    problem = password_problem(new, email=user.email)
    if problem:
        raise ServiceError(problem, field="new_password")
    user.password_hash = hash_password(new)
    user.requires_password_change = False
    db.session.commit()
    log.info("user %s changed their password", user.id)
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(db.select(User).order_by(User.created_at)))


def active_admin_count() -> int:
    return db.session.scalar(
        db.select(db.func.count(User.id)).where(User.role == Role.ADMIN, User.status == UserStatus.ACTIVE)
    )


# -- admin user management ----------------------------------------------------------------------
SORTS = {
    "newest": (User.created_at.desc(),),
    "last_login": (User.last_login_at.desc().nulls_last(), User.created_at.desc()),
    "email": (User.email.asc(),),
}
SEARCH_MAX = 100


def search(*, q: str | None = None, role: str | None = None, status: str | None = None, sort: str = "newest",
           page: int = 1, per_page: int = 50):
    """A page of users matching a text (email, name, Plex username), a role and a status."""
    stmt = db.select(User)
    text = (q or "").strip()[:SEARCH_MAX]
    if text:
        needle = text.lower()
        stmt = stmt.where(db.or_(*(db.func.lower(column).contains(needle, autoescape=True)
                                   for column in (User.email, User.name, User.plex_username))))
    if role in set(Role):
        stmt = stmt.where(User.role == role)
    if status in set(UserStatus):
        stmt = stmt.where(User.status == status)
    stmt = stmt.order_by(*SORTS.get(sort, SORTS["newest"]), User.id)
    return db.paginate(stmt, page=page, per_page=per_page, max_per_page=200, error_out=False)


def activity_counts(user_ids, *, cap: int | None = None) -> dict:
    """{user id: (requests, downloads)} for the given users, in one query that reads only the user_id indexes.
    With `cap`, each count stops at cap + 1 (a list shows "999+"), so a page of users costs the same whatever
    their history; without it, count(*) grouped by user_id."""
    ids = list(user_ids)
    if not ids:
        return {}
    if cap is not None:
        def capped(model):
            first = db.select(model.id).where(model.user_id == User.id).limit(cap + 1).correlate(User).subquery()
            return db.select(db.func.count()).select_from(first).scalar_subquery()

        rows = db.session.execute(db.select(User.id, capped(MediaRequest), capped(YoutubeDownload))
                                  .where(User.id.in_(ids)))
        return {row[0]: (row[1], row[2]) for row in rows}

    def grouped(model):
        return (db.select(model.user_id, db.func.count().label("n")).where(model.user_id.in_(ids))
                .group_by(model.user_id).subquery())

    requests, downloads = grouped(MediaRequest), grouped(YoutubeDownload)
    rows = db.session.execute(
        db.select(User.id, db.func.coalesce(requests.c.n, 0), db.func.coalesce(downloads.c.n, 0))
        .outerjoin(requests, requests.c.user_id == User.id).outerjoin(downloads, downloads.c.user_id == User.id)
        .where(User.id.in_(ids)))
    return {row[0]: (row[1], row[2]) for row in rows}


def get(user_id) -> User | None:
    return db.session.get(User, user_id)


def _target(user_id) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise ServiceError("There is no such user.", status=404)
    return user


def _not_self(user: User, actor_id, what: str):
    if actor_id is not None and str(user.id) == str(actor_id):
        raise ServiceError(f"You cannot {what} your own account here. Ask another admin to do it.", status=409)


def _keep_an_admin(user: User, what: str):
    """Refuse when `user` is the last active admin (locks the active admins' rows on PostgreSQL)."""
    if user.role != Role.ADMIN or user.status != UserStatus.ACTIVE:
        return
    admins = db.session.scalars(
        db.select(User.id).where(User.role == Role.ADMIN, User.status == UserStatus.ACTIVE).with_for_update()
    ).all()
    if len(admins) <= 1:
        raise ServiceError(f"You cannot {what} the last active admin. Make someone else an admin first.", status=409)


def set_role(user_id, role: str, *, actor_id=None) -> User:
    if role not in set(Role):
        raise ServiceError("Role must be USER or ADMIN.", field="role")
    user = _target(user_id)
    if user.role == role:
        return user
    if role != Role.ADMIN:
        _not_self(user, actor_id, "demote")
        _keep_an_admin(user, "demote")
    user.role = role
    db.session.commit()
    log.info("user %s role set to %s by %s", user.id, role, actor_id or "cli")
    return user


def set_status(user_id, status: str, *, actor_id=None) -> User:
    """Activate, deactivate or suspend. Leaving `active` ends every session and remember-me token at once."""
    from medianest.services import remember

    if status not in set(UserStatus):
        raise ServiceError("Status must be active, inactive or suspended.", field="status")
    user = _target(user_id)
    if user.status == status:
        return user
    if status != UserStatus.ACTIVE:
        _not_self(user, actor_id, "suspend")
        _keep_an_admin(user, "suspend")
    user.status = status
    db.session.commit()
    log.info("user %s status set to %s by %s", user.id, status, actor_id or "cli")
    if status != UserStatus.ACTIVE:
        remember.revoke_everything(user.id, reason=f"account {status}")
    return user


def suspend(user_id, *, actor_id=None) -> User:
    return set_status(user_id, UserStatus.SUSPENDED, actor_id=actor_id)


def reactivate(user_id, *, actor_id=None) -> User:
    return set_status(user_id, UserStatus.ACTIVE, actor_id=actor_id)


def require_password_change(user_id, *, actor_id=None) -> User:
    user = _target(user_id)
    if not user.password_hash:
        raise ServiceError("This account signs in with Plex and has no password. Send a reset link to give it one.",
                           status=409)
    user.requires_password_change = True
    db.session.commit()
    log.info("user %s must change their password (asked by %s)", user.id, actor_id or "cli")
    return user


def delete_user(user_id, *, actor_id=None) -> str:
    """Delete the account; the database deletes its rows (ON DELETE CASCADE), then its download folder goes.

    Returns the deleted account's email.
    """
    user = _target(user_id)
    _not_self(user, actor_id, "delete")
    _keep_an_admin(user, "delete")
    gone_id, email = user.id, user.email
    db.session.execute(db.delete(User).where(User.id == gone_id))
    db.session.commit()
    log.info("user %s deleted by %s", gone_id, actor_id or "cli")
    _remove_download_folder(gone_id)
    return email


def download_folder(user_id) -> Path:
    return Path(current_app.config["MEDIANEST_DOWNLOAD_DIR"]).resolve() / str(uuid.UUID(str(user_id)))


def _remove_download_folder(user_id) -> bool:
    """Remove `<MEDIANEST_DOWNLOAD_DIR>/<user id>/`, only if it really is a folder directly inside the root."""
    root = Path(current_app.config["MEDIANEST_DOWNLOAD_DIR"]).resolve()
    folder = download_folder(user_id)
    if not folder.exists() and not folder.is_symlink():
        return False
    if folder.is_symlink() or not folder.is_dir() or folder.resolve().parent != root:
        log.warning("download folder of user %s is not a plain folder inside the download root; left alone", user_id)
        return False
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        log.error("could not remove the download folder of user %s: %s", user_id, type(exc).__name__)
        return False
    log.info("download folder of user %s removed", user_id)
    return True


# -- one-time password-reset links ----------------------------------------------------------------
RESET_PREFIX = "password-reset:"
RESET_LIFETIME = timedelta(hours=24)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_reset_token(user_id, *, actor_id=None) -> str:
    """A one-time token for a password-reset link (only its hash is stored; earlier links stop working)."""
    user = _target(user_id)
    if user.status != UserStatus.ACTIVE:
        raise ServiceError("This account is not active. Reactivate it before sending a reset link.", status=409)
    token = secrets.token_urlsafe(32)
    identifier = f"{RESET_PREFIX}{user.id}"
    db.session.execute(db.delete(VerificationToken).where(
        db.or_(VerificationToken.identifier == identifier,
               db.and_(VerificationToken.identifier.startswith(RESET_PREFIX), VerificationToken.expires < utcnow()))))
    db.session.add(VerificationToken(identifier=identifier, token=_token_hash(token), expires=utcnow() + RESET_LIFETIME))
    db.session.commit()
    log.info("password-reset link issued for user %s by %s", user.id, actor_id or "cli")
    return token


def _reset_row(token: str | None) -> VerificationToken | None:
    if not isinstance(token, str) or not token or len(token) > 128:
        return None
    row = db.session.scalar(db.select(VerificationToken).where(VerificationToken.token == _token_hash(token)))
    if row is None or not row.identifier.startswith(RESET_PREFIX) or row.is_expired:
        return None
    return row


def reset_token_user(token: str | None) -> User | None:
    """The active user a valid, unexpired reset token belongs to, else None."""
    row = _reset_row(token)
    if row is None:
        return None
    try:
        user = db.session.get(User, uuid.UUID(row.identifier.removeprefix(RESET_PREFIX)))
    except ValueError:
        return None
    return user if user is not None and user.status == UserStatus.ACTIVE else None


def reset_password(token: str, new: str, confirm: str) -> User:
    """Set a new password with a reset token; the token is used up and every other sign-in of the user ends."""
    from medianest.services import remember

    user = reset_token_user(token)
    if user is None:
        raise ServiceError("This password-reset link is not valid any more. Ask an admin for a new one.", status=404)
    if new != confirm:
        raise ServiceError("The two passwords differ.", field="confirm_password")
    problem = password_problem(new or "", email=user.email)
    if problem:
        raise ServiceError(problem, field="new_password")
    used = db.session.execute(db.delete(VerificationToken).where(VerificationToken.token == _token_hash(token))).rowcount
    if used != 1:
        db.session.rollback()
        raise ServiceError("This password-reset link is not valid any more. Ask an admin for a new one.", status=404)
    user.password_hash = hash_password(new)
    user.requires_password_change = False
    db.session.commit()
    remember.revoke_everything(user.id, reason="password reset")
    log.info("user %s set a new password with a reset link", user.id)
    return user
