"""The shipped models read a photo at any angle (issue #33): a generated scene, upright and turned by 45, 90, 180 and
270 degrees (canvas expanded), reads its number, with the box around the barcode where it now lies."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from crnn import models
from crnn.config.synth import scene_generator
from crnn.synth.scene import _make

# A held-out scene of the detector's world, drawn upright (its quad's digits at the bottom): seed and index fixed.
SEED, INDEX = 31337, 0

pytestmark = pytest.mark.skipif(not models.DETECTOR.is_file(), reason="no bundled models in this checkout")


@pytest.fixture(scope="module")
def scene():
    upright = replace(scene_generator(), p_upright_turn=0.0, p_large_rotation=0.0, max_perspective=0.05)
    return _make(INDEX, SEED, upright)


def _turned(image: Image.Image, quad: np.ndarray, angle: float) -> tuple[Image.Image, np.ndarray]:
    """`image` turned by `angle` degrees counter-clockwise on an expanded canvas, and `quad` moved with it."""
    turned = image.rotate(angle, expand=True, fillcolor=(255, 255, 255), resample=Image.Resampling.BICUBIC)
    a = np.radians(angle)
    centre = np.array(image.size) / 2
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])  # y down: counter-clockwise on screen
    return turned, (quad - centre) @ rot.T + np.array(turned.size) / 2


@pytest.mark.parametrize("angle", [0, 45, 90, 180, 270])
def test_a_turned_photo_reads_its_number_where_it_lies(scene, angle):
    from crnn import BarcodeReader

    image, quad = _turned(scene.scene.convert("RGB"), scene.quad, angle)
    reads = BarcodeReader.pretrained(threads=2).read(image)
    sure = [b for b in reads if b.sure]
    assert scene.text in [b.text for b in sure], [(b.text, round(b.confidence, 3), b.sure) for b in reads]
    b = next(b for b in sure if b.text == scene.text)
    assert b.box is not None
    x, y, w, h = b.box
    cx, cy = quad.mean(axis=0)
    assert x <= cx <= x + w and y <= cy <= y + h  # the box is where the barcode now lies
