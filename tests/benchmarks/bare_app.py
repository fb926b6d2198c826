"""The baseline: a bare Flask endpoint, served by the same gunicorn settings as MediaNest in `make bench`."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "ok"
