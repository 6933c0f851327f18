"""A detected symbol's quad fitted to its bars in the photo's own pixels (numpy + PIL, no network).

The detector draws a barcode's box from cells 4 input pixels apart, as a rectangle: its axis is a few degrees off
at any angle but upright, it cannot follow a label seen in perspective, and its ends and bottom edge stray onto
print beside and under the digits. The bars say where the symbol is more exactly: they are long, parallel,
high-contrast edges. `fit_to_bars` finds them in a grid warped from around the detection (mostly horizontal
gradients, little vertical), fits the lines along their top and bottom (perspective kept: each line is fitted, not
assumed parallel), their ends (along the bars' slant), and the digit row under them (ink, then a gap), and returns
the symbol's quad from those lines: the read is then of the digits the bars are printed over.

Thresholds were chosen on synthetic scenes (docs/decisions.md, "Fitting the bars"); real photos only reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from crnn.core.compiled import compiled, numba
from crnn.core.geometry import apply_h, axis, corners, homography, quad_size, rectify, sub_quad

# The detection's surroundings searched (left, top, right, bottom of its unit square): its ends and bottom edge
# may be short of the symbol by a fifth of its width and a good share of its height.
SEARCH = (-0.2, -0.15, 1.2, 1.45)
GRID_WIDTH = 256  # grid columns; rows follow the searched region's aspect
BAR_RATIO = 2.0  # a bar pixel: horizontal gradient energy at least this many times the vertical
ROW_SHARE = 0.3  # a bar row: at least this share of the detection's columns are bar pixels
COLUMN_SHARE = 0.4  # a bar column: this share of the bar rows
DIGIT_GAP = 0.35  # the digits end where the ink under the bars falls under this share of its peak
DIGITS_DEFAULT = 0.1  # the digits' depth under the bars (share of their width) where no gap is seen
OUTER_REACH = 0.12  # how far past the bars' ends an outer digit (UPC, EAN-13's first) is looked for
OUTER_INK = 0.5  # ink there, against the digit row's
OUTER_QUIET = 0.03  # a gap of this share of the bars' width ends the search
MARGIN = 0.01  # added past the ends found


def _box_sum(a: np.ndarray, ry: int, rx: int) -> np.ndarray:
    """Sum of `a` over a (2 ry + 1) x (2 rx + 1) window about each pixel (clipped at the edges)."""
    if numba is not None:  # compiled: the same sums in the same order, without numpy's gathered copies
        return _box_sum_kernel(np.ascontiguousarray(a), ry, rx)
    c = np.cumsum(np.cumsum(np.pad(a, ((1, 0), (1, 0))), 0), 1)
    h, w = a.shape
    y0, y1 = np.clip(np.arange(h) - ry, 0, h), np.clip(np.arange(h) + ry + 1, 0, h)
    x0, x1 = np.clip(np.arange(w) - rx, 0, w), np.clip(np.arange(w) + rx + 1, 0, w)
    return c[y1][:, x1] - c[y0][:, x1] - c[y1][:, x0] + c[y0][:, x0]


@compiled
def _box_sum_kernel(a, ry, rx):  # pragma: no cover - compiled
    """`_box_sum` as numpy computes it: the table of sums down the columns, then along the rows, in `a`'s type."""
    h, w = a.shape
    c = np.zeros((h + 1, w + 1), dtype=a.dtype)
    for i in range(h):
        for j in range(w):
            c[i + 1, j + 1] = c[i, j + 1] + a[i, j]
    for i in range(h + 1):
        for j in range(1, w + 1):
            c[i, j] = c[i, j - 1] + c[i, j]
    out = np.empty_like(a)
    for i in range(h):
        y0, y1 = max(i - ry, 0), min(i + ry + 1, h)
        for j in range(w):
            x0, x1 = max(j - rx, 0), min(j + rx + 1, w)
            out[i, j] = c[y1, x1] - c[y0, x1] - c[y1, x0] + c[y0, x0]
    return out


def _longest_run(mask: np.ndarray, gap: int) -> tuple[int, int] | None:
    """(start, end) of the longest run of True, runs closer than `gap` False entries joined; None if all False."""
    joined: list[tuple[int, int]] = []
    for start, end in _runs(mask):
        if joined and start - joined[-1][1] <= gap:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return max(joined, key=lambda r: r[1] - r[0], default=None)


def _without_addon(columns: np.ndarray, c0: int, c1: int) -> tuple[int, int]:
    """The bars' columns `c0:c1` without an add-on: GS1 prints a 2- or 5-digit add-on (20 or 47 modules) 7-12
    modules right of the main symbol (95 modules where it has one), while the symbol's own spaces are at most 4
    modules wide: a gap of at least 3 grid columns, 1.6 times the widest one left of it, that leaves on its right
    15-60% of the width on its left ends the symbol there."""
    gaps = _runs(~columns[c0:c1])
    for i in range(len(gaps) - 1, -1, -1):
        g0, g1 = gaps[i]
        widest_inside = max((e - b for b, e in gaps[:i]), default=0)  # the symbol's own spaces: at most 4 modules
        if g1 - g0 >= max(3, 1.6 * widest_inside) and 0.15 <= (c1 - c0 - g1) / max(g0, 1) <= 0.6:
            return c0, c0 + g0
    return c0, c1


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """(a, b) of y = a + b x by least squares, refitted once without the points far off it; None under 3 points."""
    x, y = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    if len(x) < 3:
        return None
    b, a = np.polyfit(x, y, 1)
    keep = np.abs(y - (a + b * x)) <= max(2.5 * float(np.median(np.abs(y - (a + b * x)))), 1.5)
    if keep.sum() >= 3:
        b, a = np.polyfit(x[keep], y[keep], 1)
    return float(a), float(b)


def _meet(h: tuple[float, float], v: tuple[float, float]) -> np.ndarray:
    """Where y = a + b x meets x = c + d y (NaN where they run parallel)."""
    (a, b), (c, d) = h, v
    if abs(1 - b * d) < 1e-9:
        return np.full(2, np.nan)
    y = (a + b * c) / (1 - b * d)
    return np.array([c + d * y, y])


def fit_to_bars(grey: Image.Image, quad: np.ndarray) -> np.ndarray | None:
    """The symbol quad (TL, TR, BR, BL; digits along the bottom, as `quad` has them) that the bars near `quad`
    imply, in `grey`'s pixels; None where no bars are found there (too small, blank, not a barcode) or `quad` is
    degenerate (its corners on one line)."""
    try:
        return _fit(grey, np.asarray(quad, np.float64))
    except np.linalg.LinAlgError:
        return None


def _fit(grey: Image.Image, quad: np.ndarray) -> np.ndarray | None:
    wq, hq = quad_size(quad)
    if wq < 8 or hq < 4:
        return None
    region = sub_quad(quad, SEARCH)
    w = GRID_WIDTH
    h = int(np.clip(round(w * hq / wq * (SEARCH[3] - SEARCH[1]) / (SEARCH[2] - SEARCH[0])), 48, 320))
    a = np.asarray(rectify(grey if grey.mode == "L" else grey.convert("L"), region, (w, h)), np.float32)
    dx = np.zeros_like(a)
    dx[:, 1:] = np.diff(a, axis=1)
    dy = np.zeros_like(a)
    dy[1:] = np.diff(a, axis=0)
    ex, ey = _box_sum(np.abs(dx), 3, 2), _box_sum(np.abs(dy), 3, 2)
    bar = (ex > BAR_RATIO * ey) & (ex > 0.15 * np.percentile(ex, 99))

    # The bars: rows where the detection's own columns are mostly bar pixels, then the columns of those rows.
    u0, u1 = (np.array([0.0, 1.0]) - SEARCH[0]) / (SEARCH[2] - SEARCH[0]) * w
    rows = _longest_run(bar[:, int(u0) : int(u1)].mean(axis=1) > ROW_SHARE, 2)
    if rows is None or rows[1] - rows[0] < 0.08 * h:
        return None
    r0, r1 = rows
    cols = _longest_run(bar[r0:r1].mean(axis=0) > COLUMN_SHARE, max(2, w // 40))
    if cols is None or cols[1] - cols[0] < 0.3 * w:
        return None
    c0, c1 = _without_addon(bar[r0:r1].mean(axis=0) > COLUMN_SHARE, *cols)
    width = c1 - c0

    # Their top and bottom lines, from where each of 12 column blocks' bars start and end.
    xs, tops, bottoms = [], [], []
    edges = np.linspace(c0, c1, 13).astype(int)
    lo = max(0, r0 - 5)
    for j in range(12):
        run = _longest_run(bar[lo : min(h, r1 + 5), edges[j] : edges[j + 1]].mean(axis=1) > 0.5, 1)
        if run is not None:
            xs.append((edges[j] + edges[j + 1]) / 2)
            tops.append(lo + run[0])
            bottoms.append(lo + run[1])
    top, bottom = _line(xs, tops), _line(xs, bottoms)
    if top is None or bottom is None:
        return None

    # Their ends, along the bars' slant (x per y; the structure tensor's dominant gradient is across the bars).
    sel = np.zeros(a.shape, dtype=bool)
    sel[r0:r1, c0:c1] = True
    phi = 0.5 * math.atan2(2 * float((dx * dy)[sel].sum()), float((dx * dx)[sel].sum() - (dy * dy)[sel].sum()))
    slant = -math.tan(phi) if abs(phi) < math.radians(40) else 0.0
    ym = (r0 + r1) / 2
    starts, ends = [], []
    for y0, y1 in zip(*[np.linspace(r0, r1, 7).astype(int)[k:][:6] for k in (0, 1)], strict=True):
        run = _longest_run(bar[y0:y1].mean(axis=0) > COLUMN_SHARE, max(2, w // 40))
        if run is not None and run[1] - run[0] >= 0.3 * w:
            shift = slant * ((y0 + y1) / 2 - ym)
            starts.append(run[0] - shift)
            ends.append(min(run[1], c1 + 0.02 * width) - shift)
    left = float(np.median(starts)) if starts else float(c0)
    right = float(np.median(ends)) if ends else float(c1)

    # The digit row: ink under the bottom line up to its peak, then down to a gap.
    ink = np.abs(dx) + np.abs(dy)
    xs_in = np.arange(int(c0 + 0.05 * width), int(c1 - 0.05 * width))
    depth = np.arange(int(0.35 * width) + 1)
    rows_at = np.clip(np.round(bottom[0] + bottom[1] * xs_in[None] + depth[:, None]).astype(int), 0, h - 1)
    profile = ink[rows_at, xs_in[None]].mean(axis=1)
    first, last = int(0.03 * width), int(0.25 * width)
    peak_at = first + int(np.argmax(profile[first:last]))
    gaps = np.flatnonzero(profile[peak_at:] < DIGIT_GAP * profile[peak_at])
    digits = float(peak_at + gaps[0]) if len(gaps) else DIGITS_DEFAULT * width

    # Outer digits (UPC's, EAN-13's first) printed past the bars' ends, at the digit row.
    mid = np.clip(np.round(bottom[0] + bottom[1] * xs_in + digits / 2).astype(int), 0, h - 1)
    digit_ink = float(ink[mid, xs_in].mean()) if len(xs_in) else 1.0

    def reach(x_end: float, step: int) -> float:
        y = bottom[0] + bottom[1] * x_end
        band = np.arange(max(0, int(y)), min(h, int(y + digits)))
        far = quiet = 0
        for k in range(1, int(OUTER_REACH * width)):
            x = int(x_end) + step * k
            if not 0 <= x < w or not len(band):
                break
            if ink[band, x].mean() > OUTER_INK * digit_ink:
                far, quiet = k, 0
            else:
                quiet += 1
                if quiet > OUTER_QUIET * width:
                    break
        return far + MARGIN * width

    def at_digits(x_mid: float) -> float:  # an end's x at the digit row (`x_mid`: its x at the bars' middle)
        return x_mid + slant * (bottom[0] + bottom[1] * x_mid + digits / 2 - ym)

    left_line = (left - slant * ym - reach(at_digits(left), -1), slant)
    right_line = (right - slant * ym + reach(at_digits(right), 1), slant)
    base = (bottom[0] + digits, bottom[1])
    grid = np.array([_meet(top, left_line), _meet(top, right_line), _meet(base, right_line), _meet(base, left_line)])
    out = apply_h(homography(corners(0, 0, w, h), region), grid)
    fw, fh = quad_size(out)
    if not np.isfinite(out).all() or not (0.5 < fw / wq < 1.6) or fh < 2:
        return None
    return out.astype(np.float32)


# The bars' rows of a symbol quad (shares of its height from the top edge): above the digits.
BAR_ROWS = (0.15, 0.25, 0.35, 0.45, 0.55)
# A light run this many modules wide ends a symbol: no EAN/UPC space is wider than 4 modules (GS1), and a quiet
# zone is at least 7 wide.
QUIET_RUN = 4.5


def bars_run_out(grey: Image.Image, quad: np.ndarray, module: float) -> bool:
    """Whether a symbol's bars may go on past the frame's edge: along its bars' rows, from its centre out to the
    frame at either end, no light run `QUIET_RUN` modules wide (`module`: pixels) lies before the edge. A symbol
    that ends in view shows its quiet zone, or at least a space wider than any of its own; the middle of a longer
    symbol cut by the frame shows bars up to the edge (its digits in view need not be all of its number)."""
    a = np.asarray(grey, dtype=np.float32)
    h, w = a.shape
    q = np.asarray(quad, dtype=np.float64)
    line = axis(q)
    length = float(np.linalg.norm(line))
    if length < 1 or module <= 0:
        return False
    unit = line / length
    t = np.arange(0.0, length, 0.5)[:, None]  # half the symbol past its end: room for its quiet zone
    quiet = max(QUIET_RUN * module, 2.0)
    for sign in (-1.0, 1.0):
        runs = []
        for f in BAR_ROWS:
            left, right = q[0] + f * (q[3] - q[0]), q[1] + f * (q[2] - q[1])
            centre = (left + right) / 2
            pts = centre + sign * t * unit
            inside = (pts[:, 0] >= 0) & (pts[:, 0] <= w - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= h - 1)
            n = int(np.argmin(inside)) if not inside.all() else len(pts)
            if n < 4:
                continue
            p = _bilinear(a, pts[:n])
            lo, hi = np.percentile(p, 5), np.percentile(p, 95)
            if hi - lo < 16:  # no contrast: no bars on this row
                continue
            light = p > (lo + hi) / 2
            runs.append(_has_run(light, quiet / 0.5))
        if runs and not np.median(runs) >= 0.5:
            return True
    return False


def _has_run(mask: np.ndarray, n: float) -> float:
    """1.0 if `mask` holds a run of True at least `n` long, else 0.0."""
    return float(any(e - s >= n for s, e in _runs(mask)))


def _bilinear(a: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """`a` sampled at (x, y) points inside it, bilinearly."""
    x, y = pts[:, 0], pts[:, 1]
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, a.shape[1] - 1), np.minimum(y0 + 1, a.shape[0] - 1)
    fx, fy = x - x0, y - y0
    top = a[y0, x0] * (1 - fx) + a[y0, x1] * fx
    bottom = a[y1, x0] * (1 - fx) + a[y1, x1] * fx
    return top * (1 - fy) + bottom * fy
