"""Metrics: series aggregated in SQL into a bounded number of buckets, uptime, recent checks, SVG geometry,
and the admin metrics page. Timing lives in tests/benchmarks/bench_metrics.py, not here."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from medianest.extensions import db
from medianest.models import ServiceIncident, ServiceMetric
from medianest.services import metric_rollups as rollups
from medianest.services import metrics
from medianest.timeutil import utcnow
from tests.conftest import HX
from tests.support import count_queries

NOW = utcnow().replace(microsecond=0)




def bulk_insert(rows: list[dict]) -> None:
    """executemany-style insert, without the ORM's unit of work."""
    for chunk in range(0, len(rows), 20000):
        db.session.execute(sa.insert(ServiceMetric), rows[chunk:chunk + 20000])
    db.session.commit()


def rows_every(service: str, *, minutes: float, span: timedelta, value=lambda i: 100.0, up=lambda i: 1.0,
               end=NOW) -> list[dict]:
    rows, i = [], 0
    step = timedelta(minutes=minutes)
    t = end - span
    while t < end:
        rows.append({"id": uuid.uuid4(), "service_name": service, "metric_name": "response_time_ms",
                     "metric_value": value(i), "timestamp": t})
        rows.append({"id": uuid.uuid4(), "service_name": service, "metric_name": "up", "metric_value": up(i),
                     "timestamp": t})
        t += step
        i += 1
    return rows


def test_many_rows_give_a_bounded_number_of_points_per_chart(ctx):
    # ~100k rows: plex every 50 s for 30 days (both metrics), plus other services' noise.
    rows = rows_every("plex", minutes=50 / 60, span=timedelta(days=30), value=lambda i: 50 + i % 100,
                      up=lambda i: 0.0 if i % 50 == 0 else 1.0)
    rows += rows_every("overseerr", minutes=30, span=timedelta(days=30))
    bulk_insert(rows)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceMetric)) >= 100_000
    rollups.rollup(NOW)  # what the worker does every ten minutes
    for window, expected in (("24h", 96), ("7d", 168), ("30d", 180)):
        with count_queries(db.engine) as queries:
            series = metrics.series_for(["plex", "overseerr", "youtube"], window, now=NOW)
        assert len(queries) == (1 if window == "24h" else 2), queries  # long windows: rollup watermark + rows
        for s in series.values():
            assert len(s.buckets) == expected
        plex = series["plex"]
        filled = [b for b in plex.buckets if b.avg is not None]
        assert len(filled) >= expected - 1
        assert all(50 <= b.avg <= 149 and b.max <= 149 for b in filled)
        assert sum(b.count for b in plex.buckets) > expected  # every row was aggregated, in SQL
        assert series["youtube"].checks == 0 and series["youtube"].avg_ms is None
    uptime = metrics.uptime(["plex", "overseerr", "youtube"], now=NOW)
    assert uptime["plex"] == pytest.approx(98.0, abs=0.05)
    assert uptime["overseerr"] == 100.0 and uptime["youtube"] is None
    chart = metrics.line_chart(metrics.series_for(["plex"], "30d", now=NOW)["plex"])
    points = sum(len(segment.split()) for segment in chart.segments)
    assert points <= 180


def test_bucket_values_are_exact(ctx):
    start = NOW - timedelta(hours=24)
    bulk_insert([
        {"id": uuid.uuid4(), "service_name": "plex", "metric_name": "response_time_ms", "metric_value": v,
         "timestamp": start + timedelta(minutes=m)}
        for m, v in ((1, 100.0), (2, 300.0), (16, 50.0))
    ] + [
        {"id": uuid.uuid4(), "service_name": "plex", "metric_name": "up", "metric_value": v,
         "timestamp": start + timedelta(minutes=m)}
        for m, v in ((1, 1.0), (2, 0.0), (16, 1.0))
    ] + [  # outside the window: ignored
        {"id": uuid.uuid4(), "service_name": "plex", "metric_name": "response_time_ms", "metric_value": 9999.0,
         "timestamp": start - timedelta(minutes=1)},
    ])
    series = metrics.series_for(["plex"], "24h", now=NOW)["plex"]
    first, second = series.buckets[0], series.buckets[1]
    assert (first.avg, first.max, first.count, first.up_ratio) == (200.0, 300.0, 2, 0.5)
    assert (second.avg, second.count, second.up_ratio) == (50.0, 1, 1.0)
    assert all(b.avg is None for b in series.buckets[2:])
    assert series.avg_ms == pytest.approx(150.0) and series.max_ms == 300.0
    spark = metrics.sparklines(["plex"], now=NOW)["plex"]
    assert len(spark) == 48 and spark[0] == 150 and spark[1:] == [None] * 47


def test_recent_checks_keep_the_last_twenty_per_service_in_order(ctx):
    rows = []
    for i in range(30):
        status = "offline" if i == 29 else "online"
        rows.append({"id": uuid.uuid4(), "service_name": "plex", "metric_name": "up",
                     "metric_value": 0.0 if status == "offline" else 1.0,
                     "timestamp": NOW - timedelta(minutes=30 - i),
                     "meta": {"status": "offline", "reason": "gone"} if status == "offline" else None})
    rows.append({"id": uuid.uuid4(), "service_name": "overseerr", "metric_name": "up", "metric_value": 1.0,
                 "timestamp": NOW - timedelta(minutes=1),
                 "meta": {"status": "degraded", "reason": "Slow"}})
    bulk_insert(rows)
    with count_queries(db.engine) as queries:
        recent = metrics.recent_checks(["plex", "overseerr", "youtube"], now=NOW)
    assert len(queries) == 1
    assert len(recent["plex"]) == 20
    assert recent["plex"][-1] == {"status": "offline", "at": recent["plex"][-1]["at"], "reason": "gone"}
    assert [r["status"] for r in recent["plex"][:-1]] == ["online"] * 19
    assert recent["plex"][0]["at"] < recent["plex"][-1]["at"]
    assert recent["overseerr"] == [{"status": "degraded", "at": recent["overseerr"][0]["at"], "reason": "Slow"}]
    assert recent["youtube"] == []


def test_unknown_window_is_refused():
    with pytest.raises(ValueError):
        metrics.series_for(["plex"], "1y")


def test_svg_geometry_breaks_lines_at_gaps_and_scales_nicely():
    assert metrics.nice_ceiling(0) == 1.0
    assert metrics.nice_ceiling(180) == 200 and metrics.nice_ceiling(1200) == 2000 and metrics.nice_ceiling(2400) == 2500
    spark = metrics.sparkline([100, 200, None, 50, None])
    assert len(spark["segments"]) == 2 and spark["max"] == 200
    assert len(spark["segments"][0].split()) == 2 and len(spark["segments"][1].split()) == 2  # a lone point: a dot
    assert metrics.sparkline([None, None])["empty"]
    assert all(re.fullmatch(r"[\d.]+,[\d.]+", p) for s in spark["segments"] for p in s.split())


def test_admin_metrics_page_and_fragment(app, client, auth, admin):
    with app.app_context():
        bulk_insert(rows_every("plex", minutes=5, span=timedelta(days=2), value=lambda i: 120.0,
                               up=lambda i: 0.0 if i == 3 else 1.0))
        db.session.add(ServiceIncident(service_name="plex", incident_type="outage", description="Plex <b>went</b> away",
                                       severity="high", status="resolved", created_at=utcnow() - timedelta(hours=3),
                                       resolved_at=utcnow() - timedelta(hours=2)))
        db.session.commit()
        rollups.rollup()  # the worker's periodic rollup
    auth.login_as(admin)
    page = client.get("/admin/metrics")
    assert page.status_code == 200 and b"<html" in page.data and "HX-Request" in page.headers["Vary"]
    html = page.get_data(as_text=True)
    assert 'id="metrics-plex"' in html and "<svg" in html and "<polyline" in html
    assert "style=" not in html.split("<main", 1)[1]  # CSP: no inline styles
    assert "Plex &lt;b&gt;went&lt;/b&gt; away" in html
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as queries:
        frag = client.get("/admin/metrics?window=7d", headers=HX)
    assert frag.status_code == 200 and b"<html" not in frag.data and b'id="metrics-panel"' in frag.data
    assert b'aria-current="page" class="button">7 days' in frag.data
    assert b"Uptime 7 days: <strong>99.83%</strong>" in frag.data  # 575 of 576 checks answered
    assert len(queries) <= 7, queries  # session + user + one per chart set, uptime x2, incident history
    assert client.get("/admin/metrics?window=forever").status_code == 200  # unknown window: the default one


def test_metrics_and_incidents_pages_are_admin_only(app, client, auth, user):
    auth.login_as(user)
    for url in ("/admin/metrics", "/admin/incidents", "/admin/services"):
        assert client.get(url).status_code == 404
