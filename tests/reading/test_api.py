"""The Python API: `from crnn import BarcodeReader`, paths, PIL images and numpy arrays (OpenCV's BGR too)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crnn.core.symbology import gtin13


def test_gtin13_of_each_format() -> None:
    assert gtin13("5901234123457") == "5901234123457"
    assert gtin13("036000291452") == "0036000291452"  # UPC-A
    assert gtin13("96385074") == "0000096385074"  # EAN-8, padded as GS1 pads
    assert gtin13("01234565", "UPC-E") == "0012345000065"  # UPC-E, expanded
    assert gtin13("5901234123450") is None and gtin13("abc") is None


def test_the_reader_takes_paths_pil_images_and_arrays(onnx_model: Path, synth_dir: Path) -> None:
    from crnn import Barcode, BarcodeReader

    crop = sorted((synth_dir / "crops").glob("*.png"))[0]
    reader = BarcodeReader(onnx_model)
    (by_path,) = reader.read(crop)
    assert isinstance(by_path, Barcode) and isinstance(by_path.confidence, float) and by_path.box is None
    rgb = Image.open(crop).convert("RGB")
    arr = np.asarray(rgb)
    assert reader.read(rgb) == [by_path] and reader.read(arr) == [by_path]
    assert reader.read(np.ascontiguousarray(arr[:, :, ::-1]), bgr=True) == [by_path]  # an OpenCV frame
    assert reader.read_many([crop, rgb]) == [[by_path], [by_path]]
    assert set(by_path.to_dict()) >= {"text", "format", "gtin13", "confidence", "sure", "box", "quad", "source"}


def test_photos_give_boxes_in_the_image_pixels(onnx_model: Path, detector_onnx: Path, synth_dir: Path) -> None:
    from crnn import BarcodeReader

    photo = sorted((synth_dir / "images").glob("*"))[0]
    reader = BarcodeReader(onnx_model, detector=detector_onnx, fuse_bars=False)
    image = Image.open(photo).convert("RGB")
    found = reader.read(photo)
    assert found == reader.read(image)
    for b in found:
        x, y, w, h = b.box
        assert 0 <= x + w / 2 <= image.width and 0 <= y + h / 2 <= image.height and len(b.quad) == 4


def test_bad_input_is_a_clear_error(onnx_model: Path, tmp_path: Path) -> None:
    from crnn import BarcodeReader

    reader = BarcodeReader(onnx_model)
    with pytest.raises(ValueError, match="uint8"):
        reader.read(np.zeros((10, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        reader.read(np.zeros((10, 10, 2), dtype=np.uint8))
    with pytest.raises(TypeError, match="path, a PIL image or a numpy array"):
        reader.read(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="missing.png"):
        reader.read(tmp_path / "missing.png")


def test_the_format_of_a_reading() -> None:
    from crnn.core.symbology import format_of

    assert format_of("5901234123457") == "EAN-13" and format_of("036000291452") == "UPC-A"
    assert format_of("96385074") == "EAN-8" and format_of("01234565") == "EAN-8"  # valid as both: EAN-8 first
    assert format_of("01234565", "UPCE") == "UPC-E"  # the bar decoder knows
    assert format_of("5901234123450") is None and format_of("5901234123457", "UPCE") == "EAN-13"


def test_a_read_the_frame_cuts_is_given_unsure_and_marked(
    onnx_model: Path, detector_onnx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A photo read (here a stand-in of the photo reader's reads) whose bars may go on past the frame: its 8 digits
    come back unsure, marked `cut`, so a caller can ask for a photo from further away; the same read uncut is sure."""
    from crnn import BarcodeReader
    from crnn.core.geometry import box_quad
    from crnn.reading.detection import Detection
    from crnn.reading.photos import BarcodeRead

    reader = BarcodeReader(onnx_model, detector=detector_onnx)
    assert reader.photos is not None
    for cut in (True, False):
        read = BarcodeRead(Detection(box_quad((10, 10, 100, 40)), 0.9), "96385074", 0.99, True, cut=cut)
        monkeypatch.setattr(reader.photos, "read_image", lambda image, read=read: [read])
        (b,) = reader.read(Image.new("RGB", (160, 120), "white"))
        assert (b.text, b.sure, b.cut, b.to_dict()["cut"]) == ("96385074", not cut, cut, cut)
