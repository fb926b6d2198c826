"""YouTube downloads in a real browser: preview a playlist, queue it, watch the progress bar move and the
download finish without a reload; cancel a running one. Jobs run in a thread of the live server's
process (MEDIANEST_YOUTUBE_THREADED_JOBS) against media served from 127.0.0.1."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import no_horizontal_scroll
from tests.factories import make_user
from tests.test_youtube_service import IDS, YT_CONFIG

PASSWORD = "Tr0ubadour-horse"


@pytest.fixture
def live_app(make_app, fake_youtube):
    return make_app(**{**YT_CONFIG, "MEDIANEST_YOUTUBE_PROGRESS_INTERVAL": 0.2},
                    MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors, MEDIANEST_YOUTUBE_THREADED_JOBS=True)


def sign_in(page, live_server, live_app):
    make_user(live_app, email="admin@example.com", role="ADMIN", password=PASSWORD)
    make_user(live_app, email="viewer@example.com", name="Vera", password=PASSWORD)
    page.goto(live_server.url + "/auth/login")
    page.fill("#email", "viewer@example.com")
    page.fill("#password", PASSWORD)
    page.click("text=Sign in with password")
    expect(page.locator("nav.mainnav")).to_contain_text("YouTube")


def test_queue_a_playlist_and_watch_it_finish_without_a_reload(live_app, live_server, desktop, fake_media,
                                                               fake_youtube):
    page = desktop
    console_errors = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    fake_media.slow_size, fake_media.slow_rate = 600_000, 400_000  # 1.5 s per video
    videos = [(IDS[0], "Opening"), (IDS[1], "Middle"), (IDS[2], "Finale")]
    url = fake_youtube.add_playlist("PLbrowser", "Browser Playlist", videos, slow=[v for v, _ in videos])
    sign_in(page, live_server, live_app)

    page.click("nav.mainnav >> text=YouTube")
    expect(page.locator("#youtube-limits")).to_contain_text("0 of 5 downloads queued")
    page.fill("#url", url)
    page.click("#youtube-preview-button")
    expect(page.locator("#youtube-preview")).to_contain_text("Browser Playlist")
    expect(page.locator("#youtube-preview")).to_contain_text("3 videos")
    page.evaluate("window.medianestMarker = 'same page'")
    page.click("#youtube-confirm")
    expect(page.locator("#flash")).to_contain_text("Queued: Browser Playlist")
    expect(page.locator("#youtube-limits")).to_contain_text("1 of 5 downloads queued")

    expect(page.locator("#downloads .yt-status progress")).to_be_visible(timeout=15_000)
    read = """() => { const s = document.querySelector('#downloads .yt-status');
                      const bar = s && s.querySelector('progress');
                      return [s ? s.dataset.status : null, bar ? bar.value : null]; }"""
    values = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, value = page.evaluate(read)  # one look at the page: status and bar together
        if status in ("completed", "failed", "cancelled"):
            break
        if status == "downloading" and value is not None:
            values.add(float(value))
    numbers = sorted(values)
    assert len(numbers) >= 3 and numbers[0] < 60 < numbers[-1], numbers  # the bar moved through the playlist

    done = page.locator("#downloads .yt-status[data-status='completed']")
    expect(done).to_contain_text("3 of 3 downloaded", timeout=30_000)
    assert page.evaluate("window.medianestMarker") == "same page"  # no reload happened

    page.click("#downloads .yt-title")
    expect(page.locator("h1.yt-heading")).to_have_text("Browser Playlist")
    expect(page.locator(".yt-entries .yt-entry")).to_have_count(3)
    expect(page.locator(".yt-entries")).to_contain_text("Finale [AAAAAAAAA03].mp4")
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


def test_cancel_a_running_download(live_app, live_server, desktop, fake_media, fake_youtube):
    page = desktop
    fake_media.slow_size, fake_media.slow_rate = 6_000_000, 200_000  # 30 s unless cancelled
    url = fake_youtube.add_video(IDS[5], "Too long to wait for", slow=True)
    sign_in(page, live_server, live_app)
    page.goto(live_server.url + "/youtube/")
    page.fill("#url", url)
    page.click("#youtube-preview-button")
    page.click("#youtube-confirm")
    page.click("#downloads .yt-title")
    status = page.locator("#download-detail .yt-status")
    expect(status).to_have_attribute("data-status", "downloading", timeout=15_000)
    expect(status.locator(".yt-count")).to_have_text("1 of 1", timeout=15_000)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#download-detail .yt-cancel")
    expect(page.locator("#download-detail .yt-status")).to_have_attribute("data-status", "cancelled", timeout=10_000)
    expect(page.locator("#flash")).to_contain_text("Cancelling")
    expect(page.locator("#download-detail .yt-retry")).to_be_visible()


def test_youtube_page_fits_a_phone(live_app, live_server, phone, fake_youtube):
    page = phone
    url = fake_youtube.add_playlist("PLphone", "A playlist with a very long title " * 4, [(IDS[0], "x" * 200)])
    sign_in(page, live_server, live_app)
    page.goto(live_server.url + "/youtube/")
    assert no_horizontal_scroll(page)
    page.fill("#url", url)
    page.click("#youtube-preview-button")
    page.click("#youtube-confirm")
    expect(page.locator("#downloads .yt-status[data-status='completed']")).to_be_visible(timeout=20_000)
    assert no_horizontal_scroll(page)
    page.click("#downloads .yt-title")
    expect(page.locator(".yt-entries .yt-entry")).to_have_count(1)
    assert no_horizontal_scroll(page)
