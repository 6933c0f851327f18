from __future__ import annotations

import numpy as np
import pytest

from crnn.synth.render import (
    BarcodeStyle,
    addon_pattern,
    isbn_text,
    long_bar_modules,
    module_pattern,
    printed_digits,
    render_barcode,
    render_mask,
)


def test_ean13_pattern_known_code() -> None:
    p = module_pattern("5901234123457", "EAN-13")
    assert len(p) == 95
    assert p.startswith("101") and p.endswith("101")
    assert p[45:50] == "01010"
    # First digit 5 -> parity LGGLLG: '9' in L is 0001011, '0' in G is 0100111.
    assert p[3:10] == "0001011"
    assert p[10:17] == "0100111"
    # Right half is R codes: '7' -> 1000100.
    assert p[85:92] == "1000100"


@pytest.mark.parametrize("lead", range(10))
def test_bars_decode_to_their_number_with_an_independent_decoder(lead: int) -> None:
    # zxing-cpp reads the rendered bars back: the left half's parity must carry the leading digit (GS1's number sets
    # by leading digit; 6-9 were wrong once, so books' and many retail symbols' bars encoded another number).
    from crnn.core.symbology import gs1_check_digit

    payload = f"{lead}{lead * 7 % 10}05960{lead}0857"
    codes = {"EAN-13": payload + str(gs1_check_digit(payload))}
    if lead == 0:
        codes |= {"UPC-A": "036000291452", "EAN-8": "96385074", "UPC-E": "01234565"}
    for fmt, code in codes.items():
        _assert_bars_read_back(code, fmt)


@pytest.mark.parametrize("fmt", ["EAN-13", "UPC-A", "EAN-8", "UPC-E"])
def test_random_codes_bars_decode_to_their_number(fmt: str) -> None:
    # Every parity set in use (UPC-E's by check digit and number system too) read back by zxing-cpp, as printed: a
    # UPC-E in the one form GS1 gives its UPC-A (two forms of one number were drawn once).
    import random

    from crnn.core.symbology import random_code

    rng = random.Random(5)
    for _ in range(40):
        _assert_bars_read_back(random_code(fmt, rng), fmt)  # type: ignore[arg-type]  # parametrised literal


def _assert_bars_read_back(code: str, fmt: str) -> None:
    """zxing-cpp decodes `code`'s clean rendering (`render_barcode`, on a margin of paper) to `code` as printed."""
    from PIL import ImageOps

    from crnn.reading.bars import printed_form, zxing_decode

    image = ImageOps.expand(render_barcode(code, fmt).image, 40, fill=(250, 250, 245))  # type: ignore[arg-type]
    decoded = {printed_form(z["text"], z["format"]) for z in zxing_decode(image)}
    assert printed_form(code, fmt) in decoded, (fmt, code, decoded)


def test_upca_is_ean13_with_leading_zero() -> None:
    assert module_pattern("036000291452", "UPC-A") == module_pattern("0036000291452", "EAN-13")


def test_ean8_and_upce_patterns() -> None:
    p8 = module_pattern("96385074", "EAN-8")
    assert len(p8) == 67 and p8[31:36] == "01010"
    pe = module_pattern("01234565", "UPC-E")
    assert len(pe) == 51
    assert pe == "101" + "0110011" + "0010011" + "0111101" + "0011101" + "0111001" + "0101111" + "010101"


def test_upce_number_system_one_swaps_parity() -> None:
    a = module_pattern("01234565", "UPC-E")
    b = module_pattern("11234562", "UPC-E")  # same body, NS 1 (check digit differs)
    assert len(b) == 51 and a != b


def test_invalid_code_raises() -> None:
    with pytest.raises(ValueError, match="not a valid EAN-13"):
        module_pattern("5901234123458", "EAN-13")


def test_addon_patterns() -> None:
    assert len(addon_pattern("12")) == 4 + 7 + 2 + 7
    assert len(addon_pattern("51495")) == 4 + 5 * 7 + 4 * 2


@pytest.mark.parametrize(
    ("code", "fmt", "outside", "small"),
    [
        ("5901234123457", "EAN-13", 1, 0),
        ("036000291452", "UPC-A", 2, 2),
        ("96385074", "EAN-8", 0, 0),
        ("01234565", "UPC-E", 2, 2),
    ],
)
def test_printed_layout(code: str, fmt: str, outside: int, small: int) -> None:
    digits = printed_digits(code, fmt)  # type: ignore[arg-type]  # parametrised literal
    assert "".join(d.char for d in digits) == code
    assert sum(d.outside for d in digits) == outside
    assert sum(d.small for d in digits) == small
    n_mod = len(module_pattern(code, fmt))  # type: ignore[arg-type]  # parametrised literal
    for d in digits:
        assert (d.x_center < 0 or d.x_center > n_mod) == d.outside


@pytest.mark.parametrize(
    ("code", "fmt"),
    [
        ("5901234123457", "EAN-13"),
        ("036000291452", "UPC-A"),
        ("96385074", "EAN-8"),
        ("01234565", "UPC-E"),
    ],
)
def test_render_geometry(code: str, fmt: str) -> None:
    ppm = 3
    r = render_barcode(code, fmt, ppm, BarcodeStyle(bar_height=40))  # type: ignore[arg-type]  # literal
    g = r.geometry
    n_mod = len(module_pattern(code, fmt))  # type: ignore[arg-type]  # parametrised literal
    assert g.bars[2] - g.bars[0] == n_mod * ppm
    assert g.bars[3] - g.bars[1] == pytest.approx(40 * ppm, abs=1)
    assert g.long_bar_bottom - g.bars[3] == pytest.approx(5 * ppm, abs=1)
    assert len(g.digit_boxes) == len(code)
    w, h = r.image.size
    arr = np.asarray(r.image.convert("L"))
    for box in g.digit_boxes:
        x0, y0, x1, y1 = box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert y0 >= g.bars[3]  # digits sit below the short bars
        assert arr[int(y0) : int(y1), int(x0) : int(x1)].min() < 100  # ink is drawn there
    # Digits in reading order, left to right, not overlapping.
    for a, b in zip(g.digit_boxes, g.digit_boxes[1:], strict=False):
        assert a[2] <= b[0] + 1
    # A long (guard) bar column is dark below the short bars; a short-bar gap column is not.
    guard_x = int(g.origin_x + 0.5 * ppm)
    assert arr[int(g.bars[3]) + ppm, guard_x] < 100
    assert long_bar_modules(fmt)[0][0] == 0  # type: ignore[arg-type]  # parametrised literal
    x0, y0, x1, y1 = g.symbol_box
    assert x0 <= g.bars[0] and x1 >= g.bars[2] and y1 >= g.long_bar_bottom


def test_outer_digits_outside_bars() -> None:
    g = render_mask("036000291452", "UPC-A", BarcodeStyle(), 2).geometry
    assert g.digit_boxes[0][2] < g.bars[0]
    assert g.digit_boxes[-1][0] > g.bars[2]
    # Outer UPC-A digits are small.
    height = [b[3] - b[1] for b in g.digit_boxes]
    assert height[0] < 0.85 * height[1]


def test_extras_are_drawn() -> None:
    plain = render_mask("9780596008574", "EAN-13", BarcodeStyle(), 2).geometry
    book = render_mask(
        "9780596008574",
        "EAN-13",
        BarcodeStyle(show_gt=True, top_text=isbn_text("9780596008574"), addon="51495"),
        2,
    ).geometry
    assert plain.extras == [] and len(book.extras) == 3
    gt = book.extras[0]
    assert gt[0] > book.bars[2]  # '>' right of the bars
    assert book.extras[1][3] <= book.bars[1]  # ISBN line above the bars


def test_isbn_text() -> None:
    assert isbn_text("9780596008574") == "ISBN 0-596-00857-0"
    assert isbn_text("9791234567896").startswith("ISBN 979-")
