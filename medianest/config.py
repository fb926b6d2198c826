"""Configuration from the environment: Config, DevelopmentConfig, TestingConfig, ProductionConfig.

Every value is read and validated once, at start-up; a malformed value raises ConfigError with one
clear line, which app.py turns into a clean exit.
"""
from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv

from medianest.crypto import parse_key

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A required setting is missing or malformed."""


def instance_dir() -> Path:
    """Folder for every embedded-mode file (SQLite, Huey queue, generated keys, downloads)."""
    return Path(os.environ.get("MEDIANEST_INSTANCE_DIR") or ROOT / "instance").resolve()


def load_env_file():
    if not os.environ.get("MEDIANEST_SKIP_DOTENV"):
        load_dotenv(ROOT / ".env", override=False)


def database_url(raw: str | None, instance: Path) -> str:
    """Normalize DATABASE_URL; postgres:// and postgresql:// mean psycopg 3."""
    if not raw:
        return f"sqlite:///{instance / 'medianest.sqlite3'}"
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        rest = raw.split("://", 1)[1]
        if not urlsplit(raw).hostname and "host=" not in rest:
            raise ConfigError("DATABASE_URL has no host: expected postgresql://user@host:5432/dbname")
        return "postgresql+psycopg://" + rest
    if scheme == "sqlite":
        return raw
    raise ConfigError(f"DATABASE_URL must start with postgresql:// or sqlite:// (got {scheme or 'no scheme'}://)")


def redis_url(raw: str | None) -> str | None:
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        raise ConfigError("REDIS_URL must look like redis://host:6379/0")
    return raw


def base_url(raw: str | None) -> str | None:
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("MEDIANEST_BASE_URL must be an http(s) URL such as https://media.example.com")
    return raw.rstrip("/")


def check_key(name: str, value: str) -> str:
    try:
        parse_key(value, name=name)
    except ValueError as err:
        raise ConfigError(f"{err} (flask keys generate prints one)") from None
    return value.strip()


def generated_secret(instance: Path, filename: str, make) -> str:
    """Read a development secret from instance/, creating it once (mode 600) if missing."""
    path = instance / filename
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def int_env(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number (got {raw!r})") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum} (got {value})")
    return value


class Config:
    ENV_NAME = "base"
    TESTING = False
    DEBUG = False
    REQUIRED = ()

    def __init__(self):
        env = os.environ
        self.INSTANCE_DIR = str(instance_dir())
        instance = Path(self.INSTANCE_DIR)
        for name in self.REQUIRED:
            if not env.get(name):
                raise ConfigError(f"{name} is required in production; see .env.example")

        self.SECRET_KEY = env.get("SECRET_KEY") or generated_secret(
            instance, "secret_key", lambda: secrets.token_urlsafe(48)
        )
        if len(self.SECRET_KEY) < 16:
            raise ConfigError("SECRET_KEY must be at least 16 characters long")
        key = env.get("MEDIANEST_ENCRYPTION_KEY") or generated_secret(
            instance, "encryption_key", lambda: base64.b64encode(secrets.token_bytes(32)).decode()
        )
        self.MEDIANEST_ENCRYPTION_KEY = check_key("MEDIANEST_ENCRYPTION_KEY", key)
        self.MEDIANEST_OLD_ENCRYPTION_KEYS = [
            check_key("MEDIANEST_OLD_ENCRYPTION_KEYS", k) for k in env.get("MEDIANEST_OLD_ENCRYPTION_KEYS", "").split(",") if k.strip()
        ]

        self.SQLALCHEMY_DATABASE_URI = database_url(env.get("DATABASE_URL"), instance)
        self.REDIS_URL = redis_url(env.get("REDIS_URL"))
        self.MEDIANEST_BASE_URL = base_url(env.get("MEDIANEST_BASE_URL"))
        self.MEDIANEST_DOWNLOAD_DIR = str(Path(env.get("MEDIANEST_DOWNLOAD_DIR") or instance / "downloads").resolve())
        self.MEDIANEST_PLEX_TV_URL = (env.get("MEDIANEST_PLEX_TV_URL") or "https://plex.tv").rstrip("/")
        self.MEDIANEST_PLEX_APP_URL = env.get("MEDIANEST_PLEX_APP_URL") or "https://app.plex.tv/auth"
        self.MEDIANEST_TMDB_IMAGE_URL = (env.get("MEDIANEST_TMDB_IMAGE_URL") or "https://image.tmdb.org").rstrip("/")
        self.MEDIANEST_TRUSTED_PROXIES = int_env("MEDIANEST_TRUSTED_PROXIES", 0)
        self.MEDIANEST_YTDLP_ALLOW_ANY_HOST = env.get("MEDIANEST_YTDLP_ALLOW_ANY_HOST") == "1"
        self.MEDIANEST_HEALTH_INTERVAL = int_env("MEDIANEST_HEALTH_INTERVAL", 60, minimum=10)
        self.MEDIANEST_HEALTH_TIMEOUT = int_env("MEDIANEST_HEALTH_TIMEOUT", 10, minimum=1)
        self.MEDIANEST_HEALTH_DEGRADED_MS = int_env("MEDIANEST_HEALTH_DEGRADED_MS", 1000, minimum=1)
        self.MEDIANEST_SERVICE_TEST_TIMEOUT = int_env("MEDIANEST_SERVICE_TEST_TIMEOUT", 10, minimum=1)
        self.MEDIANEST_DASHBOARD_POLL_SECONDS = int_env("MEDIANEST_DASHBOARD_POLL_SECONDS", 15, minimum=1)
        self.MEDIANEST_BELL_POLL_SECONDS = int_env("MEDIANEST_BELL_POLL_SECONDS", 30, minimum=1)
        self.MEDIANEST_DB_POOL_SIZE = int_env("MEDIANEST_DB_POOL_SIZE", 20, minimum=1)

        self.SQLALCHEMY_ENGINE_OPTIONS = self.engine_options()
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_KEY_PREFIX = "medianest"
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_SWALLOW_ERRORS = True
        self.RATELIMIT_HEADERS_ENABLED = True
        self.MEDIANEST_RATELIMIT_DEFAULT = env.get("MEDIANEST_RATELIMIT_DEFAULT", "600 per minute")
        self.RATELIMIT_ENABLED = True

        self.WTF_CSRF_TIME_LIMIT = None
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = bool(self.MEDIANEST_BASE_URL and self.MEDIANEST_BASE_URL.startswith("https://"))
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.SQLALCHEMY_RECORD_QUERIES = False
        self.MAX_CONTENT_LENGTH = 2 * 1024 * 1024

    def engine_options(self) -> dict:
        if self.SQLALCHEMY_DATABASE_URI.startswith("postgresql"):
            # No pre-ping round trip per checkout: a connection that died with a restarted server is replaced
            # and its request run again once (medianest.resilience); recycling keeps idle ones from going stale.
            return {
                "pool_pre_ping": False,
                "pool_recycle": 1800,
                "pool_size": self.MEDIANEST_DB_POOL_SIZE,
                "max_overflow": 0,
                "connect_args": {"options": "-c statement_timeout=30000"},
            }
        return {"pool_pre_ping": False, "connect_args": {"timeout": 15}}

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in dir(self) if k.isupper()}


class DevelopmentConfig(Config):
    ENV_NAME = "development"


class ProductionConfig(Config):
    ENV_NAME = "production"
    REQUIRED = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MEDIANEST_ENCRYPTION_KEY")

    def __init__(self):
        super().__init__()
        if self.MEDIANEST_YTDLP_ALLOW_ANY_HOST:
            raise ConfigError("MEDIANEST_YTDLP_ALLOW_ANY_HOST is for tests only and must not be set in production")


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True

    def __init__(self):
        super().__init__()
        test_db = os.environ.get("MEDIANEST_TEST_DATABASE_URL")
        if test_db:
            self.SQLALCHEMY_DATABASE_URI = database_url(test_db, Path(self.INSTANCE_DIR))
            self.SQLALCHEMY_ENGINE_OPTIONS = self.engine_options()
        test_redis = os.environ.get("MEDIANEST_TEST_REDIS_URL")
        self.REDIS_URL = redis_url(test_redis) if test_redis else None
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_ENABLED = False
        self.WTF_CSRF_ENABLED = False
        self.MEDIANEST_YTDLP_ALLOW_ANY_HOST = True


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_for(name: str | None = None) -> Config:
    name = name or os.environ.get("MEDIANEST_ENV", "development")
    if name not in CONFIGS:
        raise ConfigError(f"MEDIANEST_ENV must be one of {', '.join(CONFIGS)} (got {name!r})")
    return CONFIGS[name]()
