"""`flask` command groups, thin over services: users, keys, cleanup (more groups register here)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from medianest import crypto
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


# -- services ---------------------------------------------------------------------------------


# -- requests ---------------------------------------------------------------------------------


# -- downloads --------------------------------------------------------------------------------


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


@click.command("cleanup")
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
