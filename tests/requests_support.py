"""Helpers for the media and request tests: connect the fakes, count queries."""
from __future__ import annotations



from tests.fakes.overseerr import API_KEY
from tests.support import count_queries, wait_for  # noqa: F401  (re-exported for the request tests)
from tests.fakes.plex import ADMIN_TOKEN

WEBHOOK_SECRET = "hook-secret-4f9a2c"
ALICE_PLEX_ID = 13692262
BOB_PLEX_ID = 55501234


def connect_overseerr(app, fake, *, webhook_secret: str | None = WEBHOOK_SECRET):
    from medianest.services import service_config

    with app.app_context():
        extra = {"webhook_secret": webhook_secret} if webhook_secret else None
        service_config.save("overseerr", url=fake.url, secret_value=API_KEY, extra_secrets=extra)


def connect_plex(app, fake):
    from medianest.services import service_config

    with app.app_context():
        service_config.save("plex", url=fake.url, secret_value=ADMIN_TOKEN)






# -- fixtures (import them by name into a test module) --------------------------------------------------------
import pytest  # noqa: E402

from tests.fakes.overseerr import REQUEST  # noqa: E402


@pytest.fixture
def ovs(app, fake_overseerr):
    """The fake Overseerr, connected (with the webhook secret), with Overseerr accounts for Alice and Bob."""
    connect_overseerr(app, fake_overseerr)
    fake_overseerr.add_user(2, ALICE_PLEX_ID, "alice@plex.example", "alice", permissions=REQUEST)
    fake_overseerr.add_user(3, BOB_PLEX_ID, "bob@plex.example", "bob", permissions=REQUEST)
    return fake_overseerr


@pytest.fixture
def people(app, admin):
    """(alice, bob, carol): Alice and Bob have Overseerr accounts (matched by Plex id); Carol has none."""
    from tests.factories import make_user

    alice = make_user(app, email="alice@example.com", name="Alice", plex_id=str(ALICE_PLEX_ID))
    bob = make_user(app, email="bob@example.com", name="Bob", plex_id=str(BOB_PLEX_ID))
    carol = make_user(app, email="carol@example.com", name="Carol")
    return alice, bob, carol
