"""The Python API: one reader for crops and photos, given as paths, PIL images or numpy arrays.

    from crnn import BarcodeReader

    reader = BarcodeReader.pretrained()                               # the bundled models (crops=True: crops)
    reader = BarcodeReader("model.onnx", detector="detector.onnx")   # your own; no detector: the images are crops
    for barcode in reader.read("photo.jpg"):                          # or a PIL image, or an array (bgr=True: OpenCV)
        print(barcode.text, barcode.format, barcode.gtin13, barcode.confidence, barcode.sure, barcode.box)

Torch-free: onnxruntime only. Every reading is a `Barcode`, sure or not (`sure`), as `crnn read` prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from crnn.core.confidence import is_sure
from crnn.core.images import load_image
from crnn.core.symbology import format_of, gtin13
from crnn.reading.detection import MAX_SIDE

ImageInput = str | Path | Image.Image | np.ndarray


@dataclass(frozen=True)
class Barcode:
    """One reading. `text` as printed; `format` EAN-13, UPC-A, EAN-8 or UPC-E (None: not a valid code);
    `gtin13` the number as a 13-digit GTIN (None when `text` is not a valid code); `sure`: passes the check digit
    and the confidence floor, or the bars agree; `box` (x, y, w, h) and `quad` (digits along its bottom edge) in
    the image's pixels, for photos; `source` "digits", "digits+bars" or "bars"; `conflict`: the bars read another
    number; `cut`: the barcode's bars may go on past the photo's edge, so a number that may be a part of it is not
    sure (take the photo from further away)."""

    text: str
    format: str | None
    gtin13: str | None
    confidence: float
    sure: bool
    checksum_ok: bool
    box: tuple[int, int, int, int] | None = None
    quad: tuple[tuple[float, float], ...] | None = None
    source: str = "digits"
    conflict: bool = False
    cut: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_image(image: ImageInput, bgr: bool = False) -> Image.Image:
    """An RGB PIL image from a path (any format the loader reads, EXIF orientation applied), a PIL image, or an
    array: `(H, W)` grey or `(H, W, 3|4)` uint8 (`bgr=True` for OpenCV's channel order)."""
    if isinstance(image, (str, Path)):
        return load_image(image)
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        arr = image
        if arr.dtype != np.uint8:
            raise ValueError(f"expected a uint8 array, got {arr.dtype}")
        if arr.ndim == 3 and arr.shape[2] in (3, 4):
            arr = arr[:, :, :3]
            if bgr:
                arr = arr[:, :, ::-1]
            return Image.fromarray(np.ascontiguousarray(arr), "RGB")
        if arr.ndim == 2:
            return Image.fromarray(arr, "L").convert("RGB")
        raise ValueError(f"expected an (H, W) or (H, W, 3|4) array, got shape {arr.shape}")
    raise TypeError(f"expected a path, a PIL image or a numpy array, got {type(image).__name__}")


class BarcodeReader:
    """Reads crops (no `detector`) or photos (a `detector`, or several): `read` one image, `read_many` a list.

    `overrides`: reading settings as `crnn read` takes them (`min_confidence`, `zooms`, `variants`, ...; see
    `crnn.reading.policy.ReadingPolicy`). `fuse_bars`: photos only, zxing-cpp's decode of the bars as evidence."""

    def __init__(
        self,
        model: str | Path,
        detector: str | Path | Sequence[str | Path] | None = None,
        *,
        threads: int | None = None,
        fuse_bars: bool = True,
        **overrides: Any,
    ) -> None:
        from crnn.reading.crops import open_reader
        from crnn.reading.photos import PhotoReader

        self.photos = None
        if detector is not None:
            self.photos = PhotoReader(detector, model, overrides, threads=threads, fuse=fuse_bars)
            self.policy = self.photos.policy
        else:
            self.crops = open_reader(model, overrides, threads)
            self.policy = self.crops.policy

    @classmethod
    def pretrained(cls, crops: bool = False, **kwargs: Any) -> BarcodeReader:
        """A reader with the models shipped in the package (`crnn.models`): photos, or crops with `crops=True`.
        `kwargs` as for the constructor (threads, fuse_bars, reading overrides)."""
        from crnn.models import bundled

        return cls(bundled("recogniser"), None if crops else bundled("detector"), **kwargs)

    def read(self, image: ImageInput, bgr: bool = False) -> list[Barcode]:
        """Every barcode in a photo (best first), or the one reading of a crop."""
        return self.read_many([image], bgr)[0]

    def read_many(self, images: Sequence[ImageInput], bgr: bool = False) -> list[list[Barcode]]:
        """`read` for each image; crops are read in one batch."""
        pictures = [as_image(i, bgr) for i in images]
        if self.photos is None:
            out = []
            for r in self.crops.read(pictures):
                sure = is_sure(r.confidence, r.checksum_ok, self.policy.min_confidence)
                fmt = format_of(r.text)
                out.append([Barcode(r.text, fmt, gtin13(r.text, fmt), r.confidence, sure, r.checksum_ok)])
            return out
        return [self._photo(p) for p in pictures]

    def _photo(self, image: Image.Image) -> list[Barcode]:
        from crnn.reading.photos import photo_result

        assert self.photos is not None
        scale = min(1.0, MAX_SIDE / max(image.size))
        shown = image if scale == 1.0 else image.resize((round(image.width * scale), round(image.height * scale)))
        result = photo_result("<image>", shown, scale, self.photos.read_image(shown), self.policy.min_confidence)
        out = []
        for b, sure in [(b, True) for b in result.barcodes] + [(b, False) for b in result.uncertain]:
            quad = tuple((round(float(x), 1), round(float(y), 1)) for x, y in b.detection.quad)
            fmt = b.format
            out.append(
                Barcode(
                    b.text,
                    fmt,
                    gtin13(b.text, fmt),
                    b.confidence,
                    sure,
                    b.checksum_ok,
                    b.detection.box,
                    quad,
                    b.source,
                    b.conflict,
                    b.cut,
                )
            )
        return out
