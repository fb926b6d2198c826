"""What every `flask` command group shares: one-line answers for a database that is missing or unreachable,
and the stand-in app `flask` gets when the configuration is incomplete (so `flask keys generate` can still
print the key production asks for).
"""
from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from medianest import crypto

NO_TABLES = "The database has no tables yet: run `flask db upgrade`"


def _where(url) -> str:
    if url.get_backend_name() == "sqlite":
        return url.database or "memory"
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def database_problem(ctx: click.Context) -> str | None:
    """Why the database failed a command, in one line, or None when it is reachable and migrated (then the
    error is something else and keeps its traceback)."""
    from medianest.extensions import db

    app = ctx.ensure_object(ScriptInfo).load_app()
    with app.app_context():
        engine = db.engine
        try:
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
        except SQLAlchemyError:
            return f"Cannot reach the database at {_where(engine.url)}"
        if "alembic_version" not in tables or "users" not in tables:
            return NO_TABLES
        missing = sorted(set(db.metadata.tables) - tables)
        if missing:
            return f"The database is missing tables ({', '.join(missing[:3])}): run `flask db upgrade`"
    return None


class _DatabaseGuard:
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SQLAlchemyError:
            message = database_problem(ctx)
            if message is None:
                raise
            raise click.ClickException(message) from None


class Group(_DatabaseGuard, AppGroup):
    """A command group whose commands answer a database problem with one line and exit 1."""


class Command(_DatabaseGuard, click.Command):
    """The same for a command outside any group."""


# -- an incomplete configuration ----------------------------------------------------------------
@click.command("generate")
def generate_key():
    """Print a new random key for MEDIANEST_ENCRYPTION_KEY."""
    click.echo(crypto.generate_key())


class _Refusing(click.Group):
    """Offers only the commands in `allowed`; every other one fails with the configuration error."""

    def __init__(self, name, problem: str, allowed: dict):
        super().__init__(name)
        self.problem, self.allowed = problem, allowed

    def list_commands(self, ctx):
        return sorted(self.allowed)

    def get_command(self, ctx, name):
        if name in self.allowed:
            return self.allowed[name]

        def refuse():
            raise click.ClickException(self.problem)
        return click.Command(name, callback=refuse, add_help_option=False,
                             context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


class _Refused:
    """Stands in for an extension that was never set up (Flask-Migrate's `flask db …` reads one)."""

    def __init__(self, problem: str):
        self.problem = problem

    def __getattr__(self, name):
        raise click.ClickException(self.problem)


def unconfigured_app(err: Exception) -> Flask:
    """For `flask` only: an app whose one working command is `flask keys generate`; every other command, and
    every page of `flask run`, stops with the configuration error. Outside the `flask` command (gunicorn)
    it exits at once, as before."""
    problem = f"MediaNest cannot start: {err}"
    if click.get_current_context(silent=True) is None:
        sys.exit(problem)
    app = Flask("medianest")
    app.cli = _Refusing("cli", problem, {"keys": _Refusing("keys", problem, {"generate": generate_key})})
    app.extensions["migrate"] = _Refused(problem)
    app.before_request(lambda: (problem, 503))
    return app
