"""Metric rollups: the worker keeps hourly and daily sums, the 7- and 30-day charts and 30-day uptime read
them (raw rows only for the hour in progress), and the charts are right before the worker ever ran."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from medianest.extensions import db
from medianest.models import ServiceMetric
from medianest.models.monitoring import ServiceMetricDaily, ServiceMetricHourly
from medianest.services import maintenance, metrics
from medianest.services import metric_rollups as rollups
from medianest.timeutil import utcnow
from tests.support import count_queries

NOW = utcnow().replace(microsecond=0)
YESTERDAY = rollups.floor_day(NOW) - timedelta(days=1)


def add(service: str, at, response_ms: float | None, up: float) -> None:
    rows = [{"id": uuid.uuid4(), "service_name": service, "metric_name": "up", "metric_value": up, "timestamp": at}]
    if response_ms is not None:
        rows.append({"id": uuid.uuid4(), "service_name": service, "metric_name": "response_time_ms",
                     "metric_value": response_ms, "timestamp": at})
    db.session.execute(sa.insert(ServiceMetric), rows)
    db.session.commit()


def rollup_rows(model) -> dict:
    return {(r.service_name, r.metric_name, r.bucket_start): (r.sample_count, r.value_sum, r.value_min, r.value_max)
            for r in db.session.scalars(sa.select(model).where(model.service_name != rollups.MARK))}


def seed_yesterday() -> None:
    add("plex", YESTERDAY + timedelta(hours=10, minutes=10), 100.0, 1.0)
    add("plex", YESTERDAY + timedelta(hours=10, minutes=40), None, 0.0)  # no answer: no response time
    add("plex", YESTERDAY + timedelta(hours=10, minutes=50), 300.0, 1.0)
    add("plex", YESTERDAY + timedelta(hours=11, minutes=5), 50.0, 1.0)
    add("plex", YESTERDAY - timedelta(minutes=30), 200.0, 1.0)  # the day before, 23:30
    add("overseerr", YESTERDAY + timedelta(hours=10, minutes=15), 80.0, 1.0)


def test_the_worker_rolls_up_hours_and_days_with_averages_extremes_and_uptime(ctx):
    from medianest import tasks

    seed_yesterday()
    tasks.metric_rollup()  # the periodic task (immediate mode in tests)
    hourly = rollup_rows(ServiceMetricHourly)
    ten = YESTERDAY + timedelta(hours=10)
    assert hourly[("plex", "response_time_ms", ten)] == (2, 400.0, 100.0, 300.0)  # average 200 ms
    assert hourly[("plex", "up", ten)] == (3, 2.0, 0.0, 1.0)  # 2 of 3 checks answered
    assert hourly[("plex", "response_time_ms", ten + timedelta(hours=1))] == (1, 50.0, 50.0, 50.0)
    assert hourly[("overseerr", "up", ten)] == (1, 1.0, 1.0, 1.0)
    assert len(hourly) == 8
    daily = rollup_rows(ServiceMetricDaily)
    assert daily[("plex", "response_time_ms", YESTERDAY)] == (3, 450.0, 50.0, 300.0)
    assert daily[("plex", "up", YESTERDAY)] == (4, 3.0, 0.0, 1.0)
    assert daily[("plex", "up", YESTERDAY - timedelta(days=1))] == (1, 1.0, 1.0, 1.0)
    assert metrics.uptime(["plex", "overseerr", "youtube"], now=NOW) == {
        "plex": pytest.approx(80.0), "overseerr": 100.0, "youtube": None}  # 4 of 5 checks over 30 days
    tasks.metric_rollup()  # twice is harmless
    assert rollup_rows(ServiceMetricHourly) == hourly and rollup_rows(ServiceMetricDaily) == daily


def test_long_charts_and_uptime_read_the_rollups(ctx):
    seed_yesterday()
    add("plex", rollups.floor_hour(NOW), 400.0, 0.0)  # the hour in progress: raw rows
    rollups.rollup(NOW)
    before = {w: metrics.series_for(["plex"], w, now=NOW)["plex"] for w in ("7d", "30d")}
    uptime = metrics.uptime(["plex"], now=NOW)["plex"]
    # Raw rows of finished hours deleted: the long charts and uptime do not change, the 24-hour chart does.
    db.session.execute(sa.delete(ServiceMetric).where(ServiceMetric.timestamp < rollups.floor_hour(NOW)))
    db.session.commit()
    for window, series in before.items():
        after = metrics.series_for(["plex"], window, now=NOW)["plex"]
        assert after.buckets == series.buckets and after.avg_ms == series.avg_ms
    assert metrics.uptime(["plex"], now=NOW)["plex"] == uptime == pytest.approx(400 / 6)  # 4 of 6 checks
    hour = before["7d"]
    assert hour.bucket_seconds == 3600 and len(hour.buckets) == 168
    ten = next(b for b in hour.buckets if b.start == YESTERDAY + timedelta(hours=10))
    assert (ten.avg, ten.max, ten.count, ten.up_ratio, ten.up_count) == (200.0, 300.0, 2, pytest.approx(2 / 3), 3)
    assert hour.buckets[-1].start == rollups.floor_hour(NOW) and hour.buckets[-1].avg == 400.0
    assert hour.max_ms == 400.0 and hour.avg_ms == pytest.approx((100 + 300 + 50 + 200 + 400) / 5)


def test_charts_are_right_before_the_worker_has_rolled_up(ctx):
    seed_yesterday()
    assert rollup_rows(ServiceMetricHourly) == {}
    series = metrics.series_for(["plex"], "30d", now=NOW)["plex"]  # rolls up what is missing, once
    assert series.avg_ms == pytest.approx(650 / 4) and series.max_ms == 300.0 and series.uptime == 80.0
    assert sum(b.count for b in series.buckets) == 4 and sum(b.up_count for b in series.buckets) == 5
    ten = next(b for b in series.buckets if b.start <= YESTERDAY + timedelta(hours=10) < b.start + timedelta(hours=4))
    assert ten.max == 300.0 and ten.avg in (200.0, 150.0)  # with or without 11:00, by where the 4-hour edges fall
    assert len(rollup_rows(ServiceMetricHourly)) == 8
    with count_queries(db.engine) as queries:
        metrics.series_for(["plex"], "7d", now=NOW)
    assert len(queries) == 2, queries


def test_rows_committed_late_are_rolled_up_by_the_next_run(ctx):
    last_hour = rollups.floor_hour(NOW) - timedelta(hours=1)
    add("plex", last_hour + timedelta(minutes=5), 100.0, 1.0)
    rollups.rollup(NOW)
    add("plex", last_hour + timedelta(minutes=59, seconds=59), 300.0, 1.0)  # a round that committed after the hour
    rollups.rollup(NOW + timedelta(minutes=10))
    assert rollup_rows(ServiceMetricHourly)[("plex", "response_time_ms", last_hour)] == (2, 400.0, 100.0, 300.0)


def test_retention_keeps_rollups_after_raw_rows_expire(ctx):
    old = NOW - timedelta(days=100)
    add("plex", old, 120.0, 1.0)
    add("plex", NOW - timedelta(days=400), 120.0, 1.0)
    rollups.rollup(NOW)
    counts = maintenance.cleanup()
    assert counts["service_metrics"] == 4  # raw rows: 90 days
    assert counts["service_metrics_hourly"] == 2  # the 400-day-old hour (two metrics): hourly rows keep a year
    assert counts["service_metrics_daily"] == 0  # daily rows keep five years
    assert {k[2] for k in rollup_rows(ServiceMetricHourly)} == {rollups.floor_hour(old)}
    assert len(rollup_rows(ServiceMetricDaily)) == 4


def test_a_new_install_rolls_up_once_not_on_every_view(ctx):
    add("plex", rollups.floor_hour(NOW), 90.0, 1.0)  # checks only in the hour in progress
    assert metrics.series_for(["plex"], "7d", now=NOW)["plex"].buckets[-1].avg == 90.0
    with count_queries(db.engine) as queries:
        series = metrics.series_for(["plex"], "7d", now=NOW)["plex"]
    assert len(queries) == 2 and series.buckets[-1].avg == 90.0 and series.uptime == 100.0
