"""UptimeKumaClient against the fake Uptime Kuma over real HTTP (EXTERNAL_APIS.md §4)."""
from __future__ import annotations

import json
import math
from datetime import timezone

import pytest
import requests

from medianest.clients.base import BadResponse, NotFound, Unauthorized, Unreachable
from medianest.clients.uptime_kuma import MonitorStatus, UptimeKumaClient, monitor_status, parse_prometheus
from tests.fakes.base import free_port

from tests.fakes.uptime_kuma import API_KEY


@pytest.fixture
def client(fake_uptime_kuma):
    return UptimeKumaClient(fake_uptime_kuma.url, "media", api_key=API_KEY, timeout=(2, 5))


# -- status page -----------------------------------------------------------------------------
def test_status_page_lists_groups_and_monitors(client, fake_uptime_kuma):
    fake_uptime_kuma.add_monitor("Tautulli", slug="media", group="Extras")
    page = client.status_page()
    assert (page.slug, page.title) == ("media", "Media Services")
    assert [g.name for g in page.groups] == ["Services", "Extras"]
    assert [(m.id, m.name, m.type) for m in page.groups[0].monitors] == [
        (1, "Plex", "http"), (2, "Overseerr", "http"), (3, "NAS", "ping")]


def test_slug_is_lower_cased(fake_uptime_kuma):
    assert UptimeKumaClient(fake_uptime_kuma.url, " MEDIA ").status_page().slug == "media"


@pytest.mark.parametrize("slug", ["", "../admin", "media page", "media/x", "ü"])
def test_invalid_slug_is_refused(fake_uptime_kuma, slug):
    with pytest.raises(ValueError):
        UptimeKumaClient(fake_uptime_kuma.url, slug)


def test_unknown_slug_is_not_found_on_2x(fake_uptime_kuma):
    with pytest.raises(NotFound) as info:
        UptimeKumaClient(fake_uptime_kuma.url, "nope").status_page()
    assert "nope" in str(info.value)


def test_unknown_slug_hangs_on_1x_and_times_out(fake_uptime_kuma):
    fake_uptime_kuma.version = 1
    with pytest.raises(Unreachable) as info:
        UptimeKumaClient(fake_uptime_kuma.url, "nope", timeout=(1, 0.3)).status_page()
    assert "timed out" in str(info.value)


def test_incidents_in_2x_list_and_1x_single_object(client, fake_uptime_kuma):
    fake_uptime_kuma.add_incident("media", "Disk replacement", "NAS offline tonight")
    incidents = client.status_page().incidents
    assert [(i.title, i.content) for i in incidents] == [("Disk replacement", "NAS offline tonight")]
    fake_uptime_kuma.version = 1
    assert [i.title for i in client.status_page().incidents] == ["Disk replacement"]


def test_json_that_is_not_a_status_page(client, fake_uptime_kuma):
    fake_uptime_kuma.override("/api/status-page/media", b'{"ok": true}', content_type="application/json")
    with pytest.raises(BadResponse):
        client.status_page()


# -- heartbeats and monitors ----------------------------------------------------------------------
def test_heartbeats_latest_status_ping_uptime_and_utc_time(client, fake_uptime_kuma):
    fake_uptime_kuma.set_monitor_status("Overseerr", 0)
    fake_uptime_kuma.set_monitor_status("NAS", 3)
    beats = client.heartbeats()
    assert beats[1].status is MonitorStatus.UP and beats[1].ping_ms == 42 and beats[1].uptime_24h == 1.0
    assert beats[2].status is MonitorStatus.DOWN and beats[2].ping_ms is None and beats[2].uptime_24h == 0.5
    assert beats[3].status is MonitorStatus.MAINTENANCE
    assert beats[1].checked_at.tzinfo == timezone.utc
    assert beats[2].checked_at > beats[1].checked_at


def test_heartbeats_for_unknown_slug_are_empty(fake_uptime_kuma):
    assert UptimeKumaClient(fake_uptime_kuma.url, "nope").heartbeats() == {}


def test_monitors_combine_page_and_heartbeats(client, fake_uptime_kuma):
    fake_uptime_kuma.set_monitor_status("Plex", 2)
    fake_uptime_kuma.set_monitor_status(2, 0, uptime=0.9521)
    monitors = client.monitors()
    assert [(m.id, m.name, m.status) for m in monitors] == [
        (1, "Plex", MonitorStatus.PENDING), (2, "Overseerr", MonitorStatus.DOWN), (3, "NAS", MonitorStatus.UP)]
    assert monitors[1].uptime_24h == 0.9521
    assert monitors[2].ping_ms == 3 and monitors[2].group == "Services"


def test_unknown_heartbeat_status_and_missing_heartbeats(client, fake_uptime_kuma):
    fake_uptime_kuma.set_monitor_status("Plex", 7)
    silent = fake_uptime_kuma.add_monitor("New box")
    fake_uptime_kuma.monitors[silent]["beats"].clear()
    by_id = {m.id: m for m in client.monitors()}
    assert by_id[1].status is MonitorStatus.UNKNOWN
    new_box = by_id[silent]
    assert (new_box.status, new_box.ping_ms, new_box.checked_at) == (MonitorStatus.UNKNOWN, None, None)


def test_only_the_last_100_heartbeats_are_sent(client, fake_uptime_kuma):
    for n in range(150):
        fake_uptime_kuma.set_monitor_status("Plex", n % 2, ping=n)
    assert client.heartbeats()[1].status is MonitorStatus.UP
    raw = requests.get(f"{fake_uptime_kuma.url}/api/status-page/heartbeat/media", timeout=5).json()
    assert len(raw["heartbeatList"]["1"]) == 100
    fake_uptime_kuma.version = 1
    raw = requests.get(f"{fake_uptime_kuma.url}/api/status-page/heartbeat/media", timeout=5).json()
    assert len(raw["heartbeatList"]["1"]) == 50


def test_malformed_heartbeat_answer_is_tolerated(client, fake_uptime_kuma):
    body = {"heartbeatList": {"1": [{"status": "1", "time": "garbage", "ping": "fast"}], "x": [], "2": "oops",
                              "3": [None, {"status": 1, "time": "2025-05-01 11:59:00.118", "ping": -1}]},
            "uptimeList": {"1_24": "high", "2_24": 1.7, "junk": 3}}
    fake_uptime_kuma.override("/api/status-page/heartbeat/media", json.dumps(body).encode(),
                              content_type="application/json")
    beats = client.heartbeats()
    assert (beats[1].status, beats[1].checked_at, beats[1].ping_ms, beats[1].uptime_24h) == (
        MonitorStatus.UP, None, None, None)
    assert (beats[2].status, beats[2].uptime_24h) == (MonitorStatus.UNKNOWN, 1.0)
    assert beats[3].status is MonitorStatus.UP and beats[3].ping_ms is None
    assert set(beats) == {1, 2, 3}


@pytest.mark.parametrize("value, expected", [
    (0, MonitorStatus.DOWN), (1, MonitorStatus.UP), (2, MonitorStatus.PENDING), (3, MonitorStatus.MAINTENANCE),
    ("1", MonitorStatus.UP), (1.0, MonitorStatus.UP), (4, MonitorStatus.UNKNOWN), (-1, MonitorStatus.UNKNOWN),
    (None, MonitorStatus.UNKNOWN), (True, MonitorStatus.UNKNOWN), ("up", MonitorStatus.UNKNOWN),
])
def test_monitor_status_mapping(value, expected):
    assert monitor_status(value) is expected


# -- metrics ---------------------------------------------------------------------------------
def test_metrics_with_api_key(client, fake_uptime_kuma):
    fake_uptime_kuma.set_monitor_status("Overseerr", 0)
    samples = client.metrics()
    statuses = {s.labels["monitor_name"]: s.value for s in samples if s.name == "monitor_status"}
    assert statuses == {"Plex": 1.0, "Overseerr": 0.0, "NAS": 1.0}
    plex = next(s for s in samples if s.name == "monitor_status" and s.labels["monitor_id"] == "1")
    assert plex.labels["monitor_port"] == "null"
    assert any(s.name == "monitor_uptime_ratio" and s.labels["window"] == "1d" for s in samples)
    auth = fake_uptime_kuma.seen("/metrics")[-1].headers["Authorization"]
    assert auth.startswith("Basic ")


def test_metrics_1x_has_no_monitor_id(client, fake_uptime_kuma):
    fake_uptime_kuma.version = 1
    statuses = [s for s in client.metrics() if s.name == "monitor_status"]
    assert statuses and all("monitor_id" not in s.labels for s in statuses)


def test_metrics_label_escaping_round_trips(client, fake_uptime_kuma):
    fake_uptime_kuma.add_monitor('Say "hi" C:\\share\nnext')
    names = {s.labels["monitor_name"] for s in client.metrics() if s.name == "monitor_status"}
    assert 'Say "hi" C:\\share\nnext' in names


@pytest.mark.parametrize("key", [None, "uk1_wrong"])
def test_metrics_refused_without_the_right_key(fake_uptime_kuma, key):
    client = UptimeKumaClient(fake_uptime_kuma.url, "media", api_key=key)
    with pytest.raises(Unauthorized) as info:
        client.metrics()
    assert info.value.status == 401
    assert API_KEY not in str(info.value) and (key is None or key not in str(info.value))


def test_metrics_without_auth_when_disabled(fake_uptime_kuma):
    fake_uptime_kuma.api_key = None
    assert UptimeKumaClient(fake_uptime_kuma.url, "media").metrics()


def test_metrics_answered_with_html_is_bad_response(client, fake_uptime_kuma):
    fake_uptime_kuma.override("/metrics", b"<!DOCTYPE html><html></html>")
    with pytest.raises(BadResponse):
        client.metrics()


def test_parse_prometheus_text():
    text = "\n".join([
        "# HELP monitor_status Monitor Status",
        "# TYPE monitor_status gauge",
        'monitor_status{monitor_id="1",monitor_name="a \\"b\\" \\\\ c",} 1',
        'monitor_response_time{monitor_name="x, y={z}"} -1 1714560000000',
        "process_start_time_seconds 1.7e+09",
        'http_request_duration_seconds_bucket{le="+Inf"} +Inf',
        "odd_value NaN",
        "this is not a metric line",
        'broken{label=unquoted} 1',
        "no_value",
        "",
    ])
    samples = parse_prometheus(text)
    assert [s.name for s in samples] == ["monitor_status", "monitor_response_time", "process_start_time_seconds",
                                         "http_request_duration_seconds_bucket", "odd_value"]
    assert samples[0].labels == {"monitor_id": "1", "monitor_name": 'a "b" \\ c'}
    assert samples[1].labels == {"monitor_name": "x, y={z}"} and samples[1].value == -1
    assert samples[2].value == 1.7e9
    assert math.isinf(samples[3].value) and math.isnan(samples[4].value)


# -- failures ---------------------------------------------------------------------------------
def test_wrong_base_url_gets_the_spa_html(fake_uptime_kuma):
    client = UptimeKumaClient(fake_uptime_kuma.url + "/status", "media")
    with pytest.raises(BadResponse) as info:
        client.status_page()
    assert "JSON" in str(info.value)


def test_server_error_403_is_not_an_auth_problem(client, fake_uptime_kuma):
    fake_uptime_kuma.override("/api/status-page/media", b'{"status":"fail","msg":"SQLITE_ERROR"}', status=403,
                              content_type="application/json")
    with pytest.raises(BadResponse) as info:
        client.status_page()
    assert not isinstance(info.value, Unauthorized)


def test_hanging_server_times_out(fake_uptime_kuma):
    fake_uptime_kuma.hang()
    with pytest.raises(Unreachable):
        UptimeKumaClient(fake_uptime_kuma.url, "media", timeout=(1, 0.3)).heartbeats()


def test_connection_refused(fake_uptime_kuma):
    fake_uptime_kuma.go_down()
    with pytest.raises(Unreachable):
        UptimeKumaClient(fake_uptime_kuma.url, "media").monitors()


def test_nothing_listening():
    with pytest.raises(Unreachable):
        UptimeKumaClient(f"http://127.0.0.1:{free_port()}", "media", timeout=(1, 1)).status_page()


def test_gigantic_body_is_cut_off(client, fake_uptime_kuma):
    chunk = b" " * (1024 * 1024)
    fake_uptime_kuma.override("/metrics", lambda: (chunk for _ in range(8)), content_type="text/plain")
    with pytest.raises(BadResponse) as info:
        client.metrics()
    assert "larger than" in str(info.value)
    assert API_KEY not in str(info.value)
