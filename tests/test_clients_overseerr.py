"""OverseerrClient against the fake Overseerr over real HTTP (EXTERNAL_APIS.md §3 and §5)."""
from __future__ import annotations

import json

import pytest
import requests
from werkzeug.wrappers import Response as WsgiResponse

from medianest.clients.base import BadResponse, ClientError, Conflict, NotFound, Unauthorized, Unreachable
from medianest.clients.overseerr import (
    Forbidden,
    MediaStatus,
    NothingToRequest,
    OverseerrClient,
    QuotaExceeded,
    RequestStatus,
    encode_query,
    media_status,
    parse_webhook,
    poster_url,
    request_status,
)
from tests.fakes.base import FakeServer, free_port
from tests.fakes.overseerr import API_KEY, XSS_TITLE


ALICE_PLEX_ID = 13692262


@pytest.fixture
def client(fake_overseerr):
    return OverseerrClient(fake_overseerr.url, API_KEY, timeout=(2, 5))


@pytest.fixture
def alice(fake_overseerr):
    return fake_overseerr.add_user(2, ALICE_PLEX_ID, "alice@example.com", "alice")


class WebhookReceiver(FakeServer):
    name = "webhook-receiver"

    def handle(self, request):
        return WsgiResponse(status=204)


@pytest.fixture(scope="module")
def receiver_server():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def receiver(receiver_server):
    receiver_server.reset()
    return receiver_server


# -- connection and key ----------------------------------------------------------------
def test_status_is_public_and_reports_version(fake_overseerr):
    status = OverseerrClient(fake_overseerr.url, "wrong-key").status()
    assert status.version == "1.34.0"
    assert status.update_available is False


def test_base_url_may_include_api_prefix_and_trailing_slash(fake_overseerr):
    client = OverseerrClient(fake_overseerr.url + "/api/v1/", API_KEY)
    assert client.me().id == 1


@pytest.mark.parametrize("url", ["", "ftp://host", "http://user:pw@host", "http://host/?x=1"])
def test_invalid_base_url_is_refused(url):
    with pytest.raises(ValueError):
        OverseerrClient(url, API_KEY)


def test_me_returns_the_admin_for_a_valid_key(client):
    me = client.me()
    assert (me.id, me.plex_id, me.display_name) == (1, 22526914, "serverowner")


@pytest.mark.parametrize("key", ["wrong-key", ""])
def test_bad_key_is_unauthorized_without_leaking_it(fake_overseerr, key):
    client = OverseerrClient(fake_overseerr.url, key)
    with pytest.raises(Unauthorized) as info:
        client.me()
    assert info.value.status == 403
    assert API_KEY not in str(info.value)
    if key:
        assert key not in str(info.value)


def test_key_travels_only_in_the_header(client, fake_overseerr):
    client.search("matrix")
    recorded = fake_overseerr.seen("/api/v1/search")[-1]
    assert recorded.headers["X-Api-Key"] == API_KEY
    assert API_KEY not in json.dumps(recorded.args)


# -- the query-encoding trap --------------------------------------------------------------
@pytest.mark.parametrize("query, expected", [
    ("star wars", None),
    ("Tom & Jerry", "Tom & Jerry"),
    ("#Alive", "#Alive"),
    ("+1", "+1"),
    ("Amélie", "Amélie"),
    ("Schindler's", "Schindler's List"),
    ('Say "Cheese"', 'Say "Cheese" [Director\'s Cut]'),
    ("[Director's Cut]", 'Say "Cheese" [Director\'s Cut]'),
    ("100% true", None),
    ("Mission: Impossible", "Mission: Impossible"),
    ("a/b?c=d;e@f!$()*,", None),
])
def test_search_encodes_every_reserved_character(client, fake_overseerr, query, expected):
    page = client.search(query)
    assert fake_overseerr.seen("/api/v1/search")[-1].args["query"] == query
    titles = [r.title for r in page.results]
    assert (expected in titles) if expected else titles == []


def test_tmdb_prefix_lookup_survives_encoding(client, fake_overseerr):
    # The fake answers 400 to a raw ':' like the real validator, so a result proves it was sent as %3A.
    page = client.search("tmdb:603")
    assert [r.tmdb_id for r in page.results] == [603]
    assert fake_overseerr.seen("/api/v1/search")[-1].args["query"] == "tmdb:603"


def test_fake_rejects_what_requests_params_would_send(fake_overseerr):
    # Guards the fake itself: '+' for spaces must fail as it does on a real Overseerr.
    resp = requests.get(f"{fake_overseerr.url}/api/v1/search", params={"query": "star wars"},
                        headers={"X-Api-Key": API_KEY}, timeout=5)
    assert resp.status_code == 400
    assert "must be url encoded" in resp.json()["message"]


def test_encode_query_uses_percent_twenty_and_skips_none():
    assert encode_query({"query": "a b&c:d", "page": 1, "language": None}) == "query=a%20b%26c%3Ad&page=1"


def test_empty_query_is_refused_before_any_call(client, fake_overseerr):
    with pytest.raises(ValueError):
        client.search("   ")
    assert fake_overseerr.seen("/api/v1/search") == []


# -- search and details ---------------------------------------------------------------------
def test_search_results_carry_type_year_poster_and_status(client, fake_overseerr):
    fake_overseerr.set_available(603, "movie")
    page = client.search("matrix")
    assert (page.page, page.pages, page.total) == (1, 1, 3)
    first = page.results[0]
    assert (first.tmdb_id, first.media_type, first.title, first.year) == (603, "movie", "The Matrix", 1999)
    assert first.poster_path == "/poster603.jpg"
    assert first.status is MediaStatus.AVAILABLE
    assert page.results[1].media_info is None
    assert page.results[1].status is MediaStatus.UNKNOWN


def test_search_tv_and_person_results(client):
    thrones = client.search("thrones").results[0]
    assert (thrones.media_type, thrones.title, thrones.year) == ("tv", "Game of Thrones", 2011)
    assert thrones.requestable
    keanu = client.search("keanu").results[0]
    assert (keanu.media_type, keanu.title, keanu.year, keanu.requestable) == ("person", "Keanu Reeves", None, False)


def test_search_pagination(client, fake_overseerr):
    fake_overseerr.search_page_size = 2
    second = client.search("matrix", page=2)
    assert (second.page, second.pages, second.total) == (2, 2, 3)
    assert [r.title for r in second.results] == ["The Matrix Revolutions"]


def test_search_returns_markup_untouched_for_the_templates_to_escape(client):
    result = client.search("script").results[0]
    assert result.title == XSS_TITLE


def test_search_mediainfo_lists_requests(client, alice):
    client.create_request("movie", 27205, as_user_id=2)
    info = client.search("inception").results[0].media_info
    assert info.status is MediaStatus.PENDING
    assert [(r.status, r.requested_by.id) for r in info.requests] == [(RequestStatus.PENDING, 2)]


def test_movie_details(client):
    movie = client.movie(603)
    assert (movie.tmdb_id, movie.media_type, movie.title, movie.year) == (603, "movie", "The Matrix", 1999)
    assert movie.genres == ("Action", "Science Fiction")
    assert movie.imdb_id == "tt0000603"
    assert movie.seasons == ()
    assert movie.status is MediaStatus.UNKNOWN


def test_tv_details_list_seasons_with_specials(client, fake_overseerr):
    fake_overseerr.set_available(1399, "tv", seasons=[1])
    show = client.tv(1399)
    assert [s.number for s in show.seasons] == list(range(0, 9))
    assert show.seasons[0].is_special and show.seasons[0].name == "Specials"
    assert show.seasons[1].status is MediaStatus.AVAILABLE
    assert show.seasons[2].status is MediaStatus.UNKNOWN
    assert show.status is MediaStatus.PARTIALLY_AVAILABLE
    assert show.tvdb_id == 121361


@pytest.mark.parametrize("method", ["movie", "tv"])
def test_unknown_tmdb_id_answers_500_and_stays_a_server_error(client, method):
    # Overseerr's 500 also means "TMDB is down": only a 404 is NotFound (issue 9).
    with pytest.raises(BadResponse) as info:
        getattr(client, method)(999999)
    assert info.value.status == 500 and not isinstance(info.value, NotFound)


@pytest.mark.parametrize("bad", [0, -3, "abc", None])
def test_bad_tmdb_ids_are_refused_locally(client, bad):
    with pytest.raises(ValueError):
        client.movie(bad)


# -- creating requests --------------------------------------------------------------------------
def test_admin_request_is_auto_approved(client, fake_overseerr):
    request = client.create_request("movie", 603)
    assert request.status is RequestStatus.APPROVED
    assert request.media_status is MediaStatus.PROCESSING
    made = fake_overseerr.requests_made[-1]
    assert made["api_user"] is None and made["user_id"] == 1


def test_request_as_user_sends_x_api_user(client, fake_overseerr, alice):
    request = client.create_request("movie", 603, as_user_id=2)
    assert request.status is RequestStatus.PENDING
    assert request.media_status is MediaStatus.PENDING
    assert request.requested_by.plex_id == ALICE_PLEX_ID
    made = fake_overseerr.requests_made[-1]
    assert made["api_user"] == "2"
    assert made["body"] == {"mediaType": "movie", "mediaId": 603, "is4k": False}


def test_duplicate_movie_request_is_conflict(client, alice):
    client.create_request("movie", 603, as_user_id=2)
    with pytest.raises(Conflict) as info:
        client.create_request("movie", 603)
    assert not isinstance(info.value, NothingToRequest)
    assert info.value.status == 409
    assert "already" in str(info.value)


def test_declined_movie_can_be_requested_again(client, alice):
    first = client.create_request("movie", 603, as_user_id=2)
    client.decline_request(first.id)
    again = client.create_request("movie", 603, as_user_id=2)
    assert again.id != first.id


def test_tv_request_defaults_to_all_seasons_without_specials(client, fake_overseerr):
    request = client.create_request("tv", 1396)
    assert request.seasons == (1, 2, 3, 4, 5)
    assert fake_overseerr.requests_made[-1]["body"]["seasons"] == "all"


def test_tv_request_only_takes_seasons_not_yet_requested(client, alice):
    client.create_request("tv", 1399, seasons=[1, 2], as_user_id=2)
    rest = client.create_request("tv", 1399, seasons="all")
    assert rest.seasons == (3, 4, 5, 6, 7, 8)


def test_tv_request_with_nothing_left_is_a_distinct_conflict(client, fake_overseerr):
    client.create_request("tv", 94605, seasons=[1])
    fake_overseerr.set_available(94605, "tv", seasons=[2])
    with pytest.raises(NothingToRequest) as info:
        client.create_request("tv", 94605, seasons=[1, 2])
    assert info.value.status == 202
    assert isinstance(info.value, Conflict)
    assert "No seasons available" in str(info.value)


def test_exhausted_quota_is_quota_exceeded(client, fake_overseerr, alice):
    fake_overseerr.set_quota_exhausted(2, "movie")
    with pytest.raises(QuotaExceeded) as info:
        client.create_request("movie", 603, as_user_id=2)
    assert info.value.status == 403
    assert "Movie Quota exceeded." in str(info.value)
    assert not isinstance(info.value, Unauthorized)
    assert client.create_request("tv", 1396, as_user_id=2).status is RequestStatus.PENDING


def test_missing_permission_is_forbidden(client, fake_overseerr):
    fake_overseerr.add_user(3, 555, "bob@example.com", "bob", permissions=0)
    with pytest.raises(Forbidden) as info:
        client.create_request("movie", 603, as_user_id=3)
    assert not isinstance(info.value, QuotaExceeded)
    assert "permission to make movie requests" in str(info.value)


def test_unknown_acting_user_is_refused(client):
    with pytest.raises(Unauthorized) as info:
        client.create_request("movie", 603, as_user_id=42)
    assert "user 42 does not exist" in str(info.value)


def test_request_for_unknown_title_is_bad_response(client):
    with pytest.raises(BadResponse) as info:
        client.create_request("movie", 999999)
    assert info.value.status == 500


@pytest.mark.parametrize("kwargs", [
    {"media_type": "person", "tmdb_id": 603},
    {"media_type": "tv", "tmdb_id": 1399, "seasons": []},
    {"media_type": "tv", "tmdb_id": 1399, "seasons": [-1]},
    {"media_type": "movie", "tmdb_id": 0},
])
def test_invalid_request_arguments_fail_before_any_call(client, fake_overseerr, kwargs):
    with pytest.raises(ValueError):
        client.create_request(**kwargs)
    assert fake_overseerr.seen("/api/v1/request") == []


# -- reading and managing requests ---------------------------------------------------------------
def test_get_approve_decline_delete(client, alice):
    created = client.create_request("movie", 603, as_user_id=2)
    assert client.get_request(created.id).status is RequestStatus.PENDING
    approved = client.approve_request(created.id)
    assert approved.status is RequestStatus.APPROVED
    assert approved.modified_by.id == 1
    assert approved.media_status is MediaStatus.PROCESSING
    declined = client.decline_request(created.id)
    assert declined.status is RequestStatus.DECLINED
    assert declined.media_status is MediaStatus.UNKNOWN
    client.delete_request(created.id)
    with pytest.raises(NotFound):
        client.get_request(created.id)


@pytest.mark.parametrize("action", ["get_request", "approve_request", "decline_request", "delete_request"])
def test_unknown_request_is_not_found(client, action):
    with pytest.raises(NotFound):
        getattr(client, action)(4242)


def test_list_requests_filters_sorts_and_pages(client, fake_overseerr, alice):
    ids = [client.create_request("movie", tmdb, as_user_id=2).id for tmdb in (603, 604, 605)]
    client.approve_request(ids[0])
    fake_overseerr.set_available(603, "movie")
    page = client.list_requests(take=2, skip=0)
    assert (page.total, page.pages, page.page) == (3, 2, 1)
    assert [r.id for r in page.results] == [ids[2], ids[1]]
    assert [r.id for r in client.list_requests(take=2, skip=2).results] == [ids[0]]
    assert [r.id for r in client.list_requests(filter="pending").results] == [ids[2], ids[1]]
    available = client.list_requests(filter="available").results
    assert [(r.id, r.media_status) for r in available] == [(ids[0], MediaStatus.AVAILABLE)]
    assert client.list_requests(sort="modified").results[0].id == ids[0]
    assert client.list_requests(requested_by=1).results == ()


def test_list_requests_refuses_unknown_filter(client):
    with pytest.raises(ValueError):
        client.list_requests(filter="everything")


# -- users --------------------------------------------------------------------------------------
def test_users_page_has_plex_linkage(client, alice):
    page = client.users()
    assert page.total == 2
    assert [(u.id, u.plex_id, u.email) for u in page.results] == [
        (1, 22526914, "owner@example.com"), (2, ALICE_PLEX_ID, "alice@example.com")]


def test_find_user_by_plex_id_pages_through_users(client, fake_overseerr):
    for n in range(2, 30):
        fake_overseerr.add_user(n, 1000 + n, f"user{n}@example.com", f"user{n}")
    user = client.find_user_by_plex_id(1027, page_size=10)
    assert user.id == 27
    assert len(fake_overseerr.seen("/api/v1/user")) == 3
    assert client.find_user_by_plex_id(1, page_size=10) is None
    assert client.find_user_by_plex_id(1, email="USER5@example.com", page_size=10).id == 5


# -- enums --------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    (1, RequestStatus.PENDING), (2, RequestStatus.APPROVED), (3, RequestStatus.DECLINED), (4, RequestStatus.FAILED),
    (5, RequestStatus.COMPLETED), ("2", RequestStatus.APPROVED), ("APPROVED", RequestStatus.APPROVED),
    (0, RequestStatus.UNKNOWN), (99, RequestStatus.UNKNOWN), (None, RequestStatus.UNKNOWN),
    (True, RequestStatus.UNKNOWN),
    ("nonsense", RequestStatus.UNKNOWN), (2.5, RequestStatus.UNKNOWN), ([], RequestStatus.UNKNOWN),
])
def test_request_status_mapping(value, expected):
    assert request_status(value) is expected


@pytest.mark.parametrize("value, expected", [
    (1, MediaStatus.UNKNOWN), (2, MediaStatus.PENDING), (3, MediaStatus.PROCESSING),
    (4, MediaStatus.PARTIALLY_AVAILABLE), (5, MediaStatus.AVAILABLE), (6, MediaStatus.BLOCKLISTED),
    (7, MediaStatus.DELETED), ("AVAILABLE", MediaStatus.AVAILABLE), ("BLACKLISTED", MediaStatus.BLOCKLISTED),
    ("partially_available", MediaStatus.PARTIALLY_AVAILABLE), (8, MediaStatus.UNKNOWN), (-1, MediaStatus.UNKNOWN),
    ("", MediaStatus.UNKNOWN), (None, MediaStatus.UNKNOWN), ({}, MediaStatus.UNKNOWN),
])
def test_media_status_mapping(value, expected):
    assert media_status(value) is expected


def test_unknown_and_seerr_enums_over_http_do_not_crash(client, fake_overseerr, alice):
    first = client.create_request("movie", 603, as_user_id=2)
    second = client.create_request("movie", 604, as_user_id=2)
    fake_overseerr.set_request_status(first.id, 99, media_status=42)
    fake_overseerr.set_request_status(second.id, 5, media_status=7)
    assert client.get_request(first.id).status is RequestStatus.UNKNOWN
    assert client.get_request(first.id).media_status is MediaStatus.UNKNOWN
    seerr = client.get_request(second.id)
    assert (seerr.status, seerr.media_status) == (RequestStatus.COMPLETED, MediaStatus.DELETED)
    assert client.search("matrix").results[0].status is MediaStatus.UNKNOWN


# -- webhooks -----------------------------------------------------------------------------------
def test_parse_webhook_from_default_payload_with_string_values(client, fake_overseerr, alice):
    request = client.create_request("tv", 1399, seasons=[1, 2], as_user_id=2)
    event = parse_webhook(fake_overseerr.webhook_payload("MEDIA_PENDING", request.id))
    assert event.notification_type == "MEDIA_PENDING" and event.is_known_type and not event.is_test
    assert (event.request_id, event.tmdb_id, event.tvdb_id, event.media_type) == (request.id, 1399, 121361, "tv")
    assert event.media_status is MediaStatus.PENDING
    assert event.media_status_4k is MediaStatus.UNKNOWN
    assert event.requested_by_email == "alice@example.com"
    assert event.requested_seasons == (1, 2)
    assert event.subject == "Game of Thrones (2011)"
    assert event.event == "New Series Request"


def test_parse_webhook_test_notification_with_null_sections(fake_overseerr):
    event = parse_webhook(fake_overseerr.webhook_payload("TEST_NOTIFICATION"))
    assert event.is_test
    assert (event.request_id, event.tmdb_id, event.media_type, event.media_status) == (None, None, None, None)
    assert event.requested_seasons == ()


@pytest.mark.parametrize("payload", [
    {},
    {"notification_type": None, "media": None, "request": None, "extra": None},
    {"notification_type": 8, "media": "oops", "request": ["x"], "extra": "1, 2"},
    {"notification_type": "media_available", "media": {"tmdbId": "abc", "status": "SOMETHING_NEW"},
     "request": {"request_id": ""}},
    {"notification_type": "MEDIA_FAILED", "media": {"tmdbId": 603, "media_type": "MOVIE"},
     "request": {"request_id": 12}, "extra": [None, {"name": "Requested Seasons", "value": None}]},
])
def test_parse_webhook_is_defensive(payload):
    event = parse_webhook(payload)
    assert isinstance(event.notification_type, str)
    assert event.request_id in (None, 12)
    assert event.requested_seasons == ()


def test_parse_webhook_normalises_case_and_numbers():
    event = parse_webhook({"notification_type": " media_available ", "media": {"tmdbId": 603, "media_type": "MOVIE",
                                                                               "status": "AVAILABLE"},
                           "request": {"request_id": 12}})
    assert (event.notification_type, event.tmdb_id, event.media_type, event.request_id) == (
        "MEDIA_AVAILABLE", 603, "movie", 12)
    assert event.media_status is MediaStatus.AVAILABLE
    unknown = parse_webhook({"notification_type": "MEDIA_SOMETHING", "media": {"status": "NEW_THING"}})
    assert not unknown.is_known_type
    assert unknown.media_status is MediaStatus.UNKNOWN


@pytest.mark.parametrize("payload", [None, [], "MEDIA_APPROVED", 3])
def test_parse_webhook_refuses_non_objects(payload):
    with pytest.raises(ValueError):
        parse_webhook(payload)


@pytest.mark.parametrize("kind", ["MEDIA_APPROVED", "MEDIA_AVAILABLE", "MEDIA_PENDING", "MEDIA_DECLINED",
                                  "MEDIA_FAILED", "TEST_NOTIFICATION"])
def test_send_webhook_posts_the_real_shape(client, fake_overseerr, alice, receiver, kind):
    request = client.create_request("movie", 603, as_user_id=2)
    resp = fake_overseerr.send_webhook(f"{receiver.url}/webhooks/overseerr", kind,
                                       None if kind == "TEST_NOTIFICATION" else request.id,
                                       secret="shared-secret-123")
    assert resp.status_code == 204
    posted = receiver.seen("/webhooks/overseerr")[-1]
    assert posted.headers["Authorization"] == "shared-secret-123"
    assert posted.headers["Content-Type"] == "application/json"
    body = json.loads(posted.body)
    assert body["notification_type"] == kind
    event = parse_webhook(body)
    if kind == "TEST_NOTIFICATION":
        assert body["media"] is None and body["request"] is None and event.request_id is None
    else:
        assert body["request"]["request_id"] == str(request.id) and body["media"]["tmdbId"] == "603"
        assert (event.request_id, event.tmdb_id) == (request.id, 603)


def test_send_webhook_without_secret_sends_no_authorization(fake_overseerr, receiver):
    fake_overseerr.send_webhook(f"{receiver.url}/hook", "TEST_NOTIFICATION")
    assert "Authorization" not in receiver.seen("/hook")[-1].headers


# -- failures -----------------------------------------------------------------------------------
def test_hanging_server_times_out(fake_overseerr):
    fake_overseerr.hang()
    client = OverseerrClient(fake_overseerr.url, API_KEY, timeout=(1, 0.3))
    with pytest.raises(Unreachable) as info:
        client.search("matrix")
    assert "timed out" in str(info.value)
    assert API_KEY not in str(info.value)


def test_slow_server_beyond_the_timeout(fake_overseerr):
    fake_overseerr.slow(1.5)
    with pytest.raises(Unreachable):
        OverseerrClient(fake_overseerr.url, API_KEY, timeout=(1, 0.2)).status()


def test_connection_refused(fake_overseerr):
    fake_overseerr.go_down()
    with pytest.raises(Unreachable) as info:
        OverseerrClient(fake_overseerr.url, API_KEY).me()
    assert "cannot connect" in str(info.value)
    assert API_KEY not in str(info.value)


def test_nothing_listening_on_port():
    with pytest.raises(Unreachable):
        OverseerrClient(f"http://127.0.0.1:{free_port()}", API_KEY, timeout=(1, 1)).status()


def test_html_instead_of_json(client, fake_overseerr):
    fake_overseerr.override("/api/v1/status", b"<!DOCTYPE html><html><body>Sign in</body></html>")
    with pytest.raises(BadResponse) as info:
        client.status()
    assert "JSON" in str(info.value)


def test_json_without_version_is_not_overseerr(client, fake_overseerr):
    fake_overseerr.override("/api/v1/status", b'{"status": "ok"}', content_type="application/json")
    with pytest.raises(BadResponse):
        client.status()


def test_proxy_error_page(client, fake_overseerr):
    fake_overseerr.override("/api/v1/auth/me", b"<html>502 Bad Gateway</html>", status=502)
    with pytest.raises(BadResponse) as info:
        client.me()
    assert info.value.status == 502


def test_gigantic_body_is_cut_off(client, fake_overseerr):
    chunk = b"x" * (1024 * 1024)
    fake_overseerr.override("/api/v1/search", lambda: (chunk for _ in range(8)), content_type="application/json")
    with pytest.raises(BadResponse) as info:
        client.search("matrix")
    assert "larger than" in str(info.value)


def test_malformed_list_entries_are_skipped(client, fake_overseerr):
    body = {"page": 1, "totalPages": 1, "totalResults": 3,
            "results": [None, {"mediaType": "movie"}, {"id": 603, "mediaType": "movie", "title": "The Matrix",
                                                       "releaseDate": "", "mediaInfo": None}]}
    fake_overseerr.override("/api/v1/search", json.dumps(body).encode(), content_type="application/json")
    results = client.search("matrix").results
    assert [(r.tmdb_id, r.year, r.media_info) for r in results] == [(603, None, None)]


def test_secret_echoed_by_server_is_scrubbed(client, fake_overseerr):
    body = json.dumps({"message": f"Movie Quota exceeded. key={API_KEY}"}).encode()
    fake_overseerr.override("/api/v1/request", body, status=403, content_type="application/json")
    with pytest.raises(QuotaExceeded) as info:
        client.create_request("movie", 603)
    assert API_KEY not in str(info.value)
    assert "[redacted]" in str(info.value)


def test_every_error_is_a_client_error_without_the_key(client, fake_overseerr):
    failures = []
    for status in (400, 401, 403, 404, 409, 418, 500, 503):
        fake_overseerr.fail(status)
        with pytest.raises(ClientError) as info:
            client.me()
        failures.append(info.value)
    assert all(API_KEY not in str(e) and API_KEY not in repr(e) for e in failures)
    assert [e.status for e in failures] == [400, 401, 403, 404, 409, 418, 500, 503]


def test_poster_url_only_accepts_relative_tmdb_paths():
    assert poster_url("/abc.jpg") == "https://image.tmdb.org/t/p/w342/abc.jpg"
    assert poster_url("/abc.jpg", "w600_and_h900_bestv2").endswith("/w600_and_h900_bestv2/abc.jpg")
    for bad in (None, "", "javascript:alert(1)", "//evil.example/x.jpg", "/a b.jpg", 5):
        assert poster_url(bad) is None
