"""Notifications: one user, all admins, broadcasts with per-user read state; bell and inbox."""
import pytest
from sqlalchemy import event

from medianest.extensions import db
from medianest.models import Notification, NotificationRead
from medianest.services import ServiceError
from medianest.services import notifications as service
from tests.conftest import HX
from tests.factories import make_user


@pytest.fixture
def people(app, admin):
    alice = make_user(app, email="alice@example.com", name="Alice")
    bob = make_user(app, email="bob@example.com", name="Bob")
    return admin, alice, bob


def _count(app, user):
    with app.app_context():
        return service.unread_count(user)


def test_notify_user_admins_and_broadcast(app, people):
    admin, alice, bob = people
    other_admin = make_user(app, email="root2@example.com", role="ADMIN")
    make_user(app, email="gone@example.com", role="ADMIN", status="suspended")
    with app.app_context():
        service.notify(alice.id, "Your film is ready", "Dune is in Plex.", type="success")
        assert service.notify_admins("Plex is down", "Since 10:00", type="error") == 2
        service.broadcast("Maintenance", "Tonight at 22:00")
    assert _count(app, alice) == 2 and _count(app, bob) == 1
    assert _count(app, admin) == 2 and _count(app, other_admin) == 2


def test_broadcast_read_state_is_per_user(app, people):
    admin, alice, bob = people
    with app.app_context():
        note = service.broadcast("Maintenance", "Tonight")
        service.mark_read(alice, note.id)
        service.mark_read(alice, note.id)  # twice is harmless
        assert db.session.scalar(db.select(db.func.count()).select_from(NotificationRead)) == 1
        assert db.session.get(Notification, note.id).read is False
    assert _count(app, alice) == 0 and _count(app, bob) == 1


def test_users_see_only_broadcasts_sent_after_they_joined(app, people):
    admin, alice, bob = people
    with app.app_context():
        service.broadcast("Old news", "before carol")
    carol = make_user(app, email="carol@example.com")
    assert _count(app, carol) == 0


def test_mark_all_read_covers_own_and_broadcasts(app, people):
    admin, alice, bob = people
    with app.app_context():
        service.notify(alice.id, "a", "a")
        service.notify(alice.id, "b", "b")
        service.broadcast("c", "c")
        service.mark_all_read(alice)
        assert service.unread_count(alice) == 0
        items, total = service.inbox(alice)
        assert total == 3 and all(is_read for _, is_read in items)
    assert _count(app, bob) == 1


def test_another_users_notification_cannot_be_read_or_marked(app, client, auth, people):
    admin, alice, bob = people
    with app.app_context():
        private = service.notify(alice.id, "Secret", "for alice only")
        private_id = private.id
    auth.login_as(bob)
    assert client.post(f"/notifications/{private_id}/read").status_code == 404
    assert b"for alice only" not in client.get("/notifications/?show=all").data
    with app.app_context():
        assert db.session.get(Notification, private_id).read is False


@pytest.mark.parametrize(("title", "message", "field"), [("", "x", "title"), ("x", "", "message"), ("x" * 201, "x", "title")])
def test_bad_notifications_are_refused(app, people, title, message, field):
    with app.app_context(), pytest.raises(ServiceError) as err:
        service.notify(people[1].id, title, message)
    assert err.value.field == field


def test_inbox_page_fragment_and_filters(app, client, auth, people):
    admin, alice, bob = people
    with app.app_context():
        service.notify(alice.id, "Unread one", "u")
        read = service.notify(alice.id, "Read one", "r")
        service.mark_read(alice, read.id)
    auth.login_as(alice)
    page = client.get("/notifications/")
    assert page.status_code == 200 and b"<html" in page.data and b"Unread one" in page.data and b"Read one" not in page.data
    assert "HX-Request" in page.headers["Vary"]
    frag = client.get("/notifications/?show=all", headers=HX)
    assert b"<html" not in frag.data and b'id="notification-list"' in frag.data and b"Read one" in frag.data


def test_mark_read_over_htmx_triggers_the_bell(app, client, auth, people):
    admin, alice, bob = people
    with app.app_context():
        note_id = service.notify(alice.id, "Hello", "there").id
    auth.login_as(alice)
    assert b'id="bell-count">1<' in client.get("/notifications/bell").data
    resp = client.post(f"/notifications/{note_id}/read", headers=HX)
    assert resp.status_code == 200 and "notifications-changed" in resp.headers["HX-Trigger"]
    assert b"Mark as read" not in resp.data
    assert b"bell-count" not in client.get("/notifications/bell").data


def test_bell_poll_is_cheap(app, client, auth, people):
    admin, alice, bob = people
    with app.app_context():
        for i in range(30):
            service.notify(alice.id, f"n{i}", "m")
            service.broadcast(f"b{i}", "m")
        engine = db.engine
    auth.login_as(alice)
    client.get("/notifications/bell")  # warm-up: the first request of a process checks that setup is done
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        resp = client.get("/notifications/bell")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert b">60<" in resp.data
    assert len(statements) <= 3  # session, user, count


def test_admin_broadcast_form(app, client, auth, people):
    admin, alice, bob = people
    auth.login_as(admin)
    bad = client.post("/notifications/broadcast", data={"title": "", "message": "x", "type": "info"}, headers=HX)
    assert bad.status_code == 422 and b'id="broadcast-form"' in bad.data
    resp = client.post("/notifications/broadcast", data={"title": "<b>Hi</b>", "message": "All good", "type": "info"})
    assert resp.status_code == 303
    auth.login_as(bob)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "&lt;b&gt;Hi&lt;/b&gt;" in page and "<b>Hi</b>" not in page


def test_non_admins_cannot_broadcast(app, client, auth, people):
    auth.login_as(people[1])
    assert client.get("/notifications/broadcast").status_code == 404
    assert client.post("/notifications/broadcast", data={"title": "x", "message": "y", "type": "info"}).status_code == 404
