"""`flask services set|show|test|check` through the CLI runner."""
from __future__ import annotations

from medianest.extensions import db
from medianest.models import ServiceMetric, ServiceStatus
from medianest.services import service_config
from tests.fakes.overseerr import API_KEY as OVERSEERR_KEY
from tests.fakes.plex import ADMIN_TOKEN as PLEX_TOKEN
from tests.fakes.uptime_kuma import API_KEY as KUMA_KEY


def test_set_and_show_every_service_without_printing_secrets(app, runner):
    result = runner.invoke(args=["services", "set", "plex", "--url", "http://192.168.1.20:32400", "--token", PLEX_TOKEN,
                                 "--library-section", "3", "--path-map", "/srv/downloads=/data/youtube"])
    assert result.exit_code == 0, result.output
    assert "plex saved" in result.output and "secret: set" in result.output
    assert "path_map: /srv/downloads=/data/youtube" in result.output
    result = runner.invoke(args=["services", "set", "overseerr", "--url", "http://192.168.1.20:5055",
                                 "--api-key", OVERSEERR_KEY, "--webhook-secret", "hook-secret-77"])
    assert result.exit_code == 0 and "webhook_secret: set" in result.output
    result = runner.invoke(args=["services", "set", "uptime-kuma", "--url", "http://192.168.1.20:3001",
                                 "--slug", "Media", "--api-key", KUMA_KEY])
    assert result.exit_code == 0 and "slug: media" in result.output
    result = runner.invoke(args=["services", "set", "youtube", "--allowed-hosts", "youtube.com,youtu.be",
                                 "--max-concurrent", "3", "--per-hour", "10", "--quota-gb", "5"])
    assert result.exit_code == 0 and "allowed_hosts: youtube.com,youtu.be" in result.output
    shown = runner.invoke(args=["services", "show"])
    assert shown.exit_code == 0
    for name in ("plex", "overseerr", "uptime-kuma", "youtube"):
        assert f"{name} (" in shown.output
    for secret in (PLEX_TOKEN, OVERSEERR_KEY, "hook-secret-77", KUMA_KEY):
        assert secret not in shown.output and secret not in result.output
    one = runner.invoke(args=["services", "show", "overseerr"])
    assert one.output.startswith("overseerr (Overseerr)") and "plex" not in one.output
    with app.app_context():
        assert service_config.secret(service_config.get("plex")) == PLEX_TOKEN
        assert service_config.youtube_settings().quota_gb == 5.0


def test_set_updates_only_what_is_given_and_reads_secrets_from_stdin(app, runner):
    runner.invoke(args=["services", "set", "plex", "--url", "http://plex.local:32400", "--token", "first-token"])
    result = runner.invoke(args=["services", "set", "plex", "--token", "-"], input="second-token\n")
    assert result.exit_code == 0 and "second-token" not in result.output
    result = runner.invoke(args=["services", "set", "plex", "--disable"])
    assert "enabled: no" in result.output
    with app.app_context():
        cfg = service_config.get("plex")
        assert service_config.secret(cfg) == "second-token" and cfg.service_url == "http://plex.local:32400"
        assert not cfg.enabled


def test_bad_input_gives_clear_errors(runner):
    result = runner.invoke(args=["services", "set", "plex", "--url", "file:///etc/passwd", "--token", "x"])
    assert result.exit_code == 1 and "url: URL must start with http:// or https://" in result.output
    result = runner.invoke(args=["services", "set", "plex", "--url", "http://u:pw@plex.local"])
    assert result.exit_code == 1 and "must not contain a user name or password" in result.output
    assert "Plex token is required" in result.output and "pw@" not in result.output
    result = runner.invoke(args=["services", "set", "uptime-kuma", "--url", "http://kuma.local"])
    assert result.exit_code == 1 and "slug is required" in result.output
    result = runner.invoke(args=["services", "set", "youtube", "--per-hour", "lots"])
    assert result.exit_code == 1 and "must be a whole number" in result.output
    result = runner.invoke(args=["services", "show", "jellyfin"])
    assert result.exit_code == 2 and "'jellyfin' is not one of" in result.output
    result = runner.invoke(args=["services", "set", "jellyfin"])
    assert result.exit_code == 2


def test_test_exits_0_when_the_service_answers(app, runner, fake_overseerr, fake_plex):
    runner.invoke(args=["services", "set", "overseerr", "--url", fake_overseerr.url, "--api-key", OVERSEERR_KEY])
    ok = runner.invoke(args=["services", "test", "overseerr"])
    assert ok.exit_code == 0 and "ok: Connected to Overseerr 1.34.0." in ok.output
    fake_overseerr.go_down()
    down = runner.invoke(args=["services", "test", "overseerr"])
    assert down.exit_code == 1 and "Cannot connect to Overseerr" in down.output
    missing = runner.invoke(args=["services", "test", "plex"])
    assert missing.exit_code == 1 and "Plex Media Server is not configured yet." in missing.output
    runner.invoke(args=["services", "set", "plex", "--url", fake_plex.url, "--token", "wrong-token"])
    bad = runner.invoke(args=["services", "test", "plex"])
    assert bad.exit_code == 1 and "refused the Plex token" in bad.output and "wrong-token" not in bad.output
    assert runner.invoke(args=["services", "test", "youtube"]).exit_code == 0


def test_check_runs_one_round(app, runner, fake_plex, fake_uptime_kuma):
    runner.invoke(args=["services", "set", "plex", "--url", fake_plex.url, "--token", PLEX_TOKEN])
    runner.invoke(args=["services", "set", "uptime-kuma", "--url", fake_uptime_kuma.url, "--slug", "media"])
    fake_uptime_kuma.go_down()
    result = runner.invoke(args=["services", "check"])
    assert result.exit_code == 1, result.output  # a service is down: a cron job or probe must notice
    lines = result.output.splitlines()[:-1]
    assert result.output.splitlines()[-1] == "Error: offline: uptime-kuma"
    assert lines[0].startswith("plex: online (") and lines[-1].startswith("youtube: online")
    assert lines[1].startswith("uptime-kuma: offline: Cannot connect to Uptime Kuma")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ServiceStatus)) == 3
        assert db.session.scalar(db.select(db.func.count()).select_from(ServiceMetric)) == 5  # no time when offline
    runner.invoke(args=["services", "set", "youtube", "--disable"])
    runner.invoke(args=["services", "set", "plex", "--disable"])
    runner.invoke(args=["services", "set", "uptime-kuma", "--disable"])
    assert runner.invoke(args=["services", "check"]).output == "no services to check\n"
