"""The bars as evidence: zxing-cpp decodes of a photo, matched to detections and compared as GTIN-13 numbers."""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from crnn.core.symbology import upce_to_upca
from crnn.reading.detection import Detection

log = logging.getLogger(__name__)


def zxing_decode(image: Image.Image) -> list[dict]:
    """EAN/UPC symbols the zxing-cpp bar decoder finds: text as printed (UPC-A 12, UPC-E 8 digits), format,
    and its position (a quad). Empty when the package is missing or nothing decodes."""
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


def printed_form(text: str) -> str:
    """A bar decode as the digits printed under the bars: an EAN-13 starting with 0 has the very bars of a UPC-A
    (GS1), which prints its 12 digits; zxing-cpp reports such a symbol as the EAN-13."""
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
