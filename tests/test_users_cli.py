"""`flask users set-role | suspend | reactivate | reset-link`, through runner.invoke."""
from __future__ import annotations

from medianest.extensions import db
from medianest.models import Session, User, VerificationToken
from tests.factories import make_user
from tests.test_sessions import PASSWORD, sign_in


def fetch(app, email) -> User:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == email))
        db.session.expunge(user)
        return user


def test_set_role(app, runner, admin, user):
    result = runner.invoke(args=["users", "set-role", "Viewer@Example.com", "admin"])
    assert result.exit_code == 0 and "viewer@example.com: role ADMIN" in result.output
    assert fetch(app, "viewer@example.com").role == "ADMIN"
    result = runner.invoke(args=["users", "set-role", "viewer@example.com", "USER"])
    assert result.exit_code == 0 and fetch(app, "viewer@example.com").role == "USER"


def test_set_role_refuses_unknown_roles_and_emails(runner, admin):
    assert runner.invoke(args=["users", "set-role", "admin@example.com", "ROOT"]).exit_code != 0
    missing = runner.invoke(args=["users", "set-role", "ghost@example.com", "ADMIN"])
    assert missing.exit_code != 0 and "No account with the email" in missing.output


def test_the_last_active_admin_keeps_the_role(app, runner, admin):
    result = runner.invoke(args=["users", "set-role", "admin@example.com", "USER"])
    assert result.exit_code != 0 and "last active admin" in result.output
    assert fetch(app, "admin@example.com").role == "ADMIN"
    assert runner.invoke(args=["users", "suspend", "admin@example.com"]).exit_code != 0


def test_suspend_signs_out_at_once_and_reactivate_lets_back_in(app, runner, admin):
    make_user(app, email="member@example.com", password=PASSWORD)
    browser = sign_in(app, "member@example.com", remember=True)
    result = runner.invoke(args=["users", "suspend", "member@example.com"])
    assert result.exit_code == 0 and "member@example.com: suspended" in result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Session.id)).where(Session.user_id.is_not(None))) == 0
    assert browser.get("/").status_code == 303
    result = runner.invoke(args=["users", "reactivate", "member@example.com"])
    assert result.exit_code == 0 and "member@example.com: active" in result.output
    assert sign_in(app, "member@example.com").get("/").status_code == 200


def test_reset_link_prints_a_working_link(make_app, admin):
    app = make_app(MEDIANEST_BASE_URL="https://media.example.com")
    result = app.test_cli_runner().invoke(args=["users", "reset-link", "admin@example.com"])
    assert result.exit_code == 0
    link = result.output.strip()
    assert link.startswith("https://media.example.com/auth/reset/")
    path = link.removeprefix("https://media.example.com")
    assert app.test_client().get(path).status_code == 200
    with app.app_context():
        assert db.session.scalar(db.select(VerificationToken.token)) != link.rsplit("/", 1)[1]


def test_reset_link_without_base_url_prints_the_path_and_a_hint(runner, admin):
    result = runner.invoke(args=["users", "reset-link", "admin@example.com"])
    assert result.exit_code == 0
    assert result.stdout.strip().startswith("/auth/reset/") and "MEDIANEST_BASE_URL" in result.stderr


def test_reset_link_for_an_unknown_or_suspended_account(app, runner, admin):
    assert runner.invoke(args=["users", "reset-link", "ghost@example.com"]).exit_code != 0
    make_user(app, email="gone@example.com", status="suspended")
    result = runner.invoke(args=["users", "reset-link", "gone@example.com"])
    assert result.exit_code != 0 and "not active" in result.output
