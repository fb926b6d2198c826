"""pytest fixtures for the Overseerr and Uptime Kuma fakes: one server per session, reset before each test.

Use with `from tests.fakes.service_fixtures import *` in a test module or conftest.
"""
from __future__ import annotations

import pytest

from .overseerr import FakeOverseerr
from .uptime_kuma import FakeUptimeKuma

__all__ = ["fake_overseerr_server", "fake_overseerr", "fake_uptime_kuma_server", "fake_uptime_kuma"]


@pytest.fixture(scope="session")
def fake_overseerr_server():
    server = FakeOverseerr().start()
    yield server
    server.stop()


@pytest.fixture
def fake_overseerr(fake_overseerr_server) -> FakeOverseerr:
    fake_overseerr_server.reset()
    return fake_overseerr_server


@pytest.fixture(scope="session")
def fake_uptime_kuma_server():
    server = FakeUptimeKuma().start()
    yield server
    server.stop()


@pytest.fixture
def fake_uptime_kuma(fake_uptime_kuma_server) -> FakeUptimeKuma:
    fake_uptime_kuma_server.reset()
    return fake_uptime_kuma_server
