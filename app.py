"""Entry point for `flask` and `gunicorn app:app`."""
import sys

from medianest import create_app
from medianest.config import ConfigError

try:
    app = create_app()
except ConfigError as err:
    sys.exit(f"MediaNest cannot start: {err}")
