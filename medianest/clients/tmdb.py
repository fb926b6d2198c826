"""TMDB's image CDN (image.tmdb.org), for the posters Overseerr's search and details name.

The page's Content-Security-Policy only allows images from MediaNest itself, so Discover posters are
fetched here and served by MediaNest. Only `/t/p/<size>/<file>` for a known size and a plain file
name can be fetched: the proxy cannot be turned into a way to reach other URLs.
"""
from __future__ import annotations

import re

from medianest.clients.base import DEFAULT_TIMEOUT, BadResponse, HttpClient

DEFAULT_URL = "https://image.tmdb.org"
SIZES = ("w92", "w154", "w185", "w342", "w500")
_FILE = re.compile(r"^/?[A-Za-z0-9_-]{1,100}\.(?:jpg|jpeg|png|webp)$")
MAX_IMAGE_BYTES = 2 * 1024 * 1024


def poster_path_ok(path: str | None) -> bool:
    """Whether `path` looks like a TMDB poster path ("/abc.jpg")."""
    return isinstance(path, str) and bool(_FILE.match(path))


class TmdbImages(HttpClient):
    service = "TMDB images"

    def __init__(self, base_url: str = DEFAULT_URL, *, timeout=DEFAULT_TIMEOUT):
        super().__init__(base_url, timeout=timeout, max_bytes=MAX_IMAGE_BYTES)

    def poster(self, size: str, filename: str) -> tuple[bytes, str]:
        """(bytes, content type) of one poster. ValueError for a size or file name outside the allow-list."""
        if size not in SIZES:
            raise ValueError("unknown poster size")
        if not poster_path_ok(filename):
            raise ValueError("not a TMDB poster file name")
        resp = self.request("GET", f"/t/p/{size}/{filename.lstrip('/')}", headers={"Accept": "image/*"}, ok=(200,))
        content_type = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not content_type.startswith("image/") or not resp.body:
            raise BadResponse("TMDB images: the answer is not an image", status=resp.status)
        return resp.body, content_type
