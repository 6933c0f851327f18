"""`benchmarks/photos.py --rotate`: every photo turned on an expanded canvas, read, and judged per angle."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

from crnn.core.geometry import corners
from crnn.reading.detection import Detection
from crnn.reading.photos import BarcodeRead
from crnn.reading.policy import ReadingPolicy

REPO = Path(__file__).resolve().parents[2]


def _benchmark():
    spec = importlib.util.spec_from_file_location("photo_benchmark", REPO / "benchmarks" / "photos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_turned_table_reads_each_photo_turned_by_each_angle(tmp_path: Path) -> None:
    """A stand-in reader that reads a photo only while its canvas keeps its size (upright or a half turn): the
    table says so per angle, and each photo keeps its label and group through the turned copies."""
    labels = {"a.png": ("4006381333931", "EAN-13"), "b.png": ("036000291452", "UPC-A")}
    for name in labels:
        Image.new("RGB", (60, 40), "white").save(tmp_path / name)
    rows = ["filename\ttext\tgroup", *(f"{n}\t{t}\t{g}" for n, (t, g) in labels.items())]
    (tmp_path / "photos.tsv").write_text("\n".join(rows) + "\n")
    seen: list[tuple[int, int]] = []

    class Stand:
        policy = ReadingPolicy(min_confidence=0.05)
        texts = iter([])

        def detections(self, image: Image.Image) -> list[tuple[int, Detection]]:
            return []

        def detect_and_decode(self, image: Image.Image) -> tuple[list, list[dict], dict]:
            return [], [], {}

        def read_barcodes(self, image: Image.Image, decodes=(), owned=None, fits=None) -> list[BarcodeRead]:
            seen.append(image.size)
            if image.size != (60, 40):
                return []
            return [BarcodeRead(Detection(corners(5, 5, 50, 30), 0.9), next(self.texts), 0.9, True)]

    reader = Stand()
    tables = {}
    for angle in (0.0, 45.0, 180.0):
        reader.texts = iter([labels["a.png"][0], labels["b.png"][0]])
        tables.update(_benchmark().rotated_table(reader, tmp_path / "photos.tsv", [angle]))
    assert tables["0.0"]["read"] == 1.0 and tables["180.0"]["read"] == 1.0
    assert tables["45.0"]["read"] == 0.0 and tables["45.0"]["n"] == 2
    assert tables["0.0"]["per_format"]["EAN-13"]["read"] == 1.0 and tables["0.0"]["per_format"]["UPC-A"]["n"] == 1
    (turned,) = {size for size in seen if size != (60, 40)}
    assert abs(turned[0] - 70.7) <= 2 and turned[0] == turned[1]  # 60x40 turned by 45: the canvas expanded
    assert np.isclose(tables["0.0"]["wrong_sure"], 0.0)


def test_closeups_frame_each_barcode_at_the_share_asked(tmp_path: Path) -> None:
    """`--closeup LO,HI`: each scene becomes a 480-px window of its aspect in which its barcode (here a black box)
    spans LO-HI of the width."""
    from PIL import ImageDraw

    (tmp_path / "images").mkdir()
    boxes = {
        "images/0.jpg": (100, 80, 180, 130),
        "images/1.jpg": (20, 20, 60, 50),
        "images/2.jpg": (250, 150, 300, 200),
    }
    rows = ["filename\tcode\tx_from\ty_from\twidth\theight\tquad"]
    for name, box in boxes.items():
        scene = Image.new("RGB", (320, 240), "white")
        ImageDraw.Draw(scene).rectangle(box, fill="black")
        scene.save(tmp_path / name, quality=95)
        rows.append(f"{name}\t0\t0\t0\t0\t0\t" + " ".join(f"{v:.1f}" for v in corners(*box).ravel()))
    (tmp_path / "annotations.tsv").write_text("\n".join(rows) + "\n")
    _benchmark().closeups(tmp_path, (0.6, 0.8), seed=1)
    for name in boxes:
        window = np.asarray(Image.open(tmp_path / name).convert("L"))
        assert window.shape[1] == 480 and abs(window.shape[0] - 360) <= 12  # 4:3 (a pixel of the window rounded)
        dark = np.flatnonzero((window < 128).any(axis=0))
        share = (dark[-1] - dark[0] + 1) / 480
        assert 0.6 - 0.02 <= share <= 0.8 + 0.02, (name, share)
