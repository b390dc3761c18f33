"""A tiny stand-in for TorchServe's inference API, for tests of what sits in front of it or calls it
(the nginx front, the Python client) without a model: it records every request, answers GETs with
the request line it saw, and streams NDJSON snapshots for POSTs until the client goes away."""

from __future__ import annotations

import base64
import io
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 80, 40)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


SNAPSHOT = {"event": "snapshot", "iteration": 1, "iterations": 1000, "stage": 1, "stages": 1, "size": [4, 3],
            "losses": {"total": 1.0}, "elapsed_s": 0.1, "weights": "random-init", "image": _png()}


class FakeUpstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[str] = []  # request lines as received
        self.bodies: list[bytes] = []  # request bodies as received (b"" for GET)
        self.headers_seen: list[dict[str, str]] = []
        self.stream_started = threading.Event()
        self.stream_closed = threading.Event()  # the client closed a stream mid-job
        self.closed_at: float | None = None
        # Events a POST answers with, then the stream ends; None: snapshots until the client leaves.
        self.script: list[dict] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeUpstream

    def _record(self, body: bytes = b"") -> None:
        self.server.requests.append(self.requestline)
        self.server.bodies.append(body)
        self.server.headers_seen.append({k.lower(): v for k, v in self.headers.items()})

    def do_GET(self) -> None:
        self._record()
        body = (self.requestline + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("ts_stream_next", "false")  # what TorchServe's continuous batching adds
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._record(body)
        question = {b"response=capabilities": b'{"service": "style_transfer"}',  # the front's /capabilities
                    b"response=plan": b'{"event": "plan", "stages": []}'}  # the front's /plan (its own rate limit)
        answer = next((a for q, a in question.items() if body == q or body.startswith(q + b"&")), None)
        if answer is not None:  # answered at once, like the handler answers these questions
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("ts_stream_next", "true")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.server.stream_started.set()
        if self.server.script is not None:
            for event in self.server.script:
                line = (json.dumps(event) + "\n").encode()
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        for i in range(1, 600):  # about two minutes at most, far longer than any test waits
            line = (json.dumps({**SNAPSHOT, "iteration": i}) + "\n").encode()
            try:
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            except OSError:
                break
            if self._client_gone(timeout=0.2):
                break
        self.server.closed_at = time.monotonic()
        self.server.stream_closed.set()
        self.close_connection = True

    def _client_gone(self, timeout: float) -> bool:
        """EOF on the socket: the client closed its end (it sends nothing else while streaming)."""
        readable, _, _ = select.select([self.connection], [], [], timeout)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def fake_upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream()
    thread = threading.Thread(target=server.serve_forever, name="fake-upstream", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
