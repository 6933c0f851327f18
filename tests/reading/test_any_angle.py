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


@pytest.mark.parametrize(("angle", "scale"), [(30, 1.0), (135, 1.0), (300, 3.0)])
def test_the_closer_look_finds_the_barcode_where_it_lies(scene, angle, scale):
    """`Detector.look_closer` sees a window around a detection, turned upright and scaled, and gives its finds back in
    the photo's pixels: on the barcode, its digits' side as in the photo. At 3x the photo is reduced first."""
    from crnn.core.geometry import direction
    from crnn.reading.detection import Detector

    image, quad = _turned(scene.scene.convert("RGB"), scene.quad, angle)
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
        quad = quad * scale
    det = Detector(models.DETECTOR, threads=2)
    (first,) = det.detect(image)
    closer = det.look_closer(image, first.quad)
    assert closer, "the closer look lost the barcode"
    best = max(closer, key=lambda d: d.score)
    side = float(np.linalg.norm(quad[1] - quad[0]))
    assert np.abs(best.quad - quad).max() < 0.2 * side, (best.quad.round(), quad.round())  # the same four corners
    assert float(np.dot(direction(best.quad), direction(quad))) > np.cos(np.radians(10))  # digits on the same side


def test_the_bars_are_decoded_upright_in_a_window_of_their_own():
    """zxing-cpp scans rows and columns: turned 30 degrees, a scene's barcode does not decode in the photo. In a
    window of its own turned upright (`zxing_upright`) it does, at every scale, with its quad back on the barcode
    where it lies in the photo. (The module's scene is cut by the label's edge: no decoder reads its bars.)"""
    from crnn.reading.bars import same_number, zxing_decode, zxing_upright

    upright = replace(scene_generator(), p_upright_turn=0.0, p_large_rotation=0.0, max_perspective=0.05)
    scene = _make(0, 31348, upright)  # a UPC-E: zxing-cpp 3 reports the EAN-13 it expands to
    assert [same_number(z["text"], scene.text) for z in zxing_decode(scene.scene)] == [True]  # upright, they decode
    image, quad = _turned(scene.scene.convert("RGB"), scene.quad, 30)
    assert not zxing_decode(image)
    (z,) = zxing_upright(image.convert("L"), quad)
    assert same_number(z["text"], scene.text) and z["window"]
    side = float(np.linalg.norm(quad[1] - quad[0]))
    assert np.linalg.norm(np.mean(z["quad"], axis=0) - quad.mean(axis=0)) < 0.25 * side  # on the barcode

    # The photo reader does so for each barcode it found that the photo's decodes miss (here a detection on the
    # barcode; how often the bundled detector's axis is close enough is the photo benchmark's to say).
    from crnn.reading.detection import Detection
    from crnn.reading.photos import PhotoReader

    reader = PhotoReader(models.DETECTOR, models.RECOGNISER, threads=2)
    decodes = reader.bar_decodes(image, [(0, Detection(quad, 0.9))])
    assert [(same_number(z["text"], scene.text), z.get("window")) for z in decodes] == [(True, True)]


def test_bars_a_loose_box_does_not_decode_are_decoded_on_their_fitted_quad():
    """A detection drawn loose around a barcode turned 45 degrees (a third larger than the symbol, as the detector's
    boxes stray onto the print around it): zxing-cpp decodes nothing in the upright window around the box, and the
    photo reader's bar decodes find the number in a window around the bars as fitted (`fit_to_bars`)."""
    from crnn.reading.bars import same_number, zxing_decode, zxing_upright
    from crnn.reading.detection import Detection
    from crnn.reading.photos import PhotoReader

    scene = _make(230, 7100000, scene_generator())  # a tuning scene of the detector's world: a UPC-E
    image, quad = _turned(scene.scene.convert("RGB"), scene.quad, 45)
    loose = (quad - quad.mean(axis=0)) * 1.3 + quad.mean(axis=0)
    assert not zxing_decode(image)
    assert not zxing_upright(image.convert("L"), loose)
    reader = PhotoReader(models.DETECTOR, models.RECOGNISER, threads=2)
    decodes = reader.bar_decodes(image, [(0, Detection(loose, 0.9))])
    assert [(same_number(z["text"], scene.text), z.get("window")) for z in decodes] == [(True, True)]


def test_a_bar_decode_of_a_part_of_the_symbol_is_dropped():
    """zxing-cpp finds a UPC-E on a slanted line through the bars of a turned EAN-13 (a tuning scene): half as long as
    the bars fitted around the barcode, it is of a part of the symbol (`spans_its_bars`), and the photo reader's bar
    decodes keep only the EAN-13's."""
    from crnn.reading.bars import printed_form, same_number, zxing_decode
    from crnn.reading.detection import Detection
    from crnn.reading.photos import PhotoReader

    scene = _make(146, 7100000, scene_generator())  # an EAN-13 turned about 70 degrees
    image = scene.scene.convert("RGB")
    found = [printed_form(z["text"], z["format"]) for z in zxing_decode(image)]
    assert len(found) == 2 and any(len(t) == 8 and not same_number(t, scene.text) for t in found), found
    reader = PhotoReader(models.DETECTOR, models.RECOGNISER, threads=2)
    decodes = reader.bar_decodes(image, [(0, Detection(scene.quad, 0.9))])
    assert [same_number(z["text"], scene.text) for z in decodes] == [True]


def test_detections_and_decodes_made_side_by_side_are_those_made_one_after_the_other():
    """`PhotoReader.detect_and_decode` runs the closer looks beside the bar decoder's windows: the same detections,
    in the same order, the same decodes and bars fitted as `detections` then `bar_decodes` (a scene whose bars
    decode, turned 45 degrees: in a window of their own, and fitted)."""
    from crnn.reading.photos import PhotoReader

    scene = _make(5, SEED, replace(scene_generator(), p_upright_turn=0.0, p_large_rotation=0.0, max_perspective=0.05))
    image, _ = _turned(scene.scene.convert("RGB"), scene.quad, 45)
    reader = PhotoReader(models.DETECTOR, models.RECOGNISER, threads=2)
    owned, fits = reader.detections(image), {}
    decodes = reader.bar_decodes(image, owned, fits)
    together, decoded, fitted = reader.detect_and_decode(image)
    assert len(owned) > len(reader.photo_detections(image))  # closer looks were made
    assert [(k, d.quad.tolist(), d.score) for k, d in together] == [(k, d.quad.tolist(), d.score) for k, d in owned]
    assert decoded == decodes and decodes[0]["window"]
    assert fitted.keys() == fits.keys() and fits
