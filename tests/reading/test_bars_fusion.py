"""The bars as evidence beside the digits (crnn.reading.photos.fuse_bars), on stand-in decodes."""

from __future__ import annotations

import numpy as np

from crnn.core.geometry import box_quad
from crnn.reading.detection import Detection
from crnn.reading.photos import BarcodeRead, fuse_bars, photo_result

FLOOR = 0.9


def _read(text: str, confidence: float, checksum_ok: bool = True, x: float = 100) -> BarcodeRead:
    return BarcodeRead(Detection(box_quad((x, 100, 200, 80)), 0.9), text, confidence, checksum_ok)


def _decode(text: str, x: float = 100, fmt: str = "EAN13") -> dict:
    quad = box_quad((x + 20, 110, 160, 60)).tolist()
    return {"text": text, "format": fmt, "quad": quad}


def _sure(reads: list[BarcodeRead]) -> tuple[list[str], list[str]]:
    from PIL import Image

    r = photo_result("p.jpg", Image.new("RGB", (800, 400)), 1.0, reads, FLOOR)
    return [b.text for b in r.barcodes], [b.text for b in r.uncertain]


def test_digits_and_bars_agreeing_are_sure_even_under_the_floor():
    reads = fuse_bars([_read("5901234123457", 0.5)], [_decode("5901234123457")], FLOOR)
    assert reads[0].source == "digits+bars" and _sure(reads) == (["5901234123457"], [])


def test_a_upca_read_agrees_with_its_ean13_decode():
    reads = fuse_bars([_read("036000291452", 0.95)], [_decode("0036000291452")], FLOOR)
    assert reads[0].source == "digits+bars" and reads[0].text == "036000291452"


def test_an_unsure_read_gives_way_to_the_bars():
    reads = fuse_bars([_read("5901234123450", 0.4, checksum_ok=False)], [_decode("5901234123457")], FLOOR)
    assert reads[0].text == "5901234123457" and reads[0].source == "bars" and reads[0].to_dict()["source"] == "bars"
    assert _sure(reads) == (["5901234123457"], [])


def test_the_bars_stand_for_one_reading_of_their_barcode():
    # Two detections of one barcode, the second read unsure (a box far too large, read crosswise): it does not
    # become a second reading of the bars' number, whichever comes first; the replaced reading's zxing agrees.
    good, loose = _read("5901234123457", 0.95), _read("1234567", 0.01, checksum_ok=False)
    reads = fuse_bars([loose, good], [_decode("5901234123457")], FLOOR)
    assert good.source == "digits+bars" and loose.source == "digits" and loose.text == "1234567"
    assert _sure(reads) == (["5901234123457"], ["1234567"])
    alone = fuse_bars([_read("1234567", 0.01, checksum_ok=False)], [_decode("5901234123457")], FLOOR)
    assert alone[0].source == "bars" and alone[0].zxing["agrees"]


def test_a_conflict_is_reported_and_never_sure():
    """Two numbers of as many digits, the read convincing (confidence 0.5 or more): a conflict. An unconvincing
    read of as many digits gives way to the bars."""
    weak = fuse_bars([_read("5901234123457", 0.3)], [_decode("4006381333931")], 0.1)
    assert [(b.text, b.source, b.conflict) for b in weak] == [("4006381333931", "bars", False)]
    reads = fuse_bars([_read("5901234123457", 0.99)], [_decode("4006381333931")], FLOOR)
    assert reads[0].conflict and reads[0].text == "5901234123457" and reads[0].zxing["text"] == "4006381333931"
    assert reads[0].to_dict()["conflict"] is True
    assert _sure(reads) == ([], ["5901234123457"])


def test_a_conflict_of_lengths_goes_to_the_longer_number():
    """Bars and digits hold as many digits. A sure read of fewer digits than the bars decode is the digits in view
    of a symbol whose bars decode whole: the bars' number stands. A decode of fewer digits than a sure read is of a
    part of the bars (zxing-cpp finds a UPC-E in an EAN-13): the read stands, and the decode is no barcode of its
    own."""
    reads = fuse_bars([_read("21663017", 0.99)], [_decode("0521663017698")], FLOOR)
    assert [(b.text, b.source, b.conflict) for b in reads] == [("521663017698", "bars", False)]
    assert _sure(reads) == (["521663017698"], [])
    reads = fuse_bars([_read("9790763327629", 0.99)], [_decode("0179000000768", fmt="UPC-E")], FLOOR)
    assert [(b.text, b.source, b.conflict) for b in reads] == [("9790763327629", "digits", False)]
    assert reads[0].zxing == {"text": "0179000000768", "format": "UPC-E", "agrees": False}
    assert _sure(reads) == (["9790763327629"], [])


def test_an_8_digit_read_in_the_other_layout_gives_way_to_the_bars():
    """Eight digits may be an EAN-8 or a UPC-E; the bars tell the layouts apart. A sure read valid only as an EAN-8
    where the bars decode a UPC-E (17770835 read, 17770838 printed) gives way to them; two numbers each valid in
    the bars' format stay a conflict."""
    reads = fuse_bars([_read("17770835", 0.99)], [_decode("0177700000088", fmt="UPC-E")], FLOOR)
    assert [(b.text, b.source, b.conflict) for b in reads] == [("17770838", "bars", False)]
    reads = fuse_bars([_read("5901234123457", 0.99)], [_decode("4006381333931")], FLOOR)
    assert reads[0].conflict and reads[0].source == "digits"


def test_bars_the_detector_missed_are_added_and_bad_decodes_ignored():
    decodes = [_decode("4006381333931", x=500), _decode("4006381333930", x=300)]  # the second fails its check
    reads = fuse_bars([_read("5901234123457", 0.99)], decodes, FLOOR)
    assert [(b.text, b.source) for b in reads] == [("5901234123457", "digits"), ("4006381333931", "bars")]
    assert np.allclose(reads[1].detection.quad, decodes[0]["quad"])
    assert _sure(reads) == (["5901234123457", "4006381333931"], [])


def test_no_decode_leaves_the_reads_as_they_are():
    reads = fuse_bars([_read("5901234123457", 0.99), _read("123", 0.2, False, x=400)], [], FLOOR)
    assert [b.source for b in reads] == ["digits", "digits"] and _sure(reads) == (["5901234123457"], ["123"])


def test_the_bars_number_is_given_as_printed():
    """zxing-cpp reports a UPC-A symbol as its EAN-13 (a leading 0); under those bars 12 digits are printed."""
    reads = fuse_bars(
        [_read("123", 0.1, checksum_ok=False)], [_decode("0036000291452"), _decode("0012345678905", 500)], FLOOR
    )
    assert [b.text for b in reads] == ["036000291452", "012345678905"]


def test_a_upce_the_bars_decode_is_given_as_its_8_printed_digits():
    """zxing-cpp 3 reports a UPC-E as the EAN-13 of the UPC-A it expands to (the real photo upce-3_03 decodes as
    0049000006582); under those bars the UPC-E's own 8 digits are printed."""
    reads = fuse_bars([_read("123", 0.1, checksum_ok=False)], [_decode("0049000006582", fmt="UPC-E")], FLOOR)
    assert [(b.text, b.source) for b in reads] == [("04965802", "bars")]
    assert reads[0].format == "UPC-E"


def test_a_read_whose_bars_run_out_of_the_frame_is_not_sure_of_what_may_be_a_part():
    """Where the frame cuts the bars (`cut`), the digits in view need not be all: 8 digits (the middle of an EAN-13
    looks like an EAN-8) or a first or last digit supplied by the check digit are not sure on the digits alone;
    12 or 13 digits read are, and an uncut barcode's 8 digits are."""
    eight, cut = _read("96385074", 0.99), _read("96385074", 0.99)
    cut.cut = True
    assert eight.sure_digits(FLOOR) and not cut.sure_digits(FLOOR)
    long, last, inner = _read("4006381333931", 0.99), _read("4006381333931", 0.99), _read("4006381333931", 0.99)
    long.cut = last.cut = inner.cut = True
    last.inferred, inner.inferred = (12,), (5,)
    assert long.sure_digits(FLOOR) and inner.sure_digits(FLOOR) and not last.sure_digits(FLOOR)
    assert _sure([cut]) == ([], ["96385074"])  # kept, set apart
    assert cut.to_dict()["cut"] is True and "cut" not in eight.to_dict()
