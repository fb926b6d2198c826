"""Notifications: the bell and the inbox."""
from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
