"""Fresh-install races never answer 500 (issue 9, item 7): concurrent first visits and concurrent setup
submits, from threads against the app on a real threaded HTTP server."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from werkzeug.serving import make_server

from medianest.extensions import db
from medianest.models import ServiceConfig, User
from medianest.services import service_config
from tests.fakes.base import free_port
from tests.fakes.plex import ADMIN_TOKEN, MACHINE_ID
from tests.factories import make_user

GOOD = "correct horse battery 9"
N = 8


@pytest.fixture
def serve():
    servers = []

    def start(app) -> str:
        port = free_port()
        server = make_server("127.0.0.1", port, app, threaded=True)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def together(n, call):
    """Run call(i) in n threads released at the same moment."""
    gate = threading.Barrier(n)

    def run(i):
        gate.wait()
        return call(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_concurrent_first_plex_sign_ins_on_a_fresh_install(make_app, fake_plextv, fake_plex, serve):
    """The install's plex.tv client identifier is created by the first request that needs it."""
    app = make_app(MEDIANEST_PLEX_TV_URL=fake_plextv.url, MEDIANEST_PLEX_APP_URL=fake_plextv.url + "/auth")
    make_user(app, email="admin@example.com", role="ADMIN", password=GOOD)
    with app.app_context():
        service_config.save("plex", url=fake_plex.url, secret_value=ADMIN_TOKEN,
                            settings={"machine_identifier": MACHINE_ID})
        db.session.execute(db.delete(ServiceConfig).where(ServiceConfig.service_name == service_config.PLEX_TV))
        db.session.commit()
    url = serve(app)
    answers = together(N, lambda i: requests.post(f"{url}/auth/plex", timeout=20, allow_redirects=False))
    assert [r.status_code for r in answers] == [200] * N
    with app.app_context():
        [row] = db.session.scalars(db.select(ServiceConfig).where(
            ServiceConfig.service_name == service_config.PLEX_TV)).all()
        ident = row.config_data["client_identifier"]
    sent = {r.headers.get("X-Plex-Client-Identifier") for r in fake_plextv.seen("/api/v2/pins")}
    assert sent == {ident}  # every PIN was made with the one identifier that was kept


@pytest.mark.parametrize("same_email", [True, False], ids=["double-click", "two-people"])
def test_concurrent_setup_submits_make_one_admin_and_no_500(app, serve, same_email):
    url = serve(app)

    def submit(i):
        email = "ada@example.com" if same_email else f"admin{i}@example.com"
        return requests.post(f"{url}/setup", data={"name": "Ada", "email": email, "password": GOOD, "confirm": GOOD},
                             timeout=30, allow_redirects=False)

    answers = together(N, submit)
    codes = [r.status_code for r in answers]
    assert 500 not in codes and set(codes) <= {303, 404}, codes
    with app.app_context():
        admins = db.session.scalars(db.select(User).where(User.role == "ADMIN")).all()
    assert len(admins) == 1
    winners = [r for r in answers if r.status_code == 303 and r.headers["Location"].endswith("/")]
    assert len(winners) >= 1
    others = [r for r in answers if r not in winners]
    assert all(r.status_code == 404 or r.headers["Location"].endswith("/auth/login") for r in others)
