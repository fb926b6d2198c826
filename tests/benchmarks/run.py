"""`make bench`: MediaNest as users run it, measured against a bare Flask endpoint in the same run.

Starts PostgreSQL-backed gunicorn exactly as the Procfile's web line (2 workers x 4 threads, `gunicorn app:app`)
with the Huey worker beside it, on a database and Redis db of its own (MEDIANEST_BENCH_DATABASE_URL, default
`medianest_bench` on 127.0.0.1, rebuilt every run; MEDIANEST_BENCH_REDIS_URL, default db 15, flushed), with
the fake Plex, Overseerr, Uptime Kuma and plex.tv serving the worker's health checks, and a bare Flask app under
the same gunicorn settings. Then:

1. the four HTMX polls and four full pages, signed in (a session cookie from the sign-in form), each in
   alternating wrk rounds (bare, page, bare, page…; -c16): ratio of requests/s to bare (median, min–max, n),
   p99 latency, CPU ms per request of the gunicorn workers (from /proc), and each web worker's peak RSS.
   Polls whose answer carries an ETag are measured again as a browser polls: with If-None-Match.
2. the scale run (tests/benchmarks/scale.py): page latencies at 2,000 rows and at 200,000 requests and
   1,000,000 metric rows, as ratios.

`python -m tests.benchmarks.run --quick` is a shorter smoke run (3 rounds of 1 s, a tenth of the rows);
`--no-load` / `--no-scale` skip a part; `python -m tests.benchmarks.run youtube` runs the yt-dlp comparison.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROUNDS, SECONDS = 5, 3
QUICK_ROUNDS, QUICK_SECONDS = 3, 1
HX = {"HX-Request": "true"}


def _targets(app_url: str, ids: dict, user: str, admin: str):
    from tests.benchmarks.load import Target

    def as_user(cookie, extra=None):
        return {"Cookie": cookie, **(extra or {})}

    polls = [
        Target("poll: status panel (GET / fragment)", f"{app_url}/", as_user(user, HX)),
        Target("poll: bell", f"{app_url}/notifications/bell", as_user(user, HX)),
        Target("poll: download row", f"{app_url}/youtube/{ids['download']}/status", as_user(user, HX)),
        Target("poll: request row", f"{app_url}/requests/{ids['request']}/row", as_user(user, HX)),
    ]
    pages = [
        Target("page: dashboard", f"{app_url}/", as_user(user)),
        Target("page: My requests", f"{app_url}/requests/", as_user(user)),
        Target("page: admin requests", f"{app_url}/admin/requests", as_user(admin)),
        Target("page: admin users", f"{app_url}/admin/users", as_user(admin)),
    ]
    return polls, pages


def _with_etags(polls):
    """The same polls as a browser repeats them: If-None-Match with the last answer's ETag, when there is one."""
    import requests

    from tests.benchmarks.load import Target

    found = []
    for poll in polls:
        resp = requests.get(poll.url, headers=poll.headers, timeout=10, allow_redirects=False)
        if resp.status_code != 200:
            raise SystemExit(f"{poll.label}: {poll.url} answered {resp.status_code}")
        etag = resp.headers.get("ETag")
        if etag:
            found.append(Target(f"{poll.label}, If-None-Match", poll.url, dict(poll.headers), etag=etag))
        else:
            print(f"  ({poll.label}: no ETag in the answer, so no conditional run)", flush=True)
    return found


def load(stack, wrk_path: str, ids: dict, app_url: str, app_pid: int, bare_url: str, bare_pid: int, quick: bool):
    from tests.benchmarks.load import alternate, peak_rss_mb, summary

    rounds, seconds = (QUICK_ROUNDS, QUICK_SECONDS) if quick else (ROUNDS, SECONDS)
    user = stack.sign_in(app_url, "alice@bench.example")
    admin = stack.sign_in(app_url, "admin@bench.example")
    polls, pages = _targets(app_url, ids, user, admin)
    print(f"== load: wrk -c16, {rounds} alternating rounds of {seconds} s per target "
          "(ratio = requests/s / bare Flask's)", flush=True)
    targets = polls + _with_etags(polls) + pages
    for target in targets:
        alternate(wrk_path, target, bare_url + "/", bare_pid, app_pid, rounds=rounds, seconds=seconds)
        print(summary(target), flush=True)
    peaks = ", ".join(f"{mb:.0f} MB" for mb in peak_rss_mb(app_pid))
    bare_peaks = ", ".join(f"{mb:.0f} MB" for mb in peak_rss_mb(bare_pid))
    print(f"  peak RSS per web worker (VmHWM): {peaks}   (bare Flask workers: {bare_peaks})", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("what", nargs="?", choices=["all", "youtube"], default="all")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 1 s, a tenth of the scale rows")
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--no-scale", action="store_true")
    args = parser.parse_args(argv)
    if args.what == "youtube":
        return _youtube()

    import redis

    from tests.benchmarks import scale
    from tests.benchmarks.stack import DEFAULT_DATABASE, DEFAULT_REDIS, Stack, require_wrk

    wrk_path = require_wrk()
    started = time.monotonic()
    stack = Stack(os.environ.get("MEDIANEST_BENCH_DATABASE_URL") or DEFAULT_DATABASE,
                  os.environ.get("MEDIANEST_BENCH_REDIS_URL") or DEFAULT_REDIS)
    try:
        redis.Redis.from_url(stack.redis_url).flushdb()
        stack.start_fakes()
        ids = stack.migrate_and_seed()
        stack.start_worker()
        app_url, app = stack.start_web()
        bare_url, bare = stack.start_web("tests.benchmarks.bare_app:app", "bare.log")
        print(f"== stack: gunicorn app:app {' '.join(stack_args())} on PostgreSQL + Redis, worker running",
              flush=True)
        if not args.no_load:
            load(stack, wrk_path, ids, app_url, app.pid, bare_url, bare.pid, args.quick)
        if not args.no_scale:
            print("== scale: the same pages at 2,000 rows and at scale (latency ratio; target <= 1.5x)", flush=True)
            scale.run(stack, app_url, quick=args.quick)
    except BaseException:
        print(stack.log_tail("web.log"), file=sys.stderr)
        raise
    finally:
        stack.close()
    print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    return 0


def stack_args() -> list[str]:
    from tests.benchmarks.stack import GUNICORN

    return GUNICORN


def _youtube() -> int:
    """The yt-dlp comparison (tests/benchmarks/bench_youtube.py), in process."""
    import tempfile

    os.environ.setdefault("MEDIANEST_INSTANCE_DIR", tempfile.mkdtemp(prefix="medianest-bench-"))
    os.environ["MEDIANEST_SKIP_DOTENV"] = "1"
    os.environ.setdefault("MEDIANEST_ENV", "testing")
    from tests.benchmarks import bench_youtube

    def report(metric, value, unit="", note=""):
        print(f"  {metric:<48} {value:>12.3f} {unit:<8} {note}", flush=True)

    bench_youtube.run(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
