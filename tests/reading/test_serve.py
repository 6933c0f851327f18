"""`crnn serve` over real HTTP on loopback: the same JSON as `crnn read --json`, clear errors, upload limits."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from crnn.reading.photos import PhotoReader
from crnn.reading.serve import ReadServer


@pytest.fixture
def server(onnx_model: Path, detector_onnx: Path):
    s = ReadServer(PhotoReader(detector_onnx, onnx_model, threads=1), port=0, max_bytes=2_000_000).start()
    yield s
    s.close()


def _call(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_read_returns_what_crnn_read_prints(server: ReadServer, synth_dir: Path) -> None:
    photo = sorted((synth_dir / "images").glob("*"))[0]
    status, body = _call(server.url + "/read", photo.read_bytes(), {"Content-Type": "image/jpeg"})
    assert status == 200
    expected = server.reader.read_file(photo).to_dict()
    got = json.loads(body)
    assert {k: v for k, v in got.items() if k != "file"} == {k: v for k, v in expected.items() if k != "file"}

    boundary = "xXx"
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{photo.name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, body = _call(server.url + "/read", form, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200 and json.loads(body)["file"] == photo.name
    assert json.loads(body)["barcodes"] == expected["barcodes"]


def test_health_page_and_errors(server: ReadServer) -> None:
    status, body = _call(server.url + "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, body = _call(server.url + "/")
    assert status == 200 and b"Drop a photo" in body
    status, body = _call(server.url + "/read", b"this is not an image", {"Content-Type": "image/png"})
    assert status == 400 and "not a readable image" in json.loads(body)["error"]
    status, body = _call(server.url + "/read", b"x" * 2_000_001, {"Content-Type": "image/png"})
    assert status == 413 and "over the limit" in json.loads(body)["error"]
    status, _ = _call(server.url + "/nope")
    assert status == 404
