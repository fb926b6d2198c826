"""YouTube downloads: submit, progress, cancel, retry."""
from flask import Blueprint

bp = Blueprint("youtube", __name__, url_prefix="/youtube")
