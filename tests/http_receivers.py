"""Real HTTP servers on loopback for the HTTP delivery tests: each path is a behaviour
(fail N times, rate-limit, hang, 404, redirect loop, endless body, check a signature,
take a while), and every request is recorded with the moment it arrived."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIGNING_SECRET = "s3cret"


@dataclass
class Seen:
    """One request the receiver got."""

    path: str
    method: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


class Receiver(ThreadingHTTPServer):
    """Records requests; `failures_left` counts down the /flaky path's 503s."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Behaviours)
        self.seen: list[Seen] = []
        self.failures_left = 2
        self.stopping = threading.Event()
        # /slow: the requests being answered now, the most there ever were, and each one's
        # (arrival, departure) on the monotonic clock.
        self.in_flight = 0
        self.most_in_flight = 0
        self.slow_spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    @property
    def base(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def requests_to(self, path: str) -> list[Seen]:
        """The requests that came to path."""
        return [s for s in self.seen if s.path == path]


class _Behaviours(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet test output

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.seen.append(Seen(self.path, self.command, dict(self.headers.items()), body))
        match self.path:
            case "/ok":
                self._answer(200, b'{"accepted": true}', {"content-type": "application/json"})
            case "/flaky":
                if self.server.failures_left > 0:
                    self.server.failures_left -= 1
                    self._answer(503, b"busy")
                else:
                    self._answer(200, b"done")
            case "/rate-limited":
                first = len(self.server.requests_to("/rate-limited")) == 1
                self._answer(429, b"slow down", {"retry-after": "1"}) if first else self._answer(200, b"ok")
            case "/hang":
                self.server.stopping.wait(10)
            case "/loop":
                self._answer(302, b"", {"location": "/loop"})
            case "/endless":
                self._endless()
            case "/slow":
                self._slow()
            case "/signed":
                self._answer(200 if _signed_correctly(self.headers.get("jobsvc-signature", ""), body) else 401, b"")
            case _:
                self._answer(404, b"no such thing")

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _slow(self) -> None:
        arrived = time.monotonic()
        with self.server._lock:
            self.server.in_flight += 1
            self.server.most_in_flight = max(self.server.most_in_flight, self.server.in_flight)
        self.server.stopping.wait(0.3)
        with self.server._lock:
            self.server.in_flight -= 1
            self.server.slow_spans.append((arrived, time.monotonic()))
        self._answer(200, b"slowly")

    def _endless(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.end_headers()
        chunk = b"x" * 16384
        try:
            while not self.server.stopping.is_set():
                self.wfile.write(chunk)
        except OSError:
            pass  # the client stopped reading and closed: what it should do
        self.close_connection = True


def _signed_correctly(header: str, body: bytes) -> bool:
    """The receiver's check, written from the README's description, not the sender's code."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts or abs(time.time() - int(parts["t"])) > 300:
        return False
    expected = hmac.new(SIGNING_SECRET.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A Receiver serving in a thread until the block ends."""
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
