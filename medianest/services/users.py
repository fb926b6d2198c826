"""Local accounts: first admin, sign-in with a password, password changes, roles and status."""
from __future__ import annotations

import logging

from email_validator import EmailNotValidError, validate_email

from medianest.extensions import db
from medianest.models import Role, User, UserStatus
from medianest.services import ServiceError
from medianest.services.passwords import hash_password, password_problem, verify_password

log = logging.getLogger(__name__)


def normalize_email(email: str) -> str:
    try:
        return validate_email((email or "").strip(), check_deliverability=False).normalized.lower()
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
