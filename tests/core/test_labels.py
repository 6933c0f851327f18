import numpy as np
import pytest
from PIL import Image

from crnn.core.codec import Codec
from crnn.core.images import load_image
from crnn.core.labels import read_tsv, write_tsv
from crnn.core.preprocess import InputSpec, letterbox, to_array
from crnn.recognizer.data import CropDataset


def _data(tmp_path, rows):
    (tmp_path / "img").mkdir()
    Image.new("RGB", (120, 32), "white").save(tmp_path / "img" / "a.png")
    write_tsv(tmp_path / "labels.tsv", rows)
    return tmp_path / "labels.tsv"


def test_reads_good_rows(tmp_path):
    tsv = _data(tmp_path, [("img/a.png", "5901234123457")])
    (s,) = read_tsv(tsv, Codec())
    assert s.text == "5901234123457" and s.path.name == "a.png" and s.line == 2


def test_printed_column_is_the_training_target(tmp_path):
    (tmp_path / "img").mkdir()
    Image.new("RGB", (120, 32), "white").save(tmp_path / "img" / "a.png")
    rows = [("img/a.png", "036000291452", "03600029145"), ("img/a.png", "5901234123457", "")]
    write_tsv(tmp_path / "l.tsv", rows, header=("filename", "text", "printed"))
    a, b = read_tsv(tmp_path / "l.tsv", Codec())
    assert (a.text, a.target) == ("036000291452", "03600029145")
    assert (b.printed, b.target) == (None, "5901234123457")
    # The recogniser learns the digits shown and is scored on the whole number.
    codec, spec = Codec(), InputSpec(32, 128, 1, 0.5, 0.5)
    assert CropDataset([a], spec, codec)[0][1:] == (codec.encode("03600029145"), "036000291452")
    write_tsv(tmp_path / "bad.tsv", [("img/a.png", "036000291452", "0399")], header=("filename", "text", "printed"))
    with pytest.raises(ValueError, match=r"not a subsequence.*line 2"):
        read_tsv(tmp_path / "bad.tsv", Codec())


def test_bad_label_names_line_and_file(tmp_path):
    tsv = _data(tmp_path, [("img/a.png", "123"), ("img/a.png", "12a4")])
    with pytest.raises(ValueError, match=r"'12a4'.*outside charset.*line 3 of .*labels.tsv"):
        read_tsv(tsv, Codec())


def test_missing_image_names_line(tmp_path):
    tsv = _data(tmp_path, [("img/missing.png", "123")])
    with pytest.raises(ValueError, match=r"line 2: image not found: .*missing.png"):
        read_tsv(tsv, Codec())


def test_path_outside_the_data_folder_is_rejected(tmp_path):
    tsv = _data(tmp_path, [("../../etc/passwd", "123")])
    with pytest.raises(ValueError, match="outside"):
        read_tsv(tsv, Codec())


def test_header_required(tmp_path):
    (tmp_path / "x.tsv").write_text("a.png\t123\n")
    with pytest.raises(ValueError, match="header"):
        read_tsv(tmp_path / "x.tsv", Codec())


def test_images_in_folder_named_after_tsv(tmp_path):
    (tmp_path / "crops").mkdir()
    Image.new("RGB", (50, 20)).save(tmp_path / "crops" / "b.png")
    write_tsv(tmp_path / "crops.tsv", [("b.png", "42")])
    assert read_tsv(tmp_path / "crops.tsv", Codec())[0].path == (tmp_path / "crops" / "b.png").resolve()


def test_corrupt_image_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match="cannot read image .*bad.png"):
        load_image(bad)


def test_letterbox_keeps_aspect_and_pads():
    im = Image.new("L", (100, 50), 200)
    out = letterbox(im, 48, 224)
    assert out.size == (224, 48)
    arr = to_array(Image.new("RGB", (100, 50), (255, 255, 255)), InputSpec(48, 224, 1, 0.5, 0.5))
    assert arr.shape == (1, 48, 224) and arr.max() == pytest.approx(1.0)


def test_stretch_widens_before_letterboxing():
    im = Image.new("L", (100, 50), 255)
    im.paste(0, (0, 0, 50, 50))  # left half dark
    plain = to_array(im, InputSpec(32, 256, 1, 0.5, 0.5))
    wide = to_array(im, InputSpec(32, 256, 1, 0.5, 0.5, x_stretch=2.0))
    dark = lambda a: int((a[0, 16] < 0).sum())  # noqa: E731 - a one-line helper local to this test
    assert dark(plain) == 32 and dark(wide) == 64  # 100x50 -> 64x32, then twice as wide
    with pytest.raises(ValueError, match="x_stretch"):
        InputSpec(32, 256, 1, 0.5, 0.5, x_stretch=0.0)


def test_low_pass_softens_edges_only_when_asked():
    im = Image.new("L", (128, 32), 255)
    im.paste(0, (60, 0, 64, 32))  # one dark bar
    sharp = to_array(im, InputSpec(32, 128, 1, 0.5, 0.5))
    soft = to_array(im, InputSpec(32, 128, 1, 0.5, 0.5, blur=0.5))
    assert np.abs(np.diff(soft[0, 16])).max() < np.abs(np.diff(sharp[0, 16])).max()
    assert soft.mean() == pytest.approx(sharp.mean(), abs=0.01)  # blurred, not darkened or shifted


def test_bom_is_accepted_and_duplicate_rows_count_once(tmp_path, caplog):
    tsv = _data(tmp_path, [("img/a.png", "123"), ("img/b.png", "456"), ("img/a.png", "123")])
    Image.new("RGB", (120, 32), "white").save(tmp_path / "img" / "b.png")
    tsv.write_text("\ufeff" + tsv.read_text())
    with caplog.at_level("WARNING"):
        samples = read_tsv(tsv, Codec())
    assert [(s.path.name, s.line) for s in samples] == [("a.png", 2), ("b.png", 3)]
    assert "1 duplicate rows skipped: line 4 repeats line 2 (img/a.png)" in caplog.text
