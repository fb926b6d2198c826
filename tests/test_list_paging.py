"""Long lists page correctly without counting every row: the admin requests list (per_page + 1 rows, a total
counted up to 1,000), My requests in both date orders, and the admin users list's activity counts."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from medianest.extensions import db
from medianest.models import MediaRequest
from medianest.timeutil import utcnow
from tests.conftest import HX
from tests.factories import make_user

BASE = utcnow().replace(microsecond=0)


@pytest.fixture
def admin_client(auth, admin):
    return auth.login_as(admin)


def bulk_requests(app, user, n: int, *, same_time: bool = False, status: str = "pending") -> None:
    """n requests, newest first by title number (or all created in the same second, to test the tie-breaker)."""
    with app.app_context():
        db.session.execute(sa.insert(MediaRequest), [
            {"id": uuid.uuid4(), "user_id": user.id, "title": f"Title {i:05d}", "media_type": "movie",
             "tmdb_id": str(100000 + i), "status": status, "forward_state": "sent", "overseerr_id": str(i),
             "created_at": BASE if same_time else BASE - timedelta(minutes=i)} for i in range(n)])
        db.session.commit()


def titles(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"Title \d{5}", html)))  # a row names its title twice


def rows(html: str) -> list[str]:
    return re.findall(r'<tr id="admin-request-([0-9a-f-]+)"', html)


def test_admin_list_pages_through_everything_once(app, admin_client, user):
    bulk_requests(app, user, 120, same_time=True)  # one timestamp for all: only the id orders them
    seen, page, pages = [], 1, []
    while True:
        html = admin_client.get(f"/admin/requests?page={page}", headers=HX).get_data(as_text=True)
        seen += rows(html)
        pages.append(re.search(r"Page \d+( of \d+)?", html).group(0))
        if "Older →" not in html:
            break
        page += 1
    assert len(seen) == 120 and len(set(seen)) == 120  # every request once, none twice across pages
    assert pages == ["Page 1 of 3", "Page 2 of 3", "Page 3 of 3"]
    assert "120 requests" in html and "← Newer" in html
    assert "There is no page 4" in admin_client.get("/admin/requests?page=4", headers=HX).get_data(as_text=True)


def test_admin_list_total_is_capped_and_filters_still_count_exactly(app, admin_client, user):
    bulk_requests(app, user, 1005)
    other = make_user(app, email="rare@example.com")
    bulk_requests(app, other, 3, status="failed")
    first = admin_client.get("/admin/requests", headers=HX).get_data(as_text=True)
    assert "More than 1,000 requests" in first and "Page 1</span>" in first and "Older →" in first
    assert len(rows(first)) == 50 and titles(first)[:2] == ["Title 00000", "Title 00001"]  # newest first
    deep = admin_client.get("/admin/requests?page=21", headers=HX).get_data(as_text=True)
    assert len(rows(deep)) == 8 and "Older →" not in deep and "← Newer" in deep
    failed = admin_client.get("/admin/requests?status=failed", headers=HX).get_data(as_text=True)
    assert "3 requests" in failed and "Page" not in failed and titles(failed) == [
        "Title 00000", "Title 00001", "Title 00002"]
    by_user = admin_client.get("/admin/requests?user=rare", headers=HX).get_data(as_text=True)
    assert "3 requests" in by_user and "rare@example.com" in by_user


def test_my_requests_page_in_both_date_orders(app, auth, user):
    bulk_requests(app, user, 45)
    client = auth.login_as(user)

    def collect(sort):
        found = []
        for page in (1, 2, 3):
            found += titles(client.get(f"/requests/?sort={sort}&page={page}", headers=HX).get_data(as_text=True))
        return found

    newest, oldest = collect("newest"), collect("oldest")
    assert len(newest) == 45 and newest == sorted(newest)
    assert oldest == list(reversed(newest))


def test_admin_users_list_caps_activity_counts_and_the_user_page_is_exact(app, admin_client, user):
    bulk_requests(app, user, 1002)
    html = admin_client.get("/admin/users", headers=HX).get_data(as_text=True)
    row = html[html.index(f'id="user-{user.id}"'):]
    assert "<td>999+</td>\n  <td>0</td>" in row
    detail = admin_client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "1002" in detail and "999+" not in detail
