"""The one image loader: decode errors name the file, modes read as they show, EXIF orientation, pixel limit."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crnn.core import images
from crnn.core.images import ImageError, image_size, load_image


def broken_idat_png(path: Path) -> Path:
    """A PNG whose IDAT chunk length is wrong: Pillow raises SyntaxError while decoding it."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (40, 80, 3), dtype=np.uint8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    i = data.index(b"IDAT")
    data[i - 4 : i] = struct.pack(">I", 5)
    path.write_bytes(bytes(data))
    return path


def test_a_decode_error_names_the_file(tmp_path: Path) -> None:
    bad = broken_idat_png(tmp_path / "bad.png")
    with pytest.raises(ImageError, match=r"cannot read image .*bad\.png: SyntaxError: broken PNG"):
        load_image(bad)
    assert image_size(bad) == (80, 40)  # the header is fine: only decoding finds it
    (tmp_path / "truncated.png").write_bytes(bad.read_bytes()[:60])
    with pytest.raises(ImageError, match=r"truncated\.png: "):
        load_image(tmp_path / "truncated.png")


def test_missing_file_and_broken_symlink(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"missing\.png: not found"):
        load_image(tmp_path / "missing.png")
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "gone.png")
    with pytest.raises(ImageError, match=r"link\.png: broken symbolic link"):
        load_image(link)
    with pytest.raises(ImageError, match="broken symbolic link"):
        image_size(link)


def test_16_bit_grey_reads_as_it_shows(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 64 * 8).reshape(8, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    got = np.asarray(load_image(tmp_path / "g16.png"))
    assert got.shape == (8, 64, 3)
    assert np.abs(got[..., 0].astype(int) - np.round(ramp / 257)).max() <= 1  # not clipped to white
    assert got.min() == 0 and got.max() == 255 and np.median(got) < 200


@pytest.mark.parametrize("mode", ["P", "CMYK", "L", "1", "LA", "RGBA", "I", "F"])
def test_every_mode_gives_rgb_as_shown(tmp_path: Path, mode: str) -> None:
    """Black bars on white, in each mode: RGB with dark bars and a white background (alpha laid on white)."""
    base = Image.new("RGB", (60, 20), "white")
    base.paste((0, 0, 0), (10, 0, 20, 20))
    if mode in ("LA", "RGBA"):
        im = base.convert(mode)
        alpha = Image.new("L", base.size, 0)  # transparent background, opaque bars
        alpha.paste(255, (10, 0, 20, 20))
        im.putalpha(alpha)
        im.paste((0,) * len(mode), (30, 0, 60, 20))  # transparent black: must show as the white page
    elif mode == "I":
        im = Image.fromarray(np.asarray(base.convert("L"), dtype=np.int32) * 257)
    elif mode == "F":
        im = Image.fromarray(np.asarray(base.convert("L"), dtype=np.float32) / 255.0)
    else:
        im = base.convert(mode)
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I", "F") else "x.png")
    im.save(path)
    got = load_image(path)
    assert got.mode == "RGB" and got.size == (60, 20)
    arr = np.asarray(got).astype(int)
    assert arr[:, 12:18].max() < 40, mode  # the bar
    assert arr[:, 40:60].min() > 215, mode  # the page, transparent parts included


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    im = Image.new("RGB", (80, 20), "white")
    im.paste((0, 0, 0), (0, 0, 10, 20))  # a black band at the left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise
    im.save(tmp_path / "photo.jpg", exif=exif.tobytes(), quality=95)
    got = load_image(tmp_path / "photo.jpg")
    assert got.size == (20, 80) == image_size(tmp_path / "photo.jpg")
    assert np.asarray(got)[:10].mean() < 60  # the band is now at the top


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG of `width` x `height` pixels by its header (no pixels to decode)."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_pixel_limit_is_what_the_code_says(tmp_path: Path) -> None:
    """The limit is enforced at MAX_PIXELS exactly (Pillow alone only warns up to twice its limit)."""
    assert images.MAX_PIXELS == Image.MAX_IMAGE_PIXELS == 128_000_000
    assert image_size(_png_header(tmp_path / "ok.png", 16000, 8000)) == (16000, 8000)  # 128 MP: allowed
    over = _png_header(tmp_path / "over.png", 16000, 8001)
    with pytest.raises(ImageError, match=r"over\.png: 16000x8001 is over the 128 megapixel limit"):
        image_size(over)
    with pytest.raises(ImageError, match="megapixel limit"):
        load_image(over)
