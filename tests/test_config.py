"""Configuration: embedded defaults, production refusals, one clear line for bad values."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medianest.config import ConfigError, ProductionConfig, config_for, database_url

ROOT = Path(__file__).resolve().parent.parent


def test_postgres_urls_mean_psycopg3(tmp_path):
    assert database_url("postgres://u@db:5432/m", tmp_path) == "postgresql+psycopg://u@db:5432/m"
    assert database_url("postgresql://u@db/m", tmp_path) == "postgresql+psycopg://u@db/m"
    assert database_url(None, tmp_path) == f"sqlite:///{tmp_path / 'medianest.sqlite3'}"
    with pytest.raises(ConfigError):
        database_url("mysql://x/y", tmp_path)


def test_development_generates_secrets_once(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIANEST_INSTANCE_DIR", str(tmp_path))
    for name in ("SECRET_KEY", "MEDIANEST_ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    first = config_for("development")
    second = config_for("development")
    assert first.SECRET_KEY == second.SECRET_KEY and first.MEDIANEST_ENCRYPTION_KEY == second.MEDIANEST_ENCRYPTION_KEY
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///") and first.RATELIMIT_STORAGE_URI == "memory://"


def test_production_refuses_missing_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIANEST_INSTANCE_DIR", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        ProductionConfig()


def _start(env_overrides, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {"MEDIANEST_INSTANCE_DIR": str(tmp_path), "MEDIANEST_SKIP_DOTENV": "1"} | env_overrides
    return subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"DATABASE_URL": "ftp://nope"}, "DATABASE_URL must start with"),
        ({"MEDIANEST_ENCRYPTION_KEY": "c2hvcnQ="}, "MEDIANEST_ENCRYPTION_KEY must be base64 of 32 bytes"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL must look like"),
        ({"MEDIANEST_ENV": "production"}, "is required in production"),
        ({"MEDIANEST_TRUSTED_PROXIES": "two"}, "MEDIANEST_TRUSTED_PROXIES must be a whole number"),
    ],
)
def test_malformed_environment_stops_startup_with_one_clear_line(tmp_path, env, fragment):
    result = _start(env, tmp_path)
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.stderr
