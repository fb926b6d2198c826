"""Service connections (`service_config`): read, validate, save, and build clients from them.

Secrets (Plex token, Overseerr/Uptime Kuma API keys, webhook secret) are sealed with AES-256-GCM:
the `api_key` column for the main secret, `config_data["sealed"][name]` for extra ones. Nothing here
ever returns a secret to a template; views get `is_set` flags from `describe()`.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from flask import current_app

from medianest import crypto
from medianest.clients.base import validate_base_url
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
    cfg = get(name)
    sp = spec(name)
    sealed = ((cfg.config_data or {}).get("sealed") or {}) if cfg else {}
    return {
        "name": name,
        "label": sp.label,
        "configured": cfg is not None,
        "enabled": bool(cfg and cfg.enabled),
        "url": cfg.service_url if cfg and sp.has_url else None,
        "secret_set": bool(cfg and cfg.api_key),
        "extra_secrets_set": {k: k in sealed for k in sp.extra_secrets},
        "settings": data(cfg),
        "updated_at": cfg.updated_at if cfg else None,
        "updated_by": cfg.updated_by if cfg else None,
    }


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
        db.session.commit()
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
