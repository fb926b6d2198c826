"""Incoming webhooks (Overseerr); authenticated by shared secret, exempt from CSRF."""
from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
