"""Test rig: a fresh database per test (SQLite, or PostgreSQL + Redis when the test URLs are set),
Huey in immediate mode, fake outside servers on 127.0.0.1, and a guard that refuses the internet.

Database access in tests: the `app` fixture does not push an app context (requests made with `client`
must each get their own, or Flask-Login's per-context user cache would leak between requests). Use the
`ctx` fixture, or `with app.app_context():`, around direct service and model calls; factories push one
themselves when none is active.
"""
from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

# Before medianest is imported: the worker module builds Huey from the environment at import.
_INSTANCE = Path(tempfile.mkdtemp(prefix="medianest-test-"))
os.environ["MEDIANEST_INSTANCE_DIR"] = str(_INSTANCE)
os.environ["MEDIANEST_SKIP_DOTENV"] = "1"
os.environ["MEDIANEST_ENV"] = "testing"
for _name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MEDIANEST_ENCRYPTION_KEY", "MEDIANEST_OLD_ENCRYPTION_KEYS"):
    os.environ.pop(_name, None)

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from medianest import create_app  # noqa: E402
from medianest.extensions import db  # noqa: E402
from medianest.worker import huey  # noqa: E402

huey.immediate = True

TEST_DATABASE_URL = os.environ.get("MEDIANEST_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("MEDIANEST_TEST_REDIS_URL")
TEST_KEY = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho="  # base64 of 32 fixed bytes; tests only
SQLITE_URL = f"sqlite:///{_INSTANCE / 'test.sqlite3'}"

pytest_plugins = ["tests.fakes.plex_fixtures", "tests.fakes.service_fixtures", "tests.fakes.media_fixtures"]
pytest_plugins = [p for p in pytest_plugins if (Path(__file__).parent.parent / (p.replace(".", "/") + ".py")).exists()]


def pytest_report_header(config):
    return [f"medianest: database={'postgresql' if TEST_DATABASE_URL else 'sqlite'} redis={'yes' if TEST_REDIS_URL else 'no'}"]


# -- network guard ----------------------------------------------------------------------------
_real_connect = socket.socket.connect


def _guarded_connect(sock, address):
    host = address[0] if isinstance(address, tuple) else address
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not (
        str(host).startswith("127.") or host in ("::1", "localhost")
    ):
        raise ConnectionRefusedError(f"tests may not reach {host}: only 127.0.0.1 is allowed")
    return _real_connect(sock, address)


socket.socket.connect = _guarded_connect


# -- database ---------------------------------------------------------------------------------
def base_config(**overrides) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "MEDIANEST_ENCRYPTION_KEY": TEST_KEY,
        "MEDIANEST_OLD_ENCRYPTION_KEYS": [],
        "SQLALCHEMY_DATABASE_URI": _database_uri(),
        "REDIS_URL": TEST_REDIS_URL,
        "RATELIMIT_STORAGE_URI": TEST_REDIS_URL or "memory://",
        "RATELIMIT_ENABLED": False,
        "WTF_CSRF_ENABLED": False,
        "INSTANCE_DIR": str(_INSTANCE),
        "SERVER_NAME": None,
    }
    config.update(overrides)
    return config


def _database_uri() -> str:
    if TEST_DATABASE_URL:
        from medianest.config import database_url

        return database_url(TEST_DATABASE_URL, _INSTANCE)
    return SQLITE_URL


@pytest.fixture(scope="session")
def _schema():
    """Build the schema once per run with the real migrations (a clean slate first)."""
    from flask_migrate import upgrade

    app = create_app(base_config())
    with app.app_context():
        try:
            with db.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as exc:
            pytest.exit(f"test database unreachable: {exc.__class__.__name__}", returncode=3)
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
        else:
            db.engine.dispose()
            Path(SQLITE_URL.removeprefix("sqlite:///")).unlink(missing_ok=True)
        upgrade()
        db.engine.dispose()
    if TEST_REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            pytest.exit(f"test Redis unreachable: {exc.__class__.__name__}", returncode=3)
    yield


def _clean(app):
    with app.app_context():
        db.session.remove()
        tables = [t for t in db.metadata.sorted_tables]
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            with db.engine.begin() as conn:
                for table in reversed(tables):
                    conn.execute(table.delete())
    if TEST_REDIS_URL:
        import redis

        redis.Redis.from_url(TEST_REDIS_URL).flushdb()


@pytest.fixture
def make_app(_schema, tmp_path):
    """Build an app with config overrides; every app built is cleaned up after the test."""
    apps = []

    def factory(**overrides):
        overrides.setdefault("MEDIANEST_DOWNLOAD_DIR", str(tmp_path / "downloads"))
        app = create_app(base_config(**overrides))
        apps.append(app)
        return app

    yield factory
    if apps:
        _clean(apps[0])
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Auth:
    """Sign a test client in as a user without going through a sign-in form."""

    def __init__(self, app, client):
        self.app = app
        self.client = client

    def login_as(self, user, client=None):
        from medianest.models import Session
        from medianest.services.auth_sessions import COOKIE_KEY, SESSION_LIFETIME, USER_KEY, token_hash
        from medianest.timeutil import utcnow

        client = client or self.client
        token = f"test-{user.id}-{os.urandom(8).hex()}"
        with self.app.app_context():
            db.session.add(Session(session_token=token_hash(token), user_id=user.id, expires=utcnow() + SESSION_LIFETIME))
            db.session.commit()
        with client.session_transaction() as sess:
            sess[COOKIE_KEY] = token
            sess[USER_KEY] = str(user.id)  # as a real sign-in writes it (auth_sessions.start)
        return client

    def logout(self, client=None):
        with (client or self.client).session_transaction() as sess:
            sess.clear()


@pytest.fixture
def auth(app, client):
    return Auth(app, client)


@pytest.fixture
def admin(app):
    from tests.factories import make_user

    return make_user(app, email="admin@example.com", role="ADMIN", password="correct horse battery 9")


@pytest.fixture
def user(app, admin):
    from tests.factories import make_user

    return make_user(app, email="viewer@example.com", role="USER")


HX = {"HX-Request": "true"}

# -- browser (pytest-playwright's fixtures, on Debian's Chromium) ----------------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        if os.environ.get("MEDIANEST_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}
