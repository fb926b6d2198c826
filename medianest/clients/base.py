"""Shared HTTP plumbing for every client: one Session, timeouts, bounded reads, typed errors."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

USER_AGENT = "MediaNest/1.0 (+self-hosted Plex portal)"
DEFAULT_TIMEOUT = (3.05, 10)  # (connect, read) seconds: the worker's calls
WEB_TIMEOUT = (1.05, 3)  # calls made while a person waits for the page
MAX_BODY_BYTES = 5 * 1024 * 1024


# "X-Api-Key=abc", "X-Plex-Token: abc", '"apiKey": "abc"', "Authorization: Bearer abc", "?token=abc": the value goes.
_SECRET_FIELD = re.compile(
    r"(?i)\b(x-api-key|x-plex-token|api[_-]?key|access[_-]?token|auth[_-]?token|token|authorization|password|secret)"
    r"(\"?\s*[=:]\s*\"?)((?:bearer|basic)\s+)?[^\s&,;\"'<>)\]}]+")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")


def scrub(text, secrets=(), limit: int | None = None, *, one_line: bool = True) -> str:
    """Text from (or about) an outside system made safe to show or log: every known secret and every
    key=value that looks like a credential is replaced *before* the text is cut to `limit`, so no prefix of a
    secret survives the cut."""
    text = str(text or "")
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    text = _SECRET_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
    if one_line:
        text = _CONTROL_CHARS.sub(" ", text)
    return text[:limit] if limit is not None else text


class ClientError(Exception):
    """An outside system did not answer as expected. Messages never contain secrets."""

    def __init__(self, message: str, *, status: int | None = None):
        message = scrub(message)
        super().__init__(message)
        self.message = message
        self.status = status


class Unreachable(ClientError):
    """Connection refused, DNS failure, TLS failure or timeout."""


class CircuitOpen(Unreachable):
    """Not asked at all: the service failed a moment ago and its circuit breaker is open."""


class Unauthorized(ClientError):
    """The service refused our credentials (401/403)."""


class NotFound(ClientError):
    """The service has no such thing (404)."""


class BadResponse(ClientError):
    """The service answered, but not in the shape its contract promises."""


class Conflict(ClientError):
    """409: the thing already exists."""


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes
    elapsed_ms: int

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadResponse("expected JSON but got something else", status=self.status) from exc


def validate_base_url(url: str) -> str:
    """Return the URL without a trailing slash, or raise ValueError with a user-facing reason."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("URL has no host name")
    if parts.username or parts.password:
        raise ValueError("URL must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ValueError("URL must not contain a query string or fragment")
    return url.rstrip("/")


class HttpClient:
    """Base class: a requests.Session with timeouts and a bounded body read."""

    service = "service"

    def __init__(self, base_url: str, *, timeout=DEFAULT_TIMEOUT, max_bytes: int = MAX_BODY_BYTES):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        # Optional: an object with call(service, fn) that remembers outages (medianest.breaker for web calls).
        self.breaker = None

    def request(self, method: str, path: str, *, ok=(200, 201, 202, 204), **kwargs) -> Response:
        if self.breaker is not None:
            return self.breaker.call(self.service, lambda: self._request(method, path, ok, kwargs))
        return self._request(method, path, ok, kwargs)

    def _request(self, method: str, path: str, ok, kwargs) -> Response:
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        started = time.monotonic()
        try:
            with self.session.request(method, url, stream=True, **kwargs) as resp:
                body = self._read_bounded(resp)
        except requests.exceptions.SSLError as exc:
            raise Unreachable(f"{self.service}: TLS error talking to the server") from exc
        except requests.exceptions.Timeout as exc:
            raise Unreachable(f"{self.service}: timed out") from exc
        except requests.exceptions.ConnectionError as exc:
            raise Unreachable(f"{self.service}: cannot connect") from exc
        except requests.exceptions.RequestException as exc:
            raise Unreachable(f"{self.service}: request failed ({type(exc).__name__})") from exc
        elapsed_ms = int((time.monotonic() - started) * 1000)
        result = Response(resp.status_code, dict(resp.headers), body, elapsed_ms)
        if resp.status_code in ok:
            return result
        self.raise_for_status(result)
        return result  # pragma: no cover - raise_for_status always raises

    def _read_bounded(self, resp) -> bytes:
        chunks, total = [], 0
        for chunk in resp.iter_content(64 * 1024):
            total += len(chunk)
            if total > self.max_bytes:
                raise BadResponse(f"{self.service}: response larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def raise_for_status(self, resp: Response):
        code = resp.status
        if code in (401, 403):
            raise Unauthorized(f"{self.service}: credentials refused (HTTP {code})", status=code)
        if code == 404:
            raise NotFound(f"{self.service}: not found (HTTP 404)", status=code)
        if code == 409:
            raise Conflict(f"{self.service}: already exists (HTTP 409)", status=code)
        if 300 <= code < 400:
            raise BadResponse(f"{self.service}: unexpected redirect (HTTP {code}); check the URL", status=code)
        raise BadResponse(f"{self.service}: unexpected answer (HTTP {code})", status=code)
