"""The production stack for `make bench`: PostgreSQL and Redis of their own, the fake outside services, a seeded
household, gunicorn as the Procfile runs it (web) and the Huey consumer (worker), plus a bare Flask app under
the same gunicorn settings. Everything is started here and stopped by `Stack.close()`."""
from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/medianest_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
PASSWORD = "bench-password-9f2k"
ENCRYPTION_KEY = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho="  # bench only


def procfile_gunicorn_options() -> list[str]:
    """gunicorn's options as the Procfile's web line gives them (defaults of ${VAR:-default} filled in, the bind
    address left out): the bench runs what users run, whatever the Procfile says today."""
    line = next(l for l in (ROOT / "Procfile").read_text().splitlines() if l.startswith("web:"))
    words = shlex.split(re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", line.split("gunicorn", 1)[1]))
    options, skip = [], False
    for word in words[1:]:  # words[0] is the app (app:app)
        if skip:
            skip = False
        elif word in ("--bind", "-b"):
            skip = True
        else:
            options.append(word)
    return options


GUNICORN = procfile_gunicorn_options()


def require_wrk() -> str:
    """wrk's path; installs the Debian package when it is missing and we may (root), else explains."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install wrk", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("make bench needs the HTTP load generator wrk: sudo apt-get install wrk")
    return found


def prepare_database(url: str) -> None:
    """Create the bench database when missing and empty its schema (the bench owns it)."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.database)))
    except psycopg.OperationalError as err:
        raise SystemExit(f"make bench needs PostgreSQL ({target.render_as_string()}): {err}") from None
    own = target.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(own, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def free_port() -> int:
    from tests.fakes.base import free_port as fake_free_port

    return fake_free_port()


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1, allow_redirects=False)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Stack:
    def __init__(self, database_url: str, redis_url: str):
        self.database_url = database_url
        self.redis_url = redis_url
        self.instance = Path(tempfile.mkdtemp(prefix="medianest-bench-"))
        self.processes: list[subprocess.Popen] = []
        self.fakes = []
        self.env = {
            **os.environ,
            "MEDIANEST_ENV": "production",
            "MEDIANEST_SKIP_DOTENV": "1",
            "SECRET_KEY": "bench-secret-key-" + "x" * 32,
            "MEDIANEST_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "MEDIANEST_INSTANCE_DIR": str(self.instance),
            # wrk sends thousands of page views a minute from one account; polls are exempt anyway.
            "MEDIANEST_RATELIMIT_DEFAULT": "100000000 per minute",
        }
        self.env.pop("MEDIANEST_TEST_DATABASE_URL", None)
        self.env.pop("MEDIANEST_TEST_REDIS_URL", None)

    # -- the app, in this process, for seeding ---------------------------------------------------
    def other_app(self, database_url: str, redis_url: str):
        """The app on another database and Redis db (the scale run's), for seeding."""
        from medianest import create_app
        from medianest.config import database_url as normalized

        self.app()
        return create_app({"SQLALCHEMY_DATABASE_URI": normalized(database_url, None), "REDIS_URL": redis_url,
                           "RATELIMIT_STORAGE_URI": redis_url})

    def app(self):
        if not hasattr(self, "_app"):
            os.environ.update({k: v for k, v in self.env.items() if k.startswith(("MEDIANEST_", "SECRET_KEY",
                                                                                    "DATABASE_URL", "REDIS_URL"))})
            from medianest import create_app

            self._app = create_app()
            logging.getLogger().setLevel(logging.WARNING)  # the seeding's INFO lines are not the bench's output
        return self._app

    def start_fakes(self) -> None:
        from tests.fakes.overseerr import FakeOverseerr
        from tests.fakes.plex import FakePlex
        from tests.fakes.plextv import FakePlexTv
        from tests.fakes.uptime_kuma import FakeUptimeKuma

        self.plex, self.overseerr = FakePlex().start(), FakeOverseerr().start()
        self.kuma, self.plextv = FakeUptimeKuma().start(), FakePlexTv().start()
        self.kuma.add_page("media", "Media")
        self.fakes = [self.plex, self.overseerr, self.kuma, self.plextv]
        self.env["MEDIANEST_PLEX_TV_URL"] = self.plextv.url

    def configure_services(self) -> None:
        """Plex, Overseerr and Uptime Kuma pointing at the fakes (in an app context)."""
        from medianest.services import service_config
        from tests.fakes.overseerr import API_KEY
        from tests.fakes.plex import ADMIN_TOKEN

        service_config.configure("plex", url=self.plex.url, secret=ADMIN_TOKEN)
        service_config.configure("overseerr", url=self.overseerr.url, secret=API_KEY)
        service_config.configure("uptime-kuma", url=self.kuma.url, settings={"slug": "media"})

    def migrate_and_seed(self) -> dict:
        """The household: an admin and three members, the services pointing at the fakes, a few requests,
        downloads and notifications. Returns the ids the polls need."""
        from flask_migrate import upgrade

        from medianest.extensions import db
        from medianest.models import MediaRequest, User, YoutubeDownload
        from medianest.services import health, notifications
        from tests.factories import password_hash

        prepare_database(self.database_url)
        app = self.app()
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            digest = password_hash(PASSWORD)
            admin = User(email="admin@bench.example", name="Admin", role="ADMIN", password_hash=digest)
            alice = User(email="alice@bench.example", name="Alice", password_hash=digest)
            others = [User(email=f"{n}@bench.example", name=n.title(), password_hash=digest) for n in ("bob", "carol")]
            db.session.add_all([admin, alice, *others])
            db.session.flush()
            self.configure_services()
            statuses = ["pending", "approved", "downloading", "completed", "denied"]
            for i in range(20):
                for who in (alice, *others):
                    db.session.add(MediaRequest(user_id=who.id, title=f"Film {i}", media_type="movie",
                                                tmdb_id=str(700000 + i), status=statuses[i % 5],
                                                forward_state="sent", overseerr_id=str(i + 1)))
            moving = MediaRequest(user_id=alice.id, title="The Moving Film", media_type="movie", tmdb_id="603",
                                  status="approved", forward_state="sent", overseerr_id="999")
            download = YoutubeDownload(user_id=alice.id, playlist_url="https://www.youtube.com/watch?v=benchbench1",
                                       playlist_title="Bench video", status="downloading")
            done = [YoutubeDownload(user_id=alice.id, playlist_url=f"https://www.youtube.com/watch?v=bench{i:07d}",
                                    playlist_title=f"Old video {i}", status="completed") for i in range(3)]
            db.session.add_all([moving, download, *done])
            db.session.commit()
            for i in range(5):
                notifications.notify(alice.id, f"Request {i} is available", "Enjoy.", type="success")
            notifications.broadcast("Server maintenance", "Plex restarts on Sunday.")
            health.run_round()  # the first round, as the worker would do within a minute
            ids = {"request": str(moving.id), "download": str(download.id)}
            db.session.remove()
            db.engine.dispose()
        return ids

    # -- processes -------------------------------------------------------------------------------
    def _spawn(self, args: list[str], log: str, env: dict | None = None) -> subprocess.Popen:
        out = open(self.instance / log, "ab")  # noqa: SIM115  (closed with the process)
        proc = subprocess.Popen(args, cwd=ROOT, env={**self.env, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(proc)
        return proc

    def start_web(self, module: str = "app:app", log: str = "web.log", env: dict | None = None,
                  ) -> tuple[str, subprocess.Popen]:
        port = free_port()
        proc = self._spawn([str(BIN / "gunicorn"), module, "--bind", f"127.0.0.1:{port}", *GUNICORN], log, env)
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/")
        deadline = time.monotonic() + 20
        while len(children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        return url, proc

    def start_worker(self) -> subprocess.Popen:
        # The Procfile's worker line.
        return self._spawn([str(BIN / "huey_consumer"), "medianest.tasks.huey", "--workers", "2",
                            "--worker-type", "thread"], "worker.log")

    def sign_in(self, base: str, email: str) -> str:
        """Sign in through the form as a browser does; returns the Cookie header to replay."""
        session = requests.Session()
        page = session.get(f"{base}/auth/login", timeout=10).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'name="csrf_token"[^>]*value="([^"]+)"', page)
        resp = session.post(f"{base}/auth/login", data={"email": email, "password": PASSWORD,
                                                        "csrf_token": token.group(1) if token else ""},
                            timeout=10, allow_redirects=False)
        if resp.status_code not in (200, 302, 303) or not session.cookies:
            raise SystemExit(f"bench sign-in as {email} failed: {resp.status_code}")
        # Then land on the start page as the browser does: it shows (and so clears) the sign-in's flash message
        # and takes the cookie the pages set, which is the cookie every later request of this browser carries.
        session.get(f"{base}/", timeout=10)
        return "; ".join(f"{c.name}={c.value}" for c in session.cookies if c.path in ("/", ""))

    def log_tail(self, log: str, lines: int = 20) -> str:
        try:
            return "\n".join((self.instance / log).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for fake in self.fakes:
            fake.stop()
        shutil.rmtree(self.instance, ignore_errors=True)
