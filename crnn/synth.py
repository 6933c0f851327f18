"""Synthetic barcode photos and the OCR crops a detector would cut from them.

One sample: a barcode (EAN-13 / UPC-A / UPC-E / EAN-8) printed on a label, warped into a scene
(rotation, perspective, cylinder curvature), lit, streaked, blurred, noised and JPEG-compressed; then the
"lower bars + digits" crop is cut back out of the degraded scene by rectifying a slightly jittered quad,
as an imperfect detector would. Every sample depends only on (seed, index), so outputs are byte-identical
for any number of workers.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import math
import multiprocessing
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont
from tqdm import tqdm

from crnn.render import OCRB_FONT, BarcodeStyle, Box, isbn_text, render_mask
from crnn.symbology import FORMATS, Format, random_code

log = logging.getLogger(__name__)

ANNOTATION_HEADER = ("filename", "code", "x_from", "y_from", "width", "height")
CROP_HEADER = ("filename", "text", "format")
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")
_WORDS = (
    "INGREDIENTS", "Net Wt", "Made in EU", "Best before", "www.example.com", "Price", "Calcium",
    "Iron", "Keep dry", "Store in a cool place", "Recycle", "LOT", "EXP", "Nutrition Facts",
    "Distributed by", "Serving size", "All rights reserved", "Printed in", "Fragile", "Product of",
    "Visit us online", "Sugar", "Protein", "Daily Value", "Weight", "Contents", "Batch", "Size",
)  # fmt: skip
_MAX_ATTEMPTS = 8


@dataclass
class SynthConfig:
    """Knobs of the generator. Ranges are (low, high)."""

    format_weights: dict[str, float] = field(
        default_factory=lambda: {"EAN-13": 0.45, "UPC-A": 0.30, "UPC-E": 0.15, "EAN-8": 0.10}
    )
    scene_long_side: tuple[int, int] = (240, 640)
    module_px: tuple[float, float] = (1.5, 3.6)  # scene pixels per bar module
    crop_module_px: tuple[float, float] = (1.5, 3.0)
    crop_height: tuple[int, int] = (32, 90)
    crop_aspect: float = 3.7
    crop_aspect_jitter: float = 0.06  # relative, uniform
    crop_edge_jitter: float = 0.03  # std of each crop edge, fraction of the crop's width/height
    crop_corner_jitter: float = 0.01  # std of the detector quad's corners, fraction of crop width
    p_other_font: float = 0.25  # DejaVu instead of OCR-B for the digits (when installed)
    p_flat_layout: float = 0.05  # non-GS1 printing: equal bars, digits in one even row
    max_rotation_deg: float = 35.0
    p_large_rotation: float = 0.15  # else a few degrees
    p_upright_turn: float = 0.05  # barcode turned by 90/180/270 degrees
    max_perspective: float = 0.08  # corner displacement, fraction of the symbol's size
    p_curvature: float = 0.3
    p_greyscale: float = 0.4
    p_streaks: float = 0.5
    p_motion_blur: float = 0.15
    p_downscale: float = 0.3
    max_blur_frac: float = 0.07  # blur sigma cap, fraction of the digits' height in pixels
    min_contrast: float = 55.0  # grey levels between ink and paper after lighting
    max_noise_frac: float = 0.12  # noise std cap, fraction of that contrast
    jpeg_quality: tuple[int, int] = (35, 92)
    scene_format: Literal["jpg", "png"] = "jpg"


@dataclass
class Sample:
    """One generated sample; `box` is (x_from, y_from, width, height) of bars + digits in the scene."""

    scene: Image.Image
    scene_bytes: bytes
    box: tuple[int, int, int, int]
    crop: Image.Image
    text: str
    fmt: Format


@dataclass
class SynthSummary:
    out_dir: Path
    count: int
    seconds: float
    per_format: dict[str, int]

    @property
    def samples_per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")


# ---------------------------------------------------------------- fonts


@lru_cache(maxsize=1)
def find_fonts() -> tuple[Path, ...]:
    """Upright DejaVu fonts found on this machine (possibly none); OCR-B is always available."""
    found: list[Path] = []
    for d in _FONT_DIRS:
        for p in sorted(Path(d).glob("DejaVu*.ttf")):
            if not any(k in p.name for k in ("Oblique", "Italic", "ExtraLight", "Math")):
                found.append(p)
    if not found:
        log.info("no DejaVu fonts found in %s; using OCR-B only", _FONT_DIRS)
    return tuple(found)


@lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


# ---------------------------------------------------------------- geometry


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3x3 H with dst ~ H @ src for four point pairs (arrays of shape (4, 2))."""
    a = []
    b = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    h = np.linalg.solve(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return np.append(h, 1.0).reshape(3, 3)


def _apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    q = np.column_stack([pts, np.ones(len(pts))]) @ h.T
    return q[:, :2] / q[:, 2:3]


@dataclass
class Warp:
    """Label (surface) pixels -> scene pixels: cylinder bend around x = `uc`, then homography `h`.

    The bend foreshortens x (u' = uc + R sin t, t = (u - uc) / R) and bows rows by `gamma` R (1 - cos t),
    the way a label on a bottle looks; `radius` = inf means flat.
    """

    h: np.ndarray
    uc: float = 0.0
    radius: float = math.inf
    gamma: float = 0.0

    def bend(self, pts: np.ndarray) -> np.ndarray:
        if math.isinf(self.radius):
            return pts
        t = (pts[:, 0] - self.uc) / self.radius
        return np.column_stack(
            [
                self.uc + self.radius * np.sin(t),
                pts[:, 1] + self.gamma * self.radius * (1 - np.cos(t)),
            ]
        )

    def forward(self, pts: np.ndarray) -> np.ndarray:
        return _apply_h(self.h, self.bend(pts))

    def inverse(self, pts: np.ndarray) -> np.ndarray:
        q = _apply_h(np.linalg.inv(self.h), pts)
        if math.isinf(self.radius):
            return q
        t = np.arcsin(np.clip((q[:, 0] - self.uc) / self.radius, -1.0, 1.0))
        return np.column_stack([self.uc + self.radius * t, q[:, 1] - self.gamma * self.radius * (1 - np.cos(t))])


def _box_points(box: Box, n: int = 9) -> np.ndarray:
    """Points along the outline of `box` (curved warps bend its edges)."""
    x0, y0, x1, y1 = box
    t = np.linspace(0.0, 1.0, n)
    xs, ys = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
    return np.concatenate(
        [
            np.column_stack([xs, np.full(n, y0)]),
            np.column_stack([xs, np.full(n, y1)]),
            np.column_stack([np.full(n, x0), ys]),
            np.column_stack([np.full(n, x1), ys]),
        ]
    )


def _mesh(warp: Warp, size: tuple[int, int], region: Box, cell: int = 48) -> list:
    """PIL MESH data covering `region` of the scene: output cells and their source quads."""
    w, h = size
    x0, y0 = max(0, int(region[0])), max(0, int(region[1]))
    x1, y1 = min(w, math.ceil(region[2])), min(h, math.ceil(region[3]))
    if x1 <= x0 or y1 <= y0:
        return []
    xs = np.unique(np.append(np.arange(x0, x1, cell), x1))
    ys = np.unique(np.append(np.arange(y0, y1, cell), y1))
    gx, gy = np.meshgrid(xs, ys)
    src = warp.inverse(np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float64)).reshape(len(ys), len(xs), 2)
    mesh = []
    for j in range(len(ys) - 1):
        for i in range(len(xs) - 1):
            quad = (src[j, i], src[j + 1, i], src[j + 1, i + 1], src[j, i + 1])
            mesh.append(
                (
                    (int(xs[i]), int(ys[j]), int(xs[i + 1]), int(ys[j + 1])),
                    tuple(float(c) for p in quad for c in p),
                )
            )
    return mesh


# ---------------------------------------------------------------- sampling helpers


def _grey_colour(rng: np.random.Generator, lo: float, hi: float, tint: float) -> tuple[int, int, int]:
    base = rng.uniform(lo, hi)
    c = base + rng.normal(0.0, tint, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))  # type: ignore[return-value]  # always 3 values


def _sample_style(
    rng: np.random.Generator, cfg: SynthConfig, fmt: Format, code: str, fonts: tuple[Path, ...]
) -> BarcodeStyle:
    font = OCRB_FONT
    if fonts and rng.random() < cfg.p_other_font:
        font = fonts[int(rng.integers(len(fonts)))]
    digit_h = rng.uniform(7.0, 12.0 if fmt == "UPC-E" else 10.0)
    book = fmt == "EAN-13" and code[:3] in ("978", "979")
    n_mod = {"EAN-13": 95, "UPC-A": 95, "EAN-8": 67, "UPC-E": 51}[fmt]
    crop_h = (n_mod + (4 if fmt == "EAN-8" else 18)) / (cfg.crop_aspect * (1 - cfg.crop_aspect_jitter))
    # Bars must reach above the crop's top edge: crops always show bars over the digits.
    min_bars = max(8.0, crop_h - digit_h - 1.0) + 3.0
    return BarcodeStyle(
        font_path=font,
        bar_height=min_bars * rng.uniform(1.05, 2.6),
        guard_extension=min(digit_h * 0.95, rng.uniform(3.5, 8.0)),
        digit_gap=rng.uniform(0.3, 1.6),
        digit_height=digit_h,
        small_digit_scale=rng.uniform(0.6, 0.8),
        small_first_digit=book and rng.random() < 0.4 or rng.random() < 0.08,
        outside_gap=rng.uniform(0.5, 2.5),
        flat=fmt in ("EAN-13", "UPC-A") and rng.random() < cfg.p_flat_layout,
        show_gt=book and rng.random() < 0.6,
        top_text=isbn_text(code) if book and rng.random() < 0.6 else None,
        addon="".join(str(d) for d in rng.integers(0, 10, 5)) if book and rng.random() < 0.25 else None,
    )


def _add_text_lines(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    region: Box,
    fonts: tuple[Path, ...],
    colour: tuple[int, int, int],
    size_px: float,
    lines: int,
) -> None:
    x0, y0, x1, y1 = region
    if x1 - x0 < 20 or y1 - y0 < size_px * 1.5:
        return
    font_paths = (OCRB_FONT, *fonts)
    for _ in range(lines):
        path = font_paths[int(rng.integers(len(font_paths)))]
        size = max(6, int(size_px * rng.uniform(0.6, 1.4)))
        words = [_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), int(rng.integers(1, 4)))]
        if rng.random() < 0.3:
            words.append(str(int(rng.integers(10, 99999))))
        x = rng.uniform(x0, max(x0 + 1, x1 - size * 4))
        y = rng.uniform(y0, max(y0 + 1, y1 - size))
        draw.text((x, y), " ".join(words), fill=colour, font=_font(str(path), size))


def _background(rng: np.random.Generator, size: tuple[int, int], fonts: tuple[Path, ...]) -> Image.Image:
    """Smooth colour blobs, a fine texture, a few shapes and lines of text."""
    w, h = size
    grid = rng.uniform(30, 230, (int(rng.integers(2, 6)), int(rng.integers(2, 6)), 1))
    grid = np.clip(grid + rng.normal(0, rng.uniform(5, 50), grid.shape[:2] + (3,)), 0, 255)
    bg = Image.fromarray(grid.astype(np.uint8), "RGB").resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(bg)
    for _ in range(int(rng.integers(0, 6))):
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = rng.uniform(-0.2, 1.0) * w, rng.uniform(-0.2, 1.0) * h
        bw, bh = rng.uniform(0.1, 0.6) * w, rng.uniform(0.1, 0.6) * h
        shape = draw.ellipse if rng.random() < 0.4 else draw.rectangle
        shape((x, y, x + bw, y + bh), fill=c)
    if rng.random() < 0.6:
        ink = _grey_colour(rng, 0, 90, 20)
        _add_text_lines(draw, rng, (0, 0, w, h), fonts, ink, rng.uniform(8, 22), int(rng.integers(1, 6)))
    if rng.random() < 0.5:  # coarse grain: cardboard, fabric, wood
        bank = _noise_bank()
        x0, y0 = (
            int(rng.integers(0, bank.width - w // 2)),
            int(rng.integers(0, bank.height - h // 2)),
        )
        scale = rng.uniform(4, 20) / _NOISE_BANK_STD
        tex = bank.crop((x0, y0, x0 + w // 2 + 1, y0 + h // 2 + 1)).point(_scale_lut(scale))
        bg = ImageChops.overlay(bg, Image.merge("RGB", (tex.resize(size),) * 3))
    return bg


# ---------------------------------------------------------------- one sample


@dataclass
class _Surface:
    image: Image.Image  # RGBA, label coordinates
    symbol_box: Box
    digit_boxes: list[Box]
    text_box: Box
    bars: Box
    long_bottom: float
    module_px: int
    paper: tuple[int, int, int]
    ink: tuple[int, int, int]


def _surface(
    rng: np.random.Generator,
    code: str,
    fmt: Format,
    style: BarcodeStyle,
    ppm: int,
    fonts: tuple[Path, ...],
) -> _Surface:
    """The barcode's label on a patch of package, in label pixels."""
    rendered = render_mask(code, fmt, style, ppm)
    mask, g = rendered.image, rendered.geometry
    paper = _grey_colour(rng, 215, 255, 3)
    if rng.random() < 0.1:  # tinted paper (yellow-green, light blue, cream labels)
        paper = tuple(int(v) for v in np.clip(np.array(paper) - rng.uniform(0, 35, 3), 0, 255))  # type: ignore[assignment]  # 3 values
    ink = _grey_colour(rng, 5, 60, 4)
    if rng.random() < 0.12:  # coloured ink
        ink = tuple(int(v) for v in rng.integers(0, 140, 3))  # type: ignore[assignment]  # 3 values
    mw, mh = mask.size
    ml, mr = (int(mw * rng.uniform(0.02, 0.5)) for _ in range(2))
    mt, mb = int(mh * rng.uniform(0.05, 0.6)), int(mh * rng.uniform(0.02, 0.4))
    package = paper if rng.random() < 0.5 else tuple(int(v) for v in rng.integers(0, 256, 3))
    surf = Image.new("RGB", (mw + ml + mr, mh + mt + mb), package)
    draw = ImageDraw.Draw(surf)
    if package != paper:
        draw.rectangle((ml, mt, ml + mw - 1, mt + mh - 1), fill=paper)
    text_ink = ink if rng.random() < 0.7 else _grey_colour(rng, 0, 120, 30)
    size = style.digit_height * ppm
    _add_text_lines(draw, rng, (0, 0, surf.width, mt - size), fonts, text_ink, size, int(rng.integers(0, 4)))
    _add_text_lines(draw, rng, (0, mt + mh + 2, surf.width, surf.height), fonts, text_ink, size, 1)
    surf.paste(Image.new("RGB", mask.size, ink), (ml, mt), mask)
    surf.putalpha(255)

    def shift(b: Box) -> Box:
        return (b[0] + ml, b[1] + mt, b[2] + ml, b[3] + mt)

    return _Surface(
        image=surf,
        symbol_box=shift(g.symbol_box),
        digit_boxes=[shift(b) for b in g.digit_boxes],
        text_box=shift(g.text_box),
        bars=shift(g.bars),
        long_bottom=g.long_bar_bottom + mt,
        module_px=ppm,
        paper=paper,
        ink=ink,
    )


def _crop_box(rng: np.random.Generator, cfg: SynthConfig, s: _Surface) -> Box:
    """The crop in label pixels: lower bars + digits at ~crop_aspect, edges jittered, digits whole."""
    m = s.module_px
    tb = s.text_box
    left, right = min(tb[0], s.bars[0]), max(tb[2], s.bars[2])
    bottom = max(tb[3], s.long_bottom)
    width = right - left
    jit = cfg.crop_edge_jitter
    x0 = left - rng.normal(1.2, 0.8) * m + rng.normal(0, jit) * width
    x1 = right + rng.normal(1.2, 0.8) * m + rng.normal(0, jit) * width
    # A detector may shave an outer digit's margin but never the digit itself.
    x0 = min(x0, tb[0] - 0.1 * m)
    x1 = max(x1, tb[2] + 0.1 * m)
    aspect = cfg.crop_aspect * (1 + rng.uniform(-cfg.crop_aspect_jitter, cfg.crop_aspect_jitter))
    height = (x1 - x0) / aspect
    y1 = max(bottom + rng.normal(1.0, 0.6) * m + rng.normal(0, jit) * height, tb[3] + 0.1 * m)
    y0 = y1 - height
    return (x0, y0, x1, y1)


def _crop_quad(
    rng: np.random.Generator, cfg: SynthConfig, warp: Warp, s: _Surface, box: Box
) -> tuple[np.ndarray, tuple[float, float], Box]:
    """Detector quad (scene) for `box`, its rectified size, and the box grown so no digit is cut.

    The quad's corners are jittered like a detector's; where that (or a curved label's bow) would cut
    a digit, the jitter is dropped and the box grown until every digit is inside.
    """
    digits = np.concatenate([_box_points(b, 3) for b in s.digit_boxes])
    digits_scene = warp.forward(digits)
    jitter = cfg.crop_corner_jitter
    for _ in range(6):
        corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]])
        quad = warp.forward(corners)
        wq = float(np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
        hq = float(np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
        rect = np.array([[0, 0], [wq, 0], [wq, hq], [0, hq]], dtype=np.float64)
        q = quad + rng.normal(0, jitter * wq, quad.shape)
        inside = _apply_h(homography(q, rect), digits_scene)
        lo = inside.min(axis=0)
        hi = inside.max(axis=0) - (wq, hq)
        if (lo >= 0).all() and (hi <= 0).all():
            return q, (wq, hq), box
        if jitter > 0:
            jitter = 0.0
            continue
        # Grow the box (label pixels) by the overshoot (rectified pixels), plus a pixel.
        sx, sy = (box[2] - box[0]) / wq, (box[3] - box[1]) / hq
        box = (
            box[0] + min(0.0, lo[0]) * sx - (lo[0] < 0),
            box[1] + min(0.0, lo[1]) * sy - (lo[1] < 0),
            box[2] + max(0.0, hi[0]) * sx + (hi[0] > 0),
            box[3] + max(0.0, hi[1]) * sy + (hi[1] > 0),
        )
    raise RuntimeError("crop box did not converge around the digits")  # geometry bug, not bad luck


def _attempt(index: int, seed: int, attempt: int, cfg: SynthConfig) -> Sample | None:
    rng = np.random.default_rng([seed, index, attempt])
    fonts = find_fonts()
    names = list(cfg.format_weights)
    p = np.array([cfg.format_weights[n] for n in names], dtype=np.float64)
    fmt: Format = FORMATS[FORMATS.index(names[int(rng.choice(len(names), p=p / p.sum()))])]  # type: ignore[arg-type]  # validated in generate()
    code = random_code(fmt, random.Random(int(rng.integers(2**62))))
    style = _sample_style(rng, cfg, fmt, code, fonts)

    lo, hi = cfg.module_px
    s_px = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    ppm = int(np.clip(round(s_px), 2, 4))
    surf = _surface(rng, code, fmt, style, ppm, fonts)
    box = _crop_box(rng, cfg, surf)

    # Scene size and geometry.
    # Log-uniform: real photos are mostly small (240x240), some 640x480.
    long_side = round(math.exp(rng.uniform(*np.log(cfg.scene_long_side))))
    ratio = [0.75, 0.75, 0.5625, 1.0, 1.0, 1.0, 1.333][int(rng.integers(7))]
    size = (long_side, max(160, int(long_side * ratio))) if ratio <= 1 else (int(long_side / ratio), long_side)
    sw, sh = surf.image.size
    sym = surf.symbol_box
    uc = (sym[0] + sym[2]) / 2
    radius, gamma = math.inf, 0.0
    image = surf.image
    if rng.random() < cfg.p_curvature:
        half = (sym[2] - sym[0]) / 2
        radius = half / rng.uniform(0.3, 0.9)
        gamma = rng.uniform(-0.12, 0.12)
        # Only the front of the cylinder is visible: cut the surface at +-75 degrees.
        reach = radius * 1.3
        image = image.crop((0, 0, sw, sh))
        alpha = np.zeros((1, sw), dtype=np.uint8)
        cols = np.arange(sw)
        alpha[0, np.abs(cols - uc) < reach] = 255
        shade = 1 - rng.uniform(0.1, 0.5) * (1 - np.cos(np.clip((cols - uc) / radius, -1.5, 1.5)))
        a_img = Image.fromarray(alpha).resize((sw, sh), Image.Resampling.NEAREST)
        image.putalpha(a_img)
        gain = Image.fromarray((shade[None, :] * 255).astype(np.uint8)).resize((sw, sh))
        rgb = ImageChops.multiply(image.convert("RGB"), Image.merge("RGB", (gain,) * 3))
        rgb.putalpha(a_img)
        image = rgb
    flat = Warp(np.eye(3), uc, radius, gamma)
    sym_bent = flat.bend(_box_points(sym, 2))
    centre = sym_bent.mean(axis=0)
    k = s_px / ppm
    if rng.random() < cfg.p_upright_turn:
        angle = 90.0 * int(rng.integers(1, 4)) + rng.normal(0, 4)
    elif rng.random() < cfg.p_large_rotation:
        angle = rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg)
    else:
        angle = rng.normal(0, 3)
    a = math.radians(angle)
    sim = np.array(
        [[k * math.cos(a), -k * math.sin(a), 0], [k * math.sin(a), k * math.cos(a), 0], [0, 0, 1]]
    ) @ np.array([[1, 0, -centre[0]], [0, 1, -centre[1]], [0, 0, 1]])
    src = np.array([[sym[0], sym[1]], [sym[2], sym[1]], [sym[2], sym[3]], [sym[0], sym[3]]])
    src = flat.bend(src)
    dst = _apply_h(sim, src)
    extent = float(np.ptp(dst[:, 0]) + np.ptp(dst[:, 1])) / 2
    dst = dst + rng.normal(0, rng.uniform(0, cfg.max_perspective) * extent / 2, dst.shape)
    h = homography(src, dst)
    warp = Warp(h, uc, radius, gamma)
    # Surface corners must stay in front of the camera.
    surf_corners = flat.bend(_box_points((0, 0, sw, sh), 3))
    if (np.column_stack([surf_corners, np.ones(len(surf_corners))]) @ h[2] < 0.2).any():
        return None
    needed = warp.forward(np.concatenate([_box_points(sym), _box_points(box)]))
    margin = 4.0
    span = needed.max(axis=0) - needed.min(axis=0)
    fit = min(1.0, (size[0] - 2 * margin) / span[0], (size[1] - 2 * margin) / span[1])
    if fit < 1.0:
        h = np.diag([fit, fit, 1.0]) @ h
        s_px *= fit
        needed = needed * fit
    lo_t = margin - needed.min(axis=0)
    hi_t = np.array(size) - margin - needed.max(axis=0)
    t = rng.uniform(lo_t, np.maximum(lo_t, hi_t))
    warp = Warp(np.array([[1, 0, t[0]], [0, 1, t[1]], [0, 0, 1]]) @ h, uc, radius, gamma)
    if s_px < 1.4:
        return None

    # Scene.
    scene = _background(rng, size, fonts)
    footprint = warp.forward(_box_points((0, 0, sw, sh), 12))
    region = (*footprint.min(axis=0), *footprint.max(axis=0))
    mesh = _mesh(warp, size, region)  # type: ignore[arg-type]  # 4 floats
    warped = image.transform(size, Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)
    scene.paste(warped, (0, 0), warped)

    # Legibility is set by the smallest printed digit (UPC's outer ones), in scene pixels.
    heights = [b[3] - b[1] for b in surf.digit_boxes]
    digit_px = min(max(heights), 1.4 * min(heights))
    scene = _photometric(rng, cfg, scene, surf, digit_px * s_px / ppm, warp)
    quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
    buf = io.BytesIO()
    if cfg.scene_format == "jpg":
        scene.save(buf, format="JPEG", quality=quality)
        scene = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    else:
        scene.save(buf, format="PNG", compress_level=1)

    # Annotation box.
    outline = warp.forward(_box_points(sym))
    bx0, by0 = np.floor(outline.min(axis=0)).astype(int)
    bx1, by1 = np.ceil(outline.max(axis=0)).astype(int)
    bx0, by0 = max(0, int(bx0)), max(0, int(by0))
    bx1, by1 = min(size[0], int(bx1)), min(size[1], int(by1))

    # Crop, rectified from a slightly wrong detector quad.
    quad, (wq, hq), box = _crop_quad(rng, cfg, warp, surf, box)
    if (quad < 0).any() or (quad[:, 0] > size[0]).any() or (quad[:, 1] > size[1]).any():
        return None
    n_modules = (box[2] - box[0]) / surf.module_px
    c_px = float(np.clip(s_px * rng.uniform(0.8, 1.2), *cfg.crop_module_px))
    out_w = round(n_modules * c_px)
    out_h = int(np.clip(round(out_w * hq / wq), *cfg.crop_height))
    out_w = round(out_h * wq / hq)
    nat_w, nat_h = max(out_w, round(wq)), max(out_h, round(hq))
    rect = np.array([[0, 0], [nat_w, 0], [nat_w, nat_h], [0, nat_h]], dtype=np.float64)
    g = homography(rect, quad)
    coeffs = tuple(float(v) for v in (g / g[2, 2]).ravel()[:8])
    crop = scene.transform((nat_w, nat_h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
    if (nat_w, nat_h) != (out_w, out_h):
        crop = crop.resize((out_w, out_h), Image.Resampling.BILINEAR)
    return Sample(scene, buf.getvalue(), (bx0, by0, bx1 - bx0, by1 - by0), crop, code, fmt)


def _photometric(
    rng: np.random.Generator,
    cfg: SynthConfig,
    scene: Image.Image,
    surf: _Surface,
    digit_px: float,
    warp: Warp,
) -> Image.Image:
    """Lighting, plastic-wrap streaks, levels, blur, noise; bounded so the digits stay legible.

    Greyscale scenes are processed in mode 'L' (a third of the work) and returned as RGB.
    """
    w, h = scene.size
    if rng.random() < cfg.p_greyscale:
        scene = scene.convert("L")
    bands = len(scene.getbands())

    def expand(img: Image.Image) -> Image.Image:
        return img if bands == 1 else Image.merge("RGB", (img,) * 3)

    # Smooth lighting: gains on a coarse grid.
    gmin = rng.uniform(0.55, 0.95)
    grid = rng.uniform(gmin, 1.0, (int(rng.integers(2, 4)), int(rng.integers(2, 4))))
    gain = Image.fromarray((grid * 255).astype(np.uint8), "L").resize((w, h), Image.Resampling.BICUBIC)
    scene = ImageChops.multiply(scene, expand(gain))
    # Levels: the grey, low-contrast look of phone photos, with a colour cast.
    paper_l = float(np.mean(surf.paper)) * gmin
    ink_l = float(np.mean(surf.ink)) * gmin
    lo = rng.uniform(0, 70)
    hi = rng.uniform(max(lo + 100, 170), 255)
    span = max(paper_l - ink_l, 1.0)
    if span * (hi - lo) / 255 < cfg.min_contrast:
        hi = min(255.0, lo + cfg.min_contrast * 255 / span)
        lo = max(0.0, hi - cfg.min_contrast * 255 / span)
    contrast = span * (hi - lo) / 255
    cast = rng.normal(0, 4, bands)
    x = np.arange(256, dtype=np.float64)
    luts = np.concatenate([np.clip(lo + c + (hi - lo) * x / 255, 0, 255) for c in cast])
    scene = scene.point(luts.astype(np.uint8).tolist())
    if rng.random() < cfg.p_streaks:
        scene = _streaks(rng, scene, warp, surf, max_alpha=0.45)

    # Blur budget: sigma, motion and resolution loss together stay under max_blur_frac * digit height.
    budget = max(0.6, cfg.max_blur_frac * digit_px)
    if rng.random() < cfg.p_downscale:
        f = rng.uniform(max(0.5, 0.5 / budget), 0.9)
        small = (max(1, round(w * f)), max(1, round(h * f)))
        scene = scene.resize(small, Image.Resampling.BILINEAR).resize((w, h), Image.Resampling.BILINEAR)
        budget = math.sqrt(max(0.09, budget**2 - (0.5 / f) ** 2))
    sigma = rng.uniform(0.3, budget)
    if rng.random() < cfg.p_motion_blur:
        length = rng.uniform(1.0, max(1.5, 2.0 * budget))
        scene = _motion_blur(scene, length, rng.uniform(0, math.pi))
        sigma = math.sqrt(max(0.0, sigma**2 - (length / 3) ** 2))
    scene = _gaussian_blur(scene, sigma)
    # Sensor noise, luminance only: add (noise + 128) and take the 128 back off.
    std = rng.uniform(1.0, max(1.5, min(12.0, cfg.max_noise_frac * contrast)))
    bank = _noise_bank()
    x0, y0 = (int(rng.integers(0, n - d + 1)) for n, d in zip(bank.size, (w, h), strict=True))
    scale = std / _NOISE_BANK_STD
    noise_img = bank.crop((x0, y0, x0 + w, y0 + h)).point(_scale_lut(scale))
    scene = ImageChops.add(scene, expand(noise_img), 1.0, -128)
    return scene.convert("RGB")


_NOISE_BANK_STD = 32.0


def _scale_lut(scale: float) -> list[int]:
    """LUT scaling an 'L' image's deviation from 128 by `scale`."""
    return np.clip(128 + (np.arange(256) - 128) * scale, 0, 255).astype(np.uint8).tolist()


def _gaussian_blur(img: Image.Image, sigma: float) -> Image.Image:
    """Approximately Gaussian blur of std `sigma` px, cheaply.

    PIL's GaussianBlur (three box passes) costs ~8 ms on a 480x360 RGB scene, a third of a sample's
    budget. Mild blur is one box pass of equal variance; strong blur runs at half resolution.
    """
    if sigma <= 0.3:  # below a one-pixel box
        return img
    if sigma < 1.2:
        # A box of width 2r + 1 has variance (2r + 1)^2 / 12.
        return img.filter(ImageFilter.BoxBlur((math.sqrt(12) * sigma - 1) / 2))
    # reduce(2) and the bilinear way back add about 0.6 px of blur between them.
    small = img.reduce(2).filter(ImageFilter.GaussianBlur(math.sqrt(sigma**2 - 0.6**2) / 2))
    return small.resize(img.size, Image.Resampling.BILINEAR)


@lru_cache(maxsize=1)
def _noise_bank() -> Image.Image:
    """A fixed field of Gaussian noise (std 32 around 128); samples take random windows of it.

    Drawing fresh normals for every scene costs more than the rest of the photometric chain.
    """
    field_ = np.random.default_rng(20240601).standard_normal((1024, 1024), dtype=np.float32)
    return Image.fromarray(np.clip(128 + _NOISE_BANK_STD * field_, 0, 255).astype(np.uint8), "L")


def _motion_blur(scene: Image.Image, length: float, angle: float) -> Image.Image:
    arr = np.asarray(scene, dtype=np.float32)
    n = max(2, round(length) + 1)
    pad = n
    widths = ((pad, pad), (pad, pad)) + (((0, 0),) if arr.ndim == 3 else ())
    padded = np.pad(arr, widths, mode="edge")
    h, w = arr.shape[:2]
    acc = np.zeros_like(arr)
    for i in range(n):
        r = (i / (n - 1) - 0.5) * length
        dx, dy = round(r * math.cos(angle)), round(r * math.sin(angle))
        acc += padded[pad + dy : pad + dy + h, pad + dx : pad + dx + w]
    return Image.fromarray((acc / n).astype(np.uint8), scene.mode)


def _streaks(rng: np.random.Generator, scene: Image.Image, warp: Warp, surf: _Surface, max_alpha: float) -> Image.Image:
    """Soft specular bands of plastic wrap, mostly across the barcode."""
    w, h = scene.size
    q = 4
    layer = Image.new("L", (w // q + 1, h // q + 1), 0)
    draw = ImageDraw.Draw(layer)
    centre = warp.forward(np.array([[(surf.symbol_box[0] + surf.symbol_box[2]) / 2, surf.text_box[1]]]))[0]
    direction = rng.uniform(0, math.pi)
    for _ in range(int(rng.integers(1, 6))):
        length = rng.uniform(0.1, 0.8) * max(w, h)
        cx, cy = centre + rng.normal(0, 0.15 * min(w, h), 2)
        d = direction + rng.normal(0, 0.15)
        pts = []
        for t in np.linspace(-0.5, 0.5, 6):
            jitter = rng.normal(0, 0.015 * length)
            pts.append(
                (
                    (cx + t * length * math.cos(d) - jitter * math.sin(d)) / q,
                    (cy + t * length * math.sin(d) + jitter * math.cos(d)) / q,
                )
            )
        draw.line(pts, fill=int(rng.uniform(80, 255)), width=max(1, int(rng.uniform(1, 10) / q * 2)))
    layer = layer.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    alpha = rng.uniform(0.15, max_alpha)
    layer = layer.resize((w, h), Image.Resampling.BILINEAR).point(lambda v: int(v * alpha))
    return Image.composite(Image.new(scene.mode, (w, h), 250 if scene.mode == "L" else (250,) * 3), scene, layer)


def make_sample(
    index: int, seed: int = 0, config: SynthConfig | None = None
) -> tuple[Image.Image, tuple[int, int, int, int], Image.Image, str, Format]:
    """Sample `index` of the stream `seed`: (scene, box (x, y, w, h), crop, text, format)."""
    s = _make(index, seed, config or SynthConfig())
    return s.scene, s.box, s.crop, s.text, s.fmt


def _make(index: int, seed: int, cfg: SynthConfig) -> Sample:
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    for attempt in range(_MAX_ATTEMPTS):
        sample = _attempt(index, seed, attempt, cfg)
        if sample is not None:
            return sample
    raise RuntimeError(
        f"sample {index} (seed {seed}) failed {_MAX_ATTEMPTS} times; the SynthConfig ranges are "
        "probably too tight (module_px vs scene_long_side)"
    )


# ---------------------------------------------------------------- dataset writer


def _write_chunk(
    args: tuple[Path, int, int, int, SynthConfig, int],
) -> list[tuple[int, str, tuple[int, int, int, int], str]]:
    out_dir, seed, start, stop, cfg, digits = args
    rows: list[tuple[int, str, tuple[int, int, int, int], str]] = []
    for i in range(start, stop):
        s = _make(i, seed, cfg)
        name = f"{i:0{digits}d}"
        (out_dir / "images" / f"{name}.{cfg.scene_format}").write_bytes(s.scene_bytes)
        s.crop.save(out_dir / "crops" / f"{name}.png", compress_level=1)
        rows.append((i, s.text, s.box, s.fmt))
    return rows


def _validate(cfg: SynthConfig) -> None:
    unknown = set(cfg.format_weights) - set(FORMATS)
    if unknown:
        raise ValueError(f"format_weights has unknown formats {sorted(unknown)}; known: {FORMATS}")
    if cfg.scene_long_side[1] > 1024 or cfg.scene_long_side[0] < 160:
        raise ValueError(f"scene_long_side must lie within 160..1024, got {cfg.scene_long_side}")
    if sum(cfg.format_weights.values()) <= 0 or min(cfg.format_weights.values()) < 0:
        raise ValueError(f"format_weights must be >= 0 with a positive sum, got {cfg.format_weights}")


def generate(
    out_dir: Path,
    count: int,
    seed: int = 0,
    workers: int = 2,
    config: SynthConfig | None = None,
    chunk_size: int = 32,
    progress: bool = True,
) -> SynthSummary:
    """Write `count` samples under `out_dir`:

    images/NNNNNN.jpg  scenes;  annotations.tsv  filename, code, x_from, y_from, width, height
    crops/NNNNNN.png   crops;   crops.tsv        filename, text, format
    Filenames in the TSVs are relative to `out_dir` (the TSVs' own folder).
    """
    cfg = config or SynthConfig()
    _validate(cfg)
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "crops").mkdir(parents=True, exist_ok=True)
    digits = max(6, len(str(max(count - 1, 0))))
    jobs = [(out_dir, seed, a, min(a + chunk_size, count), cfg, digits) for a in range(0, count, chunk_size)]
    rows: list[tuple[int, str, tuple[int, int, int, int], str]] = []
    t0 = time.perf_counter()
    with tqdm(total=count, desc="synth", unit="sample", disable=not progress) as bar:
        if workers <= 1:
            for job in jobs:
                rows += _write_chunk(job)
                bar.update(job[3] - job[2])
        else:
            with multiprocessing.Pool(workers) as pool:
                for chunk in pool.imap_unordered(_write_chunk, jobs):
                    rows += chunk
                    bar.update(len(chunk))
    seconds = time.perf_counter() - t0
    rows.sort()
    with open(out_dir / "annotations.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(ANNOTATION_HEADER)
        for i, text, box, _ in rows:
            w.writerow([f"images/{i:0{digits}d}.{cfg.scene_format}", text, *box])
    with open(out_dir / "crops.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(CROP_HEADER)
        for i, text, _, fmt in rows:
            w.writerow([f"crops/{i:0{digits}d}.png", text, fmt])
    per_format = dict(Counter(r[3] for r in rows))
    log.info("wrote %d samples to %s in %.1fs (%s)", count, out_dir, seconds, per_format)
    return SynthSummary(out_dir, count, seconds, per_format)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write synthetic barcode scenes and OCR crops.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    summary = generate(args.out_dir, args.count, args.seed, args.workers)
    print(f"{summary.count} samples in {summary.seconds:.1f}s ({summary.samples_per_s:.1f}/s)")


if __name__ == "__main__":
    main()
