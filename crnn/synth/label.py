"""The printed label: fonts, barcode style per format, add-ons, print around the symbol, backgrounds."""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from crnn.core.symbology import Format
from crnn.synth.degradation import _NOISE_BANK_STD, _noise_bank, _scale_lut
from crnn.synth.render import OCRB_FONT, BarcodeStyle, Box, isbn_text
from crnn.synth.settings import SynthConfig

log = logging.getLogger(__name__)


SANS_FONTS = tuple(OCRB_FONT.parent / f"LiberationSans-{w}.ttf" for w in ("Regular", "Bold"))


_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")


_WORDS = (
    "INGREDIENTS", "Net Wt", "Made in EU", "Best before", "www.example.com", "Price", "Calcium",
    "Iron", "Keep dry", "Store in a cool place", "Recycle", "LOT", "EXP", "Nutrition Facts",
    "Distributed by", "Serving size", "All rights reserved", "Printed in", "Fragile", "Product of",
    "Visit us online", "Sugar", "Protein", "Daily Value", "Weight", "Contents", "Batch", "Size",
)  # fmt: skip


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


def _grey_colour(rng: np.random.Generator, lo: float, hi: float, tint: float) -> tuple[int, int, int]:
    base = rng.uniform(lo, hi)
    c = base + rng.normal(0.0, tint, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))  # type: ignore[return-value]  # always 3 values


def _sample_style(
    rng: np.random.Generator, cfg: SynthConfig, fmt: Format, code: str, fonts: tuple[Path, ...], squash: float = 1.0
) -> BarcodeStyle:
    font = OCRB_FONT
    if fonts and rng.random() < cfg.p_other_font:
        font = fonts[int(rng.integers(len(fonts)))]
    if cfg.p_sans_font > 0 and rng.random() < cfg.p_sans_font:  # no draw at 0: the default stream is unchanged
        font = SANS_FONTS[int(rng.integers(len(SANS_FONTS)))]
    digit_h = rng.uniform(7.0, 12.0 if fmt == "UPC-E" else 10.0)
    book = fmt == "EAN-13" and code[:3] in ("978", "979")
    n_mod = {"EAN-13": 95, "UPC-A": 95, "EAN-8": 67, "UPC-E": 51}[fmt]
    gap = rng.uniform(*(cfg.outside_gap_ean13 if fmt == "EAN-13" else cfg.outside_gap))
    outer = {"EAN-8": 4.0, "EAN-13": 18.0}.get(fmt, 2 * (gap + 7.0))  # modules outside the bars, both sides
    crop_h = (n_mod + outer) / (cfg.crop_aspect * (1 - cfg.crop_aspect_jitter)) / squash
    # Bars must reach above the crop's top edge: crops always show bars over the digits.
    min_bars = max(8.0, crop_h - digit_h - 1.0) + 3.0
    style = BarcodeStyle(
        font_path=font,
        bar_height=min_bars * rng.uniform(1.05, 2.6),
        guard_extension=min(digit_h * 0.95, rng.uniform(3.5, 8.0)),
        digit_gap=rng.uniform(0.3, 1.6),
        digit_height=digit_h,
        # Real UPC-A / UPC-E outer digits are 0.8-0.9 of the normal height and sit 4-6 modules off the
        # guard bars (measured on the real-dev crops); EAN-13's leading digit sits closer.
        small_digit_scale=rng.uniform(*cfg.small_digit_scale),
        small_first_digit=book and rng.random() < 0.4 or rng.random() < 0.08,
        outside_gap=gap,
        flat=fmt in ("EAN-13", "UPC-A") and rng.random() < cfg.p_flat_layout,
        show_gt=book and rng.random() < 0.6,
        top_text=isbn_text(code) if book and rng.random() < 0.6 else None,
        addon=_addon(rng, cfg, book),
    )
    if cfg.p_quiet_marks > 0 and fmt in ("EAN-8", "EAN-13") and rng.random() < cfg.p_quiet_marks:
        # GS1's quiet-zone marks: '>' right of an EAN-13, '<' and '>' either side of an EAN-8 (no draw at 0).
        style = replace(style, show_gt=True, show_lt=fmt == "EAN-8")
    if fmt == "UPC-A" and cfg.p_card > 0 and rng.random() < cfg.p_card:  # no draw at 0: default stream unchanged
        sans = rng.random() < 0.5
        font = SANS_FONTS[int(rng.integers(len(SANS_FONTS)))] if sans else style.font_path
        span, fill = rng.uniform(0.7, 0.92), rng.uniform(0.6, 0.9)  # cards print small digits, widely spaced
        style = replace(style, flat=True, flat_span=span, flat_fill=fill, hidden=(11,), font_path=font)
    return style


def _addon(rng: np.random.Generator, cfg: SynthConfig, book: bool) -> str | None:
    """A 5-digit add-on for books (price), a 2- or 5-digit one for other codes (issue, price), or none."""
    if book and rng.random() < cfg.p_addon_book:
        return "".join(str(d) for d in rng.integers(0, 10, 5))
    if cfg.p_addon > 0 and rng.random() < cfg.p_addon:  # no draw at 0: the default stream is unchanged
        return "".join(str(d) for d in rng.integers(0, 10, 2 if rng.random() < 0.5 else 5))
    return None


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


def background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A scene with no barcode: the backgrounds samples are drawn on (detector negatives)."""
    return _background(rng, size, find_fonts())


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


def _small_print_below(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    top_left: tuple[float, float],
    width: float,
    digit_px: float,
    colour: tuple[int, int, int],
) -> None:
    """A lot number, date or price printed just under the digits, sometimes in a frame (as on cans and jars)."""
    size = max(6, int(digit_px * rng.uniform(0.45, 0.85)))
    kind = rng.random()
    if kind < 0.4:
        text = f"{int(rng.integers(1990, 2040))} {int(rng.integers(1000, 99999))} {chr(65 + int(rng.integers(26)))}"
    elif kind < 0.7:
        text = f"LOT {int(rng.integers(100, 999999))}"
    else:
        text = f"{int(rng.integers(1, 31)):02d}.{int(rng.integers(1, 13)):02d}.{int(rng.integers(20, 40))}"
    font = _font(str(OCRB_FONT), size)
    x = top_left[0] + rng.uniform(-0.1, 0.5) * width
    y = top_left[1] + rng.uniform(0.15, 0.7) * digit_px
    draw.text((x, y), text, fill=colour, font=font, anchor="lt")
    if rng.random() < 0.5:
        x0, y0, x1, y1 = draw.textbbox((x, y), text, font=font, anchor="lt")
        pad = size * 0.25
        draw.rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), outline=colour, width=max(1, size // 10))
