"""Opening image files: the one loader every reader, training and evaluation use.

Any file that cannot be used (missing, a broken symbolic link, too large, or failing to decode in any way) raises
`ImageError` naming the file and the reason, so callers can skip it, count it and go on. Pillow + numpy only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageOps

# Refuse decompression bombs instead of trusting a file's header. Enforced exactly (Pillow itself only warns up to
# twice its limit): 128 MP takes a 108 MP phone photo at full size (docs/decisions.md, "Pixel limit").
MAX_PIXELS = 128_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# EXIF orientations 5-8 turn the picture a quarter: its width and height swap.
_QUARTER_TURNS = {5, 6, 7, 8}

T = TypeVar("T")
log = logging.getLogger(__name__)


class ImageError(ValueError):
    """An image file that cannot be used; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"cannot read image {path}: {reason}")
        self.path, self.reason = Path(path), reason


def _check_file(p: Path) -> None:
    if p.is_symlink() and not p.exists():
        raise ImageError(p, f"broken symbolic link (to {p.readlink()})")
    if not p.is_file():
        raise ImageError(p, "not found")


def _check_pixels(p: Path, size: tuple[int, int]) -> None:
    if size[0] * size[1] > MAX_PIXELS:
        raise ImageError(p, f"{size[0]}x{size[1]} is over the {MAX_PIXELS // 1_000_000} megapixel limit")


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) as the image shows (EXIF orientation applied), from the header alone: the fast check
    before long work. It does not decode pixels, so a file with damaged image data passes it."""
    p = Path(path)
    _check_file(p)
    try:
        with Image.open(p) as im:
            w, h = im.size
            orientation = _orientation(im)
    except Exception as e:  # Pillow raises many types (OSError, SyntaxError, ValueError...) for a bad file
        raise ImageError(p, _reason(e)) from e
    _check_pixels(p, (w, h))
    return (h, w) if orientation in _QUARTER_TURNS else (w, h)


def _orientation(im: Image.Image) -> int | None:
    """The EXIF orientation tag, read without decoding pixels (Pillow's PNG `getexif` loads the image to look for
    an eXIf chunk after the pixels; one before them is in `info`)."""
    if im.format != "PNG":
        return im.getexif().get(0x0112)
    exif = Image.Exif()
    if im.info.get("exif"):
        exif.load(im.info["exif"])
    return exif.get(0x0112)


def load_image(path: str | Path, max_side: int | None = None) -> Image.Image:
    """An image file as RGB, as a viewer shows it: EXIF orientation applied; 16-bit and 32-bit grey scaled to 8
    bits (not clipped to white); palette, CMYK, 1-bit and grey converted; transparency laid on white.

    `max_side`: JPEGs larger than this are decoded at a reduced size directly (`_draft_size`: a long side of at
    least three quarters of `max_side`), so a huge photo never sits in memory at full size; the caller scales the
    rest. ImageError for any unusable file.
    """
    p = Path(path)
    _check_file(p)
    try:
        with Image.open(p) as im:
            _check_pixels(p, im.size)
            if max_side is not None and im.format == "JPEG" and max(im.size) > max_side:
                im.draft("RGB", _draft_size(im.size, max_side))
            im.load()
            ImageOps.exif_transpose(im, in_place=True)  # no copy of a 12-megapixel photo only to convert it
            return _to_rgb(im)
    except ImageError:
        raise
    except Exception as e:  # a corrupt file raises many types (SyntaxError for a broken PNG chunk, OSError, ...)
        raise ImageError(p, _reason(e)) from e


def _draft_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The size to ask a JPEG's decoder for (`Image.draft`): the largest of its 1/2, 1/4 and 1/8 reductions whose long
    side stays at least three quarters of `max_side`, else the full size. A 12-megapixel phone photo (4032 px) is
    then decoded at 2016 px, four times fewer pixels, with no resize after it; one just over `max_side` is decoded
    whole and scaled by the caller."""
    r = next((r for r in (8, 4, 2) if max(size) / r >= 0.75 * max_side), 1)
    return size[0] // r, size[1] // r


def _reason(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grey (PNG opens as I;16 or I): full scale is 65535, as a viewer maps it.
        arr = np.asarray(im, dtype=np.float64)
        return Image.fromarray(np.clip(arr / 257.0 + 0.5, 0, 255).astype(np.uint8), "L").convert("RGB")
    if im.mode == "F":
        # Floating-point grey: 0-1 when it lies there, else 0-255.
        arr = np.nan_to_num(np.asarray(im, dtype=np.float64))
        arr = arr * 255.0 if arr.size and arr.max() <= 1.0 else arr
        return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "L").convert("RGB")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def load_each(
    items: Iterable[T], path_of: Callable[[T], str | Path], errors: list[ImageError]
) -> Iterator[tuple[T, Image.Image]]:
    """(item, image) for every item whose image loads; each that does not is appended to `errors` and skipped."""
    for item in items:
        try:
            yield item, load_image(path_of(item))
        except ImageError as e:
            errors.append(e)


def with_readable_headers(items: Sequence[T], errors: list[str], where: Callable[[T], str] = lambda _: "") -> list[T]:
    """The items (anything with a `path`) whose image header opens: the fast check before training, no pixels
    decoded. Each other one is logged, appended to `errors` ("file: reason" + `where(item)`) and left out."""
    out = []
    for item in items:
        try:
            image_size(item.path)  # type: ignore[attr-defined]
            out.append(item)
        except ImageError as e:
            errors.append(f"{e}{where(item)}")
            log.warning("skipped %s", errors[-1])
    return out
