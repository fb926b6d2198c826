"""Media requests: saved locally first, forwarded to Overseerr by a worker, followed until they are done.

A row's `status` is what the user sees: pending -> approved -> downloading -> completed, or denied / failed.
Its `forward_state` is the forward job's state, kept in the row so nothing is lost or sent twice:

    queued --claim--> sending --> sent      (overseerr_id stored)
                        |  \\--> queued     (Overseerr down: "waiting for Overseerr"; retried with backoff,
                        |                    and re-forwarded by a periodic task until it answers)
                        \\-----> failed      (Overseerr refused it; an admin may retry)

Claiming is one conditional UPDATE, so only one worker can send a row; a claim left behind by a dead worker
goes stale after STALE_CLAIM and the row is forwarded again; if Overseerr already has it (409 / "no seasons
left") the existing Overseerr request is linked instead of creating a second one.

Status comes from Overseerr: its webhook only says "look again" (the request is re-read), and a periodic
reconcile re-reads the rows still moving, in batches. Transitions never go backwards (logged and ignored).
Every change notifies the requester and the users who added their interest in the same title.
"""
from __future__ import annotations

import hmac
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from medianest import cache, jobs
from medianest.clients import overseerr
from medianest.clients.base import BadResponse, ClientError, Conflict, NotFound, Unauthorized, Unreachable
from medianest.extensions import db
from medianest.models import ACTIVE_REQUEST_STATUSES, MediaRequest, MediaType, RequestStatus, Role, User
from medianest.models.media import ForwardState, RequestInterest, seasons_key
from medianest.services import ServiceError, as_uuid, library, notifications, paging, quotas, service_config
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=5)  # a 'sending' row older than this lost its worker
MAX_SERVER_ERRORS = 10  # Overseerr 5xx answers in a row before a forward is given up (Unreachable never gives up)
RECONCILE_BATCH = 50
FORWARD_BATCH = 100
USER_MAP_TTL = 3600
MAX_SEASON = 1000
REASON_MAX = 500
PER_PAGE = 20
ADMIN_PER_PAGE = 50
SORTS = {
    "newest": (MediaRequest.created_at.desc(), MediaRequest.id),
    "oldest": (MediaRequest.created_at.asc(), MediaRequest.id.desc()),  # "newest" backwards: the same index
    "title": (MediaRequest.title.asc(), MediaRequest.created_at.desc()),
    "status": (MediaRequest.status.asc(), MediaRequest.created_at.desc()),
}
RANK = {RequestStatus.PENDING: 0, RequestStatus.APPROVED: 1, RequestStatus.DOWNLOADING: 2, RequestStatus.COMPLETED: 3}
FINAL = (RequestStatus.COMPLETED, RequestStatus.DENIED)
SYNCED_STATUSES = (*ACTIVE_REQUEST_STATUSES, RequestStatus.FAILED)  # Overseerr's "retry" revives failed requests


class Outcome:
    SENT = "sent"
    LINKED = "linked"
    WAITING = "waiting"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class Submitted:
    request: MediaRequest
    kind: str  # "created" | "existing" | "interest"
    message: str


# -- reading ------------------------------------------------------------------------------------------------
def owned(request_id, user_id) -> MediaRequest | None:
    """The request if it belongs to this user (the only way views read a user's request)."""
    request_id = as_uuid(request_id)
    if request_id is None:
        return None
    return db.session.scalar(db.select(MediaRequest).where(MediaRequest.id == request_id,
                                                           MediaRequest.user_id == user_id))


def page_number(raw) -> int:
    try:
        return max(1, min(int(raw), 100000))
    except (TypeError, ValueError):
        return 1


def list_own(user_id, *, status=None, media_type=None, sort="newest", page=1, per_page=PER_PAGE):
    """A page of this user's requests (two queries: count and rows, whatever the number of rows; a deep page
    skips entries of idx_media_requests_user_created_id, not rows)."""
    stmt = db.select(MediaRequest).where(MediaRequest.user_id == user_id)
    if status in set(RequestStatus):
        stmt = stmt.where(MediaRequest.status == status)
    elif status == "active":
        stmt = stmt.where(MediaRequest.status.in_([s.value for s in ACTIVE_REQUEST_STATUSES]))
    if media_type in (MediaType.MOVIE, MediaType.TV):
        stmt = stmt.where(MediaRequest.media_type == media_type)
    return paging.counted_page(stmt, MediaRequest.id, SORTS.get(sort, SORTS["newest"]), page=page_number(page),
                               per_page=max(1, min(int(per_page), 100)))


def list_all(*, status=None, user=None, media_type=None, since=None, until=None, page=1, per_page=ADMIN_PER_PAGE):
    """Admin: a page of everyone's requests with their users, in three queries whatever the number of rows.

    Users are joined only to filter by them; otherwise they are loaded for the page alone. The page reads one
    row more than it shows (is there a next page?) and the total is counted up to paging.COUNT_CAP rows, so a
    view never counts every request (idx_media_requests_created_id serves the order).
    """
    stmt = db.select(MediaRequest).join(MediaRequest.user) if user else db.select(MediaRequest)
    if status in set(RequestStatus):
        stmt = stmt.where(MediaRequest.status == status)
    elif status == "waiting":
        stmt = stmt.where(MediaRequest.forward_state.in_([ForwardState.QUEUED.value, ForwardState.SENDING.value]))
    if media_type in (MediaType.MOVIE, MediaType.TV):
        stmt = stmt.where(MediaRequest.media_type == media_type)
    if user:
        needle = user.strip().lower()[:255]
        stmt = stmt.where(or_(db.func.lower(User.email).contains(needle, autoescape=True),
                              db.func.lower(User.name).contains(needle, autoescape=True)))
    if since:
        stmt = stmt.where(MediaRequest.created_at >= since)
    if until:
        stmt = stmt.where(MediaRequest.created_at < until)
    return paging.peek_page(stmt, MediaRequest.id, SORTS["newest"], page=page_number(page),
                            per_page=max(1, min(int(per_page), 200)),
                            options=(selectinload(MediaRequest.user),))


def following(user_id, limit: int = 10) -> list[MediaRequest]:
    """Other users' requests this user added their interest to (one query)."""
    return list(db.session.scalars(
        db.select(MediaRequest).join(RequestInterest, RequestInterest.request_id == MediaRequest.id)
        .where(RequestInterest.user_id == user_id).order_by(RequestInterest.created_at.desc()).limit(limit)
    ))


def states_for(user_id, keys) -> dict:
    """Per (media_type, tmdb_id): {"mine": this user's newest live request or None, "others": bool,
    "following": bool}. Two queries whatever the number of keys; for Discover results and detail pages."""
    keys = [(t, str(i)) for t, i in keys]
    states = {k: {"mine": None, "others": False, "following": False} for k in keys}
    if not keys:
        return {}
    tmdb_ids = sorted({i for _, i in keys})
    rows = db.session.scalars(
        db.select(MediaRequest).where(MediaRequest.tmdb_id.in_(tmdb_ids),
                                      MediaRequest.status != RequestStatus.DENIED.value)
        .order_by(MediaRequest.created_at.desc())
    ).all()
    followed = set(db.session.scalars(
        db.select(RequestInterest.request_id).join(MediaRequest, MediaRequest.id == RequestInterest.request_id)
        .where(RequestInterest.user_id == user_id, MediaRequest.tmdb_id.in_(tmdb_ids))
    ))
    for row in rows:
        state = states.get((row.media_type, row.tmdb_id))
        if state is None:
            continue
        if row.user_id == user_id:
            if state["mine"] is None and row.status != RequestStatus.FAILED:
                state["mine"] = row
        elif row.status != RequestStatus.FAILED:
            state["others"] = True
        if row.id in followed:
            state["following"] = True
    return {(t, int(i)): v for (t, i), v in states.items()}


# -- submitting -----------------------------------------------------------------------------------------------
def _tmdb_id(value) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ServiceError("That is not a TMDB id.", field="tmdb_id") from None
    if not 0 < number < 2**31:
        raise ServiceError("That is not a TMDB id.", field="tmdb_id")
    return number


def _season_numbers(raw) -> list[int] | str:
    if raw in ("all", ["all"]):
        return "all"
    values = raw if isinstance(raw, (list, tuple, set)) else [raw]
    numbers = set()
    for value in values:
        if value in (None, ""):
            continue
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError):
            raise ServiceError("Season numbers must be whole numbers.", field="seasons") from None
        if not 0 <= number <= MAX_SEASON:
            raise ServiceError(f"There is no season {number}.", field="seasons")
        numbers.add(number)
    return sorted(numbers)


def _choose_seasons(raw, details: dict | None) -> list[int] | None:
    """The seasons to request: validated against the series, minus those already in Plex. None = all (unknown)."""
    wanted = _season_numbers(raw)
    if details is None:
        if wanted == "all":
            return None
        if not wanted:
            raise ServiceError("Choose at least one season.", field="seasons")
        return wanted
    title = details["title"]
    known = {s["number"]: s for s in details["seasons"]}
    if wanted == "all":
        wanted = sorted(n for n in known if n > 0) or sorted(known)
        if not wanted:
            raise ServiceError(f"{title} has no seasons to request yet.", field="seasons")
    if not wanted:
        raise ServiceError("Choose at least one season.", field="seasons")
    missing = [n for n in wanted if n not in known]
    if missing:
        label = "Season" if len(missing) == 1 else "Seasons"
        raise ServiceError(f"{label} {', '.join(map(str, missing))} of {title} do{'es' if len(missing) == 1 else ''} "
                           f"not exist.", field="seasons")
    left = [n for n in wanted if known[n]["status"] != overseerr.MediaStatus.AVAILABLE]
    if not left:
        raise ServiceError("Those seasons are already in Plex.", field="seasons", status=409)
    return left


def _covers(seasons_a: list[int] | None, seasons_b: list[int] | None) -> bool:
    """Whether a request for seasons_a (None = all) includes everything in seasons_b."""
    return seasons_a is None or (seasons_b is not None and set(seasons_b) <= set(seasons_a))


def _add_interest(request_id, user_id) -> bool:
    if db.session.get(RequestInterest, (request_id, user_id)) is not None:
        return False
    db.session.add(RequestInterest(request_id=request_id, user_id=user_id))
    return True


def submit(user_id, media_type: str, tmdb_id, seasons=None, *, fallback_title: str | None = None) -> Submitted:
    """Ask for a film or for seasons of a series ("all" or a list of numbers).

    Returns the user's existing request when they already asked for it, or someone else's request (recording
    this user's interest) when another user did; otherwise saves a new pending row and queues its forward.
    """
    user = db.session.get(User, user_id)
    if user is None:
        raise ServiceError("No such user.", status=404)
    if media_type not in (MediaType.MOVIE, MediaType.TV):
        raise ServiceError("Only films and series can be requested.", field="media_type")
    tmdb_id = _tmdb_id(tmdb_id)
    try:
        details = library.title_details(media_type, tmdb_id)
    except library.CatalogueUnavailable:
        title = (fallback_title or "").strip()[:500]
        if not title:
            raise
        details = None  # Overseerr is down: save it anyway, with what the page showed, and forward it later
    title = details["title"][:500] if details else title
    if details and details["status"] == overseerr.MediaStatus.AVAILABLE:
        raise ServiceError(f"{title} is already in Plex.", status=409)
    chosen = _choose_seasons(seasons, details) if media_type == MediaType.TV else None

    same = db.select(MediaRequest).where(MediaRequest.tmdb_id == str(tmdb_id), MediaRequest.media_type == media_type)
    mine = db.session.scalars(same.where(
        MediaRequest.user_id == user.id, MediaRequest.status.not_in([RequestStatus.DENIED, RequestStatus.FAILED])
    ).order_by(MediaRequest.created_at)).all()
    for row in mine:
        if media_type == MediaType.MOVIE or _covers(row.seasons, chosen):
            return Submitted(row, "existing", f"You already asked for {title}; here is that request.")
    if chosen is not None and mine:
        for row in mine:
            chosen = [n for n in chosen if n not in set(row.seasons or ())]
        if not chosen:
            return Submitted(mine[0], "existing", f"You already asked for those seasons of {title}.")

    others = db.session.scalars(same.where(
        MediaRequest.user_id != user.id,
        MediaRequest.status.in_([s.value for s in (*ACTIVE_REQUEST_STATUSES, RequestStatus.COMPLETED)])
    ).order_by(MediaRequest.created_at)).all()
    overlapping = [r for r in others if media_type == MediaType.MOVIE or r.seasons is None or chosen is None
                   or set(r.seasons) & set(chosen)]
    covering = next((r for r in others if media_type == MediaType.MOVIE or _covers(r.seasons, chosen)), None)
    if covering is not None:
        if covering.status == RequestStatus.COMPLETED:
            raise ServiceError(f"{title} is already in Plex.", status=409)
        for row in overlapping:
            _add_interest(row.id, user.id)
        try:
            db.session.commit()
        except IntegrityError:  # the same user following it from two tabs at once: one interest is enough
            db.session.rollback()
        log.info("user %s follows request %s (tmdb %s)", user.id, covering.id, tmdb_id)
        return Submitted(covering, "interest", f"Someone already asked for {title}. We will tell you too when "
                                               f"anything changes.")
    followed_seasons: list[int] = []
    if chosen is not None and overlapping:
        taken = set().union(*(set(r.seasons or ()) for r in overlapping))
        followed_seasons = sorted(n for n in chosen if n in taken)
        chosen = [n for n in chosen if n not in taken]

    units = len(chosen) if chosen else 1
    if user.role != Role.ADMIN:
        quotas.check(user.id, media_type, units if media_type == MediaType.TV else 1)

    row = MediaRequest(
        user_id=user.id, title=title, media_type=media_type, tmdb_id=str(tmdb_id), status=RequestStatus.PENDING,
        seasons=chosen, year=details.get("year") if details else None,
        poster_path=("/" + details["poster"]) if details and details.get("poster") else None,
        forward_state=ForwardState.QUEUED,
    )
    db.session.add(row)
    try:
        db.session.flush()
        for other in overlapping:
            _add_interest(other.id, user.id)
        db.session.commit()
    except IntegrityError:
        # Another tab saved the same request a moment ago: the database holds one active request per
        # user, title and season set (uq_media_requests_one_active), so answer with that one.
        db.session.rollback()
        existing = _active_twin(user.id, media_type, tmdb_id, chosen)
        if existing is None:
            raise
        log.info("user %s: concurrent duplicate of request %s refused by the database", user.id, existing.id)
        return Submitted(existing, "existing", f"You already asked for {title}; here is that request.")
    log.info("request %s saved for user %s: %s %s seasons=%s", row.id, user.id, media_type, tmdb_id, chosen)
    request_id = row.id
    _enqueue_forward(request_id)
    row = db.session.get(MediaRequest, request_id, populate_existing=True)
    return Submitted(row, "created", _submitted_message(row, followed_seasons))


def _active_twin(user_id, media_type: str, tmdb_id, seasons, *, besides=None) -> MediaRequest | None:
    """The user's active request for the same title and season set (the one uq_media_requests_one_active allows)."""
    stmt = db.select(MediaRequest).where(
        MediaRequest.user_id == user_id, MediaRequest.media_type == media_type,
        MediaRequest.tmdb_id == str(tmdb_id), MediaRequest.seasons_key == seasons_key(media_type, seasons),
        MediaRequest.status.in_([s.value for s in ACTIVE_REQUEST_STATUSES]))
    if besides is not None:
        stmt = stmt.where(MediaRequest.id != besides)
    with db.session.no_autoflush:
        return db.session.scalar(stmt)


def _submitted_message(row: MediaRequest, followed_seasons=()) -> str:
    """What the person is told right after asking: true at the moment it is shown (the forward may be
    running in the worker right now; the panel then keeps itself up to date)."""
    if followed_seasons:
        label = "Season" if len(followed_seasons) == 1 else "Seasons"
        also = (f" {label} {', '.join(map(str, followed_seasons))} had already been asked for by someone else: "
                f"you now follow that request too, and we will tell you when anything changes.")
    else:
        also = ""
    if row.forward_state == ForwardState.FAILED:
        return (row.forward_error or "Overseerr refused the request.") + also
    if row.forward_stalled:
        return (f"{row.title} is saved, but Overseerr has not taken it yet: {row.forward_error} It is sent as "
                f"soon as Overseerr answers.{also}")
    if row.is_waiting_for_overseerr:
        return f"{row.title} is requested. Saved; sending it to Overseerr…{also}"
    note = " It was sent under the admin's Overseerr account, because yours was not found." \
        if row.requested_as_admin else ""
    return f"{row.title} is requested and sent to Overseerr. We will tell you when it is ready.{note}{also}"


def _enqueue_forward(request_id) -> None:
    jobs.enqueue("forward_request", str(request_id))


# -- forwarding ---------------------------------------------------------------------------------------------
def _claim(request_id) -> bool:
    now = utcnow()
    claim = (
        update(MediaRequest)
        .where(MediaRequest.id == request_id,
               or_(MediaRequest.forward_state == ForwardState.QUEUED.value,
                   and_(MediaRequest.forward_state == ForwardState.SENDING.value,
                        MediaRequest.updated_at < now - STALE_CLAIM)))
        .values(forward_state=ForwardState.SENDING.value, forward_attempts=MediaRequest.forward_attempts + 1,
                updated_at=now)
        .execution_options(synchronize_session=False)
    )
    claimed = db.session.execute(claim).rowcount == 1
    db.session.commit()
    return claimed


def _overseerr_user(client, user: User) -> int | None:
    """The Overseerr user id of this MediaNest user (matched by Plex id, then email); None = not found."""
    key = f"overseerr:user-map:{user.id}"
    hit = cache.get(key)
    if hit is not None:
        return hit.get("id")
    plex_id = int(user.plex_id) if user.plex_id and str(user.plex_id).isdigit() else None
    found = client.find_user_by_plex_id(plex_id, email=user.email) if (plex_id or user.email) else None
    cache.set(key, {"id": found.id if found else None}, USER_MAP_TTL)
    return found.id if found else None


def forward(request_id) -> str:
    """Send one queued request to Overseerr; safe to call twice or concurrently (see the module doc)."""
    request_id = as_uuid(request_id)
    if request_id is None or not _claim(request_id):
        return Outcome.SKIPPED
    row = db.session.get(MediaRequest, request_id, populate_existing=True)
    client = service_config.overseerr_client()
    if client is None:
        return _wait(row, "Overseerr is not connected yet.")
    user = db.session.get(User, row.user_id)
    seasons = (row.seasons or "all") if row.media_type == MediaType.TV else None
    as_admin = False
    try:
        as_user = _overseerr_user(client, user)
        as_admin = as_user is None
        try:
            created = client.create_request(row.media_type, int(row.tmdb_id), seasons, as_user_id=as_user)
        except Unauthorized:
            if as_user is None:
                raise
            # The mapped Overseerr account is gone (or the key is bad): drop the mapping, try as the admin.
            cache.delete(f"overseerr:user-map:{user.id}")
            as_admin = True
            created = client.create_request(row.media_type, int(row.tmdb_id), seasons)
    except overseerr.QuotaExceeded:
        return _refused(row, "Your Overseerr request quota is used up. Ask an admin to raise it.")
    except overseerr.Forbidden as exc:
        return _refused(row, f"Overseerr does not allow this request ({_detail(exc)}).")
    except Conflict:  # includes NothingToRequest: it is in Overseerr already (maybe our own lost answer)
        return _link_existing(client, row, as_admin)
    except Unauthorized:
        return _wait(row, "Overseerr refused MediaNest's API key; an admin must check the Overseerr connection.")
    except Unreachable:
        return _wait(row, "Overseerr can't be reached right now.")
    except BadResponse as exc:
        if exc.status == 400:
            return _refused(row, f"Overseerr rejected the request ({_detail(exc)}).")
        if row.forward_attempts >= MAX_SERVER_ERRORS:
            return _refused(row, "Overseerr kept failing to take this request (it may not know this title).")
        return _wait(row, f"Overseerr had a problem ({_detail(exc)}).")
    except (NotFound, ClientError, ValueError) as exc:
        return _refused(row, f"Overseerr could not take this request ({_detail(exc)}).")
    _mark_sent(row, created, as_admin)
    log.info("request %s forwarded as overseerr request %s (as %s)", row.id, created.id,
             "admin" if as_admin else "user")
    _apply(row, created, source="forward")
    db.session.commit()
    library.forget_title(row.media_type, row.tmdb_id)
    return Outcome.SENT


RETRY_DELAYS = (15, 30, 60, 120, 300, 600, 1200)  # seconds before the task's next attempt while Overseerr is away


def forward_job(request_id) -> int | None:
    """The forward task's body: forward, and say how long to wait before the next attempt (None: done).

    After the last delay the task stops; the periodic forward_pending keeps trying, so nothing is lost.
    """
    request_id = as_uuid(request_id)
    if forward(request_id) != Outcome.WAITING:
        return None
    attempts = db.session.scalar(db.select(MediaRequest.forward_attempts).where(MediaRequest.id == request_id)) or 0
    return RETRY_DELAYS[attempts - 1] if 0 < attempts <= len(RETRY_DELAYS) else None


def _detail(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text.removeprefix("overseerr: ")[:200]


def _mark_sent(row: MediaRequest, created: overseerr.MediaRequest, as_admin: bool) -> None:
    if row.year is None and row.poster_path is None:
        _refresh_metadata(row)
    row.overseerr_id = str(created.id)
    row.forward_state = ForwardState.SENT
    row.forwarded_at = utcnow()
    row.synced_at = utcnow()
    row.forward_error = None
    row.requested_as_admin = as_admin
    row.updated_at = utcnow()


def _refresh_metadata(row: MediaRequest) -> None:
    """A row saved while Overseerr was away carries the title the page showed: take Overseerr's now."""
    try:
        details = library.title_details(row.media_type, int(row.tmdb_id))
    except (ServiceError, ValueError):
        return
    row.title = details["title"][:500]
    row.year = details.get("year")
    row.poster_path = ("/" + details["poster"]) if details.get("poster") else None


def _wait(row: MediaRequest, reason: str) -> str:
    row.forward_state = ForwardState.QUEUED
    row.forward_error = reason
    row.updated_at = utcnow()
    db.session.commit()
    log.info("request %s waits for Overseerr (attempt %s): %s", row.id, row.forward_attempts, reason)
    return Outcome.WAITING


def _refused(row: MediaRequest, reason: str) -> str:
    row.forward_state = ForwardState.FAILED
    row.forward_error = reason
    row.updated_at = utcnow()
    change_status(row, RequestStatus.FAILED, source="forward", reason=reason)
    db.session.commit()
    log.warning("request %s refused by Overseerr: %s", row.id, reason)
    return Outcome.FAILED


def _link_existing(client, row: MediaRequest, as_admin: bool) -> str:
    """Overseerr already has this title requested: follow that request instead of creating another."""
    try:
        details = client.movie(int(row.tmdb_id)) if row.media_type == MediaType.MOVIE else client.tv(int(row.tmdb_id))
    except ClientError as exc:
        return _wait(row, f"Overseerr says it is already requested, but it could not be looked up ({_detail(exc)}).")
    info = details.media_info
    candidates = [r for r in (info.requests if info else ())
                  if r.status != overseerr.RequestStatus.DECLINED and not r.is_4k]
    if row.media_type == MediaType.TV and row.seasons:
        wanted = set(row.seasons)
        candidates.sort(key=lambda r: -len(wanted & set(r.seasons)))
    if candidates:
        match = candidates[0]
        _mark_sent(row, match, as_admin)
        row.forward_error = "Overseerr already had this request; MediaNest follows it."
        _apply(row, match, source="forward")
        db.session.commit()
        log.info("request %s linked to existing overseerr request %s", row.id, match.id)
        return Outcome.LINKED
    if details.status == overseerr.MediaStatus.AVAILABLE or (
            row.media_type == MediaType.TV and _seasons_available(details, row.seasons)):
        row.forward_state = ForwardState.SENT
        row.forwarded_at = utcnow()
        row.forward_error = "Already in Plex."
        change_status(row, RequestStatus.COMPLETED, source="forward")
        db.session.commit()
        return Outcome.LINKED
    return _refused(row, "Overseerr says this was already requested.")


def _seasons_available(details: overseerr.TitleDetails, seasons) -> bool:
    status = {s.number: s.status for s in details.seasons}
    wanted = seasons or [n for n in status if n > 0]
    return bool(wanted) and all(status.get(n) == overseerr.MediaStatus.AVAILABLE for n in wanted)


def forward_pending(limit: int = FORWARD_BATCH) -> dict:
    """Forward rows still waiting for Overseerr (and claims a dead worker left); stops when Overseerr is down."""
    stale = utcnow() - STALE_CLAIM
    ids = db.session.scalars(
        db.select(MediaRequest.id).where(or_(
            MediaRequest.forward_state == ForwardState.QUEUED.value,
            and_(MediaRequest.forward_state == ForwardState.SENDING.value, MediaRequest.updated_at < stale),
        )).order_by(MediaRequest.created_at).limit(limit)
    ).all()
    outcomes = Counter()
    for request_id in ids:
        outcome = forward(request_id)
        outcomes[outcome] += 1
        if outcome == Outcome.WAITING:
            break
    return {"found": len(ids), **outcomes}


# -- status ----------------------------------------------------------------------------------------------------
def local_status(ovs: overseerr.MediaRequest) -> RequestStatus | None:
    """MediaNest's status for an Overseerr request (Overseerr's and Jellyseerr's enums); None = unknown."""
    rs, ms = ovs.status, ovs.media_status
    if rs == overseerr.RequestStatus.DECLINED:
        return RequestStatus.DENIED
    if rs == overseerr.RequestStatus.FAILED:
        return RequestStatus.FAILED
    if rs == overseerr.RequestStatus.COMPLETED or ms == overseerr.MediaStatus.AVAILABLE:
        return RequestStatus.COMPLETED
    if rs == overseerr.RequestStatus.PENDING:
        return RequestStatus.PENDING
    if rs == overseerr.RequestStatus.APPROVED:
        if ms == overseerr.MediaStatus.PARTIALLY_AVAILABLE:
            return RequestStatus.DOWNLOADING
        if ms == overseerr.MediaStatus.BLOCKLISTED:
            return RequestStatus.DENIED
        return RequestStatus.APPROVED
    return None


def allowed(old: str, new: str) -> bool:
    """Whether a status may move from old to new: forward only; completed and denied are final."""
    if old == new or old in FINAL:
        return False
    if new in (RequestStatus.DENIED, RequestStatus.FAILED):
        return True
    if old == RequestStatus.FAILED:
        return new in (RequestStatus.APPROVED, RequestStatus.DOWNLOADING, RequestStatus.COMPLETED)
    return RANK[RequestStatus(new)] > RANK[RequestStatus(old)]


MESSAGES = {
    RequestStatus.APPROVED: ("Request approved", "{title} was approved and will be downloaded.", "success"),
    RequestStatus.DOWNLOADING: ("Arriving in Plex", "{title} is partly in Plex; the rest is on its way.", "info"),
    RequestStatus.COMPLETED: ("Ready to watch", "{title} is now in Plex.", "success"),
    RequestStatus.DENIED: ("Request declined", "{title} was declined.", "warning"),
    RequestStatus.FAILED: ("Request failed", "{title} could not be processed.", "error"),
    RequestStatus.PENDING: ("Request pending", "{title} is waiting for approval again.", "info"),
}


def change_status(row: MediaRequest, new: RequestStatus, *, source: str, reason: str | None = None,
                  force: bool = False) -> bool:
    """Move a request to `new` (forward only unless forced), notify everyone following it. No commit."""
    old = row.status
    if not force and not allowed(old, new):
        if old != new:
            log.info("request %s: ignored %s -> %s from %s (not a forward move)", row.id, old, new, source)
        return False
    if new in ACTIVE_REQUEST_STATUSES and old not in ACTIVE_REQUEST_STATUSES and _active_twin(
            row.user_id, row.media_type, row.tmdb_id, row.seasons, besides=row.id) is not None:
        log.warning("request %s: not moved %s -> %s (%s): its user has another active request for the same title",
                    row.id, old, new, source)
        return False
    row.status = new
    row.updated_at = utcnow()
    if new == RequestStatus.COMPLETED:
        row.completed_at = utcnow()
    log.info("request %s: %s -> %s (%s)", row.id, old, new, source)
    _notify(row, new, reason)
    return True


def _notify(row: MediaRequest, new: RequestStatus, reason: str | None) -> None:
    title, template, kind = MESSAGES[new]
    message = template.format(title=row.title)
    if reason:
        message += f" {'Reason' if new == RequestStatus.DENIED else 'Details'}: {reason}"
    if new == RequestStatus.COMPLETED and row.processing_time:
        message += f" It took {row.processing_time}."
    meta = {"request_id": str(row.id), "tmdb_id": row.tmdb_id, "media_type": row.media_type, "status": str(new)}
    notifications.notify(row.user_id, title, message[:5000], type=kind, metadata=meta)
    followers = db.session.scalars(db.select(RequestInterest.user_id).where(RequestInterest.request_id == row.id))
    for user_id in followers:
        notifications.notify(user_id, title, f"{message} (You asked for it too.)"[:5000], type=kind,
                             metadata={**meta, "following": True})


def _apply(row: MediaRequest, ovs: overseerr.MediaRequest, *, source: str, client=None) -> bool:
    new = local_status(ovs)
    if new is None:
        log.info("request %s: Overseerr status %s / media %s not understood; left as %s", row.id, ovs.status,
                 ovs.media_status, row.status)
        return False
    if new == RequestStatus.DOWNLOADING and row.media_type == MediaType.TV and client is not None:
        try:
            details = client.tv(int(row.tmdb_id))
        except ClientError:
            details = None
        if details is not None and _seasons_available(details, list(ovs.seasons) or row.seasons):
            new = RequestStatus.COMPLETED
    reason = None
    if new == RequestStatus.DENIED:
        reason = row.decline_reason or "declined in Overseerr"
        row.decline_reason = reason
    return change_status(row, new, source=source, reason=reason)


def sync(request_id) -> bool:
    """Re-read one forwarded request from Overseerr and apply what it says. Raises ClientError when it is down."""
    request_id = as_uuid(request_id)
    row = db.session.get(MediaRequest, request_id, populate_existing=True) if request_id else None
    if row is None or not row.overseerr_id or row.status in FINAL:
        return False
    client = service_config.overseerr_client()
    if client is None:
        return False
    changed = _sync_row(client, row)
    committed = _commit_sync(row.id)
    return changed and committed


def _commit_sync(request_id) -> bool:
    """Commit what a re-read changed. A failed request Overseerr revives while its user has another active
    request for the same title would break the one-active-request rule: it stays as it was (logged)."""
    try:
        db.session.commit()
        return True
    except IntegrityError:
        db.session.rollback()
        log.warning("request %s: Overseerr revived it, but its user has another active request for the same "
                    "title; left as it was", request_id)
        return False


def _sync_row(client, row: MediaRequest) -> bool:
    try:
        ovs = client.get_request(int(row.overseerr_id))
    except NotFound:
        row.synced_at = utcnow()
        row.decline_reason = row.decline_reason or "The request was removed in Overseerr."
        return change_status(row, RequestStatus.DENIED, source="sync", reason=row.decline_reason)
    row.synced_at = utcnow()
    return _apply(row, ovs, source="sync", client=client)


def reconcile(batch: int = RECONCILE_BATCH) -> dict:
    """Re-read the requests still moving, least recently checked first, `batch` at a time (missed webhooks)."""
    client = service_config.overseerr_client()
    if client is None:
        return {"checked": 0, "changed": 0, "errors": 0, "skipped": "Overseerr is not connected"}
    rows = db.session.scalars(
        db.select(MediaRequest)
        .where(MediaRequest.overseerr_id.is_not(None), MediaRequest.forward_state == ForwardState.SENT.value,
               MediaRequest.status.in_([s.value for s in SYNCED_STATUSES]))
        .order_by(MediaRequest.synced_at.asc().nulls_first(), MediaRequest.created_at)
        .limit(max(1, int(batch)))
    ).all()
    checked = changed = errors = 0
    for row in rows:
        try:
            changed += _sync_row(client, row)
        except Unreachable:
            errors += 1
            log.warning("reconcile stopped: Overseerr can't be reached")
            break
        except (ClientError, ValueError) as exc:
            errors += 1
            log.warning("reconcile of request %s failed: %s", row.id, _detail(exc))
        checked += 1
        if not _commit_sync(row.id):
            errors += 1
    log.info("reconcile: %s checked, %s changed, %s errors", checked, changed, errors)
    return {"checked": checked, "changed": changed, "errors": errors}


# -- webhook --------------------------------------------------------------------------------------------------
def webhook_secret() -> str | None:
    return service_config.extra_secret(service_config.get("overseerr"), "webhook_secret")


def webhook_authorized(header: str | None) -> bool | None:
    """None: no secret configured (webhook disabled); else whether the Authorization header carries it.

    Constant-time comparison; the header may hold the secret alone or as "Bearer <secret>".
    """
    secret = webhook_secret()
    if not secret:
        return None
    given = (header or "").strip()
    if given[:7].lower() == "bearer ":
        given = given[7:].strip()
    return hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


def handle_webhook(payload) -> dict:
    """Overseerr says something happened: find our rows for its request and queue a re-read of each."""
    try:
        event = overseerr.parse_webhook(payload)
    except ValueError:
        raise ServiceError("The body must be a JSON object.", status=400) from None
    if event.is_test:
        return {"ok": True, "test": True}
    if event.request_id is None:
        return {"ok": True, "matched": 0, "note": "no request in this notification"}
    ids = db.session.scalars(
        db.select(MediaRequest.id).where(MediaRequest.overseerr_id == str(event.request_id))
    ).all()
    for request_id in ids:
        jobs.enqueue("sync_request", str(request_id))
    log.info("webhook %s for overseerr request %s matched %d request(s)", event.notification_type or "?",
             event.request_id, len(ids))
    return {"ok": True, "matched": len(ids)}


# -- user and admin actions ----------------------------------------------------------------------------------
def _client_or_error():
    client = service_config.overseerr_client()
    if client is None:
        raise ServiceError("Overseerr is not connected.", status=503)
    return client


def cancel(request_id, user_id) -> str:
    """Withdraw the user's own pending request, in Overseerr too. Returns its title."""
    row = owned(request_id, user_id)
    if row is None:
        raise ServiceError("No such request.", status=404)
    if row.status != RequestStatus.PENDING:
        raise ServiceError("Only requests still waiting for approval can be cancelled.", status=409)
    followers = db.session.scalars(db.select(RequestInterest.user_id).where(RequestInterest.request_id == row.id)).all()
    if row.overseerr_id:
        client = _client_or_error()
        try:
            client.delete_request(int(row.overseerr_id))
        except NotFound:
            pass
        except ClientError:
            raise ServiceError("Overseerr can't be reached, so the request can't be withdrawn right now. "
                               "Try again later.", status=503) from None
    else:
        gone = db.session.execute(
            db.delete(MediaRequest).where(
                MediaRequest.id == row.id,
                MediaRequest.forward_state.in_([ForwardState.QUEUED.value, ForwardState.FAILED.value,
                                                ForwardState.CANCELLED.value]))
            .execution_options(synchronize_session=False)
        ).rowcount
        if not gone:
            db.session.rollback()
            raise ServiceError("It is being sent to Overseerr right now. Try again in a moment.", status=409)
    title = row.title
    db.session.execute(db.delete(MediaRequest).where(MediaRequest.id == row.id)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expire_all()
    for follower in followers:
        notifications.notify(follower, "Request withdrawn",
                             f"{title} was withdrawn by the person who asked for it. Request it again if you "
                             f"still want it.", type="warning")
    log.info("request %s cancelled by its user %s", request_id, user_id)
    return title


def _admin_row(request_id) -> MediaRequest:
    request_id = as_uuid(request_id)
    row = db.session.get(MediaRequest, request_id, populate_existing=True) if request_id else None
    if row is None:
        raise ServiceError("No such request.", status=404)
    return row


def approve(request_id, admin_id=None) -> MediaRequest:
    row = _admin_row(request_id)
    if row.status != RequestStatus.PENDING:
        raise ServiceError("Only pending requests can be approved.", status=409)
    if not row.overseerr_id:
        raise ServiceError("This request has not reached Overseerr yet; it is sent as soon as Overseerr answers.",
                           status=409)
    client = _client_or_error()
    try:
        ovs = client.approve_request(int(row.overseerr_id))
    except NotFound:
        raise ServiceError("Overseerr no longer has this request.", status=409) from None
    except ClientError as exc:
        raise ServiceError(f"Overseerr could not approve it ({_detail(exc)}).", status=502) from None
    row.synced_at = utcnow()
    _apply(row, ovs, source=f"admin {admin_id}")
    db.session.commit()
    log.info("request %s approved by %s", row.id, admin_id)
    return row


def decline(request_id, admin_id=None, reason: str | None = None) -> MediaRequest:
    row = _admin_row(request_id)
    reason = " ".join((reason or "").split())[:REASON_MAX] or "No reason was given."
    if row.status not in ACTIVE_REQUEST_STATUSES:
        raise ServiceError("Only requests that are still open can be declined.", status=409)
    if row.overseerr_id:
        client = _client_or_error()
        try:
            client.decline_request(int(row.overseerr_id))
        except NotFound:
            pass
        except ClientError as exc:
            raise ServiceError(f"Overseerr could not decline it ({_detail(exc)}).", status=502) from None
    else:
        stopped = db.session.execute(
            update(MediaRequest).where(MediaRequest.id == row.id,
                                       MediaRequest.forward_state.in_([ForwardState.QUEUED.value,
                                                                       ForwardState.FAILED.value]))
            .values(forward_state=ForwardState.CANCELLED.value).execution_options(synchronize_session=False)
        ).rowcount
        if not stopped:
            db.session.rollback()
            raise ServiceError("It is being sent to Overseerr right now. Try again in a moment.", status=409)
        db.session.refresh(row)
    row.decline_reason = reason
    change_status(row, RequestStatus.DENIED, source=f"admin {admin_id}", reason=reason)
    db.session.commit()
    log.info("request %s declined by %s", row.id, admin_id)
    return row


def retry_forward(request_id, admin_id=None) -> MediaRequest:
    """Send a request Overseerr refused once more (after the admin fixed the cause)."""
    row = _admin_row(request_id)
    if row.forward_state != ForwardState.FAILED:
        raise ServiceError("Only requests Overseerr refused can be sent again.", status=409)
    if _active_twin(row.user_id, row.media_type, row.tmdb_id, row.seasons, besides=row.id) is not None:
        raise ServiceError("This person has another open request for the same title now; that one is followed "
                           "instead, so this one stays as it is.", status=409)
    row.forward_state = ForwardState.QUEUED
    row.forward_attempts = 0
    row.forward_error = None
    change_status(row, RequestStatus.PENDING, source=f"admin {admin_id} retry", force=True)
    try:
        db.session.commit()
    except IntegrityError:  # the user asked for the same title again since: that request stands instead
        db.session.rollback()
        raise ServiceError("This person has another open request for the same title now; that one is followed "
                           "instead, so this one stays as it is.", status=409) from None
    log.info("request %s queued again by %s", row.id, admin_id)
    _enqueue_forward(row.id)
    return db.session.get(MediaRequest, row.id, populate_existing=True)
