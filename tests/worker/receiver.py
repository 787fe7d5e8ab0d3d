"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1, in a thread.

It answers each POST with the next scripted status (then 200) and keeps what it was sent.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WAIT_S = 20.0


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def wait_for(self, count: int) -> list[Received]:
        """The deliveries so far, once at least ``count`` have arrived (fails after
        :data:`WAIT_S`: a guard against a hang, not a speed requirement)."""
        async with asyncio.timeout(WAIT_S):
            while True:
                with self.lock:
                    if len(self.received) >= count:
                        return list(self.received)
                await asyncio.sleep(0.02)


@contextmanager
def receiving(
    statuses: list[int] | None = None,
    hold_first: threading.Event | None = None,
    hold_all: threading.Event | None = None,
) -> Iterator[Receiver]:
    """A receiver answering ``statuses`` in turn; with ``hold_first`` it keeps the first
    request waiting (up to :data:`WAIT_S`) until that event is set, with ``hold_all`` every
    request."""
    receiver = Receiver(url="", statuses=list(statuses or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with receiver.lock:
                receiver.received.append(Received(dict(self.headers.items()), body))
                first = len(receiver.received) == 1
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            if first and hold_first is not None:
                hold_first.wait(WAIT_S)
            if hold_all is not None:
                hold_all.wait(WAIT_S)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/orders"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
