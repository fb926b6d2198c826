"""The home page."""
from flask import Blueprint

from medianest import htmx

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    return htmx.render_page_or_fragment("dashboard/index.html", "dashboard/_panel.html")
