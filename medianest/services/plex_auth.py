"""Sign in with Plex: the PIN flow, the server-access check, and the user it signs in.

Contract: reference/EXTERNAL_APIS.md §1. `begin` creates a strong PIN at plex.tv and a one-time binding
(`verification_tokens` row "plex-pin:<id>" holding the SHA-256 of a nonce that only the starting browser's
signed cookie knows), so a PIN id cannot be completed from another browser or twice.

Server access is checked again later (`check_access`): hourly by a periodic task and when a remember-me
cookie signs a browser in. When our server is no longer among the account's resources (the owner removed the
share) the account is marked (users.plex_access_lost_at), every session and remember-me token is revoked, and
the sign-in page says why. Signing in with Plex again, once the share is back, clears the mark. `check` asks plex.tv
about the PIN once; when it is claimed, it reads the account and its resources and admits the person only
if our server (its machineIdentifier) is among them: the owner becomes ADMIN, everybody else USER. Nothing
is written before every plex.tv answer is in, so a refusal or a plex.tv failure leaves no half-made user.

Plex tokens are stored sealed (users.plex_token: the plex.tv account token; accounts.access_token: the token
plex.tv hands out for our server) and never logged. `check_token` is the token-health check: only a 401 from
plex.tv marks a token invalid (EXTERNAL_APIS.md §5 trap 8).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from medianest import cache
from medianest.clients.base import WEB_TIMEOUT, ClientError, NotFound, Unauthorized, Unreachable
from medianest.clients.plextv import PlexAccount, PlexResource, auth_app_url, find_server
from medianest.extensions import db
from medianest.models import Account, Role, User, UserStatus, VerificationToken
from medianest.services import ServiceError, keys, service_config
from medianest.services.users import normalize_email
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

PIN_PREFIX = "plex-pin:"
PIN_MAX_AGE = timedelta(minutes=30)
DEFAULT_TIMEOUT = WEB_TIMEOUT  # the person is waiting on the sign-in page
PROVIDER = "plex"
PLACEHOLDER_EMAIL_DOMAIN = "plex.invalid"  # RFC 2606: for Plex accounts without a usable email (managed users)
IMAGE_MAX = 500
MACHINE_ID_TTL = 3600


class PlexSignInError(ServiceError):
    """A refusal the person sees, with `kind` for the page and an HTTP status."""

    def __init__(self, kind: str, message: str, status: int):
        super().__init__(message, status=status)
        self.kind = kind


def error(kind: str) -> PlexSignInError:
    message, status = MESSAGES[kind]
    return PlexSignInError(kind, message, status)


MESSAGES = {
    "not_configured": ("Plex sign-in is not set up yet: an admin has to connect the Plex server first. "
                       "Until then only the local admin can sign in, with a password.", 503),
    "not_this_browser": ("This Plex sign-in was not started in this browser, or it was already used. "
                         "Start again.", 400),
    "expired": ("The Plex sign-in expired before it was finished. Start again.", 410),
    "refused": ("Plex did not accept this sign-in. Start again.", 403),
    "no_access": ("This Plex account has no access to this server. Ask the server's owner to share it "
                  "with you, then try again.", 403),
    "suspended": ("This MediaNest account is suspended. Ask an admin.", 403),
    "conflict": ("Another MediaNest account already uses the email address of this Plex account. "
                 "Ask an admin to sort it out.", 409),
    "unreachable": ("plex.tv is not answering right now. Try again in a minute.", 503),
    "bad_answer": ("plex.tv sent an answer MediaNest does not understand. Try again later.", 502),
    "server_unreachable": ("MediaNest cannot reach its Plex server to check who may sign in. "
                           "Try again later or ask an admin.", 503),
}


# -- configuration ------------------------------------------------------------------------------
def available() -> bool:
    """Is Plex sign-in offered at all? (A connected, enabled Plex server.) One query, no outside call."""
    cfg = service_config.get("plex")
    return bool(cfg is not None and cfg.enabled and cfg.service_url)


def _timeout():
    return current_app.config.get("MEDIANEST_PLEX_TV_TIMEOUT") or DEFAULT_TIMEOUT


def server_machine_identifier() -> str:
    """Our Plex server's machineIdentifier: from its settings, else asked once from the server (/identity)."""
    cfg = service_config.get("plex")
    if cfg is None or not cfg.enabled or not cfg.service_url:
        raise error("not_configured")
    known = service_config.data(cfg).get("machine_identifier")
    if known:
        return known
    key = f"plex:machine-identifier:{hashlib.sha256(cfg.service_url.encode()).hexdigest()[:16]}"
    cached = cache.get(key)
    if cached:
        return cached
    try:
        identity = service_config.plex_client(timeout=_timeout()).identity()
    except ClientError as exc:
        log.warning("plex sign-in: cannot identify the Plex server (%s)", exc.message)
        raise error("server_unreachable") from None
    if not identity.machine_identifier:
        raise error("server_unreachable")
    cache.set(key, identity.machine_identifier, MACHINE_ID_TTL)
    return identity.machine_identifier


def _client():
    return service_config.plextv_client(timeout=_timeout())


def _client_error(exc: ClientError) -> PlexSignInError:
    log.warning("plex sign-in: plex.tv call failed (%s)", exc.message)
    outage = isinstance(exc, Unreachable) or (exc.status or 0) >= 500  # plex.tv down is not a strange answer
    return error("unreachable" if outage else "bad_answer")


# -- the PIN flow -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Start:
    pin_id: int
    nonce: str = field(repr=False)  # goes into the starting browser's signed cookie only
    auth_url: str


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def begin(forward_url: Callable[[int], str]) -> Start:
    """Create a PIN at plex.tv and its one-time binding; `forward_url(pin_id)` is where Plex sends the browser back."""
    server_machine_identifier()
    client = _client()
    try:
        pin = client.create_pin()
    except ClientError as exc:
        raise _client_error(exc) from None
    now = utcnow()
    lifetime = timedelta(seconds=pin.expires_in) if pin.expires_in else PIN_MAX_AGE
    nonce = secrets.token_urlsafe(32)
    db.session.execute(db.delete(VerificationToken).where(VerificationToken.identifier.startswith(PIN_PREFIX),
                                                          VerificationToken.expires < now))
    db.session.add(VerificationToken(identifier=f"{PIN_PREFIX}{pin.id}", token=_nonce_hash(nonce),
                                     expires=now + min(lifetime, PIN_MAX_AGE)))
    db.session.commit()
    url = auth_app_url(current_app.config["MEDIANEST_PLEX_APP_URL"], client_id=client.client_identifier,
                       code=pin.code, forward_url=forward_url(pin.id))
    log.info("plex sign-in: PIN %s created", pin.id)
    return Start(pin_id=pin.id, nonce=nonce, auth_url=url)


def _binding(pin_id: int, nonce: str):
    return db.select(VerificationToken).where(VerificationToken.identifier == f"{PIN_PREFIX}{pin_id}",
                                              VerificationToken.token == _nonce_hash(nonce))


def _drop_binding(pin_id: int) -> None:
    db.session.execute(db.delete(VerificationToken).where(VerificationToken.identifier == f"{PIN_PREFIX}{pin_id}"))
    db.session.commit()


def check(pin_id, nonce) -> User | None:
    """Ask plex.tv about the PIN once: None while nobody signed in yet, else the signed-in (active) user.

    Raises PlexSignInError with what to tell the person; the binding is dropped when starting again is
    the only way forward.
    """
    if not isinstance(pin_id, int) or isinstance(pin_id, bool) or pin_id <= 0 or not isinstance(nonce, str) or not nonce:
        raise error("not_this_browser")
    binding = db.session.scalar(_binding(pin_id, nonce))
    if binding is None:
        raise error("not_this_browser")
    if binding.is_expired:
        _drop_binding(pin_id)
        raise error("expired")
    machine_id = server_machine_identifier()
    client = _client()
    try:
        pin = client.get_pin(pin_id)
    except NotFound:
        _drop_binding(pin_id)
        raise error("expired") from None
    except ClientError as exc:
        raise _client_error(exc) from None
    if not pin.claimed:
        return None
    token = pin.auth_token
    try:
        account = client.get_user(token)
        server = find_server(client.get_resources(token), machine_id)
    except Unauthorized:
        _drop_binding(pin_id)
        raise error("refused") from None
    except ClientError as exc:
        raise _client_error(exc) from None
    if server is None:
        _drop_binding(pin_id)
        log.info("plex sign-in: PIN %s refused, the account has no access to this server", pin_id)
        raise error("no_access")
    return _admit(pin_id, nonce, account, token, server, machine_id)


def _email_for(account: PlexAccount) -> tuple[str, bool]:
    """(email, is_real): the account's normalized email, or a placeholder no one can own."""
    if account.email:
        try:
            email = normalize_email(account.email)
        except ServiceError:
            email = None
        if email and len(email) <= 255:
            return email, True
    return f"plex-{account.id}@{PLACEHOLDER_EMAIL_DOMAIN}", False


def _email_taken(email: str, except_id) -> bool:
    return db.session.scalar(db.select(User.id).where(User.email == email, User.id != except_id)) is not None


def _admit(pin_id: int, nonce: str, account: PlexAccount, token: str, server: PlexResource, machine_id: str) -> User:
    """Create or update the user, link the Plex account, consume the binding: one transaction."""
    plex_id = str(account.id)
    email, real_email = _email_for(account)
    image = account.thumb if account.thumb and len(account.thumb) <= IMAGE_MAX else None
    username = account.username or None
    user = db.session.scalar(db.select(User).where(User.plex_id == plex_id))
    if user is None and real_email:
        linked = db.session.scalar(db.select(User).where(User.email == email))
        if linked is not None and linked.plex_id not in (None, plex_id):
            db.session.rollback()
            _drop_binding(pin_id)
            raise error("conflict")
        user = linked
    if user is not None and user.status != UserStatus.ACTIVE:
        db.session.rollback()
        _drop_binding(pin_id)
        raise error("suspended")

    created = user is None
    if created:
        user = User(id=uuid.uuid4(), email=email, role=Role.USER, status=UserStatus.ACTIVE)
        db.session.add(user)
    elif real_email and user.email != email and not _email_taken(email, user.id):
        user.email = email
    user.plex_id = plex_id
    user.plex_username = username
    user.name = user.name or account.title or username
    user.image = image
    if server.owned:
        user.role = Role.ADMIN
    keys.seal(user, "plex_token", token)
    user.plex_token_invalid = False
    user.plex_access_lost_at = None
    user.plex_access_checked_at = utcnow()

    link = db.session.scalar(db.select(Account).where(Account.provider == PROVIDER,
                                                      Account.provider_account_id == plex_id))
    if link is None:
        link = Account(id=uuid.uuid4(), type="oauth", provider=PROVIDER, provider_account_id=plex_id)
        db.session.add(link)
    link.user_id = user.id
    link.token_type = "plex-server"
    link.scope = machine_id[:255]
    keys.seal(link, "access_token", server.access_token or token)

    consumed = db.session.execute(
        db.delete(VerificationToken).where(VerificationToken.identifier == f"{PIN_PREFIX}{pin_id}",
                                           VerificationToken.token == _nonce_hash(nonce))
    ).rowcount
    if consumed != 1:
        db.session.rollback()
        raise error("not_this_browser")
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        _drop_binding(pin_id)
        log.warning("plex sign-in: PIN %s hit a uniqueness conflict", pin_id)
        raise error("conflict") from None
    log.info("plex sign-in: user %s %s (role %s)", user.id, "created" if created else "signed in", user.role)
    return user


# -- Plex token health --------------------------------------------------------------------------
REAUTH_TITLE = "Sign in with Plex again"
REAUTH_MESSAGE = ("Plex no longer accepts the sign-in MediaNest saved for you (it may have been signed out "
                  "from your Plex account). Sign out and sign in with Plex again to keep everything working.")


def mark_token_invalid(user_id) -> bool:
    """plex.tv answered 401 for this user's stored token: flag it and ask the user to sign in again (once)."""
    from medianest.services import notifications

    user = db.session.get(User, user_id)
    if user is None or user.plex_token_invalid:
        return False
    user.plex_token_invalid = True
    db.session.commit()
    log.warning("user %s: plex.tv refused the stored Plex token", user_id)
    notifications.notify(user_id, REAUTH_TITLE, REAUTH_MESSAGE, type="warning", metadata={"event": "plex_token_invalid"})
    return True


def check_token(user_id) -> str:
    """'valid', 'invalid' (plex.tv said 401) or 'unknown' (no token, plex.tv down or odd: nothing changes)."""
    user = db.session.get(User, user_id)
    if user is None or not user.plex_token:
        return "unknown"
    token = keys.open_(user, "plex_token")
    try:
        _client().get_user(token)
    except Unauthorized:
        mark_token_invalid(user_id)
        return "invalid"
    except ClientError as exc:
        log.info("plex token check for user %s inconclusive (%s)", user_id, exc.message)
        return "unknown"
    if user.plex_token_invalid:
        user.plex_token_invalid = False
        db.session.commit()
    return "valid"


def check_all_tokens() -> dict[str, int]:
    """The periodic token-health round over active users with a stored, not yet flagged token."""
    ids = db.session.scalars(db.select(User.id).where(User.plex_token.is_not(None), User.plex_token_invalid.is_(False),
                                                      User.status == UserStatus.ACTIVE)).all()
    counts = {"valid": 0, "invalid": 0, "unknown": 0}
    for user_id in ids:
        counts[check_token(user_id)] += 1
    log.info("plex token check: %s", counts)
    return counts


# -- Plex server access, checked again -----------------------------------------------------------
ACCESS_CHECK_EVERY = timedelta(hours=1)  # the periodic round skips accounts checked more recently
REMEMBER_CHECK_EVERY = timedelta(minutes=10)  # a remember-me sign-in asks plex.tv unless it was asked just now
ACCESS_LOST = "plex_access_lost"
ACCESS_LOST_MESSAGE = ("Your access to this Plex server was removed, so MediaNest signed you out everywhere. "
                       "Ask the server's owner to share it with you again, then sign in with Plex.")


def check_access(user_id) -> str:
    """'ok', 'lost' (our server is gone from the account's resources: signed out everywhere) or 'unknown'
    (no token, plex.tv down or refusing the token, Plex not connected: nothing changes)."""
    user = db.session.get(User, user_id)
    if user is None or not user.plex_token or user.status != UserStatus.ACTIVE:
        return "unknown"
    try:
        machine_id = server_machine_identifier()
    except PlexSignInError:
        return "unknown"
    token = keys.open_(user, "plex_token")
    try:
        server = find_server(_client().get_resources(token), machine_id)
    except Unauthorized:
        mark_token_invalid(user_id)
        return "unknown"
    except ClientError as exc:
        log.info("plex access check for user %s inconclusive (%s)", user_id, exc.message)
        return "unknown"
    user.plex_access_checked_at = utcnow()
    if server is not None:
        db.session.commit()
        return "ok"
    lose_access(user)
    return "lost"


def lose_access(user: User) -> None:
    """Our server is no longer shared with this account: mark it, end every sign-in, tell the user."""
    from medianest.services import notifications, remember

    user.plex_access_lost_at = utcnow()
    db.session.commit()
    remember.revoke_everything(user.id, reason="Plex server access removed", keep_tombstones=True)
    notifications.notify(user.id, "Plex access removed", ACCESS_LOST_MESSAGE, type="warning",
                         metadata={"event": ACCESS_LOST})


def check_all_access(*, every: timedelta = ACCESS_CHECK_EVERY) -> dict[str, int]:
    """The periodic round: active accounts with a stored, working Plex token not checked within `every`."""
    since = utcnow() - every
    ids = db.session.scalars(db.select(User.id).where(
        User.plex_token.is_not(None), User.plex_token_invalid.is_(False), User.status == UserStatus.ACTIVE,
        User.plex_access_lost_at.is_(None),
        (User.plex_access_checked_at.is_(None)) | (User.plex_access_checked_at < since))).all()
    counts = {"ok": 0, "lost": 0, "unknown": 0}
    for user_id in ids:
        counts[check_access(user_id)] += 1
    log.info("plex access check: %s", counts)
    return counts


def access_still_there(user: User) -> bool:
    """For a remember-me sign-in: False when the account lost our server (it is signed out everywhere then).
    Asks plex.tv unless it was asked within REMEMBER_CHECK_EVERY; an inconclusive answer lets the user in."""
    if user.plex_access_lost_at is not None:
        return False
    if not user.plex_token or (user.plex_access_checked_at is not None
                               and utcnow() - user.plex_access_checked_at < REMEMBER_CHECK_EVERY):
        return True
    return check_access(user.id) != "lost"
