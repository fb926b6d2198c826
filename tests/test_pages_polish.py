"""Page details from the first week (issue 10, item 20) that need no browser: the favicon, the 404 page,
breadcrumbs, number keyboards, and charts that invent nothing."""
from __future__ import annotations

import re

from medianest.services import health, service_config


def test_favicon_ico_is_served_to_anyone(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200
    assert resp.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert resp.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert client.get("/static/css/medianest.css").status_code == 200


def test_a_mistyped_url_gives_a_404_without_an_admin_reference(client, auth, user):
    auth.login_as(user)
    resp = client.get("/no-such-page")
    assert resp.status_code == 404
    assert "Reference for the admin" not in resp.get_data(as_text=True)


def test_the_announcement_page_has_a_breadcrumb(client, auth, admin):
    auth.login_as(admin)
    body = client.get("/notifications/broadcast").get_data(as_text=True)
    assert re.search(r'<p class="crumbs"><a href="/admin/?">Admin</a>', body)


def test_number_settings_get_a_number_keyboard(client, auth, admin):
    auth.login_as(admin)
    body = client.get("/admin/services").get_data(as_text=True)
    for name in ("youtube-max_concurrent", "youtube-per_hour", "youtube-quota_gb", "youtube-max_playlist_entries",
                 "plex-library_section"):
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', body).group(0)
        assert 'type="number"' in tag and "inputmode=" in tag, tag
    assert 'step="any"' in re.search(r'<input[^>]*name="youtube-quota_gb"[^>]*>', body).group(0)


def test_one_check_draws_no_stray_dot_and_an_empty_chart_no_invented_axis(app, client, auth, admin):
    with app.app_context():
        health.run_round()  # YouTube: one check, one response time
    auth.login_as(admin)
    body = client.get("/").get_data(as_text=True)
    card = body[body.index('id="service-youtube"'):]
    card = card[:card.index("</article>")]
    assert "<polyline" not in card and "Too little history for a line yet." in card
    with app.app_context():
        service_config.configure("overseerr", url="http://127.0.0.1:9", secret="key")  # watched, never checked
    metrics = client.get("/admin/metrics").get_data(as_text=True)
    chart = metrics[metrics.index('id="metrics-overseerr"'):]
    chart = chart[:chart.index("</svg>")]
    assert "No data in this window" in chart and " ms</text>" not in chart
