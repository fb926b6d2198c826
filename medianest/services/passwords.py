"""Password hashing and strength rules for local accounts."""
from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 10
MAX_LENGTH = 256
COMMON = {
    "password", "password1", "password123", "passw0rd", "qwerty", "qwertyuiop", "letmein", "welcome",
    "admin", "administrator", "iloveyou", "monkey", "dragon", "football", "baseball", "sunshine",
    "1234567890", "0123456789", "12345678", "123456789", "changeme", "trustno1", "medianest", "plexserver",
}
# A dummy hash so that checking an unknown account costs the same time as a real one.
_DUMMY_HASH = generate_password_hash("not-a-real-password-just-timing")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(password_hash, password)


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why a password is too weak, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if lowered in COMMON or lowered.rstrip("!1") in COMMON:
        return "This password is too common."
    if len(set(password)) < 5:
        return "Use more different characters."
    local = email.split("@", 1)[0].lower()
    if local and len(local) >= 4 and local in lowered:
        return "The password must not contain your email name."
    classes = sum(
        [any(c.islower() for c in password), any(c.isupper() for c in password),
         any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
    )
    if classes < 2 and len(password) < 16:
        return "Mix letters with digits or symbols, or use 16 characters or more."
    return None
