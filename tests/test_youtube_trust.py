"""YouTube limits and messages a family can trust (issue 10, items 14-15): failed and cancelled downloads
that fetched nothing do not use up the hourly limit; the preview tells users a plain sentence and leaves
yt-dlp's and the network's own words to the admin's error log."""
from __future__ import annotations

import pytest

from medianest.extensions import db
from medianest.models import ErrorLog
from tests.conftest import HX
from tests.fakes.base import free_port
from tests.factories import make_user
from tests.test_youtube_service import IDS, YT_CONFIG, configure_youtube
from tests.test_youtube_views import make_download


@pytest.fixture
def app(make_app, fake_youtube):
    return make_app(**YT_CONFIG, MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors,
                    MEDIANEST_YTDLP_ALLOW_ANY_HOST=True)


@pytest.fixture
def alice(app, admin):
    return make_user(app, email="alice@example.com", name="Alice")


def _submit(client, url):
    return client.post("/youtube/", data={"url": url, "quality": "best", "container": "mp4"}, headers=HX)


def test_failed_and_cancelled_downloads_without_data_do_not_count_toward_the_hourly_limit(app, auth, alice,
                                                                                           fake_youtube):
    configure_youtube(app, per_hour=2)
    make_download(app, alice, status="failed", bytes_total=0, error="That video is private.")
    make_download(app, alice, status="cancelled", bytes_total=0)
    make_download(app, alice, status="failed", bytes_total=0)
    client = auth.login_as(alice)
    resp = _submit(client, fake_youtube.add_video(IDS[0], "Counts"))
    assert resp.status_code == 200, resp.data[-500:]
    # A download that fetched data counts even when it failed later; with the one just queued that is two.
    make_download(app, alice, status="failed", bytes_total=5_000_000)
    refused = _submit(client, fake_youtube.add_video(IDS[1], "One too many"))
    assert refused.status_code in (422, 429) and b"You can queue 2 downloads per hour" in refused.data


def test_a_private_video_is_refused_in_a_plain_sentence(app, auth, alice, fake_youtube):
    fake_youtube.add_video(IDS[0], "Hidden", private=True)
    resp = auth.login_as(alice).post("/youtube/preview", data={"url": f"https://www.youtube.com/watch?v={IDS[0]}",
                                                               "quality": "best", "container": "mp4"}, headers=HX)
    assert resp.status_code == 422 and b"That video is private." in resp.data


def test_network_trouble_at_preview_is_a_plain_sentence_and_the_details_go_to_the_admin(app, auth, alice):
    url = f"http://127.0.0.1:{free_port()}/clip.mp4"  # nothing listens there
    resp = auth.login_as(alice).post("/youtube/preview", data={"url": url, "quality": "best", "container": "mp4"},
                                     headers=HX)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "The site could not be reached. Try again in a moment." in page
    for raw in ("Errno", "refused", "Unable to download", "HTTPConnection", "urlopen"):
        assert raw not in page
    with app.app_context():
        row = db.session.scalar(db.select(ErrorLog).where(ErrorLog.error_code == "youtube_preview"))
    assert row is not None and "Preview failed" in row.error_message and len(row.error_message) > 40
