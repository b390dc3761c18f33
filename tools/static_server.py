"""Serve frontend/ for local use and tests; ``/config.js`` points the app at a TorchServe URL.

    python -m tools.static_server --port 8000 --api http://127.0.0.1:8080
"""

from __future__ import annotations

import argparse
import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"


class _Handler(SimpleHTTPRequestHandler):
    api_base = ""

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/config.js":
            body = f"window.STYLE_CONFIG = {json.dumps({'apiBase': self.api_base})};\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # edits show on reload during development
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


_Handler.extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript", ".mjs": "text/javascript"}


def make_server(port: int, api_base: str, host: str = "127.0.0.1", root: Path = FRONTEND) -> ThreadingHTTPServer:
    handler = type("FrontendHandler", (_Handler,), {"api_base": api_base.rstrip("/")})
    return ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(root)))


def serve_in_thread(port: int, api_base: str) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = make_server(port, api_base)
    thread = threading.Thread(target=server.serve_forever, name="frontend", daemon=True)
    thread.start()
    return server, thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.static_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api", default="http://127.0.0.1:8080", help="TorchServe inference URL the app calls")
    args = parser.parse_args(argv)
    server = make_server(args.port, args.api, args.host)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
