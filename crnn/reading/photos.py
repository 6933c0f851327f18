"""Photo in, numbers out: detect every barcode, straighten it, read it (onnxruntime, no torch).

The detector (`crnn.detector`) gives per-pixel maps at stride 4: the probability that a pixel belongs to a
barcode symbol (bars + printed digits) and the direction of the symbol's digit line (cos, sin). A barcode
is a connected region of the probability map; its oriented box comes from the region's pixels seen along
the mean direction. The box's digit band is warped upright (`crnn.core.geometry`) and read by the recogniser.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from crnn.core.codec import Decoded
from crnn.core.confidence import is_sure
from crnn.core.geometry import ALWAYS_READ_VARIANTS, SYMBOL_VARIANTS, axis, direction, straighten, sub_quad
from crnn.core.preprocess import view
from crnn.core.symbology import BAR_MODULES, Format, checksum_ok, format_of, is_valid, layout_twin
from crnn.reading.bars import _match_zxing, printed_form, same_number, zxing_decode, zxing_upright
from crnn.reading.bars_fit import bars_run_out, fit_to_bars
from crnn.reading.detection import Detection, Detector, _box_iou, load_photo
from crnn.reading.fusion import fused_text, reading
from crnn.reading.policy import Overrides, ReadingPolicy

log = logging.getLogger(__name__)

# A barcode whose crops, read the way the detector says is up, fuse to a number passing its check digit at this
# confidence or more (more likely right than not) is not read turned by a half as well (`PhotoReader.which_way_up`).
# On 1,579 barcodes of the tuning scenes (upright and turned) this skipped the other way for 81% and changed no
# read; reads from 0.3 on changed none, under it a few (docs/decisions.md, "Which way up, read lazily").
OTHER_WAY_BELOW = 0.5

# A read under OTHER_WAY_BELOW confidence (more likely wrong than right on its own) is sure on the digits only where
# its crops back it four to one (this share of the confidence of those that read a valid number), where any other
# read needs a majority. On the tuning scenes it removed 9 of the 31 sure-but-wrong reads of 600 close-ups (mostly
# the digits in view of a barcode the frame cuts) and lost 6 right reads of 1,200 uncut scenes, which stay
# `uncertain` (docs/decisions.md, "An unconvincing read needs its crops four to one").
UNCONVINCING_SUPPORT = 0.8

# Under this confidence a read is not sure on the digits alone, whatever its crops say (the bars may still vouch for
# it). Such reads, with the rule above, were wrong twice as often as right on the tuning scenes (14 against 7 of
# 2,100 photos read as shipped). On the held-out scenes (1,200 photos, `benchmarks/photos.py`) it set apart 8
# sure-but-wrong reads and 13 right ones (9 of barcodes the frame cuts, 3 UPC-Es), which stay `uncertain`; it brought
# the turned and close-up scenes under 1% sure-but-wrong (docs/decisions.md, "A floor for unconvincing reads").
UNCONVINCING_FLOOR = 0.3

# Where a barcode's bars may go on past the frame (`cut`: `bars_run_out`, no quiet run before the edge), the digits in
# view need not be all of its number: an 8-digit read (the middle 8 digits of an EAN-13 or a UPC-A, their centre
# guard in the middle, look like an EAN-8) or one whose first or last digit the check digit supplied is not sure on
# the digits alone (`BarcodeRead.sure_digits`). On the tuning scenes as shipped it set apart 17 sure reads wrong or
# of another number and 11 right ones, all but one of close-ups (docs/decisions.md, "Where the frame cuts the bars").

# A bar decode of 8 digits spanning under this share of the bars fitted around its barcode is of a part of a longer
# symbol: zxing-cpp finds a UPC-E (51 modules: 0.54 of an EAN-13's 95) on a slanted line through an EAN-13's bars.
# Such decodes are dropped (`spans_its_bars`): of the 8-digit decodes of 2,400 tuning and held-out scenes, 12 of the
# 13 of another number and none of the 387 right ones (docs/decisions.md, "Where the frame cuts the bars").
PART_OF_SYMBOL = 0.6


@dataclass
class BarcodeRead:
    detection: Detection
    text: str
    confidence: float
    checksum_ok: bool
    inferred: tuple[int, ...] = ()  # positions supplied by the check digit, not read (crnn.core.codec)
    # Bar decoder's cross-check, when asked for: {"text", "format", "agrees"} or None (no decode there).
    zxing: dict | None = None
    # What the number comes from: "digits" (the recogniser), "digits+bars" (the recogniser and the bar decoder
    # agree), "bars" (the bar decoder, where the recogniser was unsure or found nothing); see `fuse_bars`.
    source: str = "digits"
    conflict: bool = False  # the bar decoder read another valid number there: never shown as sure
    # The share of the confidence of the barcode's crops (detections x zooms x hypotheses x recognisers) that read
    # a number passing its check digit, on this number.
    support: float = 1.0
    # Its bars may go on past the frame's edge (`bars_run_out`): the digits in view need not be all. Looked at only
    # for a read that would be sure and may then be a part (`partial_if_cut`).
    cut: bool = False

    def sure_digits(self, min_confidence: float) -> bool:
        """Sure on the recogniser's word alone: settled (`settled`), and an unconvincing read (under
        `OTHER_WAY_BELOW`) at `UNCONVINCING_FLOOR` confidence or more, backed four to one by its crops
        (`UNCONVINCING_SUPPORT`); where the frame cuts the bars (`cut`), not 8 digits nor a first or last digit
        supplied by the check digit."""
        return (
            self.settled(min_confidence)
            and not (self.cut and self.partial_if_cut)
            and (
                self.confidence >= OTHER_WAY_BELOW
                or (self.confidence >= UNCONVINCING_FLOOR and self.support >= UNCONVINCING_SUPPORT)
            )
        )

    @property
    def partial_if_cut(self) -> bool:
        """Whether this number may be a part of a longer one where the frame cuts its bars: 8 digits, or a first or
        last digit the check digit supplied."""
        return len(self.text) == 8 or bool({0, len(self.text) - 1} & set(self.inferred))

    def settled(self, min_confidence: float) -> bool:
        """Read well enough to look no further (no later hypotheses, no turns): its check digit holds, its confidence
        is at least the floor and its crops corroborate it (`corroborated`)."""
        return is_sure(self.confidence, self.checksum_ok, min_confidence) and corroborated(self.support)

    @property
    def format(self) -> Format | None:
        """EAN-13, UPC-A, EAN-8 or UPC-E (the bar decoder's word for it when it agrees); None: not a valid code."""
        return format_of(self.text, self.zxing["format"] if self.zxing and self.zxing["agrees"] else None)

    @property
    def vouched(self) -> bool:
        """Sure on the bars' evidence, whatever the recogniser's confidence."""
        return self.source in ("bars", "digits+bars")

    def to_dict(self) -> dict:
        return {
            "box": list(self.detection.box),
            "quad": [[round(float(v), 1) for v in p] for p in self.detection.quad],
            "angle": round(self.detection.angle, 1),
            "detection_score": round(self.detection.score, 4),
            "text": self.text,
            "format": self.format,
            "confidence": round(self.confidence, 4),
            "checksum_ok": self.checksum_ok,
            **({"inferred": list(self.inferred)} if self.inferred else {}),
            **({"zxing": self.zxing} if self.zxing is not None else {}),
            "source": self.source,
            "support": round(self.support, 3),
            **({"conflict": True} if self.conflict else {}),
            **({"cut": True} if self.cut else {}),
        }


def corroborated(support: float) -> bool:
    """Whether a barcode's crops back its number: it holds at least half the confidence of those that read a valid
    number (a crop that reads nothing likely, such as a far-fetched hypothesis, weighs next to nothing)."""
    return support >= 0.5


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


class PhotoReader:
    """Detector + recogniser (both ONNX): every barcode in a photo with its number."""

    def __init__(
        self,
        detector: str | Path | Sequence[str | Path],
        recogniser: str | Path,
        overrides: Overrides | None = None,
        threads: int | None = None,
        cross_check: bool = False,
        fuse: bool = True,
    ) -> None:
        """`overrides`: `ReadingPolicy` fields given by the user (None keeps the model's own). `cross_check`:
        report zxing-cpp's decode of each barcode beside it; `fuse`: take the bars as evidence (`fuse_bars`)."""
        from crnn.reading.crops import open_reader

        paths = [detector] if isinstance(detector, (str, Path)) else list(detector)
        if not paths:
            raise ValueError("give at least one detector")
        # A photo's barcode is already read in several views (detections, zooms, variants; fused below), so
        # the crop reader's own views stay off by default: on the photos they cost twice the time and no read.
        # Given, every crop is read in each of them too, and fused with the rest (`_read`).
        overrides = {"views": (), **{k: v for k, v in (overrides or {}).items() if v is not None}}
        self.reader = open_reader(recogniser, overrides, threads)
        self.policy: ReadingPolicy = self.reader.policy
        # Several detectors (e.g. trainings with different seeds) each look at each photo; their detections of
        # one barcode are grouped like those of several zooms, so the best read of any of them wins.
        self.detectors = [Detector(d, threads=threads) for d in paths]
        self.cross_check = cross_check
        self.fuse = fuse

    def read_barcodes(
        self,
        image: Image.Image,
        decodes: Sequence[dict] = (),
        owned: list[tuple[int, Detection]] | None = None,
        fits: Fits | None = None,
    ) -> list[BarcodeRead]:
        """Every barcode in `image` (its pixels), without the cross-check and whatever its confidence. `decodes`:
        the bar decoder's, when the bars are evidence: a barcode they decode lies the way they read
        (`which_way_up`). A barcode is read with its digits along one of its detection's long sides, as detected
        or turned by a half; never by a quarter (the detector predicts the digits' direction over the full circle:
        docs/decisions.md, "Quarter turns, again"). `fits`: the photo's bars fitted so far (`fitted_once`), shared with
        `bar_decodes`.

        Each detection is read under the first `variants` hypotheses of `SYMBOL_VARIANTS`; those past
        `ALWAYS_READ_VARIANTS` only for a barcode whose read from the others is unsure (under the floor or failing
        the check digit): a fallback, so a far-fetched crop never outvotes a sure read. With several `zooms`, each
        detector looks at the photo at each. Detections of one barcode (boxes overlapping by IoU >= 0.3) are one
        barcode, and their reads are fused like test-time views (`crnn.reading.fusion.fused_text`): the number all of
        its crops find likeliest together wins, with the confidence and box of the most confident crop that read
        it. With two main-job model sets on the real photos this read as many photos as taking the most confident
        read and removed the one confident misread each had (docs/decisions.md, "Views").
        """
        valid = [z for z in decodes if checksum_ok(z["text"])]
        if owned is None:
            owned = self.detections(image)
        fits = {} if fits is None else fits
        owned, first_reads, fused = self.which_way_up(image, owned, valid, fits)
        first = SYMBOL_VARIANTS[: min(self.policy.variants, ALWAYS_READ_VARIANTS)]
        later = SYMBOL_VARIANTS[len(first) : self.policy.variants]
        reads = self.read_in_passes(
            first_reads,
            fused,
            (lambda unsure: self._read(image, [(k, d) for k, d in owned if k in unsure], later)) if later else None,
        )
        partial = [k for k, b in reads.items() if b.partial_if_cut and b.sure_digits(self.policy.min_confidence)]
        if partial:  # a sure read that may be a part: is it of bars the frame cuts?
            grey, lead = image.convert("L"), _leads(owned)
            for k in partial:
                reads[k].cut = runs_out(grey, fitted_once(grey, lead[k].quad, fits), lead[k].quad, reads[k].text)
        return [reads[k] for k in sorted(reads)]

    def which_way_up(
        self,
        image: Image.Image,
        owned: list[tuple[int, Detection]],
        decodes: Sequence[dict] = (),
        fits: Fits | None = None,
    ) -> tuple[
        list[tuple[int, Detection]],
        list[tuple[int, Detection, list[tuple[np.ndarray, Decoded]]]],
        dict[int, BarcodeRead],
    ]:
        """Each barcode's detections the way up it reads, their reads under the first hypotheses, and each
        barcode's read fused from them.

        Which side of the bars the digits lie on is the least sure thing a detector says: text on both sides, or
        digits out of a map cell's view, turn it by a half, and the detections of one barcode at different zooms
        may disagree (`detections` turns them to agree with its best one). A barcode whose bars decode (`decodes`,
        check digit valid) lies the way they read. Any other is read as its detections say and, unless that reads a
        valid number at `OTHER_WAY_BELOW` confidence or more, turned by a half too; each way's crops are fused, and
        the way whose reading passes the check digit, then is more confident, is kept (issue #33: the constrained
        decoder's likelihood chooses)."""
        first = SYMBOL_VARIANTS[: min(self.policy.variants, ALWAYS_READ_VARIANTS)]
        lead = _leads(owned)
        grey = image.convert("L")

        def way_up(k: int, way: int) -> list[tuple[int, Detection]]:
            """Barcode k's detections turned `way` quarters, keyed 2k (as detected) or 2k + 1 (turned by a half),
            and its best detection fitted to the bars (`fit_to_bars`) that way."""
            out = [(2 * k + way // 2, d.turned(way)) for j, d in owned if j == k]
            fitted = fitted_once(grey, lead[k].turned(way).quad, fits)
            return out + ([(2 * k + way // 2, Detection(fitted, lead[k].score))] if fitted is not None else [])

        ways: dict[int, int | None] = {}  # the way the bars read, None where they do not decode
        for k, d in lead.items():
            z = _match_zxing(d, list(decodes))
            bars = None if z is None else np.subtract(*np.array(z["quad"], dtype=np.float64)[[1, 0]])
            ways[k] = None if bars is None else (0 if float(np.dot(bars, direction(d.quad))) >= 0 else 2)
        both = [c for k, way in ways.items() for c in way_up(k, way or 0)]
        reads = self._read(image, both, first)
        fused = self._fuse(reads)
        # The other way is read only where the bars do not decide and the way as detected reads unconvincingly.
        other = [
            c
            for k, way in ways.items()
            if way is None
            and not (2 * k in fused and fused[2 * k].checksum_ok and fused[2 * k].confidence >= OTHER_WAY_BELOW)
            for c in way_up(k, 2)
        ]
        if other:
            more = self._read(image, other, first)
            both, reads = both + other, reads + more
            fused.update(self._fuse(more))
        keep: dict[int, int] = {}
        for j in sorted(fused, key=lambda j: (fused[j].checksum_ok, fused[j].confidence, -(j % 2))):
            keep[j // 2] = j  # the likelier way last; as detected when they tie
        return (
            [(j // 2, d) for j, d in both if keep.get(j // 2) == j],
            [(j // 2, d, m) for j, d, m in reads if keep.get(j // 2) == j],
            {j // 2: fused[j] for j in keep.values()},
        )

    def detections(self, image: Image.Image) -> list[tuple[int, Detection]]:
        """Every detection of every detector at every zoom, best first, then each detector's closer look at each
        barcode (`Detector.look_closer`), each with its barcode: detections whose boxes overlap by IoU >= 0.3 are
        one barcode (numbered in order of their best detection), each turned by a half where its digits' side is
        opposite its best detection's."""
        owned = self.photo_detections(image)
        return owned + self.closer_looks(image, owned)

    def photo_detections(self, image: Image.Image) -> list[tuple[int, Detection]]:
        """`detections` without the closer looks: those of the whole photo, which lead their barcodes."""
        found = sorted(
            (d for det in self.detectors for z in self.policy.zooms for d in det.detect(image, z)),
            key=lambda d: -d.score,
        )
        barcodes: list[Detection] = []  # one per barcode: the best-scored of its group
        owned = []
        for d in found:
            match = next((k for k, g in enumerate(barcodes) if _box_iou(d.box, g.box) >= 0.3), None)
            if match is None:
                barcodes.append(d)
                match = len(barcodes) - 1
            owned.append((match, _agreeing(d, barcodes[match])))
        return owned

    def closer_looks(self, image: Image.Image, owned: list[tuple[int, Detection]]) -> list[tuple[int, Detection]]:
        """Each detector's closer look at each barcode of `owned` (`photo_detections`), as in `detections`."""
        out = []
        for k, best in _leads(owned).items():
            for d in (d for det in self.detectors for d in det.look_closer(image, best.quad)):
                if _box_iou(d.box, best.box) >= 0.3:
                    out.append((k, _agreeing(d, best)))
        return out

    def read_in_passes(
        self,
        reads: list[tuple[int, Detection, list[tuple[np.ndarray, Decoded]]]],
        fused: dict[int, BarcodeRead],
        fallback: Callable[[set[int]], list[tuple[int, Detection, list[tuple[np.ndarray, Decoded]]]]] | None,
    ) -> dict[int, BarcodeRead]:
        """One read per barcode (by its number): `fused`, the first hypotheses' `reads` fused; with a `fallback`
        (the later hypotheses), a barcode that reads unsure is fused again with what `fallback(unsure barcodes)`
        reads."""
        out = dict(fused)
        if fallback is not None:
            unsure = {k for k, b in out.items() if not b.settled(self.policy.min_confidence)}
            more = fallback(unsure) if unsure else []
            if more:
                out.update(self._fuse([r for r in reads if r[0] in unsure] + more))
        return out

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
                crops.extend((k, d, view(crop, v)) for v in self.policy.views)
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
                twins=True,
            )
            # The number is the fused one; its confidence and box are those of the most confident crop that read it
            # (`mine` is in that order), as before fusion whenever that crop's wins. A number no crop read is the
            # other layout of the same bars (`layout_twin`): its confidence is its alignment on the most confident
            # crop that read its twin.
            same = {text, layout_twin(text)}
            i, m, r = next((t for t in mine if t[2].text == text), None) or next(t for t in mine if t[2].text in same)
            if r.text != text:
                r = reading(self.reader.codec.aligned(reads[i][2][m][0], text))
            mass = sum(t[2].confidence for t in mine if t[2].checksum_ok)
            support = sum(t[2].confidence for t in mine if t[2].text in same) / mass if mass > 0 else 1.0
            out[k] = BarcodeRead(reads[i][1], r.text, r.confidence, r.checksum_ok, r.inferred, support=support)
        return out

    def bar_decodes(
        self,
        image: Image.Image,
        owned: list[tuple[int, Detection]],
        fits: Fits | None = None,
        photo_decodes: list[dict] | None = None,
    ) -> list[dict]:
        """zxing-cpp's decodes of the photo, and of each barcode found (`owned`, from `detections`) that none of
        them covers with a valid check digit, seen again in a window of its own turned upright (`zxing_upright`):
        around its best detection, and where that decodes nothing, around its bars as fitted (`fit_to_bars`). At an
        angle the detector's box lies off the bars' axis and loose; the fit is the bars' own. On the tuning scenes
        turned 45 degrees the fitted window decoded 6 more barcodes in 100 and no wrong number; read as shipped,
        up to 1.7 points more of the tuning scenes and books at 0, 45 and 135 degrees, no more sure-but-wrong reads,
        up to 4 ms a photo (docs/decisions.md, "The bars' own window"). `fits`: as in `read_barcodes`;
        `photo_decodes`: `zxing_decode(image)` where already made. Only each barcode's best detection (the whole
        photo's: `photo_detections`) is looked at."""
        grey, lead = image.convert("L"), _leads(owned)
        whole = zxing_decode(image) if photo_decodes is None else photo_decodes
        decodes = [z for z in whole if spans_its_bars(z, grey, lead, fits)]
        valid = [z for z in decodes if checksum_ok(z["text"])]
        for d in lead.values():
            if _match_zxing(d, valid) is None:
                found = zxing_upright(grey, d.quad)
                if not found:
                    fitted = fitted_once(grey, d.quad, fits)
                    if fitted is not None:
                        found = zxing_upright(grey, fitted)
                decodes += [z for z in found if spans_its_bars(z, grey, lead, fits)]
        return decodes

    def detect_and_decode(self, image: Image.Image) -> tuple[list[tuple[int, Detection]], list[dict], Fits]:
        """`detections` and `bar_decodes` of a photo, and the bars fitted on the way (`Fits`): the detector's closer
        looks, and the bar decoder's look at the whole photo, run on a second thread beside the bar decoder's
        windows. Both spend most of their time in onnxruntime, PIL and zxing-cpp, which release Python's lock, and
        the windows need only the whole photo's detections: the same results, about 5 ms a photo sooner on 2 cores
        (docs/decisions.md, "The closer look beside the bars")."""
        whole = self._worker.submit(zxing_decode, image)
        first = self.photo_detections(image)
        closer = self._worker.submit(self.closer_looks, image, first)
        fits: Fits = {}
        decodes = self.bar_decodes(image, first, fits, whole.result())
        return first + closer.result(), decodes, fits

    @cached_property
    def _worker(self) -> ThreadPoolExecutor:
        """One thread beside the caller's (`detect_and_decode`)."""
        return ThreadPoolExecutor(1, thread_name_prefix="crnn-photo")

    def read_image(self, image: Image.Image) -> list[BarcodeRead]:
        """Every barcode in `image`: with the bars as evidence (`fuse`: the photo's decodes and those of each
        barcode's upright window, `bar_decodes`), or cross-checked with zxing-cpp's decodes of the photo."""
        if self.fuse:
            owned, decodes, fits = self.detect_and_decode(image)
            return fuse_bars(self.read_barcodes(image, decodes, owned, fits), decodes, self.policy.min_confidence)
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
        return photo_result(path, image, scale, self.read_image(image), self.policy.min_confidence)


# One photo's bars fitted (`fit_to_bars`), by the quad they were fitted from: the bar decodes' window and the reads
# fit a barcode's best detection as detected alike (about 3 ms each).
Fits = dict[bytes, np.ndarray | None]


def fitted_once(grey: Image.Image, quad: np.ndarray, fits: Fits | None) -> np.ndarray | None:
    """`fit_to_bars(grey, quad)`, kept in `fits` (one photo's, where given) so that each quad is fitted once."""
    if fits is None:
        return fit_to_bars(grey, quad)
    key = np.asarray(quad, dtype=np.float64).tobytes()
    if key not in fits:
        fits[key] = fit_to_bars(grey, quad)
    return fits[key]


def runs_out(grey: Image.Image, fitted: np.ndarray | None, quad: np.ndarray, text: str) -> bool:
    """Whether a barcode's bars (`fitted`, else its detection's `quad`) may go on past the frame (`bars_run_out`),
    in modules of the format `text` reads as (an EAN-13's where it reads as none)."""
    q = quad if fitted is None else fitted
    module = float(np.linalg.norm(axis(q))) / BAR_MODULES[format_of(text) or "EAN-13"]
    return bars_run_out(grey, q, module)


def spans_its_bars(z: dict, grey: Image.Image, lead: dict[int, Detection], fits: Fits | None) -> bool:
    """Whether a bar decode is of a whole symbol: any but one of 8 digits is; one of 8 digits is unless the bars
    fitted around the barcode it lies in (its best detection, `lead`) are longer than its line by more than
    `PART_OF_SYMBOL` allows (where the bars fit)."""
    if len(printed_form(z["text"], z["format"])) != 8:
        return True
    d = next((d for d in lead.values() if _match_zxing(d, [z]) is not None), None)
    fitted = None if d is None else fitted_once(grey, d.quad, fits)
    if fitted is None:
        return True
    bars, line = axis(fitted), axis(np.asarray(z["quad"], dtype=np.float64))
    return abs(float(np.dot(line, bars))) >= PART_OF_SYMBOL * float(np.dot(bars, bars))


def _leads(owned: list[tuple[int, Detection]]) -> dict[int, Detection]:
    """Each barcode's best detection: `owned` (from `PhotoReader.detections`) is best first, so its first leads it."""
    lead: dict[int, Detection] = {}
    for k, d in owned:
        lead.setdefault(k, d)
    return lead


def _agreeing(d: Detection, best: Detection) -> Detection:
    """`d` turned by a half where its digits' side is opposite `best`'s (detections of one barcode agree)."""
    return d if float(np.dot(direction(d.quad), direction(best.quad))) >= 0 else d.turned(2)


def photo_result(
    path: str | Path, image: Image.Image, scale: float, reads: list[BarcodeRead], min_confidence: float = 0.0
) -> PhotoResult:
    """Readings of a photo loaded at `scale`, with boxes and size in the file's own pixels; those under
    `min_confidence` or failing the check digit set apart as `uncertain`."""
    for b in reads:
        b.detection = Detection(b.detection.quad / scale, b.detection.score)
    size = (round(image.width / scale), round(image.height / scale))
    sure = [b.vouched or (not b.conflict and b.sure_digits(min_confidence)) for b in reads]
    return PhotoResult(
        str(path),
        size,
        [b for b, s in zip(reads, sure, strict=True) if s],
        uncertain=[b for b, s in zip(reads, sure, strict=True) if not s],
    )


def _seen(z: dict, text: str) -> dict:
    """A reading's `zxing` record: the decode's text and format, and whether it is `text`'s number."""
    return {"text": z["text"], "format": z["format"], "agrees": same_number(z["text"], text)}


def cross_check(reads: list[BarcodeRead], decodes: list[dict]) -> None:
    """Attach to each reading the bar decoder's result for the same barcode (same pixels), if any."""
    for b in reads:
        z = _match_zxing(b.detection, decodes)
        if z is not None:
            b.zxing = _seen(z, b.text)


def _stands(b: BarcodeRead, bars: str, decoded_as: str) -> bool:
    """Whether a sure read of as many digits as the bars' number `bars` (as printed; `decoded_as`: the bar decoder's
    name for its format) stands against it as a conflict: convincing (`OTHER_WAY_BELOW` confidence or more) and
    valid in the bars' format. An 8-digit number may be an EAN-8 or a UPC-E: the bars tell the two layouts apart
    (their guards and parities), the digits alone do not."""
    fmt = format_of(bars, decoded_as)
    return b.confidence >= OTHER_WAY_BELOW and (fmt is None or is_valid(b.text, fmt))


def fuse_bars(reads: list[BarcodeRead], decodes: list[dict], min_confidence: float) -> list[BarcodeRead]:
    """The bars as evidence beside the digits. For each reading, the bar decoder's decode of the same barcode
    (a valid check digit: zxing-cpp checks it) decides:

    - the same number: sure, `source` "digits+bars", whatever the recogniser's confidence;
    - another number of as many digits (as printed), valid in the bars' format too, read at `OTHER_WAY_BELOW`
      confidence or more: a conflict, never sure; the recogniser's number is kept, the bars' is in `zxing`;
    - another number with fewer digits than the recogniser's sure read: the recogniser's read stands, as a decode
      of fewer digits is of a part of the symbol (zxing-cpp finds a UPC-E in the bars of an EAN-13);
    - the recogniser unsure (under the floor or failing its check digit), sure of fewer digits than the bars
      hold (the digits in view of a symbol whose bars decode whole, guards and all), or sure of a number not valid
      in the bars' format (an EAN-8 read of a UPC-E: `_stands`), or unconvincingly (under `OTHER_WAY_BELOW`)
      sure of another number of as many digits: the bars' number as printed
      (`printed_form`: a UPC-A's 12 digits), `source` "bars", unless another reading already stands for that
      decode (two detections of one barcode): then it stays as it is, unsure;
    - no decode there: the recogniser's reading as it is.

    A decode that no detection covers is added as a reading of its own (`source` "bars", confidence 0: the
    recogniser never saw it). Readings keep their order; added ones come last.
    """
    used: set[int] = set()
    matched = []
    for b in reads:
        z = _match_zxing(b.detection, decodes)
        if z is not None and checksum_ok(z["text"]):
            matched.append((b, z, next(i for i, d in enumerate(decodes) if d is z)))
    for b, z, i in matched:  # agreements first: a decode vouches for the reading of its number
        b.zxing = _seen(z, b.text)
        if b.zxing["agrees"]:
            b.source = "digits+bars"
            used.add(i)
    for b, z, i in matched:
        if b.source == "digits+bars":
            continue
        sure, bars = b.sure_digits(min_confidence), printed_form(z["text"], z["format"])
        if sure and len(b.text) > len(bars):  # the bars' number is of a part of the symbol: the digits stand
            used.add(i)
        elif sure and (i in used or (len(b.text) == len(bars) and _stands(b, bars, z["format"]))):
            b.conflict = True
            used.add(i)
        elif i not in used:  # a decode another reading already stands for leaves this one as it is (unsure)
            b.text, b.checksum_ok, b.inferred, b.source = bars, True, (), "bars"
            b.zxing = _seen(z, b.text)
            used.add(i)
    for i, z in enumerate(decodes):
        if i not in used and checksum_ok(z["text"]):
            quad = np.array(z["quad"], dtype=np.float32)
            text = printed_form(z["text"], z["format"])
            reads.append(BarcodeRead(Detection(quad, 0.0), text, 0.0, True, zxing=_seen(z, text), source="bars"))
    return reads
