"""Password lockouts a stranger cannot turn against the owner (issue 10, item 10): failures count per account
and address, a slower limit counts per account, a browser that signed in before keeps working, and an admin
clears a lockout with `flask users unlock EMAIL` or the button on the user's admin page.

Flask-Limiter's Limiter is shared by every app of the process; the rate-limited app is built last."""
from __future__ import annotations

import pytest

from medianest.extensions import limiter
from medianest.services.rate_limits import DEVICE_COOKIE
from tests.conftest import HX, TEST_REDIS_URL
from tests.factories import make_user

RIGHT = "correct horse battery 9"  # the admin fixture's password
STRANGER = "192.0.2.66"
OWNER = "192.0.2.10"


@pytest.fixture
def limited(make_app, admin):
    def build(**overrides):
        overrides.setdefault("RATELIMIT_STORAGE_URI", TEST_REDIS_URL or "memory://")
        return make_app(RATELIMIT_ENABLED=True, **overrides)

    yield build
    limiter._storage_dead = False


def attempt(client, password, addr, email="admin@example.com"):
    return client.post("/auth/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def test_a_stranger_hammering_the_admin_locks_out_only_their_own_address(limited):
    app = limited(MEDIANEST_RATELIMIT_DEFAULT="1000 per minute")
    stranger = app.test_client()
    codes = [attempt(stranger, f"guess number {n}", STRANGER).status_code for n in range(11)]
    assert codes == [422] * 10 + [429]
    assert attempt(stranger, RIGHT, STRANGER).status_code == 429  # their address stays locked
    owner = app.test_client()
    assert attempt(owner, RIGHT, OWNER).status_code == 303  # the owner, elsewhere, signs in


def test_guessing_spread_over_many_addresses_hits_the_account_limit_but_a_known_browser_still_signs_in(limited):
    app = limited()
    owner = app.test_client()
    assert attempt(owner, RIGHT, OWNER).status_code == 303  # signed in before: a known device
    assert owner.get_cookie(DEVICE_COOKIE, path="/auth/login") is not None
    owner.post("/auth/logout")
    attacker = app.test_client()
    for n in range(20):  # twenty addresses, one guess each: no per-address limit trips
        assert attempt(attacker, f"guess number {n}", f"198.51.100.{n}").status_code == 422
    assert attempt(app.test_client(), RIGHT, "198.51.100.200").status_code == 429  # an unknown browser waits
    assert attempt(owner, RIGHT, OWNER).status_code == 303  # the owner's browser does not
    # A device cookie for another account does not help with this one.
    viewer = make_user(app, email="helper@example.com", password="Helper-pass-1234")
    helper = app.test_client()
    assert attempt(helper, "Helper-pass-1234", "198.51.100.201", email=viewer.email).status_code == 303
    helper.post("/auth/logout")
    assert attempt(helper, RIGHT, "198.51.100.201").status_code == 429


def lock_out(app):
    """Wrong passwords for the admin from twenty addresses: the account-wide limit trips."""
    attacker = app.test_client()
    for n in range(20):
        attempt(attacker, f"guess number {n}", f"198.51.100.{n}")
    assert attempt(app.test_client(), RIGHT, OWNER).status_code == 429


def test_flask_users_unlock_clears_every_lockout_of_the_account(limited):
    app = limited()
    lock_out(app)
    result = app.test_cli_runner().invoke(args=["users", "unlock", "admin@example.com"])
    assert result.exit_code == 0 and "unlocked" in result.output
    assert attempt(app.test_client(), RIGHT, OWNER).status_code == 303
    missing = app.test_cli_runner().invoke(args=["users", "unlock", "nobody@example.com"])
    assert missing.exit_code == 1 and "No account" in missing.output


def test_the_admin_button_clears_a_lockout(limited, auth):
    app = limited()
    other_admin = make_user(app, email="second@example.com", role="ADMIN", password="Second-admin-pass-1")
    lock_out(app)
    from medianest.extensions import db
    from medianest.models import User

    with app.app_context():
        admin_id = db.session.scalar(db.select(User.id).where(User.email == "admin@example.com"))
    auth.app = app
    helper = auth.login_as(other_admin, app.test_client())
    page = helper.get(f"/admin/users/{admin_id}").get_data(as_text=True)
    assert 'id="unlock"' in page
    resp = helper.post(f"/admin/users/{admin_id}/unlock", headers=HX)
    assert resp.status_code == 200 and b"Password sign-in unlocked" in resp.data
    assert attempt(app.test_client(), RIGHT, OWNER).status_code == 303
