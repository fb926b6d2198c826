"""Service connections (`service_config`): read, validate, save, test, and build clients from them.

Secrets (Plex token, Overseerr/Uptime Kuma API keys, webhook secret) are sealed with AES-256-GCM:
the `api_key` column for the main secret, `config_data["sealed"][name]` for extra ones. Nothing here
ever returns a secret to a template; views get `is_set` flags from `describe()`.

`configure()` is the validated write used by the admin pages and `flask services set`: it checks every
field of a service at once and raises `ConfigInvalid` with one message per field. `test_connection()`
runs the real calls (Plex /identity + /, Overseerr /status + /auth/me, the Uptime Kuma status page) and
explains failures precisely (unreachable, TLS, bad key, wrong URL, HTML instead of JSON, too large).
"""
from __future__ import annotations

import importlib
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from medianest import crypto, versions
from medianest.clients.base import (
    MAX_BODY_BYTES,
    BadResponse,
    ClientError,
    NotFound,
    Unauthorized,
    Unreachable,
    validate_base_url,
)
from medianest.extensions import db
from medianest.models import ServiceConfig
from medianest.services import ServiceError
from medianest.timeutil import utcnow

log = logging.getLogger(__name__)

UNCHANGED = object()  # "leave the stored secret as it is" (forms show "set", never the value)
YOUTUBE_URL = "builtin://yt-dlp"
PLEX_TV = "plex-tv"


@dataclass(frozen=True)
class Spec:
    name: str
    label: str
    secret_label: str | None
    secret_required: bool
    has_url: bool = True
    extra_secrets: tuple[str, ...] = ()


SPECS = {
    "plex": Spec("plex", "Plex Media Server", "Plex token", True),
    "overseerr": Spec("overseerr", "Overseerr", "API key", True, extra_secrets=("webhook_secret",)),
    "uptime-kuma": Spec("uptime-kuma", "Uptime Kuma", "Metrics API key (optional)", False),
    "youtube": Spec("youtube", "YouTube downloads", None, False, has_url=False),
}
MONITORED = ("plex", "overseerr", "uptime-kuma", "youtube")


SECRET_FIELDS = {"plex": "Plex token", "overseerr": "API key", "uptime-kuma": "metrics API key"}
TEST_TIMEOUT = 10.0  # seconds; MEDIANEST_SERVICE_TEST_TIMEOUT overrides it
MAX_URL_LENGTH = 2000
MAX_SECRET_LENGTH = 1024
_SECRET_CHARS = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
_SECTION = re.compile(r"^[0-9]{1,9}$")
# (low, high) for the YouTube numbers; low..high inclusive.
YOUTUBE_LIMITS = {
    "max_concurrent": ("Downloads at once", int, 1, 20),
    "per_hour": ("Downloads per user per hour", int, 1, 1000),
    "quota_gb": ("Storage quota per user (GB)", float, 0.1, 100000),
    "max_playlist_entries": ("Videos per playlist", int, 1, 5000),
}
SETTINGS = {
    "plex": ("library_section", "path_map"),
    "overseerr": (),
    "uptime-kuma": ("slug",),
    "youtube": ("allowed_hosts", *YOUTUBE_LIMITS),
}


class ConfigInvalid(ServiceError):
    """One or more fields are wrong; `errors` maps field name -> message (all of them, not only the first)."""

    def __init__(self, errors: dict[str, str]):
        first_field, first_message = next(iter(errors.items()))
        super().__init__(first_message, field=first_field)
        self.errors = errors


def spec(name: str) -> Spec:
    if name not in SPECS:
        raise ServiceError(f"Unknown service {name!r}; choose one of {', '.join(SPECS)}.", field="service")
    return SPECS[name]


def get(name: str) -> ServiceConfig | None:
    return db.session.scalar(db.select(ServiceConfig).where(ServiceConfig.service_name == name))


def all_configs() -> dict[str, ServiceConfig]:
    return {c.service_name: c for c in db.session.scalars(db.select(ServiceConfig))}


def _row_id(cfg: ServiceConfig) -> str:
    return f"service:{cfg.service_name}"


def secret(cfg: ServiceConfig | None) -> str | None:
    """The decrypted main secret (api_key column), or None."""
    if cfg is None or not cfg.api_key:
        return None
    return crypto.secret_box().open(cfg.api_key, table="service_config", column="api_key", row_id=_row_id(cfg))


def extra_secret(cfg: ServiceConfig | None, name: str) -> str | None:
    sealed = ((cfg.config_data or {}).get("sealed") or {}).get(name) if cfg else None
    if not sealed:
        return None
    return crypto.secret_box().open(sealed, table="service_config", column=f"config_data.{name}", row_id=_row_id(cfg))


def data(cfg: ServiceConfig | None) -> dict:
    """Non-secret settings of a service."""
    return {k: v for k, v in ((cfg.config_data if cfg else None) or {}).items() if k != "sealed"}


def save(name: str, *, url: str | None = None, secret_value=UNCHANGED, extra_secrets: dict | None = None,
         settings: dict | None = None, enabled: bool | None = None, updated_by=None) -> ServiceConfig:
    """Create or update a service connection; validates URL and required fields."""
    sp = spec(name)
    cfg = get(name)
    if cfg is None:
        cfg = ServiceConfig(service_name=name, service_url=YOUTUBE_URL if not sp.has_url else "", enabled=True)
        db.session.add(cfg)
    if sp.has_url:
        if url is not None:
            try:
                cfg.service_url = validate_base_url(url)
            except ValueError as err:
                db.session.rollback()
                raise ServiceError(str(err), field="url") from None
        if not cfg.service_url:
            db.session.rollback()
            raise ServiceError("A URL is required.", field="url")
    box = crypto.secret_box()
    if secret_value is not UNCHANGED:
        value = (secret_value or "").strip()
        cfg.api_key = box.seal(value, table="service_config", column="api_key", row_id=_row_id(cfg)) if value else None
    if sp.secret_required and not cfg.api_key:
        db.session.rollback()
        raise ServiceError(f"{sp.secret_label} is required.", field="secret")
    config_data = dict(cfg.config_data or {})
    if settings:
        config_data.update({k: v for k, v in settings.items() if k != "sealed"})
    sealed = dict(config_data.get("sealed") or {})
    for key, value in (extra_secrets or {}).items():
        if value is UNCHANGED:
            continue
        if value:
            sealed[key] = box.seal(value, table="service_config", column=f"config_data.{key}", row_id=_row_id(cfg))
        else:
            sealed.pop(key, None)
    config_data["sealed"] = sealed
    cfg.config_data = config_data
    if enabled is not None:
        cfg.enabled = enabled
    cfg.updated_at = utcnow()
    if updated_by is not None:
        cfg.updated_by = updated_by
    db.session.commit()
    log.info("service %s saved by %s", name, updated_by or "cli")
    return cfg


def describe(name: str) -> dict:
    """What a page or `flask services show` may display: never a secret, only whether it is set."""
    spec(name)
    return next(entry for entry in describe_all() if entry["name"] == name)


def describe_all() -> list[dict]:
    """describe() for every configurable service, with the name of who changed it last (one query)."""
    rows = {c.service_name: c for c in db.session.scalars(
        db.select(ServiceConfig).options(joinedload(ServiceConfig.updated_by_user))
        .where(ServiceConfig.service_name.in_(list(SPECS))))}
    result = []
    for name, sp in SPECS.items():
        cfg = rows.get(name)
        sealed = ((cfg.config_data or {}).get("sealed") or {}) if cfg else {}
        who = cfg.updated_by_user if cfg is not None else None
        result.append({
            "name": name,
            "label": sp.label,
            "configured": cfg is not None,
            "enabled": bool(cfg.enabled) if cfg is not None else name == "youtube",
            "url": cfg.service_url if cfg and sp.has_url else None,
            "secret_set": bool(cfg and cfg.api_key),
            "extra_secrets_set": {k: k in sealed for k in sp.extra_secrets},
            "settings": data(cfg),
            "updated_at": cfg.updated_at if cfg else None,
            "updated_by": (who.display_name if who is not None else None),
        })
    return result


def monitored() -> list[str]:
    """The services the health check watches, in display order: enabled and configured ones, plus YouTube
    (built in) unless an admin switched it off."""
    rows = {c.service_name: c.enabled for c in db.session.execute(
        db.select(ServiceConfig.service_name, ServiceConfig.enabled)
        .where(ServiceConfig.service_name.in_(list(MONITORED))))}
    return [name for name in MONITORED if rows.get(name, name == "youtube")]


CHECKLIST = {
    "plex": "Plex sign-in for friends and family, and the library.",
    "overseerr": "Discover and requests for films and series.",
    "uptime-kuma": "Monitors on the dashboard.",
}


def setup_checklist() -> list[dict]:
    """The outside services of a fresh install and whether each is connected (saved and switched on).
    Cached until the service configuration changes (the dashboard shows it on every view)."""
    def compute():
        rows = dict(db.session.execute(db.select(ServiceConfig.service_name, ServiceConfig.enabled)
                                       .where(ServiceConfig.service_name.in_(list(CHECKLIST)))).all())
        return [{"name": name, "label": SPECS[name].label, "purpose": purpose, "saved": name in rows,
                 "connected": bool(rows.get(name))} for name, purpose in CHECKLIST.items()]

    return versions.cached("setup-checklist", ["service_config"], compute)


def redact_url(url: str | None) -> str:
    """The URL without any user name or password in it (for re-rendering a refused form)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        if parts.username is None and parts.password is None:
            return url
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return ""


# -- validated writes -----------------------------------------------------------------------------
EXAMPLE_PORTS = {"plex": 32400, "overseerr": 5055, "uptime-kuma": 3001}


def _url_required(name: str) -> str:
    return f"A URL is required, like http://192.168.1.20:{EXAMPLE_PORTS.get(name, 8080)}."


def _clean_url(name: str, raw, errors: dict) -> str | None:
    if raw is None:
        return None
    raw = str(raw).strip()
    if not raw:
        errors["url"] = _url_required(name)
        return None
    if len(raw) > MAX_URL_LENGTH:
        errors["url"] = f"The URL is longer than {MAX_URL_LENGTH} characters."
        return None
    try:
        return validate_base_url(raw)
    except ValueError as err:
        errors["url"] = f"{err}."
        return None


def _clean_secret(value, label: str, key: str, errors: dict):
    if value is UNCHANGED or value is None:
        return UNCHANGED
    value = str(value).strip()
    if not value:
        return ""
    if len(value) > MAX_SECRET_LENGTH:
        errors[key] = f"The {label} is longer than {MAX_SECRET_LENGTH} characters."
    elif not _SECRET_CHARS.fullmatch(value):
        errors[key] = f"The {label} contains spaces or characters that cannot be sent in a header."
    return value


def parse_hosts(raw) -> list[str]:
    """'youtube.com, youtu.be' (or a list) -> ['youtube.com', 'youtu.be']; ServiceError for anything but host names."""
    items = raw if isinstance(raw, (list, tuple)) else re.split(r"[\s,]+", str(raw or ""))
    hosts = []
    for item in items:
        host = str(item).strip().lower().rstrip(".")
        if not host:
            continue
        labels = host.split(".")
        if len(host) > 253 or len(labels) < 2 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
            shown = host if len(host) <= 60 and _SECRET_CHARS.fullmatch(host) else host[:60] + "…"
            raise ServiceError(f"{shown!r} is not a host name; enter names like youtube.com, separated by commas.",
                               field="allowed_hosts")
        if host not in hosts:
            hosts.append(host)
    if len(hosts) > 50:
        raise ServiceError("Allow at most 50 host names.", field="allowed_hosts")
    return hosts


def _number(raw, key: str, errors: dict):
    label, kind, low, high = YOUTUBE_LIMITS[key]
    text = str(raw).strip()
    try:
        value = kind(text)
        if kind is float and not (value == value and abs(value) != float("inf")):
            raise ValueError
    except ValueError:
        errors[key] = f"{label} must be a {'whole ' if kind is int else ''}number."
        return None
    if not low <= value <= high:
        errors[key] = f"{label} must be between {low:g} and {high:g}."
        return None
    return value


def clean_settings(name: str, raw: dict, errors: dict) -> tuple[dict, set[str]]:
    """Validate the non-secret settings a form or the CLI sent. Returns (values to set, keys to remove);
    an empty string clears an optional setting. Unknown keys are ignored."""
    values, removed = {}, set()
    for key in SETTINGS[name]:
        if key not in raw or raw[key] is None:
            continue
        value = raw[key]
        text = value.strip() if isinstance(value, str) else value
        if text in ("", [], ()):
            removed.add(key)
            continue
        if key == "library_section":
            if not _SECTION.fullmatch(str(text)):
                errors[key] = "The library section is the number Plex shows in the library's URL, like 3."
            else:
                values[key] = str(int(text))
        elif key == "path_map":
            try:
                values[key] = list(parse_path_map(str(text)))
            except ServiceError as err:
                errors[key] = err.message
        elif key == "slug":
            slug = str(text).lower()
            if not _SLUG.fullmatch(slug):
                errors[key] = "The slug is the last part of the status page URL: letters, digits and dashes."
            else:
                values[key] = slug
        elif key == "allowed_hosts":
            try:
                hosts = parse_hosts(text)
            except ServiceError as err:
                errors[key] = err.message
            else:
                if hosts:
                    values[key] = hosts
                else:
                    removed.add(key)
        else:
            number = _number(text, key, errors)
            if number is not None:
                values[key] = number
    return values, removed


def configure(name: str, *, url: str | None = None, secret=UNCHANGED, extra_secrets: dict | None = None,
              settings: dict | None = None, enabled: bool | None = None, updated_by=None) -> ServiceConfig:
    """Validate every field of one service, then save it. `url=None` and `UNCHANGED` keep what is stored;
    an empty secret clears it. Raises ConfigInvalid with all field errors at once."""
    sp = spec(name)
    cfg = get(name)
    errors: dict[str, str] = {}
    clean_url = _clean_url(name, url, errors) if sp.has_url else None
    if sp.has_url and url is None and (cfg is None or not cfg.service_url):
        errors["url"] = _url_required(name)
    main = _clean_secret(secret, SECRET_FIELDS.get(name, "secret"), "secret", errors) if sp.secret_label else UNCHANGED
    if sp.secret_required and "secret" not in errors:
        will_have = bool(cfg and cfg.api_key) if main is UNCHANGED else bool(main)
        if not will_have:
            errors["secret"] = f"The {SECRET_FIELDS[name]} is required."
    extras = {}
    for key, value in (extra_secrets or {}).items():
        if key in sp.extra_secrets:
            extras[key] = _clean_secret(value, key.replace("_", " "), key, errors)
    values, removed = clean_settings(name, settings or {}, errors)
    if name == "uptime-kuma" and "slug" not in errors:
        stored = data(cfg).get("slug")
        if "slug" in removed or not (values.get("slug") or stored):
            errors["slug"] = "The status page slug is required (the last part of the status page URL)."
    if errors:
        raise ConfigInvalid(errors)

    if removed and cfg is not None:
        cfg.config_data = {k: v for k, v in (cfg.config_data or {}).items() if k not in removed}
    if name == "plex" and clean_url and cfg is not None and clean_url != cfg.service_url:
        cfg.config_data = {k: v for k, v in (cfg.config_data or {}).items() if k != "machine_identifier"}
    saved = save(name, url=clean_url, secret_value=main, extra_secrets=extras, settings=values, enabled=enabled,
                 updated_by=updated_by)
    _forget_dashboard()
    return saved


def set_enabled(name: str, enabled: bool, *, updated_by=None) -> ServiceConfig:
    cfg = get(name)
    if cfg is None and name != "youtube":
        raise ServiceError(f"{spec(name).label} is not configured yet.", field="enabled")
    saved = save(name, enabled=enabled, updated_by=updated_by)
    _forget_dashboard()
    return saved


def _forget_dashboard():
    from medianest import cache

    cache.delete("status:index", "status:snapshot")


# -- connection tests -----------------------------------------------------------------------------
@dataclass
class ConnectionResult:
    """What "Test connection" found. `message` is safe to show; it never contains a secret."""

    service: str
    ok: bool
    message: str
    version: str | None = None
    latency_ms: int | None = None
    details: list[str] = field(default_factory=list)


def _where(url: str | None) -> str:
    try:
        parts = urlsplit(url or "")
        return f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "the server")
    except ValueError:
        return "the server"


def _timeout_seconds(timeout) -> float:
    return float(max(timeout) if isinstance(timeout, (tuple, list)) else timeout)


def seconds_text(seconds: float) -> str:
    return f"{seconds:g} second{'' if seconds == 1 else 's'}"


def test_timeout() -> tuple[float, float]:
    """(connect, read) timeouts of "Test connection"."""
    seconds = float(current_app.config.get("MEDIANEST_SERVICE_TEST_TIMEOUT", TEST_TIMEOUT))
    return (min(3.05, seconds), seconds)


def explain(exc: Exception, name: str, *, url: str | None = None, timeout=None) -> str:
    """A precise, secret-free sentence for a failed call to service `name`."""
    label = SPECS[name].label if name in SPECS else name
    where = _where(url)
    if isinstance(exc, Unreachable):
        cause = exc.__cause__
        if isinstance(cause, requests.exceptions.SSLError):
            return (f"TLS error talking to {label} at {where}: the certificate could not be verified, or the server "
                    f"does not speak HTTPS on this port.")
        if isinstance(cause, requests.exceptions.Timeout):
            hint = " (Uptime Kuma 1.23 never answers for an unknown status page slug: check the slug.)" \
                if name == "uptime-kuma" else ""
            seconds = _timeout_seconds(timeout if timeout is not None else test_timeout())
            return f"No answer from {label} at {where} within {seconds_text(seconds)}.{hint}"
        text = str(cause or "")
        if any(marker in text for marker in ("NameResolution", "Name or service not known", "getaddrinfo",
                                             "nodename nor servname", "Temporary failure in name resolution")):
            return f"Cannot resolve the host name of {where}: check the URL."
        if isinstance(cause, requests.exceptions.ConnectionError) or cause is None:
            return (f"Cannot connect to {label} at {where}: the connection was refused or the host is unreachable. "
                    f"Is it running, and are the host and port right?")
        return f"Cannot reach {label} at {where}."
    if isinstance(exc, Unauthorized):
        what = SECRET_FIELDS.get(name, "credentials")
        code = f" (HTTP {exc.status})" if exc.status else ""
        return f"{label} at {where} answered but refused the {what}{code}."
    if isinstance(exc, NotFound):
        if name == "uptime-kuma" and "status page" in exc.message:
            return f"Uptime Kuma at {where} has no status page with this slug (HTTP 404)."
        return f"Wrong URL: {where} has no {label} API at this address (HTTP 404). Check the path."
    if isinstance(exc, BadResponse):
        message = exc.message
        if "larger than" in message:
            return (f"{label} at {where} sent an answer larger than {MAX_BODY_BYTES // (1024 * 1024)} MB; "
                    f"this is not the {label} API.")
        if "redirect" in message:
            return (f"{label} at {where} redirected the request (HTTP {exc.status}): enter the final address "
                    f"(http or https, and the path).")
        if any(marker in message for marker in ("JSON", "HTML", "XML", "MediaContainer", "not a status page",
                                                "not a heartbeat", "no version")):
            return (f"{label} at {where} answered with HTML or another format instead of the JSON its API sends: "
                    f"the URL points at something other than {label}.")
        return f"{label} at {where} gave an unexpected answer: {message}"
    if isinstance(exc, ClientError):
        return exc.message
    if isinstance(exc, crypto.CryptoError):
        return f"The stored {SECRET_FIELDS.get(name, 'secret')} cannot be decrypted (was the encryption key changed?). Enter it again."
    if isinstance(exc, ValueError):
        return str(exc)
    return f"{label}: the check failed ({type(exc).__name__})."


def build_client(name: str, cfg: ServiceConfig | None = None, *, timeout=None):
    """A client for a stored config (enabled or not). ServiceError when something required is missing."""
    cfg = cfg if cfg is not None else get(name)
    timeout = timeout if timeout is not None else test_timeout()
    if name == "youtube":
        return None
    if cfg is None or not cfg.service_url:
        raise ServiceError(f"{spec(name).label} is not configured yet.", field="url")
    if name == "plex":
        from medianest.clients.plex import PlexClient

        token = secret(cfg)
        if not token:
            raise ServiceError("The Plex token is not set.", field="secret")
        return PlexClient(cfg.service_url, token, client_identifier=client_identifier(), timeout=timeout)
    if name == "overseerr":
        from medianest.clients.overseerr import OverseerrClient

        key = secret(cfg)
        if not key:
            raise ServiceError("The Overseerr API key is not set.", field="secret")
        return OverseerrClient(cfg.service_url, key, timeout=timeout)
    if name == "uptime-kuma":
        from medianest.clients.uptime_kuma import UptimeKumaClient

        slug = data(cfg).get("slug")
        if not slug:
            raise ServiceError("The Uptime Kuma status page slug is not set.", field="slug")
        return UptimeKumaClient(cfg.service_url, slug, api_key=secret(cfg), timeout=timeout)
    raise ServiceError(f"{spec(name).label} has no client.")


def youtube_probe() -> str:
    """yt-dlp's version; ImportError when it cannot be imported."""
    module = importlib.import_module("medianest.clients.ytdlp")
    probe = getattr(module, "yt_dlp_version", None)
    if probe is not None:
        return str(probe())
    return str(importlib.import_module("yt_dlp.version").__version__)


def draft(name: str, *, url=None, secret=UNCHANGED, settings: dict | None = None) -> ServiceConfig | None:
    """The stored config with the values typed on the admin page over it, unsaved, for "Test connection"
    (the stored row itself when nothing differs). ConfigInvalid when a typed value is wrong."""
    stored = get(name)
    errors: dict[str, str] = {}
    clean_url = _clean_url(name, url, errors) if spec(name).has_url and url else None
    main = _clean_secret(secret, SECRET_FIELDS.get(name, "secret"), "secret", errors)
    values, removed = clean_settings(name, settings or {}, errors)
    if errors:
        raise ConfigInvalid(errors)
    settings_now = data(stored)
    removed = {key for key in removed if key in settings_now}
    if (main is UNCHANGED and not removed and clean_url in (None, stored and stored.service_url)
            and all(settings_now.get(k) == v for k, v in values.items())):
        return stored
    # Never added to the session: `id` stays None, so nothing about it is written.
    cfg = ServiceConfig(service_name=name, enabled=True, service_url=clean_url or (stored.service_url if stored else ""),
                        api_key=stored.api_key if stored else None,
                        config_data={k: v for k, v in {**settings_now, **values}.items() if k not in removed})
    if main is not UNCHANGED:
        cfg.api_key = crypto.secret_box().seal(main, table="service_config", column="api_key",
                                               row_id=_row_id(cfg)) if main else None
    return cfg


def test_connection(name: str, cfg: ServiceConfig | None = None) -> ConnectionResult:
    """Run the real calls against the stored config of `name` (or a `draft()`) and say what happened."""
    sp = spec(name)
    cfg = cfg if cfg is not None else get(name)
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    if name == "youtube":
        return _test_youtube(elapsed)
    try:
        client = build_client(name, cfg)
        if name == "plex":
            result = _test_plex(cfg, client, elapsed)
        elif name == "overseerr":
            result = _test_overseerr(client, elapsed)
        else:
            result = _test_uptime_kuma(cfg, client, elapsed)
    except ServiceError as err:
        result = ConnectionResult(name, False, err.message)
    except (ClientError, crypto.CryptoError, ValueError) as exc:
        result = ConnectionResult(name, False, explain(exc, name, url=cfg.service_url if cfg else None),
                                  latency_ms=elapsed())
    log.info("service %s connection test %s%s", sp.name, "passed" if result.ok else "failed: ",
             "" if result.ok else result.message)
    return result


def _test_plex(cfg: ServiceConfig, client, elapsed) -> ConnectionResult:
    identity = client.identity()
    try:
        info = client.server_info()
    except Unauthorized as exc:
        return ConnectionResult("plex", False, explain(exc, "plex", url=cfg.service_url), version=identity.version,
                                latency_ms=elapsed())
    latency = elapsed()
    if cfg.id is not None and info.machine_identifier != data(cfg).get("machine_identifier"):
        settings = {**(cfg.config_data or {}), "machine_identifier": info.machine_identifier}
        # A Core UPDATE that keeps updated_at: testing is not editing.
        db.session.execute(db.update(ServiceConfig).where(ServiceConfig.id == cfg.id)
                           .values(config_data=settings, updated_at=ServiceConfig.updated_at))
        db.session.commit()
    details = [f"Server: {info.friendly_name or 'unnamed'} on {info.platform or 'an unknown platform'}"]
    try:
        sections = client.library_sections()
    except ClientError as exc:
        sections = None
        details.append(f"Libraries could not be listed: {explain(exc, 'plex', url=cfg.service_url)}")
    if sections is not None:
        details.append("Libraries: " + (", ".join(f"{s.title} ({s.key})" for s in sections) or "none"))
        wanted = data(cfg).get("library_section")
        if wanted and wanted not in {s.key for s in sections}:
            return ConnectionResult("plex", False,
                                    f"Connected to {info.friendly_name or 'Plex'}, but library section {wanted} "
                                    f"does not exist on this server.", version=info.version, latency_ms=latency,
                                    details=details)
    return ConnectionResult("plex", True, f"Connected to {info.friendly_name or 'Plex'} (Plex {info.version}).",
                            version=info.version, latency_ms=latency, details=details)


def _test_overseerr(client, elapsed) -> ConnectionResult:
    status = client.status()
    try:
        me = client.me()
    except Unauthorized as exc:
        return ConnectionResult("overseerr", False, explain(exc, "overseerr", url=client.base_url),
                                version=status.version, latency_ms=elapsed())
    return ConnectionResult("overseerr", True, f"Connected to Overseerr {status.version}.", version=status.version,
                            latency_ms=elapsed(), details=[f"The API key acts as {me.display_name}."])


def _test_uptime_kuma(cfg: ServiceConfig, client, elapsed) -> ConnectionResult:
    page = client.status_page()
    monitors = client.monitors()
    latency = elapsed()
    down = [m.name for m in monitors if m.status == "down"]
    details = [f"{len(monitors)} monitor(s) on the page" + (f"; down: {', '.join(down[:10])}" if down else "")]
    if cfg.api_key:
        try:
            samples = client.metrics()
        except ClientError as exc:
            if isinstance(exc, Unauthorized):
                message = "The status page answers, but Uptime Kuma refused the metrics API key (HTTP 401)."
            else:
                message = f"The status page answers, but /metrics failed: {explain(exc, 'uptime-kuma', url=cfg.service_url)}"
            return ConnectionResult("uptime-kuma", False, message, latency_ms=latency, details=details)
        details.append(f"Metrics API key accepted ({len(samples)} samples).")
    return ConnectionResult("uptime-kuma", True, f"Status page “{page.title}” found.", latency_ms=latency,
                            details=details)


def _test_youtube(elapsed) -> ConnectionResult:
    try:
        version = youtube_probe()
    except Exception as exc:  # noqa: BLE001  (any import failure means "not usable")
        return ConnectionResult("youtube", False, f"yt-dlp cannot be imported ({type(exc).__name__}).")
    details = []
    folder = Path(current_app.config["MEDIANEST_DOWNLOAD_DIR"])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        writable = os.access(folder, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        return ConnectionResult("youtube", False, "yt-dlp is installed, but the download folder is not writable.",
                                version=version, latency_ms=elapsed())
    details.append("The download folder is writable.")
    return ConnectionResult("youtube", True, f"yt-dlp {version} is installed.", version=version,
                            latency_ms=elapsed(), details=details)


# -- clients -------------------------------------------------------------------------------------
def _enabled(name: str) -> ServiceConfig | None:
    cfg = get(name)
    return cfg if cfg is not None and cfg.enabled else None


def plex_client(timeout=None):
    from medianest.clients.plex import PlexClient

    cfg = _enabled("plex")
    if cfg is None:
        return None
    kwargs = {"timeout": timeout} if timeout else {}
    return PlexClient(cfg.service_url, secret(cfg), client_identifier=client_identifier(), **kwargs)


def overseerr_client(timeout=None):
    from medianest.clients.overseerr import OverseerrClient

    cfg = _enabled("overseerr")
    if cfg is None:
        return None
    kwargs = {"timeout": timeout} if timeout else {}
    return OverseerrClient(cfg.service_url, secret(cfg), **kwargs)


def uptime_kuma_client(timeout=None):
    from medianest.clients.uptime_kuma import UptimeKumaClient

    cfg = _enabled("uptime-kuma")
    if cfg is None or not data(cfg).get("slug"):
        return None
    kwargs = {"timeout": timeout} if timeout else {}
    return UptimeKumaClient(cfg.service_url, data(cfg)["slug"], api_key=secret(cfg), **kwargs)


def plextv_client(timeout=None):
    from medianest.clients.plextv import PlexTvClient

    kwargs = {"timeout": timeout} if timeout else {}
    return PlexTvClient(current_app.config["MEDIANEST_PLEX_TV_URL"], client_identifier=client_identifier(), **kwargs)


def plex_machine_identifier() -> str | None:
    return data(_enabled("plex")).get("machine_identifier")


def client_identifier() -> str:
    """This install's stable X-Plex-Client-Identifier, created once and kept in the database."""
    cfg = get(PLEX_TV)
    if cfg is None or not data(cfg).get("client_identifier"):
        ident = f"medianest-{uuid.uuid4()}"
        if cfg is None:
            cfg = ServiceConfig(service_name=PLEX_TV, service_url=current_app.config["MEDIANEST_PLEX_TV_URL"],
                                enabled=True, config_data={"client_identifier": ident})
            db.session.add(cfg)
        else:
            cfg.config_data = {**(cfg.config_data or {}), "client_identifier": ident}
        try:
            db.session.commit()
        except IntegrityError:  # concurrent first visits: another request created the row first; use its id
            db.session.rollback()
            cfg = get(PLEX_TV)
            if cfg is None or not data(cfg).get("client_identifier"):
                raise
    return data(cfg)["client_identifier"]


# -- YouTube settings ----------------------------------------------------------------------------
DEFAULT_ALLOWED_HOSTS = ("youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be")


@dataclass
class YoutubeSettings:
    allowed_hosts: list[str] = field(default_factory=lambda: list(DEFAULT_ALLOWED_HOSTS))
    max_concurrent: int = 2
    per_hour: int = 5
    quota_gb: float = 10.0
    max_playlist_entries: int = 200
    plex_section: str | None = None
    path_map: tuple[str, str] | None = None  # (local prefix, path as Plex sees it)


def parse_path_map(text: str | None) -> tuple[str, str] | None:
    """'LOCAL=PLEX' -> (local, plex); empty -> None; malformed -> ServiceError."""
    if not text:
        return None
    local, sep, remote = text.partition("=")
    if not sep or not local.strip().startswith("/") or not remote.strip().startswith("/"):
        raise ServiceError("Path map must look like /local/downloads=/path/as/plex/sees/it", field="path_map")
    return local.strip().rstrip("/") or "/", remote.strip().rstrip("/") or "/"


def youtube_settings() -> YoutubeSettings:
    yt = data(get("youtube"))
    plex = data(get("plex"))
    defaults = YoutubeSettings()
    path_map = plex.get("path_map")
    return YoutubeSettings(
        allowed_hosts=list(yt.get("allowed_hosts") or defaults.allowed_hosts),
        max_concurrent=int(yt.get("max_concurrent") or defaults.max_concurrent),
        per_hour=int(yt.get("per_hour") or defaults.per_hour),
        quota_gb=float(yt.get("quota_gb") or defaults.quota_gb),
        max_playlist_entries=int(yt.get("max_playlist_entries") or defaults.max_playlist_entries),
        plex_section=str(plex["library_section"]) if plex.get("library_section") else None,
        path_map=tuple(path_map) if isinstance(path_map, (list, tuple)) and len(path_map) == 2 else None,
    )
