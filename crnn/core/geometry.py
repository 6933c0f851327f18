"""Quads and straightening: from a barcode's oriented outline to the upright "lower bars + digits" crop.

One code path for the generator's training crops and for crops cut from a detector's boxes at inference:
`digit_band` turns a symbol quad into the band the recogniser reads, `rectify` warps a quad to an upright
rectangle. Quads are `(4, 2)` float arrays of corners in image pixels, in the symbol's own order:
top-left, top-right, bottom-right, bottom-left (the digits run from the first corner to the second).

Numpy + Pillow only (no torch), so photo reading with onnxruntime stays light.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from crnn.core.compiled import compiled

# The recogniser's crops: lower bars + digits at width / height ~ 3.7 (the real crops' aspect), with
# about a module of margin at the sides and below (1% of a symbol's width).
BAND_ASPECT = 3.7


BAND_PAD_X = 0.012


BAND_PAD_BOTTOM = 0.01


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3x3 H with dst ~ H @ src for four point pairs (arrays of shape (4, 2))."""
    a = []
    b = []
    for (x, y), (u, v) in zip(np.asarray(src, dtype=np.float64), np.asarray(dst, dtype=np.float64), strict=True):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    h = np.linalg.solve(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return np.append(h, 1.0).reshape(3, 3)


def apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Points `(n, 2)` mapped through the homography `h`."""
    q = np.column_stack([pts, np.ones(len(pts))]) @ h.T
    return q[:, :2] / q[:, 2:3]


def perspective_coeffs(dst: np.ndarray, src: np.ndarray) -> tuple[float, ...]:
    """PIL PERSPECTIVE coefficients mapping output points `dst` to input points `src` (four each)."""
    g = homography(dst, src)
    return tuple(float(v) for v in (g / g[2, 2]).ravel()[:8])


def quad_size(quad: np.ndarray) -> tuple[float, float]:
    """Mean width (top and bottom edges) and height (left and right edges) of a quad, in pixels."""
    q = np.asarray(quad, dtype=np.float64)
    w = (np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2
    h = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
    return float(w), float(h)


def corners(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """The quad of the axis-aligned rectangle from (x0, y0) to (x1, y1)."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


UNIT_SQUARE = corners(0, 0, 1, 1)


def box_quad(box: tuple[float, float, float, float]) -> np.ndarray:
    """The quad of an axis-aligned box (x, y, w, h)."""
    x, y, w, h = box
    return corners(x, y, x + w, y + h)


def axis(quad: np.ndarray) -> np.ndarray:
    """A quad's digit line as a vector: the mean of its top and bottom edges, first corner to second (from the middle
    of its first end to the middle of its last)."""
    return ((quad[1] - quad[0]) + (quad[2] - quad[3])) / 2


def direction(quad: np.ndarray) -> np.ndarray:
    """Unit vector along a quad's digit line (`axis`)."""
    d = axis(quad)
    return d / max(float(np.linalg.norm(d)), 1e-9)


def digit_band(symbol: np.ndarray, aspect: float = BAND_ASPECT) -> np.ndarray:
    """The "lower bars + digits" quad of a symbol quad (bars and digits, digits at the bottom edge).

    The band spans the symbol's width plus `BAND_PAD_X` a side, ends `BAND_PAD_BOTTOM` of the width below
    the symbol and is `aspect` times wider than tall, measured in the symbol's own (perspective) frame.
    """
    w, h = quad_size(symbol)
    if w < 1 or h < 1:
        raise ValueError(f"degenerate symbol quad {np.round(symbol, 1).tolist()}")
    x0, x1 = -BAND_PAD_X, 1 + BAND_PAD_X
    y1 = 1 + BAND_PAD_BOTTOM * w / h
    return sub_quad(symbol, (x0, y1 - (x1 - x0) * w / aspect / h, x1, y1))


# Test-time hypotheses about a detected symbol, as (left, top, right, bottom) of the unit square: as
# detected, with the bottom edge lower (digits cut off by a box that ends too high), and the whole box moved down
# by 0.3, 0.4, 0.5 and 0.6 of its height (digits far under tall or glare-washed bars, which the detector boxes
# alone; these read only as a fallback, `ALWAYS_READ_VARIANTS`; docs/decisions.md, "Symbol variants"). Hypotheses that
# pull the right edge in (an add-on taken for part of the symbol) were tried and lost photos: the reader
# is confidently wrong on a crop that cuts digits.
SYMBOL_VARIANTS = (
    (0.0, 0.0, 1.0, 1.0),
    (0.0, 0.0, 1.0, 1.08),
    (0.0, 0.3, 1.0, 1.3),
    (0.0, 0.4, 1.0, 1.4),
    (0.0, 0.5, 1.0, 1.5),
    (0.0, 0.6, 1.0, 1.6),
)


# Hypotheses read for every detection; the later ones only for a barcode the first ones read unsure (a fallback).
ALWAYS_READ_VARIANTS = 2


def sub_quad(quad: np.ndarray, frac: tuple[float, float, float, float]) -> np.ndarray:
    """The part (left, top, right, bottom; fractions, may exceed 0..1) of a quad, in its own frame."""
    return apply_h(homography(UNIT_SQUARE, quad), corners(*frac))


def rectify(image: Image.Image, quad: np.ndarray, size: tuple[int, int] | None = None) -> Image.Image:
    """The quad warped to an upright `size` (w, h) image; default: the quad's own size in pixels."""
    if size is None:
        w, h = quad_size(quad)
        size = (max(1, round(w)), max(1, round(h)))
    coeffs = perspective_coeffs(corners(0, 0, *size), np.asarray(quad, dtype=np.float64))
    return image.transform(size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)


def straighten(image: Image.Image, symbol: np.ndarray, max_height: int = 128) -> Image.Image:
    """The recogniser's crop of a symbol quad: its digit band, upright, at most `max_height` pixels tall."""
    band = digit_band(symbol)
    w, h = quad_size(band)
    scale = min(1.0, max_height / max(h, 1.0))
    return rectify(image, band, (max(8, round(w * scale)), max(4, round(h * scale))))


@compiled
def label_regions(mask: np.ndarray) -> np.ndarray:  # pragma: no branch - compiled where numba is installed
    """4-connected regions of a boolean map as labels `(h, w)` int32: 0 off, 1..n in the raster order of each
    region's first cell (a breadth-first fill from it)."""
    h, w = mask.shape
    labels = np.zeros((h, w), dtype=np.int32)
    queue = np.empty(h * w, dtype=np.int64)
    n = 0
    for r0 in range(h):
        for c0 in range(w):
            if not mask[r0, c0] or labels[r0, c0] != 0:
                continue
            n += 1
            labels[r0, c0] = n
            head, tail = 0, 1
            queue[0] = r0 * w + c0
            while head < tail:
                r, c = divmod(queue[head], w)
                head += 1
                for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                    if 0 <= rr < h and 0 <= cc < w and mask[rr, cc] and labels[rr, cc] == 0:
                        labels[rr, cc] = n
                        queue[tail] = rr * w + cc
                        tail += 1
    return labels
