"""pytest fixtures for the fake plex.tv and the fake Plex Media Server.

One server of each kind per test session (started on first use); every test that asks for the
fixture gets it reset: healthy, listening, no recorded requests, seed data only.
"""
from __future__ import annotations

import pytest

from tests.fakes.plex import FakePlex
from tests.fakes.plextv import FakePlexTv

__all__ = ["fake_plextv", "fake_plex", "fake_plextv_server", "fake_plex_server"]


@pytest.fixture(scope="session")
def fake_plextv_server():
    server = FakePlexTv().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_plex_server():
    server = FakePlex().start()
    yield server
    server.stop()


@pytest.fixture
def fake_plextv(fake_plextv_server) -> FakePlexTv:
    fake_plextv_server.reset()
    return fake_plextv_server


@pytest.fixture
def fake_plex(fake_plex_server) -> FakePlex:
    fake_plex_server.reset()
    return fake_plex_server
