"""A real Huey consumer process on Redis: a download survives its worker being killed.

Enqueue a slow download, start `huey_consumer medianest.tasks.huey`, kill it (SIGKILL) mid-download, run the
reaper, start a consumer again and watch the download finish. Needs Redis: skipped in the embedded run
(no MEDIANEST_TEST_REDIS_URL).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from medianest.extensions import db
from medianest.models.youtube import YoutubeDownload
from medianest.services import youtube as service
from medianest.timeutil import utcnow
from medianest.worker import huey
from tests.conftest import HX, TEST_REDIS_URL
from tests.test_youtube_service import YT_CONFIG, leftovers, root_of, row_of, wait_for

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis (MEDIANEST_TEST_REDIS_URL): embedded run")


@pytest.fixture
def redis_queue():
    """This process's Huey enqueues into Redis (instead of running tasks at once) for the test."""
    from huey.storage import RedisStorage

    memory = huey.storage
    huey.immediate = False
    huey.storage = RedisStorage(name=huey.name, url=TEST_REDIS_URL)
    huey.storage.flush_all()
    yield huey
    huey.storage.flush_all()
    huey.immediate = True
    huey.storage = memory


@pytest.fixture
def consumers(app, tmp_path):
    """Start `huey_consumer` processes wired to the test's database, Redis and download folder."""
    started = []
    env = {**os.environ,
           "MEDIANEST_ENV": "testing", "MEDIANEST_SKIP_DOTENV": "1",
           "MEDIANEST_INSTANCE_DIR": str(tmp_path / "worker-instance"),
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": TEST_REDIS_URL,
           "MEDIANEST_DOWNLOAD_DIR": app.config["MEDIANEST_DOWNLOAD_DIR"]}
    consumer = Path(sys.executable).with_name("huey_consumer")

    def start():
        log = open(tmp_path / f"consumer-{len(started)}.log", "wb")
        # Four threads: the periodic tasks a fresh consumer runs at a minute's turn must not hold up the download.
        proc = subprocess.Popen([str(consumer), "medianest.tasks.huey", "--workers", "4", "--worker-type", "thread"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append((proc, log))
        return proc

    yield start
    for proc, log in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


@pytest.fixture
def app(make_app):
    return make_app(**YT_CONFIG)


def test_a_killed_worker_is_reaped_and_the_download_finishes_on_restart(app, redis_queue, consumers, fake_media,
                                                                         tmp_path, auth, user):
    fake_media.slow_size, fake_media.slow_rate = 1_500_000, 300_000  # about 5 s per attempt
    url = fake_media.add_video("worker-clip", slow=True)
    with app.app_context():
        did = service.submit(user.id, url).id
        assert db.session.get(YoutubeDownload, did).status == "queued"
        assert [t.id for t in huey.pending()] == [db.session.get(YoutubeDownload, did).task_id]

    first = consumers()
    with app.app_context():
        wait_for(lambda: (service.progress_of(db.session.get(YoutubeDownload, did, populate_existing=True)) or {})
                 .get("downloaded", 0) > 0, timeout=60, interval=0.05)
    assert row_of(app, did).status == "downloading" and row_of(app, did).attempts == 1
    assert leftovers(root_of(app))  # a half-written .part in the job's scratch folder

    first.send_signal(signal.SIGKILL)  # the worker dies mid-download
    first.wait(timeout=10)
    wait_for(lambda: utcnow() - row_of(app, did).updated_at > timedelta(seconds=1), timeout=30, interval=0.1)
    assert row_of(app, did).status == "downloading"  # nobody told the database
    owner = auth.login_as(user)
    stopped = owner.get(f"/youtube/{did}/status", headers=HX).data  # the heartbeat is late: no frozen bar
    assert b"Restarting: the worker stopped" in stopped and b"yt-percent" not in stopped
    cut_at = max(p.stat().st_size for p in leftovers(root_of(app)))

    with app.app_context():
        counts = service.reap(stale_after=1)
    assert counts["requeued"] == 1
    row = row_of(app, did)
    assert row.status == "queued" and row.error.startswith("Restarting: the worker stopped")
    assert b"Restarting: the worker stopped" in owner.get(f"/youtube/{did}/status", headers=HX).data
    assert leftovers(root_of(app))  # the dead job's partial file is kept for the next attempt
    with app.app_context():
        assert row.task_id in {t.id for t in huey.pending()}

    consumers()  # a new worker picks the job up again
    wait_for(lambda: row_of(app, did).status in ("completed", "failed"), timeout=60, interval=0.1)
    row = row_of(app, did)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(tmp_path.glob("consumer-*.log")))
    assert (row.status, row.attempts, row.error) == ("completed", 2, None), logs
    resumed = fake_media.seen("/slow/")[-1].headers.get("Range", "")  # the second attempt continued the file
    assert resumed.startswith("bytes=") and int(resumed[6:].split("-")[0]) >= cut_at > 0, resumed
    [path] = row.file_paths
    assert Path(path).is_file() and Path(path).stat().st_size == 1_500_000
    assert Path(path).resolve().is_relative_to((root_of(app) / str(user.id)).resolve())
    assert leftovers(root_of(app)) == []
