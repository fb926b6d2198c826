"""`flask` command groups, thin over services: users, keys, cleanup (more groups register here)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from medianest import crypto
from medianest.cli_base import Command
from medianest.cli_base import Group as AppGroup  # database problems answer in one line, for every group
from medianest.services import ServiceError, keys, maintenance, users

users_cli = AppGroup("users", help="Manage MediaNest accounts.")
keys_cli = AppGroup("keys", help="Encryption keys for stored secrets.")
services_cli = AppGroup("services", help="Service connections: Plex, Overseerr, Uptime Kuma, YouTube.")
requests_cli = AppGroup("requests", help="Media requests forwarded to Overseerr.")
downloads_cli = AppGroup("downloads", help="YouTube downloads.")


def fail(message: str):
    raise click.ClickException(message)


@users_cli.command("create-admin")
@click.option("--email", required=True)
@click.option("--password", required=True, help="At least 10 characters; not a common password.")
@click.option("--name", default=None)
def create_admin(email, password, name):
    """Create a local admin account (idempotent for the same email)."""
    try:
        user, created = users.create_admin(email, password, name=name)
    except ServiceError as err:
        fail(err.message)
    click.echo(f"{'created' if created else 'exists'}: {user.email} ({user.role})")


@users_cli.command("list")
def list_users():
    """List accounts: email, role, status, last sign-in."""
    for user in users.list_users():
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
        click.echo(f"{user.email}\t{user.role}\t{user.status}\t{last}")


# -- users: more commands (set-role, suspend, reactivate) -------------------------------------
def _user_by_email(email):
    user = users.get_by_email(email or "")
    if user is None:
        fail(f"No account with the email {email!r}.")
    return user


@users_cli.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(["USER", "ADMIN"], case_sensitive=False))
def set_role(email, role):
    """Make an account a USER or an ADMIN (the last active admin stays an admin)."""
    try:
        user = users.set_role(_user_by_email(email).id, role.upper())
    except ServiceError as err:
        fail(err.message)
    click.echo(f"{user.email}: role {user.role}")


@users_cli.command("suspend")
@click.argument("email")
def suspend(email):
    """Suspend an account: it is signed out everywhere at once and cannot sign in."""
    try:
        user = users.suspend(_user_by_email(email).id)
    except ServiceError as err:
        fail(err.message)
    click.echo(f"{user.email}: {user.status}")


@users_cli.command("reactivate")
@click.argument("email")
def reactivate(email):
    """Let a suspended or inactive account sign in again."""
    try:
        user = users.reactivate(_user_by_email(email).id)
    except ServiceError as err:
        fail(err.message)
    click.echo(f"{user.email}: {user.status}")


@users_cli.command("reset-link")
@click.argument("email")
def reset_link(email):
    """Print a one-time password-reset link (valid 24 hours; earlier links stop working)."""
    from flask import url_for

    try:
        token = users.issue_reset_token(_user_by_email(email).id)
    except ServiceError as err:
        fail(err.message)
    base = current_app.config.get("MEDIANEST_BASE_URL")
    with current_app.test_request_context():
        path = url_for("auth.reset_password", token=token)
    if base:
        click.echo(base + path)
    else:
        click.echo(path)
        click.echo("(MEDIANEST_BASE_URL is not set: put your MediaNest address in front of this path.)", err=True)


@users_cli.command("unlock")
@click.argument("email")
def unlock(email):
    """Clear the account's password sign-in lockouts (wrong passwords from any address)."""
    from medianest.services import rate_limits

    try:
        user = rate_limits.unlock_sign_in(_user_by_email(email).id)
    except ServiceError as err:
        fail(err.message)
    click.echo(f"{user.email}: password sign-in unlocked")


# -- services ---------------------------------------------------------------------------------
def _secret_option(value):
    """'-' reads the secret from standard input, so it stays out of shell history and process lists."""
    if value == "-":
        import sys

        return sys.stdin.readline().strip()
    return value


def _configure(name, *, url=None, secret=None, extra_secrets=None, settings=None, enabled=None):
    from medianest.services import service_config

    try:
        service_config.configure(
            name, url=url,
            secret=service_config.UNCHANGED if secret is None else _secret_option(secret),
            extra_secrets={k: service_config.UNCHANGED if v is None else _secret_option(v)
                           for k, v in (extra_secrets or {}).items()},
            settings={k: v for k, v in (settings or {}).items() if v is not None},
            enabled=enabled,
        )
    except service_config.ConfigInvalid as err:
        fail("; ".join(f"{field}: {message}" for field, message in err.errors.items()))
    except ServiceError as err:
        fail(err.message)
    click.echo(f"{name} saved")
    _show_one(service_config.describe(name))


def _show_one(entry):
    click.echo(f"{entry['name']} ({entry['label']})")
    click.echo(f"  enabled: {'yes' if entry['enabled'] else 'no'}")
    if entry["url"] is not None:
        click.echo(f"  url: {entry['url']}")
    if entry["name"] != "youtube":
        click.echo(f"  secret: {'set' if entry['secret_set'] else 'not set'}")
    for key, is_set in entry["extra_secrets_set"].items():
        click.echo(f"  {key}: {'set' if is_set else 'not set'}")
    for key, value in sorted(entry["settings"].items()):
        if key in ("client_identifier",):
            continue
        shown = "=".join(value) if key == "path_map" and isinstance(value, list) else (
            ",".join(value) if isinstance(value, list) else value)
        click.echo(f"  {key}: {shown}")
    if entry["updated_at"]:
        who = f" by {entry['updated_by']}" if entry.get("updated_by") else ""
        click.echo(f"  updated: {entry['updated_at']:%Y-%m-%d %H:%M} UTC{who}")


_ENABLE = click.option("--enable/--disable", "enabled", default=None, help="Watch and use the service, or not.")


@services_cli.group("set")
def services_set():
    """Configure one service (secrets: pass '-' to read them from standard input)."""


@services_set.command("plex")
@click.option("--url", help="Plex Media Server URL, like http://192.168.1.20:32400.")
@click.option("--token", help="The server owner's Plex token.")
@click.option("--library-section", help="Library section id that receives YouTube downloads ('' clears it).")
@click.option("--path-map", help="LOCAL=PLEX when Plex sees the download folder under another path ('' clears it).")
@_ENABLE
def services_set_plex(url, token, library_section, path_map, enabled):
    _configure("plex", url=url, secret=token, enabled=enabled,
               settings={"library_section": library_section, "path_map": path_map})


@services_set.command("overseerr")
@click.option("--url", help="Overseerr URL, like http://192.168.1.20:5055.")
@click.option("--api-key", help="Overseerr's API key (Settings > General).")
@click.option("--webhook-secret", help="Shared secret Overseerr sends in the webhook's Authorization header.")
@_ENABLE
def services_set_overseerr(url, api_key, webhook_secret, enabled):
    _configure("overseerr", url=url, secret=api_key, extra_secrets={"webhook_secret": webhook_secret},
               enabled=enabled)


@services_set.command("uptime-kuma")
@click.option("--url", help="Uptime Kuma URL, like http://192.168.1.20:3001.")
@click.option("--slug", help="Status page slug (the last part of /status/<slug>).")
@click.option("--api-key", help="Optional API key for /metrics ('' clears it).")
@_ENABLE
def services_set_uptime_kuma(url, slug, api_key, enabled):
    _configure("uptime-kuma", url=url, secret=api_key, settings={"slug": slug}, enabled=enabled)


@services_set.command("youtube")
@click.option("--allowed-hosts", help="Comma-separated host names downloads may come from.")
@click.option("--max-concurrent", help="Downloads running at once.")
@click.option("--per-hour", help="Downloads each user may start per hour.")
@click.option("--quota-gb", help="Disk space each user's downloads may take, in GB.")
@click.option("--max-playlist-entries", help="Most videos taken from one playlist.")
@_ENABLE
def services_set_youtube(allowed_hosts, max_concurrent, per_hour, quota_gb, max_playlist_entries, enabled):
    _configure("youtube", enabled=enabled, settings={
        "allowed_hosts": allowed_hosts, "max_concurrent": max_concurrent, "per_hour": per_hour,
        "quota_gb": quota_gb, "max_playlist_entries": max_playlist_entries})


@services_cli.command("show")
@click.argument("name", required=False, type=click.Choice(["plex", "overseerr", "uptime-kuma", "youtube"]))
def services_show(name):
    """Show service settings; secrets only as 'set' or 'not set'."""
    from medianest.services import service_config

    for entry in service_config.describe_all():
        if name is None or entry["name"] == name:
            if name is None and not entry["configured"] and entry["name"] != "youtube":
                click.echo(f"{entry['name']} ({entry['label']}): not configured")
                continue
            _show_one(entry)


@services_cli.command("test")
@click.argument("name", type=click.Choice(["plex", "overseerr", "uptime-kuma", "youtube"]))
def services_test(name):
    """Run the real connection test; exit 0 when the service answers correctly."""
    from medianest.services import service_config

    result = service_config.test_connection(name)
    for line in result.details:
        click.echo(f"  {line}")
    if result.latency_ms is not None:
        click.echo(f"  answered in {result.latency_ms} ms")
    if not result.ok:
        fail(result.message)
    click.echo(f"ok: {result.message}")


@services_cli.command("check")
def services_check():
    """Run one health-check round now (what the worker does every MEDIANEST_HEALTH_INTERVAL seconds).

    Exits 1 when any watched service is offline, so it works as a cron or monitoring probe."""
    from medianest.services import health

    results = health.run_round()
    if not results:
        click.echo("no services to check")
    for r in results:
        timing = f" ({r.response_time_ms} ms)" if r.response_time_ms is not None else ""
        reason = f": {r.reason}" if r.reason else ""
        click.echo(f"{r.service}: {r.status}{timing}{reason}")
    down = [r.service for r in results if not r.up]
    if down:  # a cron job or monitoring probe sees the outage in the exit status
        fail(f"offline: {', '.join(down)}")


# -- requests ---------------------------------------------------------------------------------
@requests_cli.command("reconcile")
@click.option("--batch", default=50, show_default=True, type=click.IntRange(1, 10000),
              help="How many requests to re-read from Overseerr.")
def requests_reconcile(batch):
    """Re-read requests still in progress from Overseerr (fixes missed webhooks)."""
    from medianest.services import requests as request_service

    result = request_service.reconcile(batch=batch)
    if result.get("skipped"):
        fail(result["skipped"])
    click.echo(f"checked {result['checked']}, changed {result['changed']}, errors {result['errors']}")


@requests_cli.command("forward-pending")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100000))
def requests_forward_pending(limit):
    """Send requests still waiting for Overseerr now."""
    from medianest.services import requests as request_service

    result = request_service.forward_pending(limit=limit)
    click.echo(", ".join(f"{k}: {v}" for k, v in result.items()))


@requests_cli.command("retry")
@click.argument("request_id")
def requests_retry(request_id):
    """Send a request Overseerr refused once more."""
    from medianest.services import requests as request_service

    try:
        row = request_service.retry_forward(request_id, admin_id="cli")
    except ServiceError as err:
        fail(err.message)
    click.echo(f"{row.id}: {row.status}, {row.forward_state}")


@requests_cli.command("list")
@click.option("--status", default=None, help="pending, approved, downloading, completed, denied, failed or waiting.")
@click.option("--user", "user_filter", default=None, help="Part of an email address or name.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200))
def requests_list(status, user_filter, limit):
    """List requests, newest first: id, status, forward state, user, title."""
    from medianest.services import requests as request_service

    for row in request_service.list_all(status=status, user=user_filter, per_page=limit).items:
        click.echo(f"{row.id}\t{row.status}\t{row.forward_state}\t{row.user.email}\t{row.media_type}\t{row.title}")


@requests_cli.command("quota")
@click.option("--movies", type=click.IntRange(0, 10000), default=None, help="Films per period (0 = no limit).")
@click.option("--seasons", type=click.IntRange(0, 10000), default=None, help="Seasons per period (0 = no limit).")
@click.option("--days", type=click.IntRange(1, 365), default=None, help="Length of the period in days.")
@click.option("--user", "email", default=None, help="Set or show one user's override instead of the defaults.")
@click.option("--clear", is_flag=True, help="With --user: remove the override.")
def requests_quota(movies, seasons, days, email, clear):
    """Show or set request quotas (defaults, or one user's override)."""
    from medianest.services import quotas

    try:
        if email:
            user = users.get_by_email(email)
            if user is None:
                fail(f"no user with email {email}")
            if clear or any(v is not None for v in (movies, seasons, days)):
                quotas.set_override(user.id, None if clear else movies, None if clear else seasons,
                                    None if clear else days)
            limits = quotas.limits_for(user.id)
            label = user.email
        else:
            if any(v is not None for v in (movies, seasons, days)):
                current = quotas.defaults()
                quotas.set_defaults(current.movies if movies is None else movies,
                                    current.seasons if seasons is None else seasons,
                                    current.days if days is None else days)
            limits = quotas.defaults()
            label = "defaults"
    except ServiceError as err:
        fail(err.message)
    show = lambda n: "no limit" if n == 0 else str(n)  # noqa: E731
    click.echo(f"{label}: {show(limits.movies)} films, {show(limits.seasons)} seasons per {limits.days} days")



# -- downloads --------------------------------------------------------------------------------
@downloads_cli.command("list")
@click.option("--status", type=click.Choice(["queued", "downloading", "completed", "failed", "cancelled"]))
@click.option("--user", "email", default=None, help="Only this user's downloads (email, or part of it).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
def list_downloads(status, email, limit):
    """List downloads, newest first: id, status, owner, videos, title."""
    from medianest.services import youtube

    page = youtube.list_all(status=status, user=email, per_page=limit)
    for row in page.items:
        done = len(row.entries_in("done"))
        click.echo(f"{row.id}\t{row.status}\t{row.user.email}\t{done}/{row.entry_count}\t{row.display_title}")
    if not page.items:
        click.echo("no downloads")


@downloads_cli.command("reap")
@click.option("--stale-after", type=click.FloatRange(0), default=None,
              help="Seconds without a heartbeat after which a running download counts as dead (default 90).")
def reap_downloads(stale_after):
    """Re-queue or fail downloads whose worker died; re-enqueue queued ones with no job; remove partial files."""
    from medianest.services import youtube

    for name, n in youtube.reap(stale_after=stale_after).items():
        click.echo(f"{name}: {n}")


@downloads_cli.command("retry")
@click.argument("download_id")
def retry_download(download_id):
    """Queue a failed or cancelled download again."""
    from medianest.services import youtube

    try:
        row = youtube.retry(download_id)
    except ServiceError as err:
        fail(err.message)
    click.echo(f"{row.id}: {row.status}")


@downloads_cli.command("cancel")
@click.argument("download_id")
def cancel_download(download_id):
    """Cancel a queued or running download."""
    from medianest.services import youtube

    try:
        row = youtube.cancel(download_id)
    except ServiceError as err:
        fail(err.message)
    click.echo(f"{row.id}: {'cancelling' if row.cancel_requested else row.status}")


@downloads_cli.command("plex-sync")
def plex_sync():
    """Try the Plex step again for downloads still waiting for Plex."""
    from medianest.services import plex_collections

    counts = plex_collections.publish_pending()
    click.echo(", ".join(f"{state}: {n}" for state, n in counts.items()) or "nothing waiting for Plex")



# -- keys and retention -----------------------------------------------------------------------
@keys_cli.command("generate")
def generate():
    """Print a new random key for MEDIANEST_ENCRYPTION_KEY."""
    click.echo(crypto.generate_key())


@keys_cli.command("rotate")
def rotate():
    """Re-encrypt every stored secret with the current key."""
    try:
        counts = keys.rotate_all()
    except crypto.CryptoError as err:
        fail(str(err))
    total = sum(counts.values())
    for column, n in counts.items():
        click.echo(f"{column}: {n} re-encrypted")
    click.echo(f"done: {total} value(s) now use key {crypto.secret_box().current_key_id}")


@click.command("cleanup", cls=Command)
@with_appcontext
def cleanup():
    """Run the retention jobs now."""
    for name, n in maintenance.cleanup().items():
        click.echo(f"{name}: {n} deleted")


def init_app(app):
    app.cli.add_command(users_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(services_cli)
    app.cli.add_command(requests_cli)
    app.cli.add_command(downloads_cli)
    app.cli.add_command(cleanup)
    app.shell_context_processor(lambda: {"db": __import__("medianest.extensions", fromlist=["db"]).db, "app": current_app})
