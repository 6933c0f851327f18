"""The one image preprocessing path, shared by training, evaluation, export checks and onnxruntime reading.

Numpy + Pillow only (no torch), so reading with onnxruntime stays light.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class InputSpec:
    """What the network expects; stored in checkpoints and in the ONNX metadata."""

    height: int
    width: int
    channels: int
    mean: float
    std: float
    blur: float = 0.0  # Gaussian std in network pixels, applied after letterboxing (0: none)
    x_stretch: float = 1.0  # images are widened by this factor before letterboxing (more pixels per bar)

    def __post_init__(self) -> None:
        if not 0.25 <= self.x_stretch <= 8:
            raise ValueError(f"x_stretch must be within [0.25, 8], got {self.x_stretch}")


def border_colour(image: Image.Image, sides: bool = True) -> tuple[int, ...] | int:
    """Median colour of the image's top and bottom rows, and of its outermost columns when `sides`: what to
    fill new pixels with when warping or padding (the paper, not the ink)."""
    arr = np.asarray(image)
    edge = np.concatenate([arr[0], arr[-1], *((arr[:, 0], arr[:, -1]) if sides else ())])
    med = np.median(edge, axis=0)
    return int(med) if np.ndim(med) == 0 else tuple(int(v) for v in med)


def letterbox(image: Image.Image, height: int, width: int, x_stretch: float = 1.0) -> Image.Image:
    """Resize keeping the aspect ratio (widened `x_stretch` times) so the image fits height x width; pad
    right/bottom with edge colour.

    Padding replicates the last column/row, which looks like more background rather than a hard border.
    """
    w, h = image.size
    scale = min(height / h, width / (w * x_stretch))
    nw, nh = max(1, round(w * scale * x_stretch)), max(1, round(h * scale))
    resized = image.resize((nw, nh), Image.Resampling.BILINEAR)
    if (nw, nh) == (width, height):
        return resized
    arr = np.asarray(resized)
    pad = ((0, height - nh), (0, width - nw)) + ((0, 0),) * (arr.ndim - 2)
    return Image.fromarray(np.pad(arr, pad, mode="edge"))


# Test-time views of a crop: how a detector or a hand might have cropped the same barcode a little differently
# (bars above cut, sides trimmed, a looser frame). `Reader` fuses `VIEWS` for unsure reads (docs/decisions.md, "Views":
# the third, tried, added cost and no read).
VIEW_NAMES = ("top15", "sides4", "pad5")


VIEWS = ("top15", "sides4")


def view(image: Image.Image, name: str) -> Image.Image:
    """One of `VIEW_NAMES` of a crop: `top15` cuts the top 15% (the bars, not the digits at the bottom), `sides4`
    trims 4% of the width each side, `pad5` pads 5% all round with the border colour."""
    w, h = image.size
    if name == "top15":
        return image.crop((0, round(h * 0.15), w, h))
    if name == "sides4":
        return image.crop((round(w * 0.04), 0, w - round(w * 0.04), h))
    if name == "pad5":
        dx, dy = max(1, round(w * 0.05)), max(1, round(h * 0.05))
        out = Image.new(image.mode, (w + 2 * dx, h + 2 * dy), border_colour(image))
        out.paste(image, (dx, dy))
        return out
    raise ValueError(f"unknown view {name!r}: expected one of {', '.join(VIEW_NAMES)}")


def shrink_for_augment(image: Image.Image, height: int) -> Image.Image:
    """At most twice the network's `height`: augmenting there costs a fraction of full resolution and
    looks the same once letterboxed (training only; evaluation and inference resize the original)."""
    if image.height <= 2 * height:
        return image
    scale = 2 * height / image.height
    return image.resize((max(8, round(image.width * scale)), 2 * height), Image.Resampling.BILINEAR)


def to_array(image: Image.Image, spec: InputSpec) -> np.ndarray:
    """Letterbox and normalise one image to a float32 array `(C, H, W)`."""
    im = image.convert("L" if spec.channels == 1 else "RGB")
    im = letterbox(im, spec.height, spec.width, spec.x_stretch)
    if spec.blur > 0:
        im = im.filter(ImageFilter.GaussianBlur(spec.blur))
    arr = np.asarray(im, dtype=np.float32) / 255.0
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return (arr - spec.mean) / spec.std


def to_batch(images: list[Image.Image], spec: InputSpec) -> np.ndarray:
    """Stack preprocessed images into `(N, C, H, W)` float32."""
    return np.stack([to_array(im, spec) for im in images]).astype(np.float32, copy=False)
