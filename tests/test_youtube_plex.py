"""Finished downloads into Plex, against the fake Plex Media Server over HTTP: a partial scan of the
mapped folder, items found by file path, a collection named after the playlist; Plex being down only
postpones that step."""
from __future__ import annotations

from pathlib import Path

import pytest

from medianest.extensions import db
from medianest.models import Notification
from medianest.models.youtube import YoutubeDownload
from medianest.services import plex_collections, service_config
from medianest.services import youtube as service
from tests.factories import make_user
from tests.fakes.plex import ADMIN_TOKEN
from tests.test_youtube_service import IDS, YT_CONFIG, root_of, row_of, submit

PLEX_ROOT = "/data/youtube"


@pytest.fixture
def app(make_app, fake_youtube):
    return make_app(**YT_CONFIG, MEDIANEST_YTDLP_EXTRA_EXTRACTORS=fake_youtube.extractors)


def connect_plex(app, fake_plex, local_root=None, section="3"):
    with app.app_context():
        service_config.save("plex", url=fake_plex.url, secret_value=ADMIN_TOKEN,
                            settings={"library_section": section,
                                      "path_map": [str(local_root or root_of(app)), PLEX_ROOT]})


def place_on_plex(fake_plex, user, folder: str, names: list[str]) -> list[str]:
    """What Plex would see on its disk once we have written the files (the fake cannot see ours)."""
    paths = [f"{PLEX_ROOT}/{user.id}/{folder}/{name}" for name in names]
    for path in paths:
        fake_plex.add_file(3, path)
    return paths


def playlist(fake_youtube, list_id="PLplex", title="My Playlist", n=2):
    videos = [(IDS[i], f"Clip {i + 1}") for i in range(n)]
    return fake_youtube.add_playlist(list_id, title, videos), [f"Clip {i + 1} [{IDS[i]}].mp4" for i in range(n)]


def test_finished_playlist_is_scanned_by_folder_and_becomes_a_collection(app, fake_plex, fake_youtube):
    user = make_user(app)
    connect_plex(app, fake_plex)
    url, names = playlist(fake_youtube)
    plex_paths = place_on_plex(fake_plex, user, "My Playlist [PLplex]", names)

    row = row_of(app, submit(app, user, url))

    assert row.status == "completed" and row.plex_state == "done" and row.plex_error is None
    [scan] = fake_plex.refreshes
    assert (scan.section_id, scan.path, scan.method, scan.token) == (
        "3", f"{PLEX_ROOT}/{user.id}/My Playlist [PLplex]", "GET", ADMIN_TOKEN)
    assert any(m == "GET" and p == "/library/sections/3/refresh" and "path=%2Fdata%2Fyoutube%2F" in q
               for m, p, q in fake_plex.raw_queries)  # the mapped path travels percent-encoded
    collection = fake_plex.collection_by_title("My Playlist")
    expected = [fake_plex.item_by_file(p)["ratingKey"] for p in plex_paths]
    assert collection is not None and collection.items == expected and collection.section_id == "3"
    assert row.plex_collection_id == collection.rating_key and row.plex_collection_owned
    assert [e["plex_key"] for e in row.entries] == expected
    with app.app_context():
        titles = db.session.scalars(db.select(Notification.title).where(Notification.user_id == user.id)).all()
    assert set(titles) == {"Download finished", "Now in Plex"}


def test_a_second_download_of_the_playlist_adds_to_its_collection(app, fake_plex, fake_youtube):
    user = make_user(app)
    connect_plex(app, fake_plex)
    url, names = playlist(fake_youtube, n=2)
    place_on_plex(fake_plex, user, "My Playlist [PLplex]", names)
    first = row_of(app, submit(app, user, url))
    url, names = playlist(fake_youtube, n=3)
    new_path = place_on_plex(fake_plex, user, "My Playlist [PLplex]", names[2:])[0]

    second = row_of(app, submit(app, user, url))

    assert second.plex_state == "done" and second.plex_collection_id == first.plex_collection_id
    assert not second.plex_collection_owned
    assert len(fake_plex.collections) == 1
    assert fake_plex.collections[first.plex_collection_id].items[-1] == fake_plex.item_by_file(new_path)["ratingKey"]
    assert len(fake_plex.collections[first.plex_collection_id].items) == 3


def test_plex_down_leaves_the_download_completed_and_the_plex_step_pending(app, fake_plex, fake_youtube):
    user = make_user(app)
    connect_plex(app, fake_plex)
    url, names = playlist(fake_youtube)
    place_on_plex(fake_plex, user, "My Playlist [PLplex]", names)
    fake_plex.go_down()

    row = row_of(app, submit(app, user, url))
    assert row.status == "completed" and len(row.file_paths) == 2
    assert row.plex_state == "pending" and row.plex_error.startswith("Waiting for Plex")

    fake_plex.come_back()
    with app.app_context():
        assert plex_collections.publish_pending() == {"done": 1}
    row = row_of(app, row.id)
    assert row.plex_state == "done" and row.plex_error is None
    assert fake_plex.collection_by_title("My Playlist").items


def test_a_slow_scan_is_retried_later_rather_than_waited_for(app, fake_plex, fake_youtube):
    user = make_user(app)
    connect_plex(app, fake_plex)
    fake_plex.scan_delay = None  # the scan runs until the test finishes it
    url, names = playlist(fake_youtube)
    place_on_plex(fake_plex, user, "My Playlist [PLplex]", names)

    row = row_of(app, submit(app, user, url))
    assert row.plex_state == "pending" and "Waiting for Plex to scan 2 of 2" in row.plex_error
    assert fake_plex.collections == {}

    fake_plex.finish_scans()
    with app.app_context():
        assert plex_collections.publish(row.id) == "done"
    assert fake_plex.collection_by_title("My Playlist") is not None


def test_a_single_video_is_published_without_a_collection(app, fake_plex, fake_youtube):
    user = make_user(app)
    connect_plex(app, fake_plex)
    url = fake_youtube.add_video(IDS[0], "Solo")
    place_on_plex(fake_plex, user, f"Solo [{IDS[0]}]", [f"Solo [{IDS[0]}].mp4"])
    row = row_of(app, submit(app, user, url))
    assert row.plex_state == "done" and row.plex_collection_id is None and fake_plex.collections == {}
    assert fake_plex.refreshes[0].path == f"{PLEX_ROOT}/{user.id}/Solo [{IDS[0]}]"


def test_a_folder_outside_the_mapped_path_is_reported(app, fake_plex, fake_youtube, tmp_path):
    user = make_user(app)
    connect_plex(app, fake_plex, local_root=tmp_path / "somewhere-else")
    url, _ = playlist(fake_youtube)
    row = row_of(app, submit(app, user, url))
    assert row.status == "completed" and row.plex_state == "failed" and "path map" in row.plex_error
    assert fake_plex.refreshes == []


def test_an_unknown_section_is_reported(app, fake_plex, fake_youtube):
    user = make_user(app)
    connect_plex(app, fake_plex, section="42")
    url, _ = playlist(fake_youtube)
    row = row_of(app, submit(app, user, url))
    assert row.plex_state == "failed" and "no library section 42" in row.plex_error


def test_without_plex_there_is_no_plex_step(app, fake_youtube):
    user = make_user(app)
    url, _ = playlist(fake_youtube)
    row = row_of(app, submit(app, user, url))
    assert row.status == "completed" and row.plex_state is None


def test_deleting_removes_the_collection_medianest_made_and_rescans(app, fake_plex, fake_youtube):
    user = make_user(app)
    connect_plex(app, fake_plex)
    url, names = playlist(fake_youtube)
    place_on_plex(fake_plex, user, "My Playlist [PLplex]", names)
    row = row_of(app, submit(app, user, url))
    assert fake_plex.collections
    with app.app_context():
        service.delete(row.id, user_id=user.id)
    assert fake_plex.collections == {}
    assert [r.path for r in fake_plex.refreshes] == [f"{PLEX_ROOT}/{user.id}/My Playlist [PLplex]"] * 2
    assert not (root_of(app) / str(user.id) / "My Playlist [PLplex]").exists()


def test_a_shared_collection_survives_deleting_one_of_its_downloads(app, fake_plex, fake_youtube):
    user = make_user(app)
    connect_plex(app, fake_plex)
    url, names = playlist(fake_youtube, n=1)
    place_on_plex(fake_plex, user, "My Playlist [PLplex]", names)
    first = row_of(app, submit(app, user, url))
    url, names = playlist(fake_youtube, n=2)
    place_on_plex(fake_plex, user, "My Playlist [PLplex]", names[1:])
    second = row_of(app, submit(app, user, url))
    with app.app_context():
        service.delete(first.id, user_id=user.id)
        assert db.session.get(YoutubeDownload, second.id).plex_collection_owned  # ownership passed on
    assert first.plex_collection_id in fake_plex.collections


def test_to_plex_path_maps_and_refuses_what_is_outside(tmp_path):
    root = tmp_path / "downloads"
    (root / "u" / "P [x]").mkdir(parents=True)
    mapping = (str(root), "/data/youtube")
    assert plex_collections.to_plex_path(root / "u" / "P [x]", mapping) == "/data/youtube/u/P [x]"
    assert plex_collections.to_plex_path(root, mapping) == "/data/youtube"
    for outside in (tmp_path, root / ".." / "elsewhere", Path("/etc/passwd")):
        with pytest.raises(plex_collections.NotMapped):
            plex_collections.to_plex_path(outside, mapping)
