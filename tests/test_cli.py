"""The command line: users, keys, cleanup."""
from datetime import timedelta

from medianest import crypto
from medianest.extensions import db
from medianest.models import ErrorLog, ServiceMetric, Session, SessionToken, User
from medianest.services import keys, service_config
from medianest.timeutil import utcnow
from tests.conftest import TEST_KEY
from tests.factories import make_user


def test_create_admin_is_idempotent(app, runner):
    result = runner.invoke(args=["users", "create-admin", "--email", "Root@Example.com", "--password", "Sturdy-pass-42"])
    assert result.exit_code == 0 and "created: root@example.com" in result.output
    again = runner.invoke(args=["users", "create-admin", "--email", "root@example.com", "--password", "Sturdy-pass-42"])
    assert again.exit_code == 0 and "exists" in again.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_create_admin_rejects_weak_password_and_bad_email(app, runner):
    weak = runner.invoke(args=["users", "create-admin", "--email", "a@example.com", "--password", "short"])
    assert weak.exit_code != 0 and "at least 10" in weak.output
    bad = runner.invoke(args=["users", "create-admin", "--email", "nope", "--password", "Sturdy-pass-42"])
    assert bad.exit_code != 0 and "valid email" in bad.output


def test_users_list(app, runner, admin):
    result = runner.invoke(args=["users", "list"])
    assert "admin@example.com\tADMIN\tactive" in result.output


def test_keys_generate_prints_a_usable_key(runner):
    out = runner.invoke(args=["keys", "generate"]).output.strip()
    assert len(crypto.parse_key(out)) == 32


def test_keys_rotate_reencrypts_with_the_current_key(make_app, runner):
    new_key = crypto.generate_key()
    old_app = make_app()
    user = make_user(old_app, email="p@example.com")
    with old_app.app_context():
        row = db.session.get(User, user.id)
        keys.seal(row, "plex_token", "plex-secret-token")
        db.session.commit()
        old_value = row.plex_token
        service_config.save("overseerr", url="http://127.0.0.1:5055", secret_value="ov-api-key",
                            extra_secrets={"webhook_secret": "hook-secret"})
    app = make_app(MEDIANEST_ENCRYPTION_KEY=new_key, MEDIANEST_OLD_ENCRYPTION_KEYS=[TEST_KEY])
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0 and "users.plex_token: 1 re-encrypted" in result.output
    assert "service_config: 2 re-encrypted" in result.output
    with app.app_context():
        row = db.session.get(User, user.id)
        assert row.plex_token != old_value
        assert keys.open_(row, "plex_token") == "plex-secret-token"
        assert not crypto.secret_box().needs_rotation(row.plex_token)
    only_new = make_app(MEDIANEST_ENCRYPTION_KEY=new_key)
    with only_new.app_context():
        assert keys.open_(db.session.get(User, user.id), "plex_token") == "plex-secret-token"
        cfg = service_config.get("overseerr")
        assert service_config.secret(cfg) == "ov-api-key"
        assert service_config.extra_secret(cfg, "webhook_secret") == "hook-secret"
    again = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert "done: 0 value(s)" in again.output


def test_cleanup_applies_the_retention_rules(app, runner):
    user = make_user(app)
    now = utcnow()
    with app.app_context():
        db.session.add_all([
            SessionToken(user_id=user.id, token_hash="a" * 64, expires_at=now - timedelta(days=1)),
            SessionToken(user_id=user.id, token_hash="b" * 64, expires_at=now + timedelta(days=1)),
            Session(session_token="c" * 64, user_id=user.id, expires=now - timedelta(minutes=1)),
            ErrorLog(correlation_id="old", error_code="x", error_message="x", created_at=now - timedelta(days=31)),
            ErrorLog(correlation_id="new", error_code="x", error_message="x", created_at=now - timedelta(days=29)),
            ServiceMetric(service_name="plex", metric_name="response_time_ms", metric_value=1, timestamp=now - timedelta(days=91)),
            ServiceMetric(service_name="plex", metric_name="response_time_ms", metric_value=1, timestamp=now - timedelta(days=1)),
        ])
        db.session.commit()
    result = runner.invoke(args=["cleanup"])
    assert result.exit_code == 0
    assert "session_tokens: 1 deleted" in result.output and "error_logs: 1 deleted" in result.output
    with app.app_context():
        assert db.session.scalar(db.select(ErrorLog.correlation_id)) == "new"
        assert db.session.scalar(db.select(db.func.count(ServiceMetric.id))) == 1
        assert db.session.scalar(db.select(db.func.count(SessionToken.id))) == 1
        assert db.session.scalar(db.select(db.func.count(Session.id))) == 0


def test_retention_runs_as_a_periodic_task(app):
    from medianest import tasks
    from medianest.worker import huey

    assert any(t.name.endswith("retention_cleanup") for t in huey._registry.periodic_tasks)
    with app.app_context():
        counts = tasks.retention_cleanup.call_local()
    assert {"session_tokens": 0, "sessions": 0, "error_logs": 0, "service_metrics": 0}.items() <= counts.items()
