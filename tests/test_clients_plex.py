"""PlexClient (Plex Media Server) against the fake PMS over real HTTP (EXTERNAL_APIS.md §2, YOUTUBE_AND_PLEX.md §4)."""
import json
import time
from urllib.parse import unquote

import pytest
import requests

from medianest.clients.base import BadResponse, NotFound, Unauthorized, Unreachable
from medianest.clients.plex import PlexClient
from tests.fakes.plex import ADMIN_TOKEN, MACHINE_ID


YOUTUBE = 3
PLAYLIST_DIR = "/data/youtube/alice/My Playlist [PLx]"


def make_client(fake, token=ADMIN_TOKEN, **kwargs):
    return PlexClient(fake.url, token, **kwargs)


def wait_until(condition, timeout=5.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


# -- server ----------------------------------------------------------------------------------
def test_identity_needs_no_token(fake_plex):
    identity = make_client(fake_plex).identity()
    assert identity.machine_identifier == MACHINE_ID and identity.claimed and identity.version
    (req,) = fake_plex.seen("/identity")
    assert "X-Plex-Token" not in req.headers


def test_server_info_sends_token_header_and_identity_headers(fake_plex):
    info = make_client(fake_plex, client_identifier="install-123").server_info()

    assert (info.machine_identifier, info.friendly_name) == (MACHINE_ID, "HomeServer")
    assert info.version.startswith("1.41") and info.platform == "Linux"
    (req,) = fake_plex.seen("/")
    assert req.headers["X-Plex-Token"] == ADMIN_TOKEN and req.args == {}
    assert req.headers["X-Plex-Client-Identifier"] == "install-123"
    assert req.headers["Accept"] == "application/json"


def test_bad_token_is_unauthorized_and_not_leaked(fake_plex):
    secret = "WRONG-secret-token"
    with pytest.raises(Unauthorized) as err:
        make_client(fake_plex, token=secret).server_info()
    assert err.value.status == 401
    assert secret not in str(err.value) and secret not in repr(err.value)


def test_client_repr_and_bad_token_value_hide_the_token(fake_plex):
    assert ADMIN_TOKEN not in repr(make_client(fake_plex))
    with pytest.raises(ValueError) as err:
        PlexClient(fake_plex.url, "abc\r\nX-Evil: 1")
    assert "abc" not in str(err.value)


# -- XML vs JSON -----------------------------------------------------------------------------
def test_fake_answers_xml_unless_json_is_asked(fake_plex):
    headers = {"X-Plex-Token": ADMIN_TOKEN}
    xml = requests.get(f"{fake_plex.url}/library/sections/", headers=headers, timeout=5)
    as_json = requests.get(f"{fake_plex.url}/library/sections", timeout=5,
                           headers=dict(headers, Accept="application/json"))
    by_query = requests.get(f"{fake_plex.url}/library/metadata/101?X-Plex-Token={ADMIN_TOKEN}", timeout=5)
    unauthorized = requests.get(f"{fake_plex.url}/library/sections", timeout=5)

    assert "<MediaContainer" in xml.text and '<Directory key="3"' in xml.text and "<Location " in xml.text
    assert xml.headers["X-Plex-Protocol"] == "1.0"
    assert len(as_json.json()["MediaContainer"]["Directory"]) == 3
    assert "<Video " in by_query.text and 'file="/data/movies/The Matrix (1999)/The Matrix (1999).mkv"' in by_query.text
    assert unauthorized.status_code == 401 and "<h1>401 Unauthorized</h1>" in unauthorized.text
    assert unauthorized.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("body, content_type", [
    ('<?xml version="1.0"?><MediaContainer size="0"/>', "text/xml"),
    ("<html><body>proxy error</body></html>", "text/html"),
    ("{broken", "application/json"),
    ('{"NotAContainer": {}}', "application/json"),
    ("[]", "application/json"),
])
def test_non_json_or_odd_answers_are_bad_response(fake_plex, body, content_type):
    fake_plex.override("/library/sections", body, content_type=content_type)
    with pytest.raises(BadResponse):
        make_client(fake_plex).library_sections()


# -- libraries -------------------------------------------------------------------------------
def test_library_sections(fake_plex):
    sections = {s.key: s for s in make_client(fake_plex).library_sections()}

    assert set(sections) == {"1", "2", "3"}
    youtube = sections["3"]
    assert (youtube.type, youtube.title, youtube.agent) == ("movie", "YouTube", "com.plexapp.agents.none")
    assert youtube.locations == ("/data/youtube",) and youtube.refreshing is False
    assert sections["2"].type == "show"


def test_section_items_pages_and_totals(fake_plex):
    for n in range(5):
        fake_plex.add_item(YOUTUBE, f"Clip {n}", file=f"{PLAYLIST_DIR}/0{n} - Clip {n} [id{n}].mp4")
    client = make_client(fake_plex)

    first = client.section_items(YOUTUBE, 0, 2, sort="addedAt:desc")
    last = client.section_items(YOUTUBE, 4, 2, sort="addedAt:desc")

    assert [i.title for i in first.items] == ["Clip 4", "Clip 3"] and first.total == 5 and first.offset == 0
    assert [i.title for i in last.items] == ["Clip 0"] and last.offset == 4
    assert first.items[0].files == (f"{PLAYLIST_DIR}/04 - Clip 4 [id4].mp4",)
    assert first.items[0].section_id == "3" and first.items[0].section_title == "YouTube"
    req = fake_plex.seen("/library/sections/3/all")[0]
    assert req.args == {"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "2", "sort": "addedAt:desc"}


def test_section_items_by_type_and_unknown_section(fake_plex):
    client = make_client(fake_plex)
    shows = client.section_items(2)
    episodes = client.section_items(2, item_type="episode")
    assert [i.type for i in shows.items] == ["show"]
    assert episodes.items[0].grandparent_title == "Severance" and episodes.items[0].files
    with pytest.raises(NotFound):
        client.section_items(99)


def test_recently_added_newest_first(fake_plex):
    fake_plex.add_item(YOUTUBE, "Newest clip", file=f"{PLAYLIST_DIR}/new.mp4")
    items = make_client(fake_plex).recently_added(limit=3)
    assert len(items) == 3 and items[0].title == "Newest clip"
    assert items[0].added_at >= items[1].added_at >= items[2].added_at
    assert "show" not in {i.type for i in items}


def test_search_flattens_hubs(fake_plex):
    client = make_client(fake_plex)
    found = client.search("matrix")
    assert [(i.rating_key, i.title, i.year) for i in found] == [("101", "The Matrix", 1999)]
    assert client.search("sever", limit=1)[0].title == "Severance"
    assert client.search("zzz-nothing") == []
    assert client.search("   ") == []
    assert fake_plex.seen("/hubs/search")[0].args == {"query": "matrix", "limit": "10"}


def test_metadata_and_children(fake_plex):
    client = make_client(fake_plex)
    movie = client.metadata(101)
    assert movie.title == "The Matrix" and "imdb://tt0133093" in movie.guids
    assert movie.files == ("/data/movies/The Matrix (1999)/The Matrix (1999).mkv",)
    assert movie.thumb.startswith("/library/metadata/101/thumb/")
    assert [c.title for c in client.children(2200)] == ["Season 2"]
    with pytest.raises(NotFound):
        client.metadata(424242)
    with pytest.raises(ValueError):
        client.metadata("101/../../identity")


def test_tolerant_item_parsing(fake_plex):
    fake_plex.override("/library/metadata/55", json.dumps({"MediaContainer": {"Metadata": [
        "junk", {"title": "no key"},
        {"ratingKey": 55, "title": "t" * 9000, "year": "2001", "Media": [{"Part": [{"file": None}, "x"]}],
         "Guid": "not a list", "addedAt": "soon"},
    ]}}))
    item = make_client(fake_plex).metadata(55)
    assert item.rating_key == "55" and len(item.title) == 500 and item.year == 2001
    assert item.files == () and item.guids == () and item.added_at is None


# -- images ----------------------------------------------------------------------------------
def test_fetch_image(fake_plex):
    client = make_client(fake_plex)
    thumb = client.metadata(101).thumb

    body, content_type = client.fetch_image(thumb)
    resized, _ = client.fetch_image(thumb, width=300, height=450)

    assert content_type == "image/png" and body.startswith(b"\x89PNG") and resized.startswith(b"\x89PNG")
    (transcode,) = fake_plex.seen("/photo/:/transcode")
    assert transcode.args["url"] == thumb and transcode.args["width"] == "300" and transcode.args["height"] == "450"


def test_fetch_image_accepts_transcode_paths(fake_plex):
    body, _ = make_client(fake_plex).fetch_image("/photo/:/transcode?width=10&url=/library/metadata/101/art/1")
    assert body.startswith(b"\x89PNG")


@pytest.mark.parametrize("path", [
    "http://evil.example/x.png", "//evil.example/x.png", "/library/metadata/101/../../../identity",
    "/:/prefs", "/library/metadata/101", "/library/metadata/101/thumb?X-Plex-Token=x",
    "/photo/:/transcode?url=http://evil.example/x.png", "", None,
])
def test_fetch_image_refuses_other_paths(fake_plex, path):
    with pytest.raises(ValueError):
        make_client(fake_plex).fetch_image(path)
    assert fake_plex.seen() == []


def test_fetch_image_that_is_not_an_image(fake_plex):
    fake_plex.override("/library/metadata/101/thumb/1", "<html>login</html>", content_type="text/html")
    with pytest.raises(BadResponse):
        make_client(fake_plex).fetch_image("/library/metadata/101/thumb/1")


# -- scans and file matching -----------------------------------------------------------------
def test_partial_scan_makes_placed_files_appear(fake_plex):
    files = [f"{PLAYLIST_DIR}/01 - First clip [AAAAAAAAAA1].mp4", f"{PLAYLIST_DIR}/02 - Second [AAAAAAAAAA2].mp4"]
    for f in files:
        fake_plex.add_file(YOUTUBE, f)
    client = make_client(fake_plex)
    assert client.items_by_file_path(YOUTUBE, files) == {f: None for f in files}

    client.refresh_section(YOUTUBE, path=PLAYLIST_DIR)

    (refresh,) = fake_plex.refreshes
    assert (refresh.section_id, refresh.path, refresh.method, refresh.token) == ("3", PLAYLIST_DIR, "GET", ADMIN_TOKEN)
    matched = client.items_by_file_path(YOUTUBE, files)
    assert matched[files[0]].title == "01 - First clip [AAAAAAAAAA1]"
    assert matched[files[1]].rating_key == fake_plex.item_by_file(files[1])["ratingKey"]


def test_scan_outside_the_folder_or_section_locations_finds_nothing(fake_plex):
    inside, elsewhere = f"{PLAYLIST_DIR}/a.mp4", "/data/youtube/bob/Other [PLy]/b.mp4"
    outside_location = "/srv/media/youtube/alice/c.mp4"
    for f in (inside, elsewhere, outside_location):
        fake_plex.add_file(YOUTUBE, f)
    client = make_client(fake_plex)

    client.refresh_section(YOUTUBE, path=PLAYLIST_DIR)
    client.refresh_section(YOUTUBE, path="/srv/media/youtube/alice")

    found = client.items_by_file_path(YOUTUBE, [inside, elsewhere, outside_location])
    assert found[inside] is not None and found[elsewhere] is None and found[outside_location] is None


def test_is_scanning_until_the_scan_finishes(fake_plex):
    fake_plex.scan_delay = None
    fake_plex.add_file(YOUTUBE, f"{PLAYLIST_DIR}/a.mp4")
    client = make_client(fake_plex)

    client.refresh_section(YOUTUBE)
    assert client.is_scanning(YOUTUBE) and not client.is_scanning(1)
    assert client.items_by_file_path(YOUTUBE, [f"{PLAYLIST_DIR}/a.mp4"])[f"{PLAYLIST_DIR}/a.mp4"] is None

    fake_plex.finish_scans()
    assert not client.is_scanning(YOUTUBE)
    assert client.items_by_file_path(YOUTUBE, [f"{PLAYLIST_DIR}/a.mp4"])[f"{PLAYLIST_DIR}/a.mp4"] is not None
    with pytest.raises(NotFound):
        client.is_scanning(99)


def test_timed_scan_is_polled_to_completion(fake_plex):
    fake_plex.scan_delay = 0.3
    fake_plex.add_file(YOUTUBE, f"{PLAYLIST_DIR}/a.mp4")
    client = make_client(fake_plex)
    client.refresh_section(YOUTUBE, path=PLAYLIST_DIR)

    assert client.is_scanning(YOUTUBE)
    assert wait_until(lambda: not client.is_scanning(YOUTUBE))
    assert client.items_by_file_path(YOUTUBE, [f"{PLAYLIST_DIR}/a.mp4"])[f"{PLAYLIST_DIR}/a.mp4"] is not None


def test_cancel_refresh(fake_plex):
    fake_plex.scan_delay = None
    client = make_client(fake_plex)
    client.refresh_section(YOUTUBE)
    client.cancel_refresh(YOUTUBE)
    assert not client.is_scanning(YOUTUBE)


def test_items_by_file_path_pages_through_the_section(fake_plex):
    files = [f"{PLAYLIST_DIR}/{n:02d}.mp4" for n in range(7)]
    for f in files:
        fake_plex.add_item(YOUTUBE, f, file=f)
    found = make_client(fake_plex).items_by_file_path(YOUTUBE, [files[0], "/data/youtube/missing.mp4"], page_size=3)
    assert found[files[0]].title == files[0] and found["/data/youtube/missing.mp4"] is None
    assert len(fake_plex.seen("/library/sections/3/all")) == 3


def test_admin_operations_refuse_a_user_token(fake_plex):
    fake_plex.add_token("user-token")
    client = make_client(fake_plex, token="user-token")
    assert client.library_sections()
    with pytest.raises(Unauthorized):
        client.refresh_section(YOUTUBE, path=PLAYLIST_DIR)
    with pytest.raises(Unauthorized):
        client.create_collection(1, "Mine", ["101"])
    assert fake_plex.refreshes == [] and fake_plex.collections == {}


# -- collections -----------------------------------------------------------------------------
def _three_clips(fake):
    return [fake.add_item(YOUTUBE, f"Clip {n}", file=f"{PLAYLIST_DIR}/{n}.mp4")["ratingKey"] for n in range(3)]


def test_create_collection_sends_the_documented_request(fake_plex):
    k1, k2, _ = _three_clips(fake_plex)
    client = make_client(fake_plex)

    created = client.create_collection(YOUTUBE, "My Playlist", [k1, k2])

    assert created.title == "My Playlist" and created.child_count == 2 and created.section_id == "3"
    stored = fake_plex.collections[created.rating_key]
    assert stored.items == [k1, k2] and stored.subtype == "movie"
    (_, _, raw) = next(q for q in fake_plex.raw_queries if q[:2] == ("POST", "/library/collections"))
    uri = f"server://{MACHINE_ID}/com.plexapp.plugins.library/library/metadata/{k1},{k2}"
    assert raw == ("sectionId=3&smart=0&title=My%20Playlist&type=1&uri="
                   + uri.replace(":", "%3A").replace("/", "%2F").replace(",", "%2C"))
    assert unquote(raw.split("uri=")[1]) == uri
    assert fake_plex.seen("/")[0].path == "/"  # machineIdentifier fetched once for the uri


def test_add_list_move_remove_and_delete_collection(fake_plex):
    k1, k2, k3 = _three_clips(fake_plex)
    client = make_client(fake_plex)
    created = client.create_collection(YOUTUBE, "My Playlist", [k1, k2])

    client.add_to_collection(created.rating_key, [k3, k1])
    assert [i.rating_key for i in client.collection_items(created.rating_key)] == [k1, k2, k3]
    (found,) = client.collections(YOUTUBE)
    assert found.rating_key == created.rating_key and found.child_count == 3
    assert client.find_collection(YOUTUBE, "My Playlist") == found
    assert client.find_collection(YOUTUBE, "my playlist") is None
    assert client.collections(1) == []

    client.move_in_collection(created.rating_key, k3)
    client.move_in_collection(created.rating_key, k1, after=k2)
    assert fake_plex.collections[created.rating_key].items == [k3, k2, k1]
    client.remove_from_collection(created.rating_key, k2)
    assert fake_plex.collections[created.rating_key].items == [k3, k1]

    client.delete_collection(created.rating_key)
    assert fake_plex.collections == {}
    with pytest.raises(NotFound):
        client.add_to_collection(created.rating_key, [k1])
    with pytest.raises(NotFound):
        client.delete_collection(created.rating_key)
    assert fake_plex.seen(f"/library/collections/{created.rating_key}/items")[0].method == "PUT"


def test_create_collection_validation(fake_plex):
    k1, _, _ = _three_clips(fake_plex)
    client = make_client(fake_plex)
    with pytest.raises(ValueError):
        client.create_collection(YOUTUBE, "Empty", [])
    with pytest.raises(BadResponse) as err:
        client.create_collection(99, "No such section", [k1])
    assert err.value.status == 400
    with pytest.raises(BadResponse):
        client.create_collection(YOUTUBE, "Unknown item", ["424242"])


def test_collection_uri_for_another_server_is_refused(fake_plex):
    k1, _, _ = _three_clips(fake_plex)
    client = make_client(fake_plex)
    client.server_info()
    fake_plex.machine_identifier = "0" * 40  # the server behind the URL changed since we looked
    with pytest.raises(BadResponse):
        client.create_collection(YOUTUBE, "My Playlist", [k1])


def test_collection_created_answer_without_metadata_is_bad_response(fake_plex):
    fake_plex.override("/library/collections", json.dumps({"MediaContainer": {"size": 0}}))
    with pytest.raises(BadResponse):
        make_client(fake_plex).create_collection(YOUTUBE, "x", ["101"])


# -- faults ----------------------------------------------------------------------------------
def test_slow_server_times_out(fake_plex):
    fake_plex.slow(2)
    with pytest.raises(Unreachable) as err:
        make_client(fake_plex, timeout=(1, 0.2)).server_info()
    assert "timed out" in err.value.message


def test_hanging_server_times_out(fake_plex):
    fake_plex.hang()
    with pytest.raises(Unreachable):
        make_client(fake_plex, timeout=(1, 0.2)).identity()


def test_server_down_is_unreachable(fake_plex):
    fake_plex.go_down()
    with pytest.raises(Unreachable) as err:
        make_client(fake_plex).identity()
    assert "cannot connect" in err.value.message


def test_gigantic_body_is_cut_at_max_bytes(fake_plex):
    fake_plex.override("/library/recentlyAdded", b'{"MediaContainer": {"x": "' + b"a" * 200_000 + b'"}}')
    with pytest.raises(BadResponse) as err:
        make_client(fake_plex, max_bytes=50_000).recently_added()
    assert "50000 bytes" in err.value.message


@pytest.mark.parametrize("fault", ["slow", "down", "fail", "malformed", "not-found"])
def test_token_never_appears_in_errors(fake_plex, fault):
    secret = "S3CRET-admin-token"
    fake_plex.add_token(secret, admin=True)
    if fault == "slow":
        fake_plex.slow(2)
    elif fault == "down":
        fake_plex.go_down()
    elif fault == "fail":
        fake_plex.fail(500)
    elif fault == "malformed":
        fake_plex.override("/library/sections", "<html>oops</html>", content_type="text/html")
    client = make_client(fake_plex, token=secret, timeout=(1, 0.2))
    with pytest.raises(Exception) as err:
        if fault == "not-found":
            client.metadata(424242)
        else:
            client.library_sections()
    assert secret not in str(err.value) and secret not in repr(err.value)
    assert all(secret not in r.path and secret not in str(r.args) for r in fake_plex.seen())
