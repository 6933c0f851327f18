"""Test-time views: the crops (`crnn.preprocess.view`), their fusion (`crnn.reading.fusion.fuse_views`) and the
reader that reads unsure crops again in them."""

import numpy as np
import pytest
from PIL import Image

from crnn.core import symbology
from crnn.core.codec import Codec, log_softmax
from crnn.core.confidence import MIN_CONFIDENCE, VIEWS_BELOW
from crnn.core.preprocess import VIEW_NAMES, VIEWS, InputSpec, view
from crnn.reading.crops import Reader
from crnn.reading.fusion import check_views, fuse_views, fused_text
from crnn.reading.policy import ReadingPolicy
from tests.helpers import frames_for, lead0_frames


def test_views_crop_and_pad_the_way_a_detector_might_have():
    image = Image.new("RGB", (200, 40), (200, 190, 180))
    image.paste((0, 0, 0), (50, 0, 150, 30))  # "bars" from the top
    assert view(image, "top15").size == (200, 34)
    assert view(image, "sides4").size == (184, 40)
    padded = view(image, "pad5")
    assert padded.size == (220, 44)
    assert padded.getpixel((0, 0)) == (200, 190, 180)  # the paper's colour, not black
    assert padded.getpixel((10 + 100, 2 + 10)) == (0, 0, 0)  # the content, shifted by the pad
    assert set(VIEWS) <= set(VIEW_NAMES)
    with pytest.raises(ValueError, match="unknown view 'bottom'"):
        view(image, "bottom")
    with pytest.raises(ValueError, match="unknown test-time view"):
        check_views(["top15", "rot90"])


def _decoded(codec: Codec, lp: np.ndarray):
    return codec.decode_constrained(lp)


def test_fusion_picks_the_read_the_views_find_likeliest_together():
    codec = Codec()
    truth, wrong = "5901234123457", "5901234123464"  # both valid EAN-13s
    unsure = log_softmax(frames_for(wrong) * 0.3)  # the crop as given: a weak read of the wrong number
    clear = [frames_for(truth, seed=s) for s in (1, 2)]
    first = _decoded(codec, unsure)
    assert first.text == wrong and first.confidence < MIN_CONFIDENCE
    fused = fuse_views(codec, [unsure, *clear], [first, *(_decoded(codec, lp) for lp in clear)])
    assert fused.text == truth
    assert len(fused.char_confidences) == 13 and 0 < fused.confidence < 1
    assert fused.confidence == pytest.approx(np.prod(fused.char_confidences))
    # Views that agree with the crop leave its read exactly as it was.
    same = [frames_for(wrong, seed=s) for s in (1, 2)]
    assert fuse_views(codec, [unsure, *same], [first, *(_decoded(codec, lp) for lp in same)]) is first


def test_fusion_weighs_the_layout_prior_like_the_decoder():
    """A 13-digit read starting with 0 is the EAN-13 layout of a UPC-A's bars; fusion weighs it by the prior."""
    codec = Codec()
    upca = "036000291452"
    views = [lead0_frames(upca, 0.9), lead0_frames(upca, 0.3)]
    reads = [codec.decode_constrained(views[0]), codec.decode_constrained(views[1])]
    assert [r.text for r in reads] == ["0" + upca, upca]
    # Together the views give the 13-digit path 0.9 * 0.3 = 0.27 and the 12-digit one 0.1 * 0.7 = 0.07.
    assert fuse_views(codec, views, reads).text == "0" + upca
    assert fuse_views(codec, views, reads, ean13_lead0_prior=0.1).text == upca


def test_fusion_scores_a_card_number_no_view_shows_its_check_digit_of():
    """Every crop of a loyalty card printed without its check digit reads 11 digits, the check digit supplying the
    12th; one crop cut off-centre reads another valid 12-digit number. Plain CTC scores the card's number by a digit
    no crop shows and lets the odd one win; scored as the decoder does (the erasure hypothesis), the card's wins."""
    codec = Codec()
    card, odd = "456314319671", "456317431967"  # restricted-circulation UPC-As, both valid
    views = [frames_for(card[:11], seed=s) for s in (1, 2, 3)] + [log_softmax(frames_for(odd, seed=4) * 0.5)]
    reads = [codec.decode_constrained(lp, erasure_prior=0.05, erasable=("UPC-A",)) for lp in views]
    assert [r.text for r in reads] == [card, card, card, odd] and reads[0].inferred == (11,)
    assert symbology.erased_form(card, ("UPC-A",)) == card[:11]
    assert symbology.erased_form(card, ()) is None and symbology.erased_form("036000291452") is None  # not restricted
    assert fused_text(codec, views[::-1], reads[::-1], erasure_prior=0.0) == odd  # the failure this fixes
    assert fused_text(codec, views[::-1], reads[::-1], erasure_prior=0.05, erasable=("UPC-A",)) == card
    fused = fuse_views(codec, views[::-1], reads[::-1], erasure_prior=0.05, erasable=("UPC-A",))
    assert fused.text == card and fused.inferred == (11,) and fused.confidence == max(r.confidence for r in reads[:3])


class Scripted(Reader):
    """A reader whose network answers each call with the next scripted frames (one per image)."""

    spec, codec, decoder = InputSpec(32, 128, 1, 0.5, 0.5), Codec(), "constrained"

    def __init__(self, script: list[np.ndarray]) -> None:
        self.script, self.calls = list(script), []

    def logits(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(len(batch))
        return np.stack([self.script.pop(0) for _ in range(len(batch))])


def test_reader_reads_unsure_crops_again_in_views_and_sure_ones_once():
    truth, wrong = "5901234123457", "5901234123464"
    crops = [Image.new("L", (160, 40), 200), Image.new("L", (160, 40), 200)]
    sure, unsure = frames_for("96385074"), log_softmax(frames_for(wrong) * 0.3)
    reader = Scripted([sure, unsure, frames_for(truth, seed=1), frames_for(truth, seed=2)])
    assert reader.views == VIEWS == ("top15", "sides4")
    first, second = reader.read(crops)
    assert reader.calls == [2, 2]  # both crops, then the unsure one's two views
    assert first.text == "96385074" and second.text == truth and second.checksum_ok
    # A read above the confidence floor (sure, read once) but under VIEWS_BELOW is read again in the views too.
    middling = log_softmax(frames_for(wrong) * 0.7)
    assert MIN_CONFIDENCE <= Codec().decode_constrained(middling).confidence < VIEWS_BELOW
    reader = Scripted([sure, middling, frames_for(truth, seed=1), frames_for(truth, seed=2)])
    assert [r.text for r in reader.read(crops)] == ["96385074", truth] and reader.calls == [2, 2]
    # Without views the unsure crop keeps its own (wrong) read, and the network runs once.
    reader = Scripted([sure, unsure])
    reader.policy = ReadingPolicy(views=())
    assert [r.text for r in reader.read(crops)] == ["96385074", wrong] and reader.calls == [2]


def test_views_on_the_command_line():
    import argparse

    from crnn.cli import build_parser
    from crnn.cli.common import views as _views

    assert _views("none") == () and _views("top15,pad5") == ("top15", "pad5")
    with pytest.raises(argparse.ArgumentTypeError, match="unknown test-time view"):
        _views("top15,upside-down")
    a = build_parser().parse_args(["read", "--model", "m.onnx", "--views", "sides4", "x.png"])
    assert a.views == ("sides4",)
    assert build_parser().parse_args(["read", "--model", "m.onnx", "x.png"]).views is None


def test_a_missing_model_is_a_clear_error(capsys):
    from crnn import cli

    assert cli.main(["evaluate", "--model", "missing.onnx", "--data", "x.tsv"]) == 2
    assert "not found" in capsys.readouterr().err


def test_the_other_layout_of_the_same_bars_competes_only_when_asked() -> None:
    """`twins`: a UPC-A read brings in the EAN-13 with a leading 0 (the same bars) as a candidate, and back."""
    codec = Codec()
    upca = "036000291452"
    views = [lead0_frames(upca, 0.8) for _ in range(3)]
    reads = [codec.decode_constrained(lp, ean13_lead0_prior=0.1) for lp in views]
    assert {r.text for r in reads} == {upca}
    assert fused_text(codec, views, reads, ean13_lead0_prior=0.1) == upca
    assert fused_text(codec, views, reads, ean13_lead0_prior=0.1, twins=True) == "0" + upca
    assert symbology.layout_twin(upca) == "0" + upca and symbology.layout_twin("0" + upca) == upca
    assert symbology.layout_twin("5901234123457") is None and symbology.layout_twin("96385074") is None
