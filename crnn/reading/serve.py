"""`crnn serve`: the photo reader over HTTP (standard library only, onnxruntime for the models).

    POST /read     an image (the raw bytes, or a multipart form field `image`) -> the JSON of `crnn read --json`
    GET  /health   {"status": "ok", ...}
    GET  /         a page: pick or drop a photo, see the boxes and numbers drawn over it

Uploads over `max_bytes` are refused (413), what is not an image is a 400 with a message, never a traceback.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from crnn.reading.detection import load_photo
from crnn.reading.photos import PhotoReader, PhotoResult, photo_result

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024  # a phone photo is 2-8 MB


def _page() -> bytes:
    return (Path(__file__).with_name("serve.html")).read_bytes()


class ReadServer:
    """A threaded HTTP server around one `PhotoReader` (reads are serialised: onnxruntime uses the cores)."""

    def __init__(self, reader: PhotoReader, host: str = "127.0.0.1", port: int = 8000, max_bytes: int = MAX_BYTES):
        self.reader, self.max_bytes = reader, max_bytes
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def read_bytes(self, data: bytes, name: str) -> PhotoResult:
        """One uploaded photo, decoded by the same loader as files (EXIF orientation, pixel limit)."""
        suffix = Path(name).suffix if Path(name).suffix.lower() in (".jpg", ".jpeg", ".png", ".webp", ".bmp") else ""
        with tempfile.NamedTemporaryFile(suffix=suffix) as f:
            f.write(data)
            f.flush()
            try:
                image, scale = load_photo(f.name)
            except ValueError as e:
                raise ValueError(str(e).replace(f.name, name)) from e
            with self.lock:
                reads = self.reader.read_image(image)
        return photo_result(name, image, scale, reads, self.reader.policy.min_confidence)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:
                log.info("%s %s", self.address_string(), fmt % args)

            def _json(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/health":
                    self._json(200, {"status": "ok", "detectors": len(server.reader.detectors)})
                elif self.path in ("/", "/index.html"):
                    page = _page()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                else:
                    self._json(404, {"error": f"no such page: {self.path}"})

            def do_POST(self) -> None:
                if self.path != "/read":
                    self._json(404, {"error": f"no such endpoint: {self.path}"})
                    return
                try:
                    n = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    n = -1
                if n <= 0:
                    self._json(411 if n < 0 else 400, {"error": "send an image in the request body"})
                    return
                if n > server.max_bytes:
                    # Read (and drop) a body up to a few times the limit, so the client is not cut off mid-upload
                    # and sees the answer; a larger one is answered at once and the connection closed.
                    left = n if n <= 4 * server.max_bytes else 0
                    while left > 0:
                        chunk = self.rfile.read(min(left, 1 << 20))
                        if not chunk:
                            break
                        left -= len(chunk)
                    self.close_connection = True
                    self._json(413, {"error": f"upload of {n} bytes is over the limit of {server.max_bytes}"})
                    return
                data, name = self.rfile.read(n), "upload"
                kind = self.headers.get("Content-Type", "")
                if kind.startswith("multipart/form-data"):
                    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {kind}\r\n\r\n".encode() + data)
                    fields = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
                    part = fields.get("image")
                    if part is None:
                        self._json(400, {"error": "the form has no field named 'image'"})
                        return
                    payload = part.get_payload(decode=True)
                    data = payload if isinstance(payload, bytes) else b""
                    name = part.get_filename() or "upload"
                try:
                    result = server.read_bytes(data, Path(name).name)
                except ValueError as e:
                    self._json(400, {"error": f"not a readable image: {e}"})
                    return
                self._json(200, result.to_dict())

        return Handler

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def start(self) -> ReadServer:
        """Serve from a background thread (tests, notebooks); `close` stops it."""
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
