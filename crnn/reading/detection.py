"""The detector at run time (onnxruntime): photo loading, letterboxing, maps to oriented boxes."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from crnn.config.reading import LOOK_SHARE, DetectorPostConfig
from crnn.core.geometry import direction, label_regions, quad_size
from crnn.core.images import image_size, load_image
from crnn.core.preprocess import border_colour, letterbox
from crnn.reading.crops import ort_session

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

    def turned(self, quarters: int) -> Detection:
        """The same barcode with its digits' side taken `quarters` quarter turns on (its corners rolled)."""
        return Detection(np.roll(self.quad, -quarters, axis=0), self.score) if quarters % 4 else self

    @property
    def angle(self) -> float:
        """Direction of the digit line, degrees (0: upright, positive: clockwise in image coordinates)."""
        d = direction(self.quad)
        return math.degrees(math.atan2(d[1], d[0]))


def load_photo(path: str | Path, max_side: int = MAX_SIDE) -> tuple[Image.Image, float]:
    """An RGB photo scaled so its long side is at most `max_side`, and that scale (<= 1).

    `crnn.core.images.load_image` opens it (JPEGs decoded at a reduced size directly, EXIF orientation applied);
    ImageError (a ValueError naming the file) for unusable files.
    """
    out = load_image(path, max_side)
    full = image_size(path)
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
    """4-connected regions of a boolean map, each as an `(n, 2)` array of (row, col), in raster order of their first
    cell (`crnn.core.geometry.label_regions`: compiled where numba is installed)."""
    labels = label_regions(np.ascontiguousarray(mask, dtype=np.bool_))
    rows, cols = np.nonzero(labels)
    which = labels[rows, cols]
    order = np.argsort(which, kind="stable")
    cells = np.column_stack([rows, cols])[order]
    return np.split(cells, np.flatnonzero(np.diff(which[order])) + 1) if len(cells) else []


def digit_direction(cos: np.ndarray, sin: np.ndarray, weight: np.ndarray) -> float:
    """The digit line's direction (radians) of a region from its cells' predicted directions, weighted.

    The bars' axis is found first from the doubled angles, which a cell that took the digits for the other side
    (a half turn off: text above the bars too, or the digits out of its view) does not cancel; then which way
    along it the digits lie, by the weighted vote of the cells. Averaging the vectors themselves instead turns a
    region split between the two ways into a direction across the bars."""
    phi = np.arctan2(sin, cos)
    axis = 0.5 * math.atan2(float((np.sin(2 * phi) * weight).sum()), float((np.cos(2 * phi) * weight).sum()))
    along = float((np.cos(phi - axis) * weight).sum())
    return axis if along >= 0 else axis + math.pi


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
        theta = digit_direction(cos[rows, cols], sin[rows, cols], p)
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
            if "crnn.charset" in meta:
                raise ValueError(f"{path} is a recogniser, not a barcode detector: give it as `--model`") from None
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

    def look_closer(self, image: Image.Image, quad: np.ndarray, share: float = LOOK_SHARE) -> list[Detection]:
        """Every barcode in a window around `quad` (a detection), quads in the image's pixels.

        The window is turned so the detection's digit line runs left to right and scaled so the detection's long
        side spans `share` of the detector's input: the barcode as the detector sees best (upright, mid-sized, with
        its surroundings), whatever its angle and size in the photo. Parts of the window past the photo are filled
        with its border colour."""
        k = max(quad_size(quad)) / share / self.size  # photo pixels per window pixel
        window, to_photo = upright_window(image, quad, k, (self.size, self.size))
        return [Detection(to_photo(f.quad), f.score) for f in self.detect(window)]


def upright_window(
    image: Image.Image,
    quad: np.ndarray,
    k: float,
    size: tuple[int, int],
    resample: Image.Resampling = Image.Resampling.BILINEAR,
) -> tuple[Image.Image, Callable[[np.ndarray], np.ndarray]]:
    """A `size` window of `image` centred on `quad`, turned so the quad's digit line runs left to right, at `k`
    photo pixels a window pixel (sampled with `resample`); parts past the photo take its border colour. Also the map
    of window points (an (N, 2) array) back to the photo's pixels."""
    d = direction(quad)
    n = np.array([-d[1], d[0]])
    src, r = image, max(1, int(k / 1.5))  # much smaller: the photo reduced first (box filter), no aliasing
    if r > 1:
        src = image.reduce(r)
    origin = quad.mean(axis=0) - k * (size[0] / 2 * d + size[1] / 2 * n)
    a = k / r
    coeffs = (a * d[0], a * n[0], origin[0] / r, a * d[1], a * n[1], origin[1] / r)
    window = src.transform(size, Image.Transform.AFFINE, coeffs, resample, fillcolor=border_colour(src))

    def to_photo(points: np.ndarray) -> np.ndarray:
        q = np.asarray(points, dtype=np.float64)
        return origin + k * (q[:, :1] * d + q[:, 1:] * n)

    return window, to_photo


def _box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """IoU of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
