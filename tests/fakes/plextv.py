"""Fake plex.tv (EXTERNAL_APIS.md §1, checklist §1.9) plus a fake Plex sign-in app page at /auth.

Python API for tests:
    user = fake.add_user(token="tok-alice", id=13692262, username="alice", email="alice@example.com",
                         servers=[("<machine id>", True)])     # (machine_id, owned[, name])
    fake.claim(pin_id, "tok-alice")     # what signing in at app.plex.tv does
    fake.expire_pin(pin_id)
    fake.pins[pin_id]                   # FakePin records
Test-only HTTP hook: POST /__control/claim with form or JSON fields pin_id or code, token (and optional
client_id, which must match the PIN's).
"""
from __future__ import annotations

import html
import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from werkzeug.wrappers import Request, Response

from tests.fakes.base import FakeServer
from tests.fakes.plex import xml_element

PIN_ID_START = 1272322473
STRONG_TTL = 1800
SHORT_TTL = 900


@dataclass
class FakePlexUser:
    token: str
    id: int
    username: str
    email: str
    uuid: str
    title: str
    thumb: str
    servers: list[tuple] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "id": self.id, "uuid": self.uuid, "username": self.username, "title": self.title,
            "friendlyName": self.title, "email": self.email, "thumb": self.thumb, "authToken": self.token,
            "locale": None, "confirmed": True, "joinedAt": 1556281940, "hasPassword": True, "protected": False,
            "country": "US", "home": False, "guest": False, "homeAdmin": False, "homeSize": 1, "maxHomeSize": 15,
            "restricted": False, "mailingListStatus": "active", "twoFactorEnabled": False,
            "subscription": {"active": False, "status": "Inactive", "features": []},
            "profile": {"defaultAudioLanguage": "en", "defaultSubtitleLanguage": "en"},
            "entitlements": [], "roles": [], "services": [],
        }


@dataclass
class FakePin:
    id: int
    code: str
    client_identifier: str
    product: str
    strong: bool
    created_at: float
    expires_in: int
    auth_token: str | None = None
    expired: bool = False

    @property
    def is_live(self) -> bool:
        return not self.expired and time.time() < self.created_at + self.expires_in

    def as_json(self) -> dict:
        def iso(ts):
            return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

        remaining = max(0, int(self.created_at + self.expires_in - time.time()))
        return {
            "id": self.id, "code": self.code, "product": self.product, "trusted": False,
            "qr": f"https://plex.tv/api/v2/pins/qr/{self.code}", "clientIdentifier": self.client_identifier,
            "location": {"code": "US", "european_union_member": False, "continent_code": "NA",
                         "country": "United States"},
            "expiresIn": remaining, "createdAt": iso(self.created_at),
            "expiresAt": iso(self.created_at + self.expires_in),
            "authToken": self.auth_token, "newRegistration": None if self.auth_token is None else False,
        }


class FakePlexTv(FakeServer):
    name = "plextv"

    def __init__(self, port: int | None = None):
        super().__init__(port)
        self._state = threading.RLock()
        self.reset_state()

    # -- state and Python API ----------------------------------------------------------------
    def reset_state(self):
        with self._state:
            self.users: dict[str, FakePlexUser] = {}
            self.pins: dict[int, FakePin] = {}
            self.claims: list[tuple[int, str]] = []
            self.overrides: dict[str, Response] = {}
            self._next_pin = PIN_ID_START

    def add_user(self, *, token: str, id: int, username: str, email: str | None = None,
                 servers=(), title: str | None = None, uuid: str | None = None) -> FakePlexUser:
        user = FakePlexUser(
            token=token, id=id, username=username, email=email if email is not None else f"{username}@example.com",
            uuid=uuid or secrets.token_hex(8), title=title or username,
            thumb=f"https://plex.tv/users/{id}/avatar?c=1714560000", servers=list(servers),
        )
        with self._state:
            self.users[token] = user
        return user

    def claim(self, pin_id: int, token: str) -> FakePin:
        """Sign in at the auth app as the user owning `token`: the PIN gets that token."""
        with self._state:
            pin = self.pins[int(pin_id)]
            if token not in self.users:
                raise KeyError("unknown user token")
            pin.auth_token = token
            self.claims.append((pin.id, token))
            return pin

    def expire_pin(self, pin_id: int):
        with self._state:
            self.pins[int(pin_id)].expired = True

    def pin_by_code(self, code: str) -> FakePin | None:
        with self._state:
            return next((p for p in self.pins.values() if p.code == code), None)

    def override(self, path: str, body, *, status: int = 200, content_type: str = "application/json"):
        """Answer every request to `path` with this raw body (malformed JSON, HTML, a huge body…)."""
        with self._state:
            self.overrides[path] = Response(body, status=status, content_type=content_type)

    # -- HTTP --------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        with self._state:
            override = self.overrides.get(request.path)
        if override is not None:
            return override
        path, method = request.path, request.method
        if path == "/__control/claim" and method == "POST":
            return self._control_claim(request)
        if path in ("/auth", "/auth/") and method == "GET":
            return self._auth_page()
        if not path.startswith("/api/v2/"):
            return Response("not found", status=404, content_type="text/plain")
        wants_json = "application/json" in request.headers.get("Accept", "")
        if not _param(request, "X-Plex-Client-Identifier"):
            return _error(wants_json, 400, 1000, "X-Plex-Client-Identifier is missing")
        if path == "/api/v2/pins" and method == "POST":
            return self._create_pin(request, wants_json)
        if path.startswith("/api/v2/pins/") and method == "GET":
            return self._get_pin(request, path.rsplit("/", 1)[1], wants_json)
        if path in ("/api/v2/user", "/api/v2/resources", "/api/v2/ping") and method == "GET":
            with self._state:
                user = self.users.get(_param(request, "X-Plex-Token") or "")
            if user is None:
                return _error(wants_json, 401, 1001, "User could not be authenticated")
            if path == "/api/v2/user":
                return _answer(wants_json, user.as_json(), "user")
            if path == "/api/v2/ping":
                return _answer(wants_json, {"pong": True}, "pong")
            return _answer(wants_json, self._resources(user), "resources")
        return _error(wants_json, 404, 1002, "Not found")

    def _create_pin(self, request: Request, wants_json: bool) -> Response:
        strong = request.args.get("strong", "").lower() in ("true", "1")
        if strong:
            code = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(25))
        else:
            code = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(4))
        with self._state:
            pin = FakePin(
                id=self._next_pin, code=code, client_identifier=_param(request, "X-Plex-Client-Identifier"),
                product=_param(request, "X-Plex-Product") or "Plex Web", strong=strong, created_at=time.time(),
                expires_in=STRONG_TTL if strong else SHORT_TTL,
            )
            self.pins[pin.id] = pin
            self._next_pin += 1
            return _answer(wants_json, pin.as_json(), "pin", status=201)

    def _get_pin(self, request: Request, raw_id: str, wants_json: bool) -> Response:
        with self._state:
            pin = self.pins.get(int(raw_id)) if raw_id.isdigit() else None
            # A PIN only exists for the client that created it: a new client id per call cannot poll it.
            if pin is None or not pin.is_live or pin.client_identifier != _param(request, "X-Plex-Client-Identifier"):
                return _error(wants_json, 404, 1020, "Code not found or expired", with_status=False)
            return _answer(wants_json, pin.as_json(), "pin")

    def _resources(self, user: FakePlexUser) -> list[dict]:
        devices = []
        for server in user.servers:
            machine_id, owned = server[0], bool(server[1])
            name = server[2] if len(server) > 2 else f"Server-{machine_id[:6]}"
            devices.append({
                "name": name, "product": "Plex Media Server", "productVersion": "1.41.6.9685-d301f511a",
                "platform": "Linux", "device": "PC", "clientIdentifier": machine_id,
                "createdAt": "2023-03-02T18:11:05Z", "lastSeenAt": "2025-05-01T11:58:40Z", "provides": "server",
                "ownerId": None if owned else 22526914, "sourceTitle": None if owned else "serverowner",
                "publicAddress": "203.0.113.7",
                "accessToken": user.token if owned else f"shared-{user.id}-{machine_id[:8]}",
                "owned": owned, "home": False, "synced": False, "relay": True, "presence": True,
                "httpsRequired": False, "publicAddressMatches": False, "dnsRebindingProtection": False,
                "natLoopbackSupported": False,
                "connections": [{"protocol": "http", "address": "127.0.0.1", "port": 32400,
                                 "uri": "http://127.0.0.1:32400", "local": True, "relay": False, "IPv6": False}],
            })
        devices.append({
            "name": "Firefox", "product": "Plex Web", "clientIdentifier": f"web-{user.id}",
            "provides": "client,player,pubsub-player", "ownerId": None, "sourceTitle": None,
            "accessToken": user.token, "owned": True, "presence": False, "connections": [],
        })
        return devices

    def _control_claim(self, request: Request) -> Response:
        data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        data = data if isinstance(data, dict) else {}
        token = str(data.get("token") or "")
        with self._state:
            pin = None
            if str(data.get("pin_id") or "").isdigit():
                pin = self.pins.get(int(data["pin_id"]))
            elif data.get("code"):
                pin = self.pin_by_code(str(data["code"]))
            if pin is None or not pin.is_live:
                return _json({"ok": False, "error": "unknown or expired PIN"}, 404)
            if data.get("client_id") and data["client_id"] != pin.client_identifier:
                return _json({"ok": False, "error": "clientID does not match the PIN"}, 400)
            if token not in self.users:
                return _json({"ok": False, "error": "unknown user token"}, 400)
            self.claim(pin.id, token)
        return _json({"ok": True, "pin_id": pin.id})

    def _auth_page(self) -> Response:
        with self._state:
            users = list(self.users.values())
        buttons = "\n".join(
            f'<li><button type="button" class="claim" id="claim-{html.escape(u.username)}" '
            f'data-token="{html.escape(u.token)}">Sign in as {html.escape(u.username)}</button></li>'
            for u in users
        ) or "<li>No fake users.</li>"
        return Response(AUTH_PAGE.replace("{{buttons}}", buttons), content_type="text/html; charset=utf-8")


def _param(request: Request, name: str) -> str:
    """X-Plex-* values may come as headers or query parameters."""
    return request.headers.get(name) or request.args.get(name) or ""


def _json(data, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def _answer(wants_json: bool, data, root: str, status: int = 200) -> Response:
    if wants_json:
        return _json(data, status)
    if isinstance(data, list):
        element = xml_element(root, {"size": len(data)}, [xml_element(root[:-1], d) for d in data])
    else:
        element = xml_element(root, data)
    return Response(b'<?xml version="1.0" encoding="UTF-8"?>\n' + element, status=status,
                    content_type="application/xml")


def _error(wants_json: bool, status: int, code: int, message: str, with_status: bool = True) -> Response:
    error = {"code": code, "message": message}
    if with_status:
        error["status"] = status
    if wants_json:
        return _json({"errors": [error]}, status)
    body = xml_element("errors", {}, [xml_element("error", error)])
    return Response(body, status=status, content_type="application/xml")


AUTH_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake Plex sign-in</title></head>
<body>
<h1>Fake Plex sign-in</h1>
<p id="auth-product"></p>
<p id="auth-error" role="alert" hidden></p>
<ul id="users">
{{buttons}}
</ul>
<p><button type="button" id="deny">Cancel</button></p>
<p id="auth-done" hidden>Signed in. You can close this window.</p>
<script>
(function () {
  // Both styles: "#?clientID=…" and "#!?clientID=…" (EXTERNAL_APIS.md §1.3).
  var raw = window.location.hash.replace(/^#!?\\??/, "");
  var params = new URLSearchParams(raw);
  var code = params.get("code"), clientId = params.get("clientID"), forward = params.get("forwardUrl");
  var product = params.get("context[device][product]");
  var error = document.getElementById("auth-error");
  function fail(message) { error.textContent = message; error.hidden = false; }
  if (!code || !clientId || !product) { fail("Missing code, clientID or context[device][product]."); }
  document.getElementById("auth-product").textContent = product ? product + " wants to sign in with Plex." : "";
  function leave() {
    if (forward) { window.location.href = forward; } else { document.getElementById("auth-done").hidden = false; }
  }
  document.querySelectorAll("button.claim").forEach(function (button) {
    button.addEventListener("click", function () {
      fetch("/__control/claim", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({code: code, client_id: clientId, token: button.dataset.token})})
        .then(function (resp) { return resp.json().then(function (data) { return [resp.ok, data]; }); })
        .then(function (result) { if (result[0]) { leave(); } else { fail(result[1].error || "Sign-in failed."); } })
        .catch(function () { fail("Sign-in failed."); });
    });
  });
  document.getElementById("deny").addEventListener("click", leave);
})();
</script>
</body></html>
"""
