"""Clean EAN-13 / UPC-A / EAN-8 / UPC-E renderings: module patterns and the GS1 human-readable layout.

Everything is laid out in module units first (x = 0 at the left edge of the start guard, y = 0 at the
top of the bars) and scaled to pixels once, so the geometry the generator needs for cropping is exact.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from crnn.core.symbology import LENGTHS, Format, is_valid

Box = tuple[float, float, float, float]

"""(x0, y0, x1, y1) in pixels, x1/y1 exclusive."""


OCRB_FONT = Path(__file__).parents[1] / "fonts" / "OCRB.otf"


_L_CODES = (
    "0001101", "0011001", "0010011", "0111101", "0100011",
    "0110001", "0101111", "0111011", "0110111", "0001011",
)  # fmt: skip


_R_CODES = tuple("".join("1" if b == "0" else "0" for b in c) for c in _L_CODES)


_G_CODES = tuple(c[::-1] for c in _R_CODES)


# EAN-13: the first digit is encoded in the L/G parity of the left six digits (GS1 General Specifications,
# number sets A and B by leading digit).
_EAN13_PARITY = (
    "LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG",
    "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL",
)  # fmt: skip


# UPC-E, number system 0: parity of the six digits by check digit (number system 1 swaps L and G).
_UPCE_PARITY = (
    "GGGLLL", "GGLGLL", "GGLLGL", "GGLLLG", "GLGGLL",
    "GLLGGL", "GLLLGG", "GLGLGL", "GLGLLG", "GLLGLG",
)  # fmt: skip


_EAN5_PARITY = (
    "GGLLL", "GLGLL", "GLLGL", "GLLLG", "LGGLL",
    "LLGGL", "LLLGG", "LGLGL", "LGLLG", "LLGLG",
)  # fmt: skip


_EAN2_PARITY = ("LL", "LG", "GL", "GG")


def _encode(digits: str, parity: str) -> str:
    table = {"L": _L_CODES, "G": _G_CODES, "R": _R_CODES}
    return "".join(table[p][int(d)] for d, p in zip(digits, parity, strict=True))


def _check_code(code: str, fmt: Format) -> None:
    if not is_valid(code, fmt):
        raise ValueError(f"{code!r} is not a valid {fmt} code ({LENGTHS[fmt]} digits with a correct check digit)")


def module_pattern(code: str, fmt: Format) -> str:
    """Bars of `code` as a string of '1' (dark) and '0' (light) modules, guards included.

    EAN-13 and UPC-A give 95 modules, EAN-8 67, UPC-E 51. No quiet zones.
    """
    _check_code(code, fmt)
    if fmt == "UPC-A":
        return module_pattern("0" + code, "EAN-13")
    if fmt == "EAN-13":
        left = _encode(code[1:7], _EAN13_PARITY[int(code[0])])
        return "101" + left + "01010" + _encode(code[7:], "R" * 6) + "101"
    if fmt == "EAN-8":
        return "101" + _encode(code[:4], "LLLL") + "01010" + _encode(code[4:], "RRRR") + "101"
    parity = _UPCE_PARITY[int(code[7])]
    if code[0] == "1":
        parity = parity.translate(str.maketrans("LG", "GL"))
    return "101" + _encode(code[1:7], parity) + "010101"


def addon_pattern(digits: str) -> str:
    """Bars of a 2- or 5-digit EAN add-on (the price/issue symbol printed right of books' bars)."""
    if len(digits) not in (2, 5) or not digits.isdigit():
        raise ValueError(f"add-on {digits!r} must be 2 or 5 digits")
    if len(digits) == 2:
        parity = _EAN2_PARITY[int(digits) % 4]
    else:
        d = [int(c) for c in digits]
        parity = _EAN5_PARITY[(3 * (d[0] + d[2] + d[4]) + 9 * (d[1] + d[3])) % 10]
    chars = [_encode(c, p) for c, p in zip(digits, parity, strict=True)]
    return "1011" + "01".join(chars)


def long_bar_modules(fmt: Format) -> list[tuple[int, int]]:
    """Module ranges [start, end) whose bars extend down between the digit groups (guards etc.)."""
    if fmt == "EAN-13":
        return [(0, 3), (45, 50), (92, 95)]
    if fmt == "UPC-A":
        # UPC-A also extends the first and last symbol characters (number system and check digit).
        return [(0, 10), (45, 50), (85, 95)]
    if fmt == "EAN-8":
        return [(0, 3), (31, 36), (64, 67)]
    return [(0, 3), (45, 51)]


@dataclass(frozen=True)
class PrintedDigit:
    """One human-readable character: its centre x in modules and whether it is the small outer kind."""

    char: str
    x_center: float
    small: bool
    outside: bool  # left or right of the bars rather than under them


def printed_digits(code: str, fmt: Format, outside_gap: float = 1.0) -> list[PrintedDigit]:
    """GS1 human-readable layout of `code` (all printed characters, in reading order).

    `outside_gap` is the space in modules between an outer digit's slot and the bars.
    """
    _check_code(code, fmt)
    under = [3.5 + 3 + 7 * i for i in range(6)]  # left-half slot centres (EAN-13/UPC-A/UPC-E)
    right = [3.5 + 50 + 7 * i for i in range(6)]
    out_l = -outside_gap - 3.5
    if fmt == "EAN-13":
        return (
            [PrintedDigit(code[0], out_l, small=False, outside=True)]
            + [PrintedDigit(c, x, False, False) for c, x in zip(code[1:7], under, strict=True)]
            + [PrintedDigit(c, x, False, False) for c, x in zip(code[7:], right, strict=True)]
        )
    if fmt == "UPC-A":
        return (
            [PrintedDigit(code[0], out_l, small=True, outside=True)]
            + [PrintedDigit(c, x, False, False) for c, x in zip(code[1:6], under[1:], strict=True)]
            + [PrintedDigit(c, x, False, False) for c, x in zip(code[6:11], right[:5], strict=True)]
            + [PrintedDigit(code[11], 95 + outside_gap + 3.5, small=True, outside=True)]
        )
    if fmt == "EAN-8":
        left8 = [3.5 + 3 + 7 * i for i in range(4)]
        right8 = [3.5 + 36 + 7 * i for i in range(4)]
        return [PrintedDigit(c, x, False, False) for c, x in zip(code[:4], left8, strict=True)] + [
            PrintedDigit(c, x, False, False) for c, x in zip(code[4:], right8, strict=True)
        ]
    return (
        [PrintedDigit(code[0], out_l, small=True, outside=True)]
        + [PrintedDigit(c, x, False, False) for c, x in zip(code[1:7], under, strict=True)]
        + [PrintedDigit(code[7], 51 + outside_gap + 3.5, small=True, outside=True)]
    )


@dataclass(frozen=True)
class BarcodeStyle:
    """How a symbol is printed. Lengths are in modules unless stated."""

    font_path: Path = OCRB_FONT
    bar_height: float = 50.0  # short (data) bars, top to bottom
    guard_extension: float = 5.0  # how far long bars reach below the short ones
    digit_gap: float = 0.7  # short bars' bottom to the digits' top
    digit_height: float = 8.5  # cap height of the normal digits
    small_digit_scale: float = 0.7  # outer UPC-A/UPC-E digits relative to normal ones
    small_first_digit: bool = False  # some EAN-13 printers shrink the leading digit too
    outside_gap: float = 1.0  # outer digit slot to the bars
    max_digit_width: float = 6.2  # digits whose ink is wider than this (modules) get a smaller font
    quiet_zone: tuple[float, float] = (11.0, 7.0)  # left, right; widened to fit outer glyphs
    flat: bool = False  # all bars one height, digits in an even row underneath (non-GS1 printers)
    flat_span: float = 0.92  # that row's width, fraction of the bars'
    flat_fill: float = 0.95  # a digit's largest ink width in that row, fraction of the digit pitch
    show_gt: bool = False  # the '>' books print right of the bars (GS1's quiet-zone mark, EAN-13 and EAN-8)
    show_lt: bool = False  # the '<' GS1 prints left of an EAN-8's bars
    top_text: str | None = None  # e.g. 'ISBN 978-0-596-00857-4', printed above the bars
    addon: str | None = None  # 2 or 5 add-on digits right of the symbol
    hidden: tuple[int, ...] = ()  # digits (code order) left unprinted, e.g. a UPC-A check digit some cards omit
    ink_spread_px: int = 0  # >0 grows dark bars by a pixel (ink gain), <0 thins them


@dataclass
class BarcodeGeometry:
    """Where things are in a rendered image, in pixels."""

    module_px: int
    origin_x: float  # x of module 0 (left edge of the start guard)
    bars: Box  # data bars: left edge of first bar, top, right edge of last bar, short bars' bottom
    long_bar_bottom: float
    digit_boxes: list[Box]  # ink box of each printed digit, in code order
    extras: list[Box] = field(default_factory=list)  # '>', text above the bars, add-on

    @property
    def text_box(self) -> Box:
        """Union of the digit ink boxes."""
        return _union(self.digit_boxes)

    @property
    def symbol_box(self) -> Box:
        """Bars plus human-readable digits: what a detector is asked to find."""
        x0, y0, x1, _ = self.bars
        return _union([(x0, y0, x1, self.long_bar_bottom), self.text_box])


@dataclass
class RenderedBarcode:
    image: Image.Image
    geometry: BarcodeGeometry


def _union(boxes: list[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _text_box(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    font: ImageFont.FreeTypeFont,
    anchor: str,
) -> Box:
    x0, y0, x1, y1 = draw.textbbox(xy, text, font=font, anchor=anchor)
    return (float(x0), float(y0), float(x1), float(y1))


@functools.lru_cache(maxsize=512)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@functools.lru_cache(maxsize=64)
def _digit_metrics(path: str) -> tuple[float, float]:
    """(cap height, widest digit ink) of the digits per pixel of font size."""
    font = _font(path, 200)
    boxes = [font.getbbox(d, anchor="ls") for d in "0123456789"]
    height = -min(b[1] for b in boxes)
    width = max(b[2] - b[0] for b in boxes)
    return height / 200, width / 200


def font_size_for(path: Path, digit_height_px: float, max_width_px: float) -> int:
    """Font size whose digits are `digit_height_px` tall, shrunk to keep them `max_width_px` wide."""
    cap, width = _digit_metrics(str(path))
    return max(4, round(min(digit_height_px / cap, max_width_px / width)))


def render_mask(code: str, fmt: Format, style: BarcodeStyle, module_px: int) -> RenderedBarcode:
    """Ink coverage (mode 'L', 255 = ink) of `code` printed in `style` at `module_px` px per module.

    The canvas holds the quiet zones and every printed element, nothing more.
    """
    if module_px < 1:
        raise ValueError(f"module_px must be >= 1, got {module_px}")
    modules = np.frombuffer(module_pattern(code, fmt).encode(), dtype=np.uint8) == ord("1")
    long = np.zeros(len(modules), dtype=bool)
    for a, b in long_bar_modules(fmt):
        long[a:b] = True
    digits = printed_digits(code, fmt, style.outside_gap)
    n_mod = len(modules)
    m = float(module_px)

    # Vertical layout in modules, y = 0 at the top of the bars.
    top_text_h = 0.0 if style.top_text is None else style.digit_height * 0.9
    bar_top = top_text_h * 1.6 + 2.0 if style.top_text else 2.0
    short_bottom = bar_top + style.bar_height
    long_bottom = short_bottom if style.flat else short_bottom + style.guard_extension
    digit_top = (long_bottom if style.flat else short_bottom) + style.digit_gap
    baseline = digit_top + style.digit_height

    addon = addon_pattern(style.addon) if style.addon else ""
    # The add-on starts 9 modules right of the symbol (12 after a '>'), or of an outer digit beyond it.
    addon_gap = max(12.0 if style.show_gt else 9.0, max(d.x_center for d in digits) + 3.5 + 5.0 - n_mod)
    # Horizontal extent: quiet zones widened to hold outer glyphs, '<' and '>'.
    left_extra = max(style.quiet_zone[0], -min(d.x_center for d in digits) + 4.5)
    right_edge = max(n_mod + style.quiet_zone[1], max(d.x_center for d in digits) + 4.5)
    if style.show_gt:
        right_edge = max(right_edge, n_mod + 9.0)
    if style.show_lt:
        left_extra = max(left_extra, 9.0)
    if addon:
        right_edge = n_mod + addon_gap + len(addon) + 5.0
    origin = left_extra * m
    width = round((left_extra + right_edge) * m)
    height = round((baseline + 3.0) * m)

    # Bars with numpy: column pattern and per-column bottom.
    cols = np.zeros(width, dtype=bool)
    bottoms = np.zeros(width, dtype=np.float32)
    x0 = round(origin)
    cols[x0 : x0 + n_mod * module_px] = np.repeat(modules, module_px)
    bottoms[x0 : x0 + n_mod * module_px] = np.repeat(
        np.where(long & ~np.bool_(style.flat), long_bottom, short_bottom) * m, module_px
    )
    rows = np.arange(height, dtype=np.float32)[:, None]
    ink = cols[None, :] & (rows >= bar_top * m) & (rows < bottoms[None, :])
    extras: list[Box] = []
    if addon:
        a_mod = np.frombuffer(addon.encode(), dtype=np.uint8) == ord("1")
        ax_px = round(origin + (n_mod + addon_gap) * m)
        a_top = bar_top + style.digit_height + 1.5
        a_cols = np.zeros(width, dtype=bool)
        a_cols[ax_px : ax_px + len(a_mod) * module_px] = np.repeat(a_mod, module_px)
        ink |= a_cols[None, :] & (rows >= a_top * m) & (rows < long_bottom * m)
    mask = Image.fromarray((ink * 255).astype(np.uint8), mode="L")
    if style.ink_spread_px:
        size = 2 * abs(style.ink_spread_px) + 1
        filt = ImageFilter.MaxFilter if style.ink_spread_px > 0 else ImageFilter.MinFilter
        mask = mask.filter(filt(size))
    draw = ImageDraw.Draw(mask)

    font_path = str(style.font_path)
    normal = font_size_for(style.font_path, style.digit_height * m, style.max_digit_width * m)
    small = max(4, round(normal * style.small_digit_scale))
    digit_boxes: list[Box] = []
    base_px = baseline * m
    if style.flat:
        # Non-GS1 printers: one evenly spaced row of the printed digits centred under the bars; an unprinted
        # digit takes its printed neighbour's place (its box then adds nothing to the text box).
        shown = [i for i in range(len(code)) if i not in style.hidden] or list(range(len(code)))
        span = n_mod * style.flat_span
        pitch = span / len(shown)
        slot = [min(range(len(shown)), key=lambda k: abs(shown[k] - i)) for i in range(len(code))]
        centres = [n_mod / 2 - span / 2 + pitch * (k + 0.5) for k in slot]
        size = font_size_for(style.font_path, style.digit_height * m, pitch * style.flat_fill * m)
        placed = [(c, x, size) for c, x in zip(code, centres, strict=True)]
    else:
        placed = []
        for i, d in enumerate(digits):
            shrink = d.small or (style.small_first_digit and fmt == "EAN-13" and i == 0)
            placed.append((d.char, d.x_center, small if shrink else normal))
    for i, (char, x_mod, size) in enumerate(placed):
        font = _font(font_path, size)
        x = origin + x_mod * m
        if i not in style.hidden:
            draw.text((x, base_px), char, fill=255, font=font, anchor="ms")
        digit_boxes.append(_text_box(draw, (x, base_px), char, font, "ms"))
    if style.show_gt:
        font = _font(font_path, normal)
        x = origin + (n_mod + 4.5) * m
        draw.text((x, base_px), ">", fill=255, font=font, anchor="ms")
        extras.append(_text_box(draw, (x, base_px), ">", font, "ms"))
    if style.show_lt:
        font = _font(font_path, normal)
        x = origin - 4.5 * m
        draw.text((x, base_px), "<", fill=255, font=font, anchor="ms")
        extras.append(_text_box(draw, (x, base_px), "<", font, "ms"))
    if style.top_text:
        font = _font(font_path, font_size_for(style.font_path, top_text_h * m, 1e9))
        pos = (origin, (bar_top - 1.2) * m)
        draw.text(pos, style.top_text, fill=255, font=font, anchor="ls")
        extras.append(_text_box(draw, pos, style.top_text, font, "ls"))
    if addon:
        ax = origin + (n_mod + addon_gap) * m
        a_top = (bar_top + style.digit_height + 0.8) * m
        font = _font(font_path, normal)
        pitch = len(addon) * m / len(style.addon or "")
        for i, c in enumerate(style.addon or ""):
            draw.text((ax + pitch * (i + 0.5), a_top), c, fill=255, font=font, anchor="ms")
        extras.append((ax, bar_top * m, ax + len(addon) * m, long_bottom * m))

    geometry = BarcodeGeometry(
        module_px=module_px,
        origin_x=float(x0),
        bars=(float(x0), bar_top * m, float(x0 + n_mod * module_px), short_bottom * m),
        long_bar_bottom=long_bottom * m,
        digit_boxes=digit_boxes,
        extras=extras,
    )
    return RenderedBarcode(mask, geometry)


def render_barcode(
    code: str,
    fmt: Format,
    module_px: int = 3,
    style: BarcodeStyle | None = None,
    ink: tuple[int, int, int] = (20, 20, 20),
    paper: tuple[int, int, int] = (250, 250, 245),
) -> RenderedBarcode:
    """A clean RGB rendering of `code` (bars, GS1 human-readable digits, options in `style`)."""
    rendered = render_mask(code, fmt, style or BarcodeStyle(), module_px)
    mask = rendered.image
    image = Image.composite(Image.new("RGB", mask.size, ink), Image.new("RGB", mask.size, paper), mask)
    return RenderedBarcode(image, rendered.geometry)


def isbn_text(code: str) -> str:
    """The 'ISBN ...' line printed above a book's bars (ISBN-10 form for 978, else ISBN-13)."""
    if code.startswith("978"):
        core = code[3:12]
        check = sum((10 - i) * int(c) for i, c in enumerate(core)) % 11
        c10 = "X" if (11 - check) % 11 == 10 else str((11 - check) % 11)
        return f"ISBN {core[0]}-{core[1:4]}-{core[4:9]}-{c10}"
    return f"ISBN {code[:3]}-{code[3]}-{code[4:7]}-{code[7:12]}-{code[12]}"
