"""Photo in, numbers out: detect every barcode, straighten it, read it (onnxruntime, no torch).

The detector (`crnn.detector`) gives per-pixel maps at stride 4: the probability that a pixel belongs to a
barcode symbol (bars + printed digits) and the direction of the symbol's digit line (cos, sin). A barcode
is a connected region of the probability map; its oriented box comes from the region's pixels seen along
the mean direction. The box's digit band is warped upright (`crnn.straighten`) and read by the recogniser.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from crnn.codec import Decoded
from crnn.config import DEFAULT_VARIANTS, DEFAULT_ZOOMS, DetectorPostConfig
from crnn.inference import MIN_CONFIDENCE, check_views, fused_text, is_sure, ort_session, reading
from crnn.preprocess import border_colour, letterbox, view
from crnn.straighten import ALWAYS_READ_VARIANTS, SYMBOL_VARIANTS, direction, straighten, sub_quad
from crnn.symbology import upce_to_upca

log = logging.getLogger(__name__)

STRIDE = 4  # map cells per input pixel of the detector's output (checked against the model)
META_PREFIX = "crnn_detector."
# Photos larger than this (long side, pixels) are scaled down on load: bounded memory, and the detector
# sees at most `size` anyway; the recogniser's crops keep this much resolution.
MAX_SIDE = 2048


@dataclass(frozen=True)
class Detection:
    """One barcode: its symbol quad in image pixels (TL, TR, BR, BL; digits along the bottom) and score."""

    quad: np.ndarray
    score: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Axis-aligned (x, y, w, h) around the quad."""
        x0, y0 = np.floor(self.quad.min(axis=0)).astype(int)
        x1, y1 = np.ceil(self.quad.max(axis=0)).astype(int)
        return int(x0), int(y0), int(x1 - x0), int(y1 - y0)

    @property
    def angle(self) -> float:
        """Direction of the digit line, degrees (0: upright, positive: clockwise in image coordinates)."""
        d = direction(self.quad)
        return math.degrees(math.atan2(d[1], d[0]))


@dataclass
class BarcodeRead:
    detection: Detection
    text: str
    confidence: float
    checksum_ok: bool
    inferred: tuple[int, ...] = ()  # positions supplied by the check digit, not read (crnn.codec)
    # Bar decoder's cross-check, when asked for: {"text", "format", "agrees"} or None (no decode there).
    zxing: dict | None = None

    def to_dict(self) -> dict:
        return {
            "box": list(self.detection.box),
            "quad": [[round(float(v), 1) for v in p] for p in self.detection.quad],
            "angle": round(self.detection.angle, 1),
            "detection_score": round(self.detection.score, 4),
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "checksum_ok": self.checksum_ok,
            **({"inferred": list(self.inferred)} if self.inferred else {}),
            **({"zxing": self.zxing} if self.zxing is not None else {}),
        }


@dataclass
class PhotoResult:
    path: str
    size: tuple[int, int]  # of the file (boxes and quads are in its pixels)
    barcodes: list[BarcodeRead] = field(default_factory=list)
    error: str | None = None
    # Reads under the reader's confidence floor or failing the check digit: mostly things that are not
    # barcodes, or barcodes the recogniser cannot read; kept apart so a user sees only sure numbers, and
    # nothing is lost.
    uncertain: list[BarcodeRead] = field(default_factory=list)

    def to_dict(self) -> dict:
        out: dict = {"file": self.path, "size": list(self.size), "barcodes": [b.to_dict() for b in self.barcodes]}
        if self.uncertain:
            out["uncertain"] = [b.to_dict() for b in self.uncertain]
        if self.error:
            out["error"] = self.error
        return out


def load_photo(path: str | Path, max_side: int = MAX_SIDE) -> tuple[Image.Image, float]:
    """An RGB photo scaled so its long side is at most `max_side`, and that scale (<= 1).

    JPEGs are decoded at a reduced size directly (`draft`), so a huge photo never sits in memory at full
    size; other formats are bounded by Pillow's decompression-bomb limit. ValueError for unreadable files.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"image not found: {p}")
    try:
        with Image.open(p) as im:
            full = im.size
            if im.format == "JPEG" and max(full) > max_side:
                im.draft("RGB", (max_side, max_side))
            im.load()
            out = im.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as e:
        raise ValueError(f"cannot read image {p}: {e}") from e
    if max(out.size) > max_side:
        out.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return out, out.width / full[0]


def detector_input(image: Image.Image, size: int, mean: float, std: float) -> tuple[np.ndarray, float, float]:
    """Letterbox a photo into `(1, size, size)` float32 (grey, levels stretched); return it and the x / y
    scales applied. The one preprocessing path of detector training, export checks and reading."""
    # Levels stretched to the full range: pale bars on white (faded print, glare) look like any other.
    grey = ImageOps.autocontrast(image.convert("L"), cutoff=1)
    boxed = letterbox(grey, size, size)
    arr = (np.asarray(boxed, dtype=np.float32)[None] / 255.0 - mean) / std
    return arr, *letterbox_scales(grey.size, size)


def letterbox_scales(image_size: tuple[int, int], size: int) -> tuple[float, float]:
    """The x and y scales `letterbox` applies to an image of `image_size` (w, h) fitted into size x size."""
    w, h = image_size
    scale = min(size / h, size / w)
    return max(1, round(w * scale)) / w, max(1, round(h * scale)) / h


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected regions of a boolean map, each as an `(n, 2)` array of (row, col)."""
    seen = np.zeros_like(mask, dtype=bool)
    h, w = mask.shape
    out = []
    for r0, c0 in zip(*np.nonzero(mask), strict=True):
        if seen[r0, c0]:
            continue
        seen[r0, c0] = True
        queue, cells = deque([(r0, c0)]), []
        while queue:
            r, c = queue.popleft()
            cells.append((r, c))
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rr < h and 0 <= cc < w and mask[rr, cc] and not seen[rr, cc]:
                    seen[rr, cc] = True
                    queue.append((rr, cc))
        out.append(np.array(cells))
    return out


def boxes_from_maps(maps: np.ndarray, post: DetectorPostConfig, stride: int = STRIDE) -> list[Detection]:
    """Detections (quads in the detector's input pixels) from maps `(3, h, w)`: probability, cos, sin."""
    prob, cos, sin = maps[0], maps[1], maps[2]
    found = []
    for cells in _components(prob >= post.threshold):
        if len(cells) < post.min_area:
            continue
        rows, cols = cells[:, 0], cells[:, 1]
        p = prob[rows, cols]
        score = float(p.mean())
        if score < post.min_score:
            continue
        theta = math.atan2(float((sin[rows, cols] * p).sum()), float((cos[rows, cols] * p).sum()))
        d = np.array([math.cos(theta), math.sin(theta)])
        n = np.array([-d[1], d[0]])  # 90 degrees clockwise of d on screen: towards the digits
        pts = np.column_stack([cols + 0.5, rows + 0.5]) * stride
        u, v = pts @ d, pts @ n
        half = stride / 2
        u0, u1, v0, v1 = u.min() - half, u.max() + half, v.min() - half, v.max() + half
        quad = np.array([u0 * d + v0 * n, u1 * d + v0 * n, u1 * d + v1 * n, u0 * d + v1 * n])
        found.append(Detection(quad, score))
    return sorted(found, key=lambda det: -det.score)


class Detector:
    """An exported detector in onnxruntime; input size and normalisation come from its metadata."""

    def __init__(self, path: str | Path, threads: int | None = None, post: DetectorPostConfig | None = None) -> None:
        path = Path(path)
        self.session = ort_session(path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            self.size = int(meta[META_PREFIX + "size"])
            self.mean = float(meta[META_PREFIX + "mean"])
            self.std = float(meta[META_PREFIX + "std"])
            self.stride = int(meta[META_PREFIX + "stride"])
            default_post = DetectorPostConfig(**json.loads(meta[META_PREFIX + "post"]))
        except KeyError as e:
            raise ValueError(f"{path} lacks detector metadata {e}; export it with `crnn export-detector`") from None
        self.post = post or default_post
        self.input_name = self.session.get_inputs()[0].name

    def maps(self, image: Image.Image) -> tuple[np.ndarray, float, float]:
        arr, sx, sy = detector_input(image, self.size, self.mean, self.std)
        return self.session.run(None, {self.input_name: arr[None]})[0][0], sx, sy

    def detect(self, image: Image.Image, zoom: float = 1.0) -> list[Detection]:
        """Every barcode in `image`, quads in the image's pixels, best first.

        `zoom` < 1 shows the detector the photo smaller, centred on a canvas of its border colour: a barcode
        that fills the frame then looks like the ones it was trained on, with margins around it.
        """
        if not 0 < zoom <= 1:
            raise ValueError(f"zoom must lie in (0, 1], got {zoom}")
        offset = np.zeros(2)
        if zoom < 1:
            w, h = image.size
            cw, ch = round(w / zoom), round(h / zoom)
            offset = np.array([(cw - w) // 2, (ch - h) // 2], dtype=np.float64)
            canvas = Image.new(image.mode, (cw, ch), border_colour(image))
            canvas.paste(image, (int(offset[0]), int(offset[1])))
            image = canvas
        maps, sx, sy = self.maps(image)
        scale = np.array([sx, sy])
        return [Detection(d.quad / scale - offset, d.score) for d in boxes_from_maps(maps, self.post, self.stride)]


def _box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """IoU of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def zxing_decode(image: Image.Image) -> list[dict]:
    """EAN/UPC symbols the zxing-cpp bar decoder finds: text as printed (UPC-A 12, UPC-E 8 digits), format,
    and its position (a quad). Empty when the package is missing or nothing decodes."""
    try:
        import zxingcpp
    except ImportError:
        log.warning("zxing-cpp is not installed; no cross-check")
        return []
    formats = zxingcpp.BarcodeFormat.EAN13 | zxingcpp.BarcodeFormat.EAN8 | zxingcpp.BarcodeFormat.UPCA
    formats |= zxingcpp.BarcodeFormat.UPCE
    out = []
    for r in zxingcpp.read_barcodes(image, formats=formats):
        pos = r.position
        quad = [[p.x, p.y] for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)]
        out.append({"text": r.text, "format": str(r.format).split(".")[-1], "quad": quad})
    return out


def same_number(a: str, b: str) -> bool:
    """The same number as printed or as a bar decoder reports it: equal, or equal as GTIN-13 (a UPC-A is the
    EAN-13 with a leading 0; zxing-cpp reports a UPC-E expanded to that EAN-13)."""
    return a == b or bool(_gtin13_forms(a) & _gtin13_forms(b))


def _gtin13_forms(code: str) -> set[str]:
    """The 13-digit forms `code` may stand for: itself (EAN-13), 0 + a UPC-A, 0 + an 8-digit UPC-E expanded
    (8 digits that are not a UPC-E are an EAN-8, which has no 13-digit form)."""
    if not code.isdigit():
        return set()
    if len(code) == 13:
        return {code}
    if len(code) == 12:
        return {"0" + code}
    if len(code) == 8 and code[0] in "01":
        return {"0" + upce_to_upca(code)}
    return set()


def _match_zxing(det: Detection, decodes: list[dict]) -> dict | None:
    """The decode whose position lies inside the detection's box (grown by a quarter), if any."""
    x, y, w, h = det.box
    for z in decodes:
        cx, cy = np.mean(np.array(z["quad"], dtype=np.float64), axis=0)
        if x - w / 4 <= cx <= x + 1.25 * w and y - h / 4 <= cy <= y + 1.25 * h:
            return z
    return None


class PhotoReader:
    """Detector + recogniser (both ONNX): every barcode in a photo with its number."""

    views: tuple[str, ...] = ()  # the crop reader's test-time views, read for every crop too (opt-in)

    def __init__(
        self,
        detector: str | Path | Sequence[str | Path],
        recogniser: str | Path | Sequence[str | Path],
        threads: int | None = None,
        decoder: str | None = None,
        cross_check: bool = False,
        variants: int = DEFAULT_VARIANTS,
        zooms: Sequence[float] = DEFAULT_ZOOMS,
        min_confidence: float = MIN_CONFIDENCE,
        erasure_prior: float | None = None,
        ean13_lead0_prior: float | None = None,
        views: Sequence[str] = (),
        erasable: Sequence[str] | None = None,
    ) -> None:
        from crnn.inference import EnsembleReader, OnnxReader, Reader

        if not 1 <= variants <= len(SYMBOL_VARIANTS):
            raise ValueError(
                f"variants must be 1..{len(SYMBOL_VARIANTS)} (crnn.straighten.SYMBOL_VARIANTS), got {variants}"
            )
        if not zooms or not all(0 < z <= 1 for z in zooms):
            raise ValueError(f"zooms must be one or more values in (0, 1], got {list(zooms)}")
        paths = [detector] if isinstance(detector, (str, Path)) else list(detector)
        if not paths:
            raise ValueError("give at least one detector")
        # Several detectors (e.g. trainings with different seeds) each look at each photo; their detections of
        # one barcode are grouped like those of several zooms, so the best read of any of them wins.
        self.detectors = [Detector(d, threads=threads) for d in paths]
        # Several recognisers (an `EnsembleReader`) each read every crop; their reads of one barcode are fused with
        # the crops' (`read_barcodes`). The first one's codec and layout prior score the fusion.
        models = [recogniser] if isinstance(recogniser, (str, Path)) else list(recogniser)
        members = [OnnxReader(m, threads=threads, decoder=decoder) for m in models]  # type: ignore[arg-type]  # CLI choices
        self.reader: Reader = members[0] if len(members) == 1 else EnsembleReader(members)
        self.reader.override_priors(erasure_prior, ean13_lead0_prior, erasable)
        # A photo's barcode is already read in several views (detections, zooms, variants; fused below), so
        # the crop reader's own views stay off by default: on the photos they cost twice the time and no read.
        # Given, every crop is read in each of them too, and fused with the rest (`_read`; the crop reader's own
        # `read`, which would apply them, is not on the photo path).
        self.views = check_views(views)
        self.cross_check = cross_check
        self.variants = variants
        self.zooms = tuple(zooms)
        self.min_confidence = min_confidence

    def read_barcodes(self, image: Image.Image) -> list[BarcodeRead]:
        """Every barcode in `image` (its pixels), without the cross-check and whatever its confidence.

        Each detection is read under the first `variants` hypotheses of `SYMBOL_VARIANTS`; those past
        `ALWAYS_READ_VARIANTS` only for a barcode whose read from the others is unsure (under the floor or failing
        the check digit): a fallback, so a far-fetched crop never outvotes a sure read. With several `zooms`, each
        detector looks at the photo at each. Detections of one barcode (boxes overlapping by IoU >= 0.3) are one
        barcode, and their reads are fused like test-time views (`crnn.inference.fused_text`): the number all of
        its crops find likeliest together wins, with the confidence and box of the most confident crop that read
        it. With two main-job model sets on the real photos this read as many photos as taking the most confident
        read and removed the one confident misread each had (README, "Views").
        """
        owned = self.detections(image)
        first = SYMBOL_VARIANTS[: min(self.variants, ALWAYS_READ_VARIANTS)]
        later = SYMBOL_VARIANTS[len(first) : self.variants]
        return self.read_in_passes(
            self._read(image, owned, first),
            (lambda unsure: self._read(image, [(k, d) for k, d in owned if k in unsure], later)) if later else None,
        )

    def detections(self, image: Image.Image) -> list[tuple[int, Detection]]:
        """Every detection of every detector at every zoom, best first, each with its barcode: detections whose
        boxes overlap by IoU >= 0.3 are one barcode (numbered in order of their best detection)."""
        found = sorted(
            (d for det in self.detectors for z in self.zooms for d in det.detect(image, z)), key=lambda d: -d.score
        )
        barcodes: list[Detection] = []  # one per barcode: the best-scored of its group
        owned = []
        for d in found:
            match = next((k for k, g in enumerate(barcodes) if _box_iou(d.box, g.box) >= 0.3), None)
            if match is None:
                barcodes.append(d)
                match = len(barcodes) - 1
            owned.append((match, d))
        return owned

    def read_in_passes(
        self,
        reads: list[tuple[int, Detection, list[tuple[np.ndarray, Decoded]]]],
        fallback: Callable[[set[int]], list[tuple[int, Detection, list[tuple[np.ndarray, Decoded]]]]] | None,
    ) -> list[BarcodeRead]:
        """One read per barcode from the first hypotheses' `reads`, fused; with a `fallback` (the later hypotheses),
        a barcode that reads unsure is fused again with what `fallback(unsure barcodes)` reads of it.
        `benchmarks/photo_replay.py` drives it with cached reads."""
        out = self._fuse(reads)
        if fallback is not None:
            unsure = {k for k, b in out.items() if not is_sure(b.confidence, b.checksum_ok, self.min_confidence)}
            more = fallback(unsure) if unsure else []
            if more:
                out.update(self._fuse([r for r in reads if r[0] in unsure] + more))
        return [out[k] for k in sorted(out)]

    def _read(
        self,
        image: Image.Image,
        owned: list[tuple[int, Detection]],
        variants: Sequence[tuple[float, float, float, float]],
    ) -> list[tuple[int, Detection, list[tuple[np.ndarray, Decoded]]]]:
        """(barcode, detection, each recogniser's log-probabilities and read) of each detection's crop under each
        symbol hypothesis, and of each of the crop's test-time views when the reader was given some."""
        crops: list[tuple[int, Detection, Image.Image]] = []
        for k, d in owned:
            for frac in variants:
                try:
                    crop = straighten(image, sub_quad(d.quad, frac))
                except ValueError as e:  # a degenerate quad: skip it, keep the rest
                    log.debug("skipping detection %s: %s", d.box, e)
                    continue
                crops.append((k, d, crop))
                crops.extend((k, d, view(crop, v)) for v in self.views)
        if not crops:
            return []
        members = self.reader.decode_members([c for _, _, c in crops])
        return [(k, d, [(logp[i], dec[i]) for logp, dec in members]) for i, (k, d, _) in enumerate(crops)]

    def _fuse(self, reads: list[tuple[int, Detection, list[tuple[np.ndarray, Decoded]]]]) -> dict[int, BarcodeRead]:
        """One read per barcode from all of its crops' reads (see `read_barcodes`)."""
        out = {}
        for k in sorted({k for k, _, _ in reads}):
            mine = sorted(
                ((i, m, reading(dec)) for i, r in enumerate(reads) if r[0] == k for m, (_, dec) in enumerate(r[2])),
                key=lambda t: (t[2].checksum_ok, t[2].confidence),
                reverse=True,
            )
            text = fused_text(
                self.reader.codec,
                [reads[i][2][m][0] for i, m, _ in mine],
                [reads[i][2][m][1] for i, m, _ in mine],
                self.reader.ean13_lead0_prior,
                self.reader.erasure_prior,
                self.reader.erasable,
            )
            # The number is the fused one (always one crop's read); its confidence and box are those of the most
            # confident crop that read it (`mine` is in that order), as before fusion whenever that crop's wins.
            i, _, r = next(t for t in mine if t[2].text == text)
            out[k] = BarcodeRead(reads[i][1], r.text, r.confidence, r.checksum_ok, r.inferred)
        return out

    def read_image(self, image: Image.Image) -> list[BarcodeRead]:
        """Every barcode in `image`, cross-checked with zxing-cpp when the reader was made with `cross_check`."""
        out = self.read_barcodes(image)
        if self.cross_check and out:
            cross_check(out, zxing_decode(image))
        return out

    def read_file(self, path: str | Path) -> PhotoResult:
        """One photo; an unreadable file gives a result with `error` set instead of raising. Reads under
        `min_confidence` or failing the check digit go to the result's `uncertain`."""
        try:
            image, scale = load_photo(path)
        except ValueError as e:
            return PhotoResult(str(path), (0, 0), error=str(e))
        return photo_result(path, image, scale, self.read_image(image), self.min_confidence)


def cross_check(reads: list[BarcodeRead], decodes: list[dict]) -> None:
    """Attach to each reading the bar decoder's result for the same barcode (same pixels), if any."""
    for b in reads:
        z = _match_zxing(b.detection, decodes)
        if z is not None:
            b.zxing = {"text": z["text"], "format": z["format"], "agrees": same_number(z["text"], b.text)}


def photo_result(
    path: str | Path, image: Image.Image, scale: float, reads: list[BarcodeRead], min_confidence: float = 0.0
) -> PhotoResult:
    """Readings of a photo loaded at `scale`, with boxes and size in the file's own pixels; those under
    `min_confidence` or failing the check digit set apart as `uncertain`."""
    for b in reads:
        b.detection = Detection(b.detection.quad / scale, b.detection.score)
    size = (round(image.width / scale), round(image.height / scale))
    sure = [is_sure(b.confidence, b.checksum_ok, min_confidence) for b in reads]
    return PhotoResult(
        str(path),
        size,
        [b for b, s in zip(reads, sure, strict=True) if s],
        uncertain=[b for b, s in zip(reads, sure, strict=True) if not s],
    )


def near_label(text: str, label: str) -> bool:
    """A read of the labelled barcode, right or not: within a third of the label's digits (edit distance)."""
    import editdistance

    return editdistance.eval(text, label) <= len(label) // 3


def photo_outcome(sure: Sequence[str], label: str) -> dict[str, bool]:
    """How a photo's sure reads stand against its label: `read` (one is the label), `wrong_sure` (none is, but one is
    near it: a confident misread), `other_sure` (one is far from it: another barcode, or a wrong number)."""
    return {
        "read": label in sure,
        "wrong_sure": label not in sure and any(near_label(t, label) for t in sure),
        "other_sure": any(not near_label(t, label) for t in sure),
    }


def evaluate_photos(reader: PhotoReader, tsv: str | Path, zxing: bool = True, progress: bool = True) -> dict:
    """Read every labelled photo of `tsv` (filename, text[, group]); one barcode per photo is labelled.

    Figures: `read`: share of photos where a sure barcode (confidence at least the reader's floor: what a
    user is shown) reads exactly the label; `read_any`: the same counting unsure reads too; `wrong_sure`:
    share where no sure read is the label but one is near it (a confident misread: the dangerous case);
    `other_sure`: share with a sure read neither the label nor near it (another barcode in the frame, or, in a
    photo of one barcode such as the generator's scenes, a wrong number shown as sure);
    `found`: share where some detection covers the labelled barcode (its reading, sure or not, within a
    third of the digits of the label, or the bar decoder's position of the label inside the box: the photos
    have no boxes); `zxing`: share where
    zxing-cpp alone decodes the label (a UPC-A reported as its EAN-13, with a leading 0, counts);
    `either`; seconds per photo of loading, detection and reading (zxing not included). Each reading carries
    the zxing cross-check where the decoder found the same barcode.
    Per group too, and every photo not read with what was read instead.
    """
    import time

    from tqdm import tqdm

    from crnn.labels import read_tsv

    samples = read_tsv(tsv, None)
    with open(tsv, newline="") as f:
        group_of = {
            Path(r.get("filename") or "").name: r.get("group") or r.get("format") or ""
            for r in csv.DictReader(f, delimiter="\t")
        }
    rows = []
    seconds = 0.0
    for s in tqdm(samples, desc="photos", unit="photo", disable=not progress):
        label_decodes: list[dict] = []
        covered = False
        t0 = time.perf_counter()
        try:
            image, scale = load_photo(s.path)
        except ValueError as e:
            result = PhotoResult(str(s.path), (0, 0), error=str(e))
        else:
            reads = reader.read_barcodes(image)
            seconds += time.perf_counter() - t0
            # One decode per photo, outside the timing, in the loaded image's pixels like the readings.
            decodes = zxing_decode(image) if zxing else []
            cross_check(reads, decodes)
            label_decodes = [z for z in decodes if same_number(z["text"], s.text)]
            covered = any(_match_zxing(b.detection, label_decodes) is not None for b in reads)
            result = photo_result(s.path, image, scale, reads, reader.min_confidence)
        sure = [b.text for b in result.barcodes]
        texts = sure + [b.text for b in result.uncertain]

        rows.append(
            {
                "file": s.path.name,
                "text": s.text,
                "group": group_of.get(s.path.name, ""),
                **photo_outcome(sure, s.text),
                "read_any": s.text in texts,
                "found": any(near_label(t, s.text) for t in texts) or covered,
                "zxing": bool(label_decodes),
                "readings": [b.to_dict() | {"sure": True} for b in result.barcodes]
                + [b.to_dict() | {"sure": False} for b in result.uncertain],
                **({"error": result.error} if result.error else {}),
            }
        )
    n = max(1, len(rows))

    def share(key: str, subset: list[dict]) -> float:
        return sum(r[key] for r in subset) / max(1, len(subset))

    groups = sorted({r["group"] for r in rows})
    cross = [b["zxing"]["agrees"] for r in rows for b in r["readings"] if "zxing" in b]
    return {
        "n": len(rows),
        "read": share("read", rows),
        "read_any": share("read_any", rows),
        "wrong_sure": share("wrong_sure", rows),
        "other_sure": share("other_sure", rows),
        "min_confidence": reader.min_confidence,
        "sure_reads_per_photo": sum(b["sure"] for r in rows for b in r["readings"]) / n,
        "unsure_reads_per_photo": sum(not b["sure"] for r in rows for b in r["readings"]) / n,
        "found": share("found", rows),
        "zxing": share("zxing", rows),
        "either": sum(r["read"] or r["zxing"] for r in rows) / n,
        "seconds_per_photo": seconds / n,
        "unreadable_files": sum("error" in r for r in rows),
        "cross_check": {"agree": sum(cross), "conflict": len(cross) - sum(cross)},
        "per_group": {
            g: {k: share(k, [r for r in rows if r["group"] == g]) for k in ("read", "found", "zxing")}
            | {"n": sum(r["group"] == g for r in rows)}
            for g in groups
        },
        "failures": [r for r in rows if not r["read"]],
    }
