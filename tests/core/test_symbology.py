import random

import pytest

from crnn.core import symbology


@pytest.mark.parametrize(
    ("code", "fmt"),
    [
        ("5901234123457", "EAN-13"),
        ("9780596008574", "EAN-13"),
        ("036000291452", "UPC-A"),
        ("96385074", "EAN-8"),
        ("01234565", "UPC-E"),
        ("04252614", "UPC-E"),
    ],
)
def test_known_codes_are_valid(code, fmt):
    assert symbology.is_valid(code, fmt)
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert not symbology.is_valid(wrong, fmt)


def test_upce_expansion():
    assert symbology.upce_to_upca("01234565") == "012345000065"
    assert symbology.upce_to_upca("04252614") == "042100005264"


def test_upca_compression_undoes_the_expansion():
    """A UPC-A expanded from any UPC-E (each of the four rules: last digit 0-2, 3, 4, 5-9) compresses to a UPC-E that
    expands to it again: GS1's own form where two UPC-Es expand alike (19101624 and 19121634: the first, as
    GS1 allows a last digit 3 only after a manufacturer digit 3-9). A UPC-A with no UPC-E form gives None."""
    rng = random.Random(5)
    for last in "0123456789":
        for _ in range(50):
            code = rng.choice("01") + "".join(rng.choice("0123456789") for _ in range(5)) + last
            upca = symbology.upce_to_upca(code + "0")[:-1]
            upca += str(symbology.gs1_check_digit(upca))
            assert symbology.upce_to_upca(symbology.upca_to_upce(upca) or "") == upca
    assert symbology.upca_to_upce(symbology.upce_to_upca("19121634")) == "19101624"
    assert symbology.upca_to_upce("049000006582") == "04965802"  # the real photo upce-3_03's bars
    assert symbology.upca_to_upce("036000291452") is None
    assert symbology.upca_to_upce("512345000065") is None  # number system 5: no UPC-E


@pytest.mark.parametrize("fmt", symbology.FORMATS)
def test_random_codes_valid_and_sized(fmt):
    rng = random.Random(3)
    for _ in range(200):
        code = symbology.random_code(fmt, rng)
        assert len(code) == symbology.LENGTHS[fmt]
        assert symbology.is_valid(code, fmt)


def _satisfies(code, c):
    return (
        len(code) == len(c.weights)
        and all(ch in a for ch, a in zip(code, c.allowed))
        and sum(int(ch) * w for ch, w in zip(code, c.weights)) % 10 == 0
    )


@pytest.mark.parametrize("fmt", symbology.FORMATS)
def test_constraints_match_is_valid(fmt):
    """The linear constraints used by the decoder accept exactly the valid codes."""
    rng = random.Random(7)
    n = symbology.LENGTHS[fmt]
    cons = symbology.constraints((fmt,))
    for _ in range(5000):
        code = "".join(rng.choice("0123456789") for _ in range(n))
        assert any(_satisfies(code, c) for c in cons) == symbology.is_valid(code, fmt), code


def test_guess_format():
    assert symbology.guess_format("036000291452") == "UPC-A"
    assert symbology.guess_format("04252614") == "UPC-E"
    assert symbology.formats_of("01234565") == ["EAN-8", "UPC-E"]  # 8 digits can be both
    assert symbology.guess_format("123") is None
