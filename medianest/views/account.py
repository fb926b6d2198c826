"""Your account: signed-in sessions."""
from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")
