"""plex.tv: PIN sign-in, the signed-in account, and which servers that account can reach.

Contract: reference/EXTERNAL_APIS.md §1. We always ask for JSON; plex.tv answers XML otherwise.
The client identifier must be the same stable value on every call and in the auth-app URL.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from medianest.clients.base import (
    DEFAULT_TIMEOUT,
    MAX_BODY_BYTES,
    BadResponse,
    HttpClient,
    NotFound,
    Response,
    Unauthorized,
)

DEFAULT_VERSION = "1.0"
MAX_RESOURCES = 500
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-.~+/=]{1,512}$")


# -- tolerant field parsing (shared with clients/plex.py) -------------------------------------
def clip(value, limit: int = 255) -> str:
    """A display string: scalars become text, containers become '', control characters go, long text is cut."""
    if value is None or isinstance(value, (dict, list, tuple, set)):
        return ""
    if isinstance(value, bool):
        value = "1" if value else "0"
    return _CONTROL_CHARS.sub("", str(value)).strip()[:limit]


def as_int(value) -> int | None:
    """An int from an int or a numeric string; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,19}", value.strip()):
        return int(value.strip())
    return None


def as_bool(value) -> bool:
    """Plex says true/false in JSON and "1"/"0" in XML-ish data."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value) if isinstance(value, (bool, int)) else False


def as_token(value) -> str | None:
    """A token-shaped string, or None; tokens are never truncated (a cut token is a wrong token)."""
    if isinstance(value, str) and _TOKEN_RE.match(value):
        return value
    return None


def http_url(value, limit: int = 2048) -> str | None:
    """An absolute http(s) URL safe to put in an <img src>, or None."""
    text = clip(value, limit)
    return text if text.lower().startswith(("https://", "http://")) else None


def check_header_value(value: str, what: str) -> str:
    """Refuse values requests would reject as a header, without echoing the value."""
    if not isinstance(value, str) or not value or _CONTROL_CHARS.search(value) or value != value.strip():
        raise ValueError(f"{what} is empty or contains invalid characters")
    return value


def plex_identity_headers(client_identifier: str, product: str, version: str) -> dict:
    """The X-Plex-* headers plex.tv and Plex Media Server expect from every client (EXTERNAL_APIS.md §1.1)."""
    return {
        "X-Plex-Client-Identifier": check_header_value(client_identifier, "client identifier"),
        "X-Plex-Product": product,
        "X-Plex-Version": version,
        "X-Plex-Platform": "Web",
        "X-Plex-Device": "MediaNest",
        "X-Plex-Device-Name": product,
        "Accept": "application/json",
    }


# -- data -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pin:
    """A sign-in PIN. `auth_token` is None until the user signs in at the auth app."""

    id: int
    code: str
    auth_token: str | None = field(default=None, repr=False)
    expires_in: int | None = None
    expires_at: str | None = None
    client_identifier: str = ""

    @property
    def claimed(self) -> bool:
        return self.auth_token is not None


@dataclass(frozen=True)
class PlexAccount:
    """The signed-in plex.tv account. `id` is the stable key (users.plex_id)."""

    id: int
    uuid: str
    username: str
    title: str
    email: str | None
    thumb: str | None


@dataclass(frozen=True)
class PlexResource:
    """One device on the account: servers, players, browsers. `access_token` is for that server only."""

    name: str
    client_identifier: str
    product: str = ""
    provides: tuple[str, ...] = ()
    owned: bool = False
    access_token: str | None = field(default=None, repr=False)
    owner_id: int | None = None
    source_title: str = ""
    presence: bool = False
    connections: tuple[str, ...] = ()

    @property
    def is_server(self) -> bool:
        return "server" in self.provides


def find_server(resources: list[PlexResource], machine_identifier: str) -> PlexResource | None:
    """The resource proving access to our server (EXTERNAL_APIS.md §1.6), or None: no access."""
    for resource in resources:
        if resource.is_server and machine_identifier and resource.client_identifier == machine_identifier:
            return resource
    return None


def auth_app_url(app_url: str, *, client_id: str, code: str, forward_url: str | None = None,
                 product: str = "MediaNest") -> str:
    """The Plex sign-in app URL for a strong PIN; its parameters live in the URL fragment.

    Accepts `https://app.plex.tv/auth`, `…/auth#`, `…/auth#?` and the `…/auth/#!` style (EXTERNAL_APIS.md §1.3).
    """
    app_url = (app_url or "").strip()
    if not app_url.lower().startswith(("https://", "http://")):
        raise ValueError("the Plex app URL must start with http:// or https://")
    params = [("clientID", client_id), ("code", code), ("context[device][product]", product)]
    if forward_url:
        params.append(("forwardUrl", forward_url))
    query = urlencode(params, quote_via=quote)
    base, _, fragment = app_url.partition("#")
    if "?" not in fragment:
        fragment += "?"
    elif not fragment.endswith(("?", "&")):
        fragment += "&"
    return f"{base}#{fragment}{query}"


# -- client ---------------------------------------------------------------------------------
class PlexTvClient(HttpClient):
    """plex.tv API v2. Tokens are per call (each user has their own) and never appear in errors."""

    service = "plex.tv"

    def __init__(self, base_url: str, *, client_identifier: str, product: str = "MediaNest",
                 version: str = DEFAULT_VERSION, timeout=DEFAULT_TIMEOUT, max_bytes: int = MAX_BODY_BYTES):
        super().__init__(base_url, timeout=timeout, max_bytes=max_bytes)
        self.client_identifier = client_identifier
        self.product = product
        self.session.headers.update(plex_identity_headers(client_identifier, product, version))

    # -- PINs --------------------------------------------------------------------------------
    def create_pin(self) -> Pin:
        """POST /api/v2/pins?strong=true: a long code for the auth-app flow."""
        resp = self.request("POST", "/api/v2/pins", params={"strong": "true"}, ok=(201,))
        return self._pin(self._json(resp, dict))

    def get_pin(self, pin_id: int) -> Pin:
        """GET /api/v2/pins/{id}. Raises NotFound when the PIN is unknown or expired."""
        pin_id = as_int(pin_id)
        if pin_id is None:
            raise ValueError("pin id must be an integer")
        resp = self.request("GET", f"/api/v2/pins/{pin_id}", ok=(200,))
        return self._pin(self._json(resp, dict))

    # -- account -----------------------------------------------------------------------------
    def get_user(self, token: str) -> PlexAccount:
        """GET /api/v2/user: the token-validity check. Only Unauthorized means the token is bad."""
        resp = self.request("GET", "/api/v2/user", headers=self._auth(token), ok=(200,))
        data = self._json(resp, dict)
        user_id = as_int(data.get("id"))
        if user_id is None:
            raise BadResponse("plex.tv: account answer has no id", status=resp.status)
        username = clip(data.get("username")) or clip(data.get("title"))
        email = clip(data.get("email"), 320)
        return PlexAccount(
            id=user_id,
            uuid=clip(data.get("uuid"), 64),
            username=username,
            title=clip(data.get("title")) or username,
            email=email if "@" in email else None,
            thumb=http_url(data.get("thumb")),
        )

    def get_resources(self, token: str) -> list[PlexResource]:
        """GET /api/v2/resources: devices and servers this account can use (use find_server on the result)."""
        resp = self.request(
            "GET", "/api/v2/resources", params={"includeHttps": 1, "includeRelay": 1},
            headers=self._auth(token), ok=(200,),
        )
        resources = []
        for entry in self._json(resp, list)[:MAX_RESOURCES]:
            resource = self._resource(entry)
            if resource is not None:
                resources.append(resource)
        return resources

    def ping(self, token: str) -> bool:
        """GET /api/v2/ping: True when plex.tv still accepts the token (Unauthorized otherwise)."""
        resp = self.request("GET", "/api/v2/ping", headers=self._auth(token), ok=(200,))
        data = self._json(resp, dict)
        return as_bool(data.get("pong"))

    # -- plumbing ----------------------------------------------------------------------------
    @staticmethod
    def _auth(token: str) -> dict:
        return {"X-Plex-Token": check_header_value(token, "Plex token")}

    def _json(self, resp: Response, kind: type):
        if resp.body.lstrip()[:1] == b"<":
            raise BadResponse(f"{self.service}: answered XML/HTML instead of JSON", status=resp.status)
        try:
            data = resp.json()
        except BadResponse as exc:
            raise BadResponse(f"{self.service}: answer is not valid JSON", status=resp.status) from exc
        if not isinstance(data, kind):
            raise BadResponse(f"{self.service}: answer has an unexpected shape", status=resp.status)
        return data

    def _pin(self, data: dict) -> Pin:
        pin_id = as_int(data.get("id"))
        code = clip(data.get("code"), 128)
        if pin_id is None or not code:
            raise BadResponse(f"{self.service}: PIN answer has no id or code")
        token = data.get("authToken")
        if token is not None and as_token(token) is None:
            raise BadResponse(f"{self.service}: PIN answer carries an unusable token")
        return Pin(
            id=pin_id,
            code=code,
            auth_token=as_token(token),
            expires_in=as_int(data.get("expiresIn")),
            expires_at=clip(data.get("expiresAt"), 40) or None,
            client_identifier=clip(data.get("clientIdentifier"), 255),
        )

    @staticmethod
    def _resource(entry) -> PlexResource | None:
        if not isinstance(entry, dict):
            return None
        client_identifier = clip(entry.get("clientIdentifier"), 255)
        if not client_identifier:
            return None
        provides = tuple(p.strip() for p in clip(entry.get("provides"), 255).split(",") if p.strip())
        connections = entry.get("connections")
        uris = tuple(
            uri for uri in (http_url(c.get("uri")) for c in connections[:20] if isinstance(c, dict)) if uri
        ) if isinstance(connections, list) else ()
        return PlexResource(
            name=clip(entry.get("name")),
            client_identifier=client_identifier,
            product=clip(entry.get("product")),
            provides=provides,
            owned=as_bool(entry.get("owned")),
            access_token=as_token(entry.get("accessToken")),
            owner_id=as_int(entry.get("ownerId")),
            source_title=clip(entry.get("sourceTitle")),
            presence=as_bool(entry.get("presence")),
            connections=uris,
        )

    def raise_for_status(self, resp: Response):
        code = resp.status
        plex_code = _plex_error_code(resp.body)
        suffix = f" (code {plex_code})" if plex_code is not None else ""
        if code == 401 or (code == 422 and b"invalid token" in resp.body[:2000].lower()):
            raise Unauthorized(f"{self.service}: token refused (HTTP {code}){suffix}", status=code)
        if code == 404:
            raise NotFound(f"{self.service}: not found or expired (HTTP 404){suffix}", status=code)
        if code == 400:
            raise BadResponse(f"{self.service}: request refused (HTTP 400){suffix}", status=code)
        super().raise_for_status(resp)


def _plex_error_code(body: bytes) -> int | None:
    """The numeric code of plex.tv's `{"errors": [{"code": …}]}` (or `<error code=…>`), if any."""
    match = re.search(rb'"code"\s*:\s*(\d{1,6})|<error[^>]*\scode="(\d{1,6})"', body[:4000])
    if not match:
        return None
    return int(match.group(1) or match.group(2))
