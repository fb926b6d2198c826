"""MediaNest: a self-hosted portal for a home Plex server."""
from __future__ import annotations

import logging
import logging.config
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from medianest.config import ROOT, Config, config_for, load_env_file
from medianest.resilience import MediaNestFlask

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": ["stdout"]},
    "loggers": {"werkzeug": {"level": "WARNING"}, "huey": {"level": "INFO"}, "alembic.runtime.plugins": {"level": "WARNING"}},
}


def create_app(config: Config | dict | str | None = None) -> Flask:
    """Build the app: config -> logging -> extensions -> blueprints -> errors -> cli."""
    load_env_file()
    if isinstance(config, dict):
        settings = config_for("testing" if config.get("TESTING") else None).as_dict() | config
    elif isinstance(config, Config):
        settings = config.as_dict()
    else:
        settings = config_for(config).as_dict()

    if not settings.get("TESTING"):
        logging.config.dictConfig(LOGGING)

    app = MediaNestFlask(
        "medianest",
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=settings["INSTANCE_DIR"],
    )
    app.config.update(settings)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    # Browsers ask for /favicon.ico whatever a page links: the static endpoint serves it (public, cached).
    app.add_url_rule("/favicon.ico", endpoint="static", view_func=app.view_functions["static"],
                     defaults={"filename": "favicon.ico"})

    if app.config["MEDIANEST_TRUSTED_PROXIES"]:
        n = app.config["MEDIANEST_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    init_extensions(app)
    register_blueprints(app)

    from medianest import cli, polls, resilience, security, views
    from medianest.views import errors

    security.init_app(app)
    errors.init_app(app)
    resilience.init_app(app)
    cli.init_app(app)
    views.init_template_helpers(app)
    polls.init_app(app)  # last: its check must run before every other before_request
    return app


def init_extensions(app: Flask):
    # models register their tables; tasks register their jobs with medianest.jobs
    from medianest import cache, crypto, models, observability, tasks, versions  # noqa: F401
    from medianest.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    crypto.init_app(app)
    cache.init_app(app)
    versions.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        observability.init_app(app, db.engine)


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def register_blueprints(app: Flask):
    from medianest.views import BLUEPRINTS

    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
