"""The page of `crnn serve` in headless Chromium (Debian's, installed by scripts/install.sh): a photo is picked,
sent, and its readings are drawn over it and listed."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from crnn.reading.photos import BarcodeRead, PhotoReader
from crnn.reading.serve import ReadServer

CHROMIUM = "/usr/bin/chromium"


class StandInReader(PhotoReader):
    """The served reader with a known answer (the page is under test, not the models)."""

    def __init__(self, inner: PhotoReader) -> None:
        self.__dict__.update(inner.__dict__)

    def read_image(self, image):  # type: ignore[no-untyped-def]
        import numpy as np

        from crnn.core.geometry import box_quad
        from crnn.reading.detection import Detection

        w, h = image.size
        quad = box_quad((w * 0.2, h * 0.3, w * 0.6, h * 0.3)).astype(np.float32)
        return [BarcodeRead(Detection(quad, 0.9), "5901234123457", 0.97, True)]


def test_the_page_draws_what_was_read(onnx_model: Path, detector_onnx: Path, synth_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), "scripts/install.sh installs Debian's chromium"
    reader = StandInReader(PhotoReader(detector_onnx, onnx_model, threads=1))
    server = ReadServer(reader, port=0).start()
    photo = sorted((synth_dir / "images").glob("*"))[0]
    flags = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
            browser = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=flags)
            page = browser.new_page()
            page.goto(server.url + "/")
            page.set_input_files("#file", str(photo))
            page.wait_for_function("document.body.dataset.read !== undefined", timeout=60_000)
            assert json.loads(page.evaluate("document.body.dataset.read")) == ["5901234123457"]
            assert page.inner_text("#results tbody").split()[:2] == ["5901234123457", "yes"]
            # The box is drawn: green pixels on the canvas where the quad's edge runs.
            green = page.evaluate(
                """() => { const c = document.getElementById('canvas'), g = c.getContext('2d');
                           const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
                           for (let i = 0; i < d.length; i += 4) if (d[i+1] > 150 && d[i] < 60 && d[i+2] < 60) n++;
                           return n; }"""
            )
            assert green > 50
            browser.close()
    finally:
        server.close()
