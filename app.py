"""Entry point for `flask` and `gunicorn app:app`."""

from medianest import create_app
from medianest.config import ConfigError

try:
    app = create_app()
except ConfigError as err:
    from medianest.cli_base import unconfigured_app

    app = unconfigured_app(err)  # gunicorn exits; `flask` still offers `flask keys generate`
