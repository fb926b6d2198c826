"""The Plex library and Discover (search Overseerr)."""
from flask import Blueprint

bp = Blueprint("media", __name__, url_prefix="/media")
