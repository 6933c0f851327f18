"""Photo reading: detector maps to boxes, photo loading, zooms, symbol hypotheses and their fusion, photo figures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crnn.config.reading import DetectorPostConfig
from crnn.core.geometry import box_quad
from crnn.reading.detection import STRIDE, Detection, Detector, boxes_from_maps, load_photo
from crnn.reading.photos import PhotoReader, photo_result
from crnn.reading.policy import ReadingPolicy
from tests.helpers import StandDetector


def _rotated_quad(cx: float, cy: float, w: float, h: float, deg: float) -> np.ndarray:
    a = math.radians(deg)
    d, n = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
    return np.array([c + u * d + v * n for c in [np.array([cx, cy])] for u, v in
                     ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))])  # fmt: skip


def test_empty_maps_give_no_barcode() -> None:
    maps = np.zeros((3, 80, 80), dtype=np.float32)
    maps[0, 10, 10] = 0.9  # a speck below min_area
    assert boxes_from_maps(maps, DetectorPostConfig()) == []


def test_load_photo_bounds_size_and_reports_bad_files(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    Image.new("RGB", (5000, 3000), "grey").save(big, quality=50)
    im, scale = load_photo(big, max_side=1000)
    assert max(im.size) <= 1000 and scale == pytest.approx(im.width / 5000)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot read image"):
        load_photo(tmp_path / "bad.jpg")


def test_a_phone_photo_is_decoded_at_a_reduced_size_directly(tmp_path: Path) -> None:
    """A 12-megapixel JPEG (4032 px) is decoded at half its size by the JPEG decoder itself (no resize after it);
    one just over the limit is decoded whole and scaled to it; the scale maps back to the file's pixels."""
    from crnn.core.images import _draft_size

    assert _draft_size((4032, 3024), 2048) == (2016, 1512)
    assert _draft_size((2100, 1400), 2048) == (2100, 1400)
    assert _draft_size((16000, 9000), 2048) == (2000, 1125)
    phone = tmp_path / "phone.jpg"
    Image.new("RGB", (3024, 4032), "grey").save(phone, quality=50)
    im, scale = load_photo(phone)
    assert im.size == (1512, 2016) and scale == 0.5
    wide = tmp_path / "wide.jpg"
    Image.new("RGB", (2100, 1400), "grey").save(wide, quality=50)
    im, scale = load_photo(wide)
    assert im.size == (2048, 1365) and scale == pytest.approx(2048 / 2100)


def test_detection_box_and_angle() -> None:
    d = Detection(_rotated_quad(100, 100, 80, 40, 90), 0.9)
    assert d.angle == pytest.approx(90, abs=1e-6)
    x, y, w, h = d.box
    assert (w, h) == (40, 80) or abs(w - 40) <= 1 and abs(h - 80) <= 1


def test_same_number_treats_a_upca_or_upce_and_its_ean13_as_one() -> None:
    from crnn.reading.bars import same_number

    assert same_number("036000291452", "0036000291452") and same_number("0036000291452", "036000291452")
    assert same_number("96385074", "96385074")
    assert not same_number("036000291452", "1036000291452") and not same_number("9780201752847", "780201752847")
    # zxing-cpp 3 reports a UPC-E as the EAN-13 of its UPC-A (the real photo upce-3_03 decodes so).
    assert same_number("04965802", "0049000006582") and same_number("0049000006582", "04965802")
    assert same_number("04965802", "049000006582")
    assert not same_number("04965802", "0049000006583") and not same_number("96385074", "0096385074000")


def test_zoomed_out_detection_maps_back_to_the_photo() -> None:
    """The detector may look at a photo shrunk on a wider canvas; its boxes still land on the photo's pixels."""
    from crnn.reading.detection import detector_input

    image = Image.new("L", (200, 100), 230)
    image.paste(20, (60, 30, 140, 70))  # the "barcode"
    det = Detector.__new__(Detector)
    det.size, det.mean, det.std, det.stride = 128, 0.5, 0.5, STRIDE
    det.post = DetectorPostConfig(min_area=1, min_score=0.5)

    def maps(im: Image.Image) -> tuple[np.ndarray, float, float]:  # dark pixels are barcode, digits below
        arr, sx, sy = detector_input(im, det.size, det.mean, det.std)
        cells = arr[0].reshape(det.size // STRIDE, STRIDE, det.size // STRIDE, STRIDE).mean(axis=(1, 3))
        prob = (cells < -0.5).astype(np.float32)
        return np.stack([prob, np.ones_like(prob), np.zeros_like(prob)]), sx, sy

    det.maps = maps  # type: ignore[method-assign]  # a stand-in network
    for zoom in (1.0, 0.5):
        (d,) = det.detect(image.convert("RGB"), zoom)
        tol = 2 * STRIDE * 200 / det.size / zoom  # a map cell, in photo pixels, either side
        assert np.allclose(d.box, (60, 30, 80, 40), atol=tol), (zoom, d.box)
    with pytest.raises(ValueError, match="zoom"):
        det.detect(image, 1.5)


def test_detections_of_one_barcode_at_several_zooms_give_one_read() -> None:
    from crnn.core.codec import Codec, Decoded
    from crnn.core.geometry import corners
    from tests.helpers import frames_for

    a1 = Detection(corners(40, 20, 120, 60), 0.9)  # zoom 1: the barcode, cut a little short
    a2 = Detection(corners(36, 18, 126, 62), 0.8)  # zoom 0.6: the same barcode, whole
    b = Detection(corners(150, 70, 190, 90), 0.7)  # another barcode

    class Stand(StandDetector):
        def detect(self, image: Image.Image, zoom: float = 1.0) -> list[Detection]:
            return [a1, b] if zoom == 1.0 else [a2]

        codec, ean13_lead0_prior, erasure_prior, erasable = Codec(), 1.0, 0.0, ()

        def decode_images(self, crops: list[Image.Image]) -> tuple[np.ndarray, list[Decoded]]:
            # only the whole first barcode reads
            logp = np.stack([frames_for("036000291452" if c.width > 85 else "0360") for c in crops])
            return logp, [self.codec.decode_greedy(lp) for lp in logp]

        def decode_members(self, crops: list[Image.Image]) -> list[tuple[np.ndarray, list[Decoded]]]:
            return [self.decode_images(crops)]

    reader = PhotoReader.__new__(PhotoReader)
    reader.detectors, reader.reader = [Stand()], Stand()  # type: ignore[list-item,assignment]
    reader.policy = ReadingPolicy(views=(), variants=1)
    image = Image.new("RGB", (200, 100), "white")
    reader.policy = reader.policy.updated({"zooms": (1.0,)})
    assert [id(r.detection) for r in reader.read_barcodes(image)] == [id(a1), id(b)]
    reader.policy = reader.policy.updated({"zooms": (1.0, 0.6)})
    reads = reader.read_barcodes(image)
    # One read per barcode: the one that passed the check digit.
    assert [id(r.detection) for r in reads] == [id(a2), id(b)]
    assert reads[0].text == "036000291452" and reads[0].checksum_ok
    # Under the confidence floor a read is set apart as unsure, not dropped.
    reader.cross_check = reader.fuse = False
    reader.policy = reader.policy.updated({"min_confidence": 0.6})
    result = photo_result("p.png", image, 0.5, reader.read_image(image), reader.policy.min_confidence)
    assert [b.text for b in result.barcodes] == ["036000291452"]
    assert [b.text for b in result.uncertain] == ["0360"] and result.uncertain[0].detection.box == (300, 140, 80, 40)
    assert [b["text"] for b in result.to_dict()["uncertain"]] == ["0360"] and result.size == (400, 200)

    class Second(StandDetector):  # another detector: finds only the whole first barcode, at zoom 1
        def detect(self, image: Image.Image, zoom: float = 1.0) -> list[Detection]:
            return [a2] if zoom == 1.0 else []

    reader.policy = reader.policy.updated({"zooms": (1.0,)})
    reader.detectors = [Stand(), Second()]  # type: ignore[list-item]
    reads = reader.read_barcodes(image)  # the second detector's box reads; still one read per barcode
    assert [id(r.detection) for r in reads] == [id(a2), id(b)] and reads[0].checksum_ok
    with pytest.raises(ValueError, match="at least one detector"):
        PhotoReader([], "rec.onnx")
    with pytest.raises(ValueError, match="zooms"):
        PhotoReader("det.onnx", "rec.onnx", {"zooms": (1.0, 2.0)})


def test_symbol_variants_and_their_bounds() -> None:
    """Each detection is read as detected, with its bottom edge lower and moved down 0.3, 0.4, 0.5 and 0.6 of its
    height, for digits far under tall bars; the reader takes 1 to 6 of them and refuses other counts up front."""
    import pytest

    from crnn.config.reading import DEFAULT_VARIANTS
    from crnn.config.steps import PhotoEvaluateConfig
    from crnn.core.geometry import SYMBOL_VARIANTS, sub_quad
    from crnn.reading.photos import PhotoReader

    quad = np.array([[10.0, 20.0], [110.0, 20.0], [110.0, 60.0], [10.0, 60.0]])  # 100 x 40, upright
    ys = [sub_quad(quad, f)[:, 1] for f in SYMBOL_VARIANTS]
    assert np.allclose(ys[0], [20, 20, 60, 60])
    assert np.allclose(ys[1], [20, 20, 63.2, 63.2])  # the bottom 8% lower
    assert np.allclose(ys[2], [32, 32, 72, 72])  # the whole box 0.3 of its height lower
    assert np.allclose(ys[3], [36, 36, 76, 76])  # 0.4
    assert np.allclose(ys[4], [40, 40, 80, 80])  # 0.5
    assert np.allclose(ys[5], [44, 44, 84, 84])  # and 0.6
    assert all(np.allclose(sub_quad(quad, f)[:, 0], quad[:, 0]) for f in SYMBOL_VARIANTS)
    assert DEFAULT_VARIANTS == PhotoEvaluateConfig().variants == len(SYMBOL_VARIANTS) == 6
    for bad in (0, len(SYMBOL_VARIANTS) + 1):
        with pytest.raises(ValueError, match="variants must be 1..6"):
            PhotoReader("missing-detector.onnx", "missing-model.onnx", {"variants": bad})


def test_fallback_variants_are_read_only_for_unsure_barcodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the first two hypotheses, a detection is read again only when its barcode's read is unsure: a sure
    read is never outvoted by a far-fetched crop, and an unsure one gets the lowered box (digits far under bars)."""
    from crnn.core.codec import Codec, Decoded
    from crnn.core.geometry import corners
    from crnn.reading import photos as photo
    from crnn.reading.detection import Detection
    from crnn.reading.photos import PhotoReader
    from tests.helpers import frames_for

    a = Detection(corners(40, 20, 120, 60), 0.9)  # its digits lie below the box: only the third hypothesis reads
    b = Detection(corners(150, 70, 190, 90), 0.8)  # reads surely as detected
    # A stand-in straightening: the crop's width is the hypothesis' bottom edge (a: 60, 63.2, 72, 76, 80, 84; b: 90,
    # 91.6, 96, 98, 100, 102).
    monkeypatch.setattr(photo, "straighten", lambda image, quad: Image.new("L", (round(quad[2, 1]), 10)))
    seen: list[int] = []

    class Stand(StandDetector):
        codec, ean13_lead0_prior, erasure_prior, erasable = Codec(), 1.0, 0.0, ()

        def detect(self, image: Image.Image, zoom: float = 1.0) -> list[Detection]:
            return [a, b]

        def decode_members(self, crops: list[Image.Image]) -> list[tuple[np.ndarray, list[Decoded]]]:
            seen.extend(c.width for c in crops)
            texts = {72: "036000291452", 90: "96385074", 92: "96385074", 96: "11111111"}
            logp = np.stack([frames_for(texts.get(c.width, "0360")) for c in crops])
            return [(logp, [self.codec.decode_greedy(lp) for lp in logp])]

    reader = PhotoReader.__new__(PhotoReader)
    reader.detectors, reader.reader = [Stand()], Stand()  # type: ignore[list-item,assignment]
    reader.policy = ReadingPolicy(views=(), zooms=(1.0,), min_confidence=0.05, variants=2)
    assert [r.text for r in reader.read_barcodes(Image.new("RGB", (200, 100)))] == ["0360", "96385074"]
    # Each barcode read as detected; a, unsure, then turned by a half too (its crops then end where its top was: at
    # 20 and 16.8). b reads a valid number surely as detected: never turned (`OTHER_WAY_BELOW`).
    assert seen[:6] == [60, 63, 90, 92, 20, 17] and 70 not in seen
    seen.clear()
    reader.policy = reader.policy.updated({"variants": 3})
    reads = reader.read_barcodes(Image.new("RGB", (200, 100)))
    assert [r.text for r in reads] == ["036000291452", "96385074"] and reads[0].checksum_ok
    # a's third crop read after the first pass, the way up that read likelier (as detected: a tie); b's never;
    # a is then sure.
    assert seen == [60, 63, 90, 92, 20, 17, 72]
    seen.clear()
    reader.policy = reader.policy.updated(
        {"variants": 6}
    )  # the default: the box 0.4, 0.5 and 0.6 lower join the fallback
    reads = reader.read_barcodes(Image.new("RGB", (200, 100)))
    assert [r.text for r in reads] == ["036000291452", "96385074"]
    assert seen == [60, 63, 90, 92, 20, 17, 72, 76, 80, 84]
    seen.clear()
    reader.policy = reader.policy.updated(
        {"variants": 1, "views": ("sides4",)}
    )  # opt-in: every crop read in the crop reader's views too
    reader.read_barcodes(Image.new("RGB", (200, 100)))
    assert seen[:4] == [60, 56, 90, 82]  # each crop, then it with 4% off each side


def test_photo_figures_tell_a_misread_from_a_sure_read_of_something_else(tmp_path: Path) -> None:
    """`evaluate_photos` per photo: the label read sure, a sure read near the label (a confident misread), a sure
    read far from it (`other_sure`), and the label read only unsure (`read_any`)."""
    from crnn.evaluation.photos import evaluate_photos
    from crnn.reading.photos import BarcodeRead

    label = "9780596008574"
    said = {  # photo -> (text, confidence) of each read
        "read.png": [(label, 0.9)],
        "near.png": [("9780596008581", 0.8)],
        "other.png": [("12345670", 0.7), (label, 0.01)],
        "none.png": [],
    }
    rows = ["filename\ttext"]
    for name in said:
        Image.new("L", (64, 48), 255).save(tmp_path / name)
        rows.append(f"{name}\t{label}")
    (tmp_path / "photos.tsv").write_text("\n".join(rows) + "\n")
    quad = box_quad((4, 4, 40, 20))

    class Stand:
        policy = ReadingPolicy(min_confidence=0.05)

        def __init__(self) -> None:
            self.calls = iter(said.values())

        def detections(self, image: Image.Image) -> list[tuple[int, Detection]]:
            return []

        def read_barcodes(self, image: Image.Image, decodes=(), owned=None) -> list[BarcodeRead]:
            return [BarcodeRead(Detection(quad, 0.9), t, c, True) for t, c in next(self.calls)]

    out = evaluate_photos(Stand(), tmp_path / "photos.tsv", zxing=False, progress=False)  # type: ignore[arg-type]
    assert out["n"] == 4
    assert out["read"] == 0.25 and out["read_any"] == 0.5
    assert out["wrong_sure"] == 0.25 and out["other_sure"] == 0.25
    by_file = {f["file"]: f for f in out["failures"]}
    assert set(by_file) == {"near.png", "other.png", "none.png"}
    assert by_file["near.png"]["wrong_sure"] and not by_file["near.png"]["other_sure"]
    assert by_file["other.png"]["other_sure"] and by_file["other.png"]["read_any"]


def test_a_photo_read_as_the_same_gtin_is_read() -> None:
    """A UPC-A is the EAN-13 with a leading 0 (the same bars, the same GTIN), and a UPC-E stands for the UPC-A it
    expands to: either form of the label's number is the label read, as zxing-cpp's decodes are judged; another
    number near it is a confident misread."""
    from crnn.evaluation.photos import photo_outcome

    assert photo_outcome(["036000291452"], "0036000291452") == {"read": True, "wrong_sure": False, "other_sure": False}
    assert photo_outcome(["0036000291452"], "036000291452")["read"]
    assert photo_outcome(["01234565"], "012345000065") == {"read": True, "wrong_sure": False, "other_sure": False}
    assert photo_outcome(["036000291459"], "0036000291452") == {"read": False, "wrong_sure": True, "other_sure": False}


def test_a_photo_with_exif_orientation_is_read_as_shown(tmp_path: Path) -> None:
    """Phones store a portrait photo as landscape pixels plus an EXIF orientation: the reader sees (and boxes are
    given in) the photo as a viewer shows it, not as its pixels are stored."""
    shown = Image.new("RGB", (300, 500), "white")
    shown.paste((0, 0, 0), (40, 60, 140, 100))  # a dark mark near the top left, as shown
    stored = shown.transpose(Image.Transpose.ROTATE_90)  # what orientation 6 turns back clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(tmp_path / "portrait.jpg", exif=exif.tobytes(), quality=95)
    image, scale = load_photo(tmp_path / "portrait.jpg")
    assert image.size == (round(300 * scale), round(500 * scale))
    pixels = np.asarray(image.convert("L"), dtype=np.float32)
    mark = pixels[round(60 * scale) : round(100 * scale), round(40 * scale) : round(140 * scale)]
    assert mark.mean() < 60 and pixels.mean() > 200
    result = photo_result(tmp_path / "portrait.jpg", image, scale, [], 0.5)
    assert result.size == (300, 500)


def test_every_barcode_is_read_both_ways_up_and_its_quad_says_where_the_digits_are(monkeypatch) -> None:
    """The detector's guess of the digits' side can be wrong (a photo upside down, text on both sides of the bars):
    every barcode is read as detected and turned by a half, and the likelier way wins, with its turned quad; a
    barcode the bars decode lies the way they read. Never turned by a quarter: the digits lie along a long side."""
    from crnn.core.codec import Codec, Decoded
    from crnn.core.geometry import corners
    from crnn.reading import photos as photo
    from crnn.reading.detection import Detection
    from tests.helpers import frames_for

    detected = Detection(corners(40, 20, 120, 60), 0.9)
    # A stand-in straightening: the crop's width is x + y of the quad's third corner: 180 as detected, 60 turned by
    # a half (the digits along the top edge), 100 and 140 turned by a quarter one way and the other.
    monkeypatch.setattr(photo, "straighten", lambda image, quad: Image.new("L", (round(quad[2].sum()), 10)))
    reads_at = {60: "036000291452"}  # crop width -> what it reads (else a short unsure number)
    seen: list[int] = []

    class Stand(StandDetector):
        codec, ean13_lead0_prior, erasure_prior, erasable = Codec(), 1.0, 0.0, ()

        def detect(self, image: Image.Image, zoom: float = 1.0) -> list[Detection]:
            return [detected]

        def decode_members(self, crops: list[Image.Image]) -> list[tuple[np.ndarray, list[Decoded]]]:
            seen.extend(c.width for c in crops)
            logp = np.stack([frames_for(reads_at.get(c.width, "0360")) for c in crops])
            return [(logp, [self.codec.decode_greedy(lp) for lp in logp])]

    reader = PhotoReader.__new__(PhotoReader)
    reader.detectors, reader.reader = [Stand()], Stand()  # type: ignore[list-item,assignment]
    reader.policy = ReadingPolicy(views=(), zooms=(1.0,), min_confidence=0.05, variants=1)
    image = Image.new("RGB", (200, 100))
    (read,) = reader.read_barcodes(image)
    assert read.text == "036000291452" and read.checksum_ok and seen == [180, 60]  # as detected, then turned by a half
    assert np.allclose(read.detection.quad, np.roll(detected.quad, -2, axis=0))
    assert abs(abs(read.detection.angle) - 180) < 1e-6
    # The bars decode it, read right to left on screen: it lies upside down, and only that way is read.
    seen.clear()
    bars = [{"text": "0036000291452", "format": "EAN-13", "quad": np.roll(detected.quad, -2, axis=0).tolist()}]
    (read,) = reader.read_barcodes(image, bars)
    assert read.text == "036000291452" and seen == [60]
    # Read left to right, they say it lies as detected: read so, even though that way reads unsure (the bars
    # then give the number, `fuse_bars`); a turned misread would only contradict them.
    seen.clear()
    bars[0]["quad"] = detected.quad.tolist()
    (read,) = reader.read_barcodes(image, bars)
    assert read.text == "0360" and np.allclose(read.detection.quad, detected.quad) and seen == [180]
    # A read only a quarter turn would find: neither way reads, and it stays unsure, read as detected.
    seen.clear()
    reads_at = {100: "036000291452"}
    (read,) = reader.read_barcodes(image)
    assert read.text == "0360" and seen == [180, 60]
    assert np.allclose(read.detection.quad, detected.quad)


def test_a_region_split_between_the_two_ways_keeps_its_axis() -> None:
    """Cells that put the digits on the other side of the bars (a half turn off) do not turn a region's direction
    across the bars: the axis comes from the doubled angles, the way along it from the cells' vote."""
    from crnn.reading.detection import digit_direction

    angles = np.radians([30.0] * 6 + [210.0] * 4)  # six cells one way, four the other, along one axis
    theta = digit_direction(np.cos(angles), np.sin(angles), np.ones(10))
    assert np.isclose(np.degrees(theta) % 360, 30.0)
    theta = digit_direction(np.cos(angles), np.sin(angles), np.array([0.2] * 6 + [1.0] * 4))  # surer cells win
    assert np.isclose(np.degrees(theta) % 360, 210.0)
    # Split evenly, the vectors' plain mean is about nothing and points anywhere; the axis holds.
    even = np.radians([30.0] * 5 + [210.0] * 5) + np.linspace(-0.01, 0.01, 10)
    assert abs(np.degrees(digit_direction(np.cos(even), np.sin(even), np.ones(10))) % 180 - 30.0) < 1.0


def test_a_number_its_crops_do_not_back_is_not_sure() -> None:
    """A barcode's number is sure on the digits alone only when it holds at least half the confidence of the
    crops that read a valid number: one crop's confident read against two that read another number is not."""
    from crnn.core.codec import Codec, Decoded
    from crnn.core.geometry import corners
    from crnn.reading.photos import BarcodeRead, corroborated
    from tests.helpers import frames_for

    x, y = "036000291452", "4006381333931"  # both pass their check digits
    detections = [Detection(corners(40, 20, 120, 60), 0.9 - 0.1 * i) for i in range(3)]  # one barcode, three zooms
    said: list[tuple[str, float]] = []  # what each crop reads, in order: (text, confidence)

    class Stand(StandDetector):
        codec, ean13_lead0_prior, erasure_prior, erasable = Codec(), 1.0, 0.0, ()

        def detect(self, image: Image.Image, zoom: float = 1.0) -> list[Detection]:
            return [detections[[1.0, 0.8, 0.6].index(zoom)]]

        def decode_members(self, crops: list[Image.Image]) -> list[tuple[np.ndarray, list[Decoded]]]:
            # First the detections as detected: each reads `said`; a later pass (turned by a half) reads nothing.
            first = len(crops) == len(said)
            texts = [said[i] if first else ("0360", 0.01) for i in range(len(crops))]
            logp = np.stack([frames_for(t) for t, _ in texts])
            return [(logp, [Decoded(t, c, (c,) * len(t)) for t, c in texts])]

    reader = PhotoReader.__new__(PhotoReader)
    reader.detectors, reader.reader = [Stand()], Stand()  # type: ignore[list-item,assignment]
    reader.policy = ReadingPolicy(views=(), zooms=(1.0, 0.8, 0.6), min_confidence=0.05, variants=1)
    reader.cross_check = reader.fuse = False
    image = Image.new("RGB", (200, 100))
    said[:] = [(x, 0.9), (y, 0.2), (y, 0.2)]  # the likeliest number together is y, but x holds the confidence
    result = photo_result("p.png", image, 1.0, reader.read_image(image), 0.05)
    assert result.barcodes == [] and [b.text for b in result.uncertain] == [y]
    assert result.uncertain[0].support == pytest.approx(0.4 / 1.3)
    said[:] = [(y, 0.9), (y, 0.2), (x, 0.2)]  # y read by two crops and most of the confidence: sure
    result = photo_result("p.png", image, 1.0, reader.read_image(image), 0.05)
    assert [b.text for b in result.barcodes] == [y] and result.barcodes[0].support == pytest.approx(1.1 / 1.3)
    assert result.barcodes[0].to_dict()["support"] == pytest.approx(0.846, abs=1e-3)
    assert corroborated(0.5) and not corroborated(0.49)
    # An unconvincing read (under OTHER_WAY_BELOW) is sure only where its crops back it four to one.
    unconvincing = BarcodeRead(detections[0], y, 0.3, True, support=0.79)
    assert unconvincing.settled(0.05) and not unconvincing.sure_digits(0.05)
    unconvincing.support = 0.8
    assert unconvincing.sure_digits(0.05)
    # Under 0.3 (`UNCONVINCING_FLOOR`) it is not sure on the digits alone, whatever its crops say.
    faint = BarcodeRead(detections[0], y, 0.29, True, support=1.0)
    assert faint.settled(0.05) and not faint.sure_digits(0.05)


def test_a_leading_0_every_crop_shows_a_little_wins_on_all_of_them_together() -> None:
    """An EAN-13 printed with a leading 0 has the bars of a UPC-A. Each crop's decoder weighs the layout prior
    (0.1) against that crop's evidence alone and reads the 12 digits; fused, the crops together find the 13-digit
    layout likelier, and it wins though no crop read it, with its confidence from its alignment on a crop."""
    from crnn.core.codec import Codec, Decoded
    from crnn.core.geometry import corners
    from tests.helpers import lead0_frames

    upca = "036000291452"
    detections = [Detection(corners(40, 20, 120, 60), 0.9 - 0.1 * i) for i in range(3)]  # one barcode, three zooms
    p_zero = 0.8  # each crop: 0.8 * 0.1 for the leading 0 against 0.2 without; three crops: 0.0512 against 0.008

    class Stand(StandDetector):
        codec, ean13_lead0_prior, erasure_prior, erasable = Codec(), 0.1, 0.0, ()

        def detect(self, image: Image.Image, zoom: float = 1.0) -> list[Detection]:
            return [detections[[1.0, 0.8, 0.6].index(zoom)]]

        def decode_members(self, crops: list[Image.Image]) -> list[tuple[np.ndarray, list[Decoded]]]:
            logp = np.stack([lead0_frames(upca, p_zero) for _ in crops])
            return [(logp, [self.codec.decode_constrained(lp, ean13_lead0_prior=0.1) for lp in logp])]

    reader = PhotoReader.__new__(PhotoReader)
    reader.detectors, reader.reader = [Stand()], Stand()  # type: ignore[list-item,assignment]
    reader.policy = ReadingPolicy(views=(), zooms=(1.0, 0.8, 0.6), min_confidence=0.05, variants=1)
    reader.cross_check = reader.fuse = False
    image = Image.new("RGB", (200, 100))
    assert Stand().decode_members([image])[0][1][0].text == upca  # one crop alone: the 12 digits
    (read,) = reader.read_barcodes(image)
    assert read.text == "0" + upca and read.checksum_ok and read.support == 1.0
    twelve = Codec().aligned(lead0_frames(upca, p_zero), upca).confidence
    assert read.confidence == pytest.approx(p_zero * twelve, rel=1e-4)  # the leading 0's frame, then the 12 digits' own
    p_zero = 0.6  # 0.6^3 * 0.1 = 0.0216 against 0.4^3 = 0.064: the prior still wins
    (read,) = reader.read_barcodes(image)
    assert read.text == upca
