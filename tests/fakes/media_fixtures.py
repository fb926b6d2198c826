"""Pytest fixtures for the offline media rig. Import them into a test module (or conftest):

    from tests.fakes.media_fixtures import fake_media, fake_media_server, fake_youtube, media_clips  # noqa: F401

media_clips        (session) paths of three tiny real mp4 clips, built once per run with ffmpeg
fake_media_server  (session) the FakeMediaServer on 127.0.0.1, started once
fake_media         the same server, reset (no media, playlists or faults) before each test
fake_youtube       (per test) a FakeYouTube catalogue over fake_media; pass `fake_youtube.extractors`
                   to YtDlpClient(extra_extractors=...)
"""
from __future__ import annotations

import pytest

from tests.fakes.media import FakeMediaServer, make_clips
from tests.fakes.youtube_ie import FakeYouTube


@pytest.fixture(scope="session")
def media_clips(tmp_path_factory):
    return make_clips(tmp_path_factory.mktemp("media-clips"), 3)


@pytest.fixture(scope="session")
def fake_media_server(media_clips):
    server = FakeMediaServer(media_clips).start()
    yield server
    server.stop()


@pytest.fixture
def fake_media(fake_media_server):
    fake_media_server.reset()
    return fake_media_server


@pytest.fixture
def fake_youtube(fake_media):
    youtube = FakeYouTube(fake_media)
    youtube.reset()
    yield youtube
    youtube.reset()
