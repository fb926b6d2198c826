"""A WSGI app served on 127.0.0.1 on a free port, in a thread, with fault controls.

Subclasses implement `handle(request) -> Response` (werkzeug objects). Every request is
recorded in `self.requests`. Faults: `slow(seconds)`, `hang()`, `fail(status)`, `go_down()`
(connection refused on the same port) and `come_back()`.
"""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Recorded:
    method: str
    path: str
    args: dict
    headers: dict
    body: bytes
    at: float = field(default_factory=time.time)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeServer:
    name = "fake"

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.requests: list[Recorded] = []
        self._server = None
        self._thread = None
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.reset_faults()

    # -- lifecycle ---------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self._server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name=f"{self.name}-fake")
        self._thread.start()
        return self

    def stop(self):
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def go_down(self):
        """Stop listening: clients get 'connection refused'."""
        self.stop()

    def come_back(self):
        self.reset_faults()
        if self._server is None:
            self.start()

    # -- faults ------------------------------------------------------------
    def reset_faults(self):
        self.delay = 0.0
        self.fail_status = None
        self._release.set()
        self._release = threading.Event()
        self._hanging = False

    def slow(self, seconds: float):
        self.delay = seconds

    def hang(self):
        self._hanging = True

    def fail(self, status: int = 500):
        self.fail_status = status

    def reset(self):
        """Back to a healthy server with no recorded requests (fixtures call this between tests)."""
        self.come_back()
        with self._lock:
            self.requests.clear()
        self.reset_state()

    def reset_state(self):
        """Subclasses clear their data here."""

    def seen(self, path_prefix: str = "") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # -- WSGI --------------------------------------------------------------
    def _wsgi(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        if not request.path.startswith("/__control"):
            with self._lock:
                self.requests.append(
                    Recorded(request.method, request.path, request.args.to_dict(), dict(request.headers), body)
                )
        if not request.path.startswith("/__control"):
            if self._hanging:
                self._release.wait(60)
            if self.delay:
                time.sleep(self.delay)
            if self.fail_status:
                return Response("fake failure", status=self.fail_status)(environ, start_response)
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:  # pragma: no cover - subclasses override
        return Response("not found", status=404)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
