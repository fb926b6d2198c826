"""My requests: follow what you asked for."""
from flask import Blueprint

bp = Blueprint("requests", __name__, url_prefix="/requests")
