"""Synthetic barcode photos and the OCR crops a detector would cut from them.

One sample: a barcode (EAN-13 / UPC-A / UPC-E / EAN-8) printed on a label, warped into a scene
(rotation, perspective, cylinder curvature), lit, streaked, blurred, noised and JPEG-compressed; then the
"lower bars + digits" crop is cut back out of the degraded scene by rectifying a slightly jittered quad,
as an imperfect detector would. Every sample depends only on (seed, index), so outputs are byte-identical
for any number of workers.
"""

from __future__ import annotations

import io
import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from crnn.core.geometry import apply_h as _apply_h
from crnn.core.geometry import corners, homography, rectify
from crnn.core.labels import NO_DIGITS
from crnn.core.symbology import FORMATS, Format, random_code, restricted_upca
from crnn.synth.degradation import Warp, _box_points, _mesh, _photometric, _shade_columns, _Surface
from crnn.synth.label import _add_text_lines, _background, _grey_colour, _sample_style, _small_print_below, find_fonts
from crnn.synth.render import BarcodeStyle, Box, render_mask
from crnn.synth.settings import SynthConfig

log = logging.getLogger(__name__)


# A training crop's side margin beyond the symbol, in modules: normal(mean, std) a side (`_crop_box`).
CROP_MARGIN_MODULES = (1.2, 0.8)


_MAX_ATTEMPTS = 8


@dataclass
class Sample:
    """One generated sample; `box` is (x_from, y_from, width, height) of bars + digits in the scene."""

    scene: Image.Image
    scene_bytes: bytes
    box: tuple[int, int, int, int]
    crop: Image.Image
    text: str
    fmt: Format
    quad: np.ndarray  # (4, 2) symbol corners in the scene: top-left, top-right, bottom-right, bottom-left
    hidden: tuple[int, ...] = ()  # positions of `text` the crop does not show (unprinted, or cut by its edge)

    @property
    def printed(self) -> str:
        """The digits the crop shows: the recogniser's training label (`NO_DIGITS` when none)."""
        return "".join(c for i, c in enumerate(self.text) if i not in self.hidden) or NO_DIGITS


def _surface(
    rng: np.random.Generator,
    code: str,
    fmt: Format,
    style: BarcodeStyle,
    ppm: int,
    fonts: tuple[Path, ...],
    p_pale_ink: float = 0.0,
    p_text_below: float = 0.0,
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
    elif p_pale_ink > 0 and rng.random() < p_pale_ink:  # faded print; no draw at 0 (default stream unchanged)
        ink = _grey_colour(rng, 90, 170, 4)
    mw, mh = mask.size
    ml, mr = (int(mw * rng.uniform(0.02, 0.5)) for _ in range(2))
    mt, mb = int(mh * rng.uniform(0.05, 0.6)), int(mh * rng.uniform(0.02, 0.4))
    size = style.digit_height * ppm
    # No draw at 0: the default stream is unchanged.
    below = p_text_below > 0 and rng.random() < p_text_below
    if below:
        mb = max(mb, int(size * 2.5))
    package = paper if rng.random() < 0.5 else tuple(int(v) for v in rng.integers(0, 256, 3))
    surf = Image.new("RGB", (mw + ml + mr, mh + mt + mb), package)
    draw = ImageDraw.Draw(surf)
    if package != paper:
        draw.rectangle((ml, mt, ml + mw - 1, mt + mh - 1), fill=paper)
    text_ink = ink if rng.random() < 0.7 else _grey_colour(rng, 0, 120, 30)
    _add_text_lines(draw, rng, (0, 0, surf.width, mt - size), fonts, text_ink, size, int(rng.integers(0, 4)))
    _add_text_lines(draw, rng, (0, mt + mh + 2, surf.width, surf.height), fonts, text_ink, size, 1)
    if below:
        _small_print_below(
            draw, rng, (ml + g.text_box[0], mt + g.text_box[3]), g.text_box[2] - g.text_box[0], size, text_ink
        )
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


def _crop_box(rng: np.random.Generator, cfg: SynthConfig, s: _Surface, squash: float = 1.0) -> Box:
    """The crop in label pixels: lower bars + digits at ~crop_aspect once the label's height is foreshortened
    `squash` times (so 1/squash times taller on the label), edges jittered, digits whole."""
    m = s.module_px
    tb = s.text_box
    left, right = min(tb[0], s.bars[0]), max(tb[2], s.bars[2])
    bottom = max(tb[3], s.long_bottom)
    width = right - left
    jit = cfg.crop_edge_jitter
    x0 = left - rng.normal(*CROP_MARGIN_MODULES) * m + rng.normal(0, jit) * width
    x1 = right + rng.normal(*CROP_MARGIN_MODULES) * m + rng.normal(0, jit) * width
    # A detector may shave an outer digit's margin but never the digit itself...
    x0 = min(x0, tb[0] - 0.1 * m)
    x1 = max(x1, tb[2] + 0.1 * m)
    aspect = cfg.crop_aspect * (1 + rng.uniform(-cfg.crop_aspect_jitter, cfg.crop_aspect_jitter))
    height = (x1 - x0) / aspect / squash
    y1 = max(bottom + rng.normal(1.0, 0.6) * m + rng.normal(0, jit) * height, tb[3] + 0.1 * m)
    if squash < 1 and cfg.tilt_reach_below > 0:  # no draw at 0: the tilt stream is unchanged
        y1 += rng.uniform(0, cfg.tilt_reach_below) * height * (1 - squash)
    y0 = y1 - height
    return (x0, y0, x1, y1)


def _off_digits(rng: np.random.Generator, s: _Surface, box: Box, below: bool) -> Box:
    """`box` moved just clear of the digits (by a module and 5-30% of their height): up onto the bars, or down onto
    what is printed under the digits."""
    tb = s.text_box
    h = box[3] - box[1]
    gap = rng.uniform(0.05, 0.3) * (tb[3] - tb[1]) + s.module_px
    y0 = tb[3] + gap if below else tb[1] - gap - h
    return (box[0], y0, box[2], y0 + h)


def _jittered_quad(
    rng: np.random.Generator, warp: Warp, box: Box, jitter: float
) -> tuple[np.ndarray, tuple[float, float]]:
    """`box`'s quad in the scene with its corners jittered like a detector's (std `jitter` of its width), and the
    size it rectifies to."""
    quad = warp.forward(corners(*box))
    wq = float(np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    hq = float(np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    return quad + rng.normal(0, jitter * wq, quad.shape), (wq, hq)


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
        q, (wq, hq) = _jittered_quad(rng, warp, box, jitter)
        inside = _apply_h(homography(q, corners(0, 0, wq, hq)), digits_scene)
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
    # No draw at 0: the default stream is unchanged.
    squash = rng.uniform(*cfg.tilt_squash) if cfg.p_tilt > 0 and rng.random() < cfg.p_tilt else 1.0
    style = _sample_style(rng, cfg, fmt, code, fonts, squash)
    if fmt == "UPC-A" and style.hidden:  # printed without its check digit: an in-store or loyalty-card number
        code = restricted_upca(code, random.Random(int(rng.integers(2**62))))

    lo, hi = cfg.module_px
    s_px = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    ppm = int(np.clip(round(s_px), 2, 4))
    p_below = max(cfg.p_text_below, cfg.p_tilt_print_below) if squash < 1 else cfg.p_text_below
    # No draw at 0: the default stream is unchanged.
    off = cfg.p_no_number > 0 and rng.random() < cfg.p_no_number
    below = off and rng.random() < 0.5  # a no-number crop on the print under the digits, else on the bars
    surf = _surface(rng, code, fmt, style, ppm, fonts, cfg.p_pale_ink, 1.0 if below else p_below)
    box = _crop_box(rng, cfg, surf, squash)
    if off:
        box = _off_digits(rng, surf, box, below)

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
        image = _shade_columns(image, shade)
    waves: dict[str, float] = {}
    if cfg.p_crumple > 0 and rng.random() < cfg.p_crumple:  # no draw at 0: the default stream is unchanged
        period = 7 * surf.module_px * rng.uniform(*cfg.crumple_period)  # a digit is 7 modules wide
        waves = {
            "wave_y": style.digit_height * surf.module_px * rng.uniform(*cfg.crumple_amp) * rng.choice([-1, 1]),
            "wave_x": period / (2 * math.pi) * rng.uniform(0.0, 0.25),
            "wave_len": period,
            "wave_phase": rng.uniform(0, 2 * math.pi),
        }
        # Folds catch the light: a gain following the slope of the waves.
        cols = np.arange(sw)
        shade = 1 - rng.uniform(0.05, 0.3) * (0.5 + 0.5 * np.cos(2 * math.pi * cols / period + waves["wave_phase"]))
        image = _shade_columns(image, shade)
    flat = Warp(np.eye(3), uc, radius, gamma, **waves)
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
    ) @ np.array([[1, 0, -centre[0]], [0, squash, -squash * centre[1]], [0, 0, 1]])
    src = flat.bend(corners(*sym))
    dst = _apply_h(sim, src)
    extent = float(np.ptp(dst[:, 0]) + np.ptp(dst[:, 1])) / 2
    dst = dst + rng.normal(0, rng.uniform(0, cfg.max_perspective) * extent / 2, dst.shape)
    h = homography(src, dst)
    warp = Warp(h, uc, radius, gamma, **waves)
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
    warp = Warp(np.array([[1, 0, t[0]], [0, 1, t[1]], [0, 0, 1]]) @ h, uc, radius, gamma, **waves)
    if s_px < 1.4:
        return None

    # Scene.
    scene = _background(rng, size, fonts)
    footprint = warp.forward(_box_points((0, 0, sw, sh), 12))
    region = (*footprint.min(axis=0), *footprint.max(axis=0))
    mesh = _mesh(warp, size, region, cell=12 if waves else 48)  # type: ignore[arg-type]  # 4 floats
    warped = image.transform(size, Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)
    scene.paste(warped, (0, 0), warped)

    # Legibility is set by the smallest printed digit (UPC's outer ones), in scene pixels.
    heights = [b[3] - b[1] for b in surf.digit_boxes]
    digit_px = min(max(heights), 1.4 * min(heights)) * squash
    scene = _photometric(rng, cfg, scene, surf, digit_px * s_px / ppm, warp)
    quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
    buf = io.BytesIO()
    if cfg.scene_format == "jpg":
        scene.save(buf, format="JPEG", quality=quality)
        scene = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    else:
        scene.save(buf, format="PNG", compress_level=1)

    # Annotation box, and the symbol's quad (corners in its own order: the detector's target).
    outline = warp.forward(_box_points(sym))
    symbol_quad = warp.forward(corners(*sym))
    bx0, by0 = np.floor(outline.min(axis=0)).astype(int)
    bx1, by1 = np.ceil(outline.max(axis=0)).astype(int)
    bx0, by0 = max(0, int(bx0)), max(0, int(by0))
    bx1, by1 = min(size[0], int(bx1)), min(size[1], int(by1))

    # Crop, rectified from a slightly wrong detector quad.
    if off:
        quad, (wq, hq) = _jittered_quad(rng, warp, box, cfg.crop_corner_jitter)
        digits = warp.forward(np.concatenate([_box_points(b, 3) for b in surf.digit_boxes]))
        inside = _apply_h(homography(quad, corners(0, 0, wq, hq)), digits)
        if ((inside > 0) & (inside < (wq, hq))).all(axis=1).any():  # a corner's jitter reached a digit
            return None
    else:
        quad, (wq, hq), box = _crop_quad(rng, cfg, warp, surf, box)
    if (quad < 0).any() or (quad[:, 0] > size[0]).any() or (quad[:, 1] > size[1]).any():
        return None
    n_modules = (box[2] - box[0]) / surf.module_px
    c_px = float(np.clip(s_px * rng.uniform(0.8, 1.2), *cfg.crop_module_px))
    out_w = round(n_modules * c_px)
    out_h = int(np.clip(round(out_w * hq / wq), *cfg.crop_height))
    out_w = round(out_h * wq / hq)
    nat_w, nat_h = max(out_w, round(wq)), max(out_h, round(hq))
    crop = rectify(scene, quad, (nat_w, nat_h))
    if (nat_w, nat_h) != (out_w, out_h):
        crop = crop.resize((out_w, out_h), Image.Resampling.BILINEAR)
    hidden = tuple(range(len(code))) if off else tuple(sorted(style.hidden))
    box_xywh = (bx0, by0, bx1 - bx0, by1 - by0)
    return Sample(scene, buf.getvalue(), box_xywh, crop, code, fmt, symbol_quad, hidden)


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
