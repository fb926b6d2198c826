"""PlexTvClient against the fake plex.tv over real HTTP (EXTERNAL_APIS.md §1)."""
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from medianest.clients.base import BadResponse, NotFound, Unauthorized, Unreachable
from medianest.clients.plextv import PlexTvClient, auth_app_url, find_server


CLIENT_ID = "3f0c1d0e-8a7b-4c57-9d0b-2f5e6a1b9c44"
TOKEN = "gcgzw5rz2xovp84b4vha"
OUR_SERVER = "96f2fe7a78c9dc1f16a16bedbe90f98149be16b4"


def make_client(fake, **kwargs):
    return PlexTvClient(fake.url, client_identifier=CLIENT_ID, **kwargs)


@pytest.fixture
def alice(fake_plextv):
    return fake_plextv.add_user(token=TOKEN, id=13692262, username="alice", email="alice@example.com",
                                servers=[(OUR_SERVER, True, "HomeServer")])


# -- PINs ------------------------------------------------------------------------------------
def test_create_pin_sends_identity_headers_and_strong_flag(fake_plextv):
    pin = make_client(fake_plextv).create_pin()

    assert pin.id > 0 and len(pin.code) == 25
    assert pin.auth_token is None and not pin.claimed
    assert pin.client_identifier == CLIENT_ID
    assert pin.expires_in and pin.expires_at.endswith("Z")
    (req,) = fake_plextv.seen("/api/v2/pins")
    assert req.method == "POST" and req.args == {"strong": "true"}
    assert req.headers["X-Plex-Client-Identifier"] == CLIENT_ID
    assert req.headers["X-Plex-Product"] == "MediaNest"
    assert req.headers["Accept"] == "application/json"
    assert "X-Plex-Token" not in req.headers


def test_pin_is_claimed_after_sign_in(fake_plextv, alice):
    client = make_client(fake_plextv)
    pin = client.create_pin()
    assert client.get_pin(pin.id).auth_token is None

    fake_plextv.claim(pin.id, TOKEN)

    claimed = client.get_pin(pin.id)
    assert claimed.claimed and claimed.auth_token == TOKEN
    assert TOKEN not in repr(claimed)


def test_unknown_pin_is_not_found_with_plex_code(fake_plextv):
    with pytest.raises(NotFound) as err:
        make_client(fake_plextv).get_pin(999)
    assert err.value.status == 404 and "1020" in err.value.message


def test_expired_pin_is_not_found(fake_plextv):
    client = make_client(fake_plextv)
    pin = client.create_pin()
    fake_plextv.expire_pin(pin.id)
    with pytest.raises(NotFound):
        client.get_pin(pin.id)


def test_pin_polled_with_another_client_identifier_is_not_found(fake_plextv):
    pin = make_client(fake_plextv).create_pin()
    other = PlexTvClient(fake_plextv.url, client_identifier="a-new-random-id")
    with pytest.raises(NotFound):
        other.get_pin(pin.id)


def test_get_pin_rejects_non_numeric_ids(fake_plextv):
    with pytest.raises(ValueError):
        make_client(fake_plextv).get_pin("1/../user")
    assert fake_plextv.seen() == []


def test_non_strong_pin_from_the_fake_has_a_short_code(fake_plextv):
    resp = requests.post(f"{fake_plextv.url}/api/v2/pins", timeout=5,
                         headers={"X-Plex-Client-Identifier": CLIENT_ID, "Accept": "application/json"})
    assert resp.status_code == 201 and len(resp.json()["code"]) == 4


# -- account and resources -------------------------------------------------------------------
def test_get_user(fake_plextv, alice):
    account = make_client(fake_plextv).get_user(TOKEN)

    assert (account.id, account.username, account.email) == (13692262, "alice", "alice@example.com")
    assert account.uuid == alice.uuid and account.title == "alice"
    assert account.thumb.startswith("https://plex.tv/users/")
    (req,) = fake_plextv.seen("/api/v2/user")
    assert req.headers["X-Plex-Token"] == TOKEN and "X-Plex-Token" not in req.args


def test_bad_token_is_unauthorized_with_plex_code(fake_plextv, alice):
    with pytest.raises(Unauthorized) as err:
        make_client(fake_plextv).get_user("not-a-real-token")
    assert err.value.status == 401 and "1001" in err.value.message
    assert "not-a-real-token" not in str(err.value)


def test_get_resources_owned_shared_and_none(fake_plextv):
    fake_plextv.add_user(token="tok-owner", id=1, username="owner", servers=[(OUR_SERVER, True)])
    fake_plextv.add_user(token="tok-friend", id=2, username="friend", servers=[(OUR_SERVER, False)])
    fake_plextv.add_user(token="tok-stranger", id=3, username="stranger", servers=[("f" * 40, True)])
    client = make_client(fake_plextv)

    owner = find_server(client.get_resources("tok-owner"), OUR_SERVER)
    friend = find_server(client.get_resources("tok-friend"), OUR_SERVER)
    stranger_resources = client.get_resources("tok-stranger")

    assert owner.owned and owner.access_token == "tok-owner" and owner.is_server
    assert not friend.owned and friend.access_token and friend.source_title == "serverowner"
    assert friend.owner_id == 22526914 and friend.connections == ("http://127.0.0.1:32400",)
    assert find_server(stranger_resources, OUR_SERVER) is None
    assert any(not r.is_server for r in stranger_resources)  # the browser device is listed but is no server
    assert "tok-owner" not in repr(owner)
    assert fake_plextv.seen("/api/v2/resources")[0].args == {"includeHttps": "1", "includeRelay": "1"}


def test_resources_with_bad_token_is_unauthorized(fake_plextv):
    with pytest.raises(Unauthorized):
        make_client(fake_plextv).get_resources("nope")


def test_find_server_needs_provides_server():
    from medianest.clients.plextv import PlexResource

    player = PlexResource(name="TV", client_identifier=OUR_SERVER, provides=("client", "player"))
    assert find_server([player], OUR_SERVER) is None
    assert find_server([], "") is None


def test_ping(fake_plextv, alice):
    assert make_client(fake_plextv).ping(TOKEN) is True


# -- tolerant parsing ------------------------------------------------------------------------
def test_user_with_missing_and_odd_fields(fake_plextv):
    fake_plextv.override("/api/v2/user", json.dumps({
        "id": "42", "username": "x" * 10000, "email": "not an email", "thumb": "javascript:alert(1)",
        "title": {"nested": True}, "uuid": None,
    }))
    account = make_client(fake_plextv).get_user(TOKEN)
    assert account.id == 42 and len(account.username) == 255
    assert account.email is None and account.thumb is None and account.uuid == ""
    assert account.title == account.username


def test_user_without_id_is_bad_response(fake_plextv):
    fake_plextv.override("/api/v2/user", json.dumps({"username": "ghost"}))
    with pytest.raises(BadResponse):
        make_client(fake_plextv).get_user(TOKEN)


def test_resources_skip_junk_entries(fake_plextv):
    fake_plextv.override("/api/v2/resources", json.dumps([
        "junk", {"name": "no id"}, {"clientIdentifier": OUR_SERVER, "provides": "server", "owned": "1",
                                    "accessToken": "bad token with spaces", "connections": "nope"},
    ]))
    (resource,) = make_client(fake_plextv).get_resources(TOKEN)
    assert resource.owned and resource.access_token is None and resource.connections == ()


@pytest.mark.parametrize("body, content_type", [
    ("{not json", "application/json"),
    ("<html><body>Gateway error</body></html>", "text/html"),
    ('<?xml version="1.0"?><pin id="1" code="abc"/>', "application/xml"),
    ("[1, 2]", "application/json"),
    ('{"id": 1}', "application/json"),
])
def test_malformed_pin_answers_are_bad_response(fake_plextv, body, content_type):
    fake_plextv.override("/api/v2/pins", body, status=201, content_type=content_type)
    with pytest.raises(BadResponse):
        make_client(fake_plextv).create_pin()


def test_pin_with_unusable_token_is_bad_response(fake_plextv):
    fake_plextv.override("/api/v2/pins/5", json.dumps({"id": 5, "code": "abc", "authToken": "x" * 5000}))
    with pytest.raises(BadResponse):
        make_client(fake_plextv).get_pin(5)


def test_gigantic_body_is_cut_at_max_bytes(fake_plextv):
    fake_plextv.override("/api/v2/user", b"[" + b"1," * 100_000 + b"1]")
    with pytest.raises(BadResponse) as err:
        make_client(fake_plextv, max_bytes=10_000).get_user(TOKEN)
    assert "10000 bytes" in err.value.message


# -- the fake's wire format ------------------------------------------------------------------
def test_fake_answers_xml_without_accept_json(fake_plextv, alice):
    headers = {"X-Plex-Client-Identifier": CLIENT_ID, "X-Plex-Product": "MediaNest"}
    pin = requests.post(f"{fake_plextv.url}/api/v2/pins?strong=true", headers=headers, timeout=5)
    user = requests.get(f"{fake_plextv.url}/api/v2/user", headers=dict(headers, **{"X-Plex-Token": TOKEN}), timeout=5)
    denied = requests.get(f"{fake_plextv.url}/api/v2/user", headers=headers, timeout=5)

    assert pin.status_code == 201 and pin.text.splitlines()[1].startswith("<pin ")
    assert 'username="alice"' in user.text and "xml" in user.headers["Content-Type"]
    assert denied.status_code == 401 and '<error code="1001"' in denied.text


def test_fake_requires_client_identifier(fake_plextv):
    resp = requests.post(f"{fake_plextv.url}/api/v2/pins?strong=true", timeout=5,
                         headers={"Accept": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["code"] == 1000


def test_client_refuses_an_empty_client_identifier(fake_plextv):
    with pytest.raises(ValueError):
        PlexTvClient(fake_plextv.url, client_identifier="")


def test_control_claim_by_code_form_and_json(fake_plextv, alice):
    client = make_client(fake_plextv)
    first, second = client.create_pin(), client.create_pin()

    by_code = requests.post(f"{fake_plextv.url}/__control/claim", data={"code": first.code, "token": TOKEN}, timeout=5)
    by_id = requests.post(f"{fake_plextv.url}/__control/claim", json={"pin_id": second.id, "token": TOKEN}, timeout=5)
    wrong_client = requests.post(f"{fake_plextv.url}/__control/claim", timeout=5,
                                 json={"pin_id": second.id, "token": TOKEN, "client_id": "someone-else"})

    assert by_code.ok and by_id.ok and wrong_client.status_code == 400
    assert client.get_pin(first.id).auth_token == TOKEN
    assert client.get_pin(second.id).auth_token == TOKEN
    assert fake_plextv.seen("/__control") == []


def test_auth_page_lists_known_users(fake_plextv, alice):
    fake_plextv.add_user(token="tok-bob", id=2, username="bob<script>")
    page = requests.get(f"{fake_plextv.url}/auth", timeout=5)
    assert page.ok and 'id="claim-alice"' in page.text and "Sign in as alice" in page.text
    assert "bob&lt;script&gt;" in page.text and "bob<script>" not in page.text


# -- faults ----------------------------------------------------------------------------------
def test_slow_server_times_out(fake_plextv):
    fake_plextv.slow(2)
    with pytest.raises(Unreachable) as err:
        make_client(fake_plextv, timeout=(1, 0.2)).create_pin()
    assert "timed out" in err.value.message


def test_hanging_server_times_out(fake_plextv, alice):
    fake_plextv.hang()
    with pytest.raises(Unreachable):
        make_client(fake_plextv, timeout=(1, 0.2)).get_user(TOKEN)


def test_server_down_is_unreachable(fake_plextv):
    fake_plextv.go_down()
    with pytest.raises(Unreachable) as err:
        make_client(fake_plextv).create_pin()
    assert "cannot connect" in err.value.message


def test_server_error_is_not_unauthorized(fake_plextv, alice):
    fake_plextv.fail(503)
    with pytest.raises(BadResponse) as err:
        make_client(fake_plextv).get_user(TOKEN)
    assert err.value.status == 503


@pytest.mark.parametrize("fault", ["unauthorized", "slow", "down", "fail", "malformed"])
def test_token_never_appears_in_errors(fake_plextv, fault):
    secret = "S3CRET-token-value"
    if fault == "slow":
        fake_plextv.slow(2)
    elif fault == "down":
        fake_plextv.go_down()
    elif fault == "fail":
        fake_plextv.fail(500)
    elif fault == "malformed":
        fake_plextv.override("/api/v2/resources", "<html>oops</html>", content_type="text/html")
    with pytest.raises(Exception) as err:
        make_client(fake_plextv, timeout=(1, 0.2)).get_resources(secret)
    assert secret not in str(err.value) and secret not in repr(err.value)


# -- auth-app URL ----------------------------------------------------------------------------
def _fragment_params(url):
    fragment = urlsplit(url).fragment
    return dict(parse_qsl(fragment.split("?", 1)[1]))


@pytest.mark.parametrize("app_url, prefix", [
    ("https://app.plex.tv/auth", "https://app.plex.tv/auth#?"),
    ("https://app.plex.tv/auth#?", "https://app.plex.tv/auth#?"),
    ("https://app.plex.tv/auth/#!", "https://app.plex.tv/auth/#!?"),
    ("https://app.plex.tv/auth/#!?", "https://app.plex.tv/auth/#!?"),
    ("http://127.0.0.1:5000/auth", "http://127.0.0.1:5000/auth#?"),
])
def test_auth_app_url_styles(app_url, prefix):
    url = auth_app_url(app_url, client_id=CLIENT_ID, code="abc123", product="MediaNest",
                       forward_url="https://medianest.example/auth/plex/callback?pin=12")
    assert url.startswith(prefix + "clientID=")
    assert _fragment_params(url) == {
        "clientID": CLIENT_ID, "code": "abc123", "context[device][product]": "MediaNest",
        "forwardUrl": "https://medianest.example/auth/plex/callback?pin=12",
    }
    assert "context%5Bdevice%5D%5Bproduct%5D=MediaNest" in url
    assert "forwardUrl=https%3A%2F%2Fmedianest.example%2Fauth%2Fplex%2Fcallback%3Fpin%3D12" in url


def test_auth_app_url_without_forward_url_and_with_spaces():
    url = auth_app_url("https://app.plex.tv/auth", client_id="c", code="k", product="Media Nest")
    assert "forwardUrl" not in url and "Media%20Nest" in url


def test_auth_app_url_refuses_other_schemes():
    with pytest.raises(ValueError):
        auth_app_url("javascript:alert(1)", client_id="c", code="k", product="p")


# -- the fake sign-in page in a real browser -------------------------------------------------
@pytest.mark.browser
@pytest.mark.parametrize("style", ["https://x/auth", "https://x/auth/#!"])
def test_fake_auth_page_claims_pin_and_forwards(fake_plextv, alice, style, page):
    client = make_client(fake_plextv)
    pin = client.create_pin()
    forward = f"{fake_plextv.url}/auth/done?pin={pin.id}"
    app_url = style.replace("https://x", fake_plextv.url)
    url = auth_app_url(app_url, client_id=CLIENT_ID, code=pin.code, forward_url=forward, product="MediaNest")
    page.goto(url)
    assert page.locator("#auth-error").is_hidden()
    page.click("#claim-alice")
    page.wait_for_url(forward, timeout=5000)
    assert client.get_pin(pin.id).auth_token == TOKEN
