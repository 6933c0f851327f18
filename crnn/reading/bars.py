"""The bars as evidence: zxing-cpp decodes of a photo, matched to detections and compared as GTIN-13 numbers."""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from crnn.core.geometry import quad_size
from crnn.core.symbology import checksum_ok, upca_to_upce, upce_to_upca
from crnn.reading.detection import Detection, upright_window

log = logging.getLogger(__name__)

BARS_WIDTH = 800  # px: the widest a barcode is shown to zxing-cpp in its own window (`zxing_upright`)
BARS_MIN_WIDTH = 300  # px: the narrowest (a small barcode is scaled up to it)
BARS_MARGIN = 1.4  # the window's sides to the detection's: room for quiet zones and a loose box
BARS_SCALES = (1.0, 1.4)  # the window at each of these times that size: a number counts where all decode it


def zxing_decode(image: Image.Image) -> list[dict]:
    """EAN/UPC symbols the zxing-cpp bar decoder finds: text as zxing-cpp 3 reports it (a UPC-A as its EAN-13, a
    UPC-E as the EAN-13 it expands to; `printed_form` gives the digits printed), format, and its position (a
    quad). Empty when the package is missing or nothing decodes."""
    try:
        import zxingcpp
    except ImportError:
        log.warning("zxing-cpp is not installed; no cross-check")
        return []
    formats = zxingcpp.BarcodeFormat.EAN13 | zxingcpp.BarcodeFormat.EAN8 | zxingcpp.BarcodeFormat.UPCA
    formats |= zxingcpp.BarcodeFormat.UPCE
    out = []
    for r in zxingcpp.read_barcodes(image, formats=formats):
        pos = r.position
        quad = [[p.x, p.y] for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)]
        out.append({"text": r.text, "format": str(r.format).split(".")[-1], "quad": quad})
    return out


def zxing_upright(image: Image.Image, quad: np.ndarray) -> list[dict]:
    """Valid decodes (`zxing_decode`, check digit right) of a window around `quad` (a detection) turned so its
    digit line runs left to right, quads in the photo's pixels, each marked `"window": True`. zxing-cpp scans rows
    and columns, so a barcode at an oblique angle is not found in the photo itself.

    The window shows the barcode `BARS_WIDTH` pixels wide at most and `BARS_MIN_WIDTH` at least (the photo's own
    resolution between), and again at each of `BARS_SCALES` of that; a number counts only where every scale
    decodes it, as a decoder's misread rarely repeats at another scale. The window is sampled bicubic: a small
    barcode is scaled up, and a cubic kernel keeps the bars' edges that a linear one softens (on the tuning scenes'
    barcodes 4% more windows decoded the right number, none more a wrong one)."""
    w, h = quad_size(quad)
    width = min(max(w, BARS_MIN_WIDTH), BARS_WIDTH)
    found: list[dict] | None = None
    for scale in BARS_SCALES:
        k = w / (scale * width)  # photo pixels a window pixel
        size = (round(BARS_MARGIN * w / k), round(BARS_MARGIN * h / k))
        window, to_photo = upright_window(image, quad, k, size, Image.Resampling.BICUBIC)
        decodes = [z for z in zxing_decode(window) if checksum_ok(z["text"])]
        for z in decodes:
            z["quad"], z["window"] = to_photo(np.array(z["quad"], dtype=np.float64)).tolist(), True
        texts = {z["text"] for z in decodes}
        found = decodes if found is None else [z for z in found if z["text"] in texts]
        if not found:
            return []
    return found or []


def printed_form(text: str, fmt: str = "") -> str:
    """A bar decode as the digits printed under the bars: an EAN-13 starting with 0 has the very bars of a UPC-A
    (GS1), which prints its 12 digits; zxing-cpp reports such a symbol as the EAN-13, and a UPC-E (`fmt`) as the
    EAN-13 it expands to, where the UPC-E's own 8 digits are printed."""
    if fmt == "UPC-E" and len(text) == 13 and text.startswith("0"):
        return upca_to_upce(text[1:]) or text[1:]
    return text[1:] if len(text) == 13 and text.startswith("0") else text


def same_number(a: str, b: str) -> bool:
    """The same number as printed or as a bar decoder reports it: equal, or equal as GTIN-13 (a UPC-A is the
    EAN-13 with a leading 0; zxing-cpp reports a UPC-E expanded to that EAN-13)."""
    return a == b or bool(_gtin13_forms(a) & _gtin13_forms(b))


def _gtin13_forms(code: str) -> set[str]:
    """The 13-digit forms `code` may stand for: itself (EAN-13), 0 + a UPC-A, 0 + an 8-digit UPC-E expanded
    (8 digits that are not a UPC-E are an EAN-8, which has no 13-digit form)."""
    if not code.isdigit():
        return set()
    if len(code) == 13:
        return {code}
    if len(code) == 12:
        return {"0" + code}
    if len(code) == 8 and code[0] in "01":
        return {"0" + upce_to_upca(code)}
    return set()


def _match_zxing(det: Detection, decodes: list[dict]) -> dict | None:
    """The decode whose position lies inside the detection's box (grown by a quarter), if any."""
    x, y, w, h = det.box
    for z in decodes:
        cx, cy = np.mean(np.array(z["quad"], dtype=np.float64), axis=0)
        if x - w / 4 <= cx <= x + 1.25 * w and y - h / 4 <= cy <= y + 1.25 * h:
            return z
    return None
