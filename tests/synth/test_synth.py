from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crnn.core.symbology import LENGTHS, is_valid
from crnn.synth.scene import make_sample
from crnn.synth.settings import SynthConfig
from crnn.synth.writer import generate

REPO = Path(__file__).resolve().parents[2]


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "a"
    summary = generate(out, 24, seed=3, workers=2, progress=False, chunk_size=5)
    assert summary.count == 24 and sum(summary.per_format.values()) == 24
    return out


def test_files_and_tsvs(dataset: Path) -> None:
    ann = _read_tsv(dataset / "annotations.tsv")
    crops = _read_tsv(dataset / "crops.tsv")
    assert len(ann) == len(crops) == 24
    assert list(ann[0]) == ["filename", "code", "x_from", "y_from", "width", "height", "quad"]
    assert list(crops[0]) == ["filename", "text", "format", "printed"]
    for a, c in zip(ann, crops, strict=True):
        assert a["code"] == c["text"] and c["printed"] == c["text"]  # every digit printed by default
        assert is_valid(c["text"], c["format"])  # type: ignore[arg-type]  # format column
        assert len(c["text"]) == LENGTHS[c["format"]]  # type: ignore[index]  # format column
        scene = Image.open(dataset / a["filename"])
        x, y, w, h = (int(a[k]) for k in ("x_from", "y_from", "width", "height"))
        assert w > 20 and h > 10
        assert x >= 0 and y >= 0 and x + w <= scene.width and y + h <= scene.height
        # The symbol's quad: its corners lie on the box's edges (within a few pixels of curvature/clipping).
        quad = np.array([float(v) for v in a["quad"].split()]).reshape(4, 2)
        assert quad[:, 0].min() == pytest.approx(x, abs=3) and quad[:, 0].max() == pytest.approx(x + w, abs=3)
        crop = Image.open(dataset / c["filename"])
        assert 32 <= crop.height <= 90
        assert 3.0 < crop.width / crop.height < 4.5
        assert crop.mode == "RGB"


def test_same_seed_same_bytes_any_workers(dataset: Path, tmp_path: Path) -> None:
    other = tmp_path / "b"
    generate(other, 24, seed=3, workers=1, progress=False, chunk_size=7)
    assert _digest(other) == _digest(dataset)


def test_different_seed_differs(dataset: Path, tmp_path: Path) -> None:
    other = tmp_path / "c"
    generate(other, 24, seed=4, workers=1, progress=False)
    a, b = _digest(dataset), _digest(other)
    assert a.keys() == b.keys()
    assert sum(a[k] != b[k] for k in a) >= 40  # scenes and crops all differ; TSVs too


def test_make_sample_matches_files(dataset: Path) -> None:
    scene, box, crop, text, fmt = make_sample(5, seed=3)
    row = _read_tsv(dataset / "crops.tsv")[5]
    assert (text, fmt) == (row["text"], row["format"])
    on_disk = np.asarray(Image.open(dataset / row["filename"]))
    assert np.array_equal(np.asarray(crop), on_disk)
    assert scene.size[0] >= 160 and len(box) == 4


def test_crops_have_ink_and_paper() -> None:
    # Legibility bounds: every crop keeps a clear dark/light spread.
    for i in range(12):
        _, _, crop, _, _ = make_sample(i, seed=11)
        grey = np.asarray(crop.convert("L"), dtype=np.float32)
        lo, hi = np.percentile(grey, [5, 95])
        assert hi - lo > 35, f"sample {i}: contrast {hi - lo:.0f}"


def test_format_weights_are_respected() -> None:
    cfg = SynthConfig(format_weights={"UPC-E": 1.0})
    for i in range(4):
        _, _, _, text, fmt = make_sample(i, seed=0, config=cfg)
        assert fmt == "UPC-E" and is_valid(text, "UPC-E")


def test_bad_config_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown formats"):
        generate(tmp_path, 1, config=SynthConfig(format_weights={"QR": 1.0}), progress=False)
    with pytest.raises(ValueError, match="outside_gap"):
        generate(tmp_path, 1, config=SynthConfig(outside_gap=(3.0, 1.0)), progress=False)


def test_upc_outer_digits_follow_the_real_layout() -> None:
    """Real UPC-A outer digits are 0.8-0.9 of the normal height, 4-6 modules off the guard bars."""
    from crnn.synth.label import _sample_style
    from crnn.synth.render import BarcodeStyle, render_mask

    rng = np.random.default_rng(0)
    styles = [_sample_style(rng, SynthConfig(), "UPC-A", "036000291452", ()) for _ in range(300)]
    gaps = np.array([s.outside_gap for s in styles])
    scales = np.array([s.small_digit_scale for s in styles])
    assert gaps.min() < 1.0 and gaps.max() > 4.5 and (gaps > 3.0).mean() > 0.3
    assert (scales >= 0.8).mean() > 0.3 and scales.max() <= 0.95

    m = 4
    g = render_mask("036000291452", "UPC-A", BarcodeStyle(outside_gap=4.0, small_digit_scale=0.9), m).geometry
    ink_gap = (g.bars[0] - g.digit_boxes[0][2]) / m  # outer digit's ink to the start guard, modules
    assert 4.0 < ink_gap < 7.0
    heights = [b[3] - b[1] for b in g.digit_boxes]
    assert 0.8 < heights[0] / heights[1] < 1.0
    # Such a wide symbol still gives crops with bars above the digits and every digit whole.
    cfg = SynthConfig(format_weights={"UPC-A": 1.0}, outside_gap=(4.5, 5.0), small_digit_scale=(0.9, 0.95))
    for i in range(4):
        _, _, crop, text, _ = make_sample(i, seed=1, config=cfg)
        top = np.asarray(crop.convert("L"))[: crop.height // 5]
        assert top.max() - top.min() > 40 and len(text) == 12


def test_ensure_synthetic_makes_stale_folders_again(tmp_path: Path) -> None:
    from crnn import config
    from crnn.recognizer.train import ensure_synthetic

    cfg = config.load(
        config.TrainConfig,
        overrides=[
            f"data.train_tsv={tmp_path / 'train' / 'crops.tsv'}",
            f"data.val_tsv={tmp_path / 'val' / 'crops.tsv'}",
            "data.synth.train_count=6",
            "data.synth.val_count=3",
            f"data.synth.root={tmp_path}",
            "data.synth.workers=1",
        ],
    )
    ensure_synthetic(cfg)
    assert len(_read_tsv(tmp_path / "train" / "crops.tsv")) == 6
    assert len(_read_tsv(tmp_path / "val" / "crops.tsv")) == 3
    cfg.data.synth.train_count = 4  # another count: made again
    ensure_synthetic(cfg)
    assert len(_read_tsv(tmp_path / "train" / "crops.tsv")) == 4
    (tmp_path / "val" / "synth.json").unlink()  # no stamp: someone's own data, left alone
    cfg.data.synth.val_count = 5
    ensure_synthetic(cfg)
    assert len(_read_tsv(tmp_path / "val" / "crops.tsv")) == 3
    # Made with `crnn synth` (stamped, not by ensure_synthetic) with other settings: never overwritten, never used
    # silently either: refused, saying what differs.
    generate(tmp_path / "own", 2, seed=9, workers=1, progress=False)
    cfg.data.train_tsv = str(tmp_path / "own" / "crops.tsv")
    with pytest.raises(
        ValueError, match=r"other synthetic settings \(count 2 instead of 4; seed 9 instead of 0; p_quiet_marks"
    ):
        ensure_synthetic(cfg)
    assert len(_read_tsv(tmp_path / "own" / "crops.tsv")) == 2


def test_crnn_synth_makes_what_training_uses(tmp_path: Path) -> None:
    """`crnn synth` follows the training config (generator settings, seed), so training takes its folder as is."""
    from crnn import cli, config
    from crnn.recognizer.train import ensure_synthetic

    out = tmp_path / "train"
    assert cli.main(["synth", "--out", str(out), "--count", "5", "--workers", "1"]) == 0
    cfg = config.load(
        config.TrainConfig,
        REPO / "configs" / "train.yaml",
        [f"data.train_tsv={out / 'crops.tsv'}", f"data.val_tsv={tmp_path / 'val' / 'crops.tsv'}"]
        + ["data.synth.train_count=5", "data.synth.val_count=2", f"data.synth.root={tmp_path}", "data.synth.workers=1"],
    )
    before = (out / "crops.tsv").read_bytes()
    ensure_synthetic(cfg)  # taken as it is: the same settings
    assert (out / "crops.tsv").read_bytes() == before
    assert json.loads((out / "synth.json").read_text())["config"]["p_card"] == cfg.data.synth.generator.p_card == 0.1


def test_ensure_synthetic_follows_the_generator_settings(tmp_path: Path) -> None:
    import json

    from crnn import config
    from crnn.recognizer.train import ensure_synthetic
    from crnn.synth.settings import synth_config

    train = tmp_path / "train" / "crops.tsv"
    cfg = config.load(
        config.TrainConfig,
        overrides=[
            f"data.train_tsv={train}",
            f"data.val_tsv={tmp_path / 'val' / 'crops.tsv'}",
            "data.synth.train_count=3",
            "data.synth.val_count=2",
            f"data.synth.root={tmp_path}",
            "data.synth.workers=1",
        ],
    )
    ensure_synthetic(cfg)
    first = _digest(tmp_path / "train" / "crops")
    cfg.data.synth.generator = SynthConfig(p_text_below=1.0, module_px=(2.0, 3.0))  # other settings: made again
    ensure_synthetic(cfg)
    stamp = json.loads((tmp_path / "train" / "synth.json").read_text())
    assert stamp["config"]["p_text_below"] == 1.0 and stamp["config"]["module_px"] == [2.0, 3.0]
    assert _digest(tmp_path / "train" / "crops") != first
    again = (tmp_path / "train" / "synth.json").stat().st_mtime_ns
    ensure_synthetic(cfg)  # the same settings (lists in YAML, tuples in the generator): left alone
    assert (tmp_path / "train" / "synth.json").stat().st_mtime_ns == again
    # A stamp from before a knob existed counts as that knob's default.
    stamp = json.loads((tmp_path / "val" / "synth.json").read_text())
    del stamp["config"]["p_no_number"]
    (tmp_path / "val" / "synth.json").write_text(json.dumps(stamp))
    ensure_synthetic(cfg)
    assert "p_no_number" not in json.loads((tmp_path / "val" / "synth.json").read_text())["config"]
    assert synth_config({"module_px": [2, 3]}).module_px == (2, 3)
    # A folder of someone's own labels (no stamp, no crops.tsv) is never written into.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "labels.tsv").write_text("filename\ttext\n")
    ensure_synthetic(
        config.load(
            config.TrainConfig,
            overrides=[
                f"data.train_tsv={tmp_path / 'mine' / 'labels.tsv'}",
                f"data.val_tsv={tmp_path / 'val' / 'crops.tsv'}",
                "data.synth.val_count=2",
                f"data.synth.root={tmp_path}",
                "data.synth.workers=1",
            ],
        )
    )
    assert sorted(q.name for q in (tmp_path / "mine").iterdir()) == ["labels.tsv"]
    with pytest.raises(ValueError, match="unknown synthetic generator settings.*p_typo"):
        synth_config({"p_typo": 0.5})


def test_knobs_off_by_default_leave_the_stream_alone() -> None:
    """New generator knobs at 0 draw nothing: the default samples stay what they were."""
    off = SynthConfig(
        p_text_below=0.0,
        p_sans_font=0.0,
        p_defocus=0.0,
        p_tilt=0.0,
        p_card=0.0,
        p_glare=0.0,
        p_crumple=0.0,
        p_no_number=0.0,
    )
    for i in range(3):
        a, b = make_sample(i, seed=11)[2], make_sample(i, seed=11, config=off)[2]
        assert a.tobytes() == b.tobytes()
    on = SynthConfig(p_text_below=1.0, p_glare=1.0)
    assert any(
        make_sample(i, seed=11, config=on)[2].tobytes() != make_sample(i, seed=11)[2].tobytes() for i in range(3)
    )


def test_tilt_foreshortens_the_label_and_the_crop_reaches_further(tmp_path: Path) -> None:
    """A camera looking up or down at the label: its height shrinks `squash` times in the scene, so a crop cut at
    the usual aspect spans 1/squash times as many label rows, its bottom still just under the digits."""
    from crnn.synth import scene
    from crnn.synth.render import BarcodeStyle

    surf = scene._surface(np.random.default_rng(0), "036000291452", "UPC-A", BarcodeStyle(), 3, ())
    flat = scene._crop_box(np.random.default_rng(1), SynthConfig(), surf)
    tilted = scene._crop_box(np.random.default_rng(1), SynthConfig(), surf, squash=0.5)
    assert tilted[0] == flat[0] and tilted[2] == flat[2]
    assert tilted[3] - tilted[1] == pytest.approx(2 * (flat[3] - flat[1]))
    assert abs(tilted[3] - flat[3]) < 0.1 * (flat[3] - flat[1])  # the bottom moves by its jitter only
    # Same stream either way (the squash is drawn from a one-point range), so only the foreshortening differs:
    # the crops keep their aspect and labels.
    cfg = {"p_tilt": 1.0, "p_large_rotation": 0.0, "p_upright_turn": 0.0, "max_perspective": 0.0, "p_curvature": 0.0}
    for i in range(3):
        a = scene._make(i, 5, SynthConfig(**cfg, tilt_squash=(1.0, 1.0)))
        b = scene._make(i, 5, SynthConfig(**cfg, tilt_squash=(0.5, 0.5)))
        assert a.text == b.text and a.crop.tobytes() != b.crop.tobytes()
        for x in (a, b):
            assert x.crop.width / x.crop.height == pytest.approx(SynthConfig().crop_aspect, rel=0.15)
    with pytest.raises(ValueError, match="tilt_squash"):
        generate(tmp_path, 1, config=SynthConfig(tilt_squash=(0.1, 0.9)), progress=False)


def test_tilted_crop_can_reach_below_the_digits_over_small_print(tmp_path: Path) -> None:
    """`tilt_reach_below` moves a tilted crop's extra height below the digits (up to all of it), never cutting
    them; `p_tilt_print_below` puts small print under a tilted label's digits and leaves flat labels alone."""
    from crnn.synth import scene
    from crnn.synth.render import BarcodeStyle

    surf = scene._surface(np.random.default_rng(0), "036000291452", "UPC-A", BarcodeStyle(), 3, ())
    drops = []
    for seed in range(40):  # the same stream with and without: only the new draw differs
        base = scene._crop_box(np.random.default_rng(seed), SynthConfig(), surf, squash=0.5)
        low = scene._crop_box(np.random.default_rng(seed), SynthConfig(tilt_reach_below=1.0), surf, squash=0.5)
        height = base[3] - base[1]
        assert low[0] == base[0] and low[2] == base[2] and low[3] - low[1] == pytest.approx(height)
        assert low[1] <= surf.text_box[1] and low[3] >= surf.text_box[3]  # the digits stay inside
        drops.append((low[3] - base[3]) / height)
    assert min(drops) >= 0 and max(drops) <= 0.5  # at most the extra half of the height goes below
    assert max(drops) > 0.35 and min(drops) < 0.1  # spread over that range
    unsquashed = scene._crop_box(np.random.default_rng(1), SynthConfig(tilt_reach_below=1.0), surf)
    assert unsquashed == scene._crop_box(np.random.default_rng(1), SynthConfig(), surf)
    # Small print under tilted labels only: at p_tilt 0 the knob changes nothing.
    for i in range(3):
        a = make_sample(i, seed=11, config=SynthConfig(p_tilt_print_below=1.0))[2]
        assert a.tobytes() == make_sample(i, seed=11)[2].tobytes()
    with pytest.raises(ValueError, match="tilt_reach_below"):
        generate(tmp_path, 1, config=SynthConfig(tilt_reach_below=1.5), progress=False)


def test_unprinted_check_digit() -> None:
    """Some UPC-A labels (loyalty cards) omit the check digit. `text` keeps every digit, `printed` (what the
    recogniser learns) only those the crop shows."""
    from crnn.synth import scene
    from crnn.synth.render import BarcodeStyle, render_mask

    code = "036000291452"
    full = render_mask(code, "UPC-A", BarcodeStyle(outside_gap=4.0), 3)
    hidden = render_mask(code, "UPC-A", BarcodeStyle(outside_gap=4.0, hidden=(11,)), 3)
    x0, y0, x1, y1 = (round(v) for v in full.geometry.digit_boxes[11])
    ink = [int(np.asarray(r.image)[y0:y1, x0:x1].sum()) for r in (full, hidden)]
    assert ink[0] > 0 and ink[1] == 0
    assert hidden.geometry.digit_boxes == full.geometry.digit_boxes  # the slot is still there, only blank
    cfg = SynthConfig(format_weights={"UPC-A": 1.0}, p_card=1.0)
    for i in range(3):
        s = scene._make(i, 2, cfg)
        assert len(s.text) == 12 and s.hidden == (11,) and s.printed == s.text[:11]


def test_card_prints_eleven_digits_evenly_under_equal_bars() -> None:
    """A loyalty-card UPC-A: no long guard bars, no check digit printed, the 11 digits spread evenly under the
    bars (not 12 slots with the last left empty); the label the recogniser learns lacks the check digit."""
    from crnn.synth import label, scene

    rng = np.random.default_rng(3)
    cfg = SynthConfig(format_weights={"UPC-A": 1.0}, p_card=1.0)
    style = label._sample_style(rng, cfg, "UPC-A", "434704791429", ())
    assert style.flat and style.hidden == (11,)
    surf = scene._surface(rng, "434704791429", "UPC-A", style, 3, ())
    centres = [(b[0] + b[2]) / 2 for b in surf.digit_boxes]
    steps = np.diff(centres[:11])
    assert steps.min() > 0.8 * steps.max()  # even pitch over the printed 11
    assert surf.digit_boxes[11] == surf.digit_boxes[10]  # the unprinted one adds nothing to the text box
    bars_w = surf.bars[2] - surf.bars[0]
    assert centres[10] - centres[0] > 0.6 * bars_w  # spread over the bars
    mid = (surf.bars[0] + surf.bars[2]) / 2
    assert abs((centres[0] + centres[10]) / 2 - mid) < 0.02 * bars_w  # centred: no empty 12th slot
    for i in range(3):
        s = scene._make(i, 2, cfg)
        assert len(s.text) == 12 and s.printed == s.text[:11]


def test_crops_tsv_carries_the_printed_digits(tmp_path: Path) -> None:
    """The training label of a crop lacking a digit is its printed digits; `text` stays the whole code."""
    from crnn.core.codec import Codec
    from crnn.core.labels import read_tsv

    cfg = SynthConfig(format_weights={"UPC-A": 1.0}, p_card=1.0)
    generate(tmp_path / "u", 3, seed=1, workers=1, config=cfg, progress=False)
    for s in read_tsv(tmp_path / "u" / "crops.tsv", Codec()):
        assert len(s.text) == 12 and s.target == s.text[:11]


def test_photometric_knobs_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="blur_skew"):
        generate(tmp_path, 1, config=SynthConfig(blur_skew=0.0), progress=False)
    with pytest.raises(ValueError, match="max_black_level"):
        generate(tmp_path, 1, config=SynthConfig(max_black_level=200.0), progress=False)
    with pytest.raises(ValueError, match="probabilities.*p_text_below"):
        generate(tmp_path, 1, config=SynthConfig(p_text_below=1.5), progress=False)


def test_crops_are_dark_inked_and_mostly_sharp() -> None:
    """Real crops measure near-black ink and crisp edges; the generator must cover that, not only grey mush."""
    from benchmarks.domain_gap import stats

    measured = np.array([stats(make_sample(i, seed=7)[2], 32, 128) for i in range(40)])
    sharpness, contrast, ink = np.median(measured, axis=0)
    assert sharpness > 0.45 and contrast > 100 and ink < 60


def test_defocus_blurs_the_same_samples_and_keeps_their_labels(tmp_path: Path) -> None:
    """`p_defocus`: the same codes, visibly softer (out-of-focus close-ups); faint scenes are spared."""
    from benchmarks.domain_gap import stats

    on = SynthConfig(p_defocus=1.0)
    sharp, soft = [], []
    for i in range(12):
        a, b = make_sample(i, seed=5), make_sample(i, seed=5, config=on)
        assert (a[3], a[4]) == (b[3], b[4])
        sharp.append(stats(a[2], 48, 128)[0])
        soft.append(stats(b[2], 48, 128)[0])
    assert np.median(soft) < 0.75 * np.median(sharp)
    from crnn.synth.degradation import _gaussian_blur

    img = Image.new("L", (40, 20), 128)
    for sigma in (0.2, 0.8, 2.0):  # each branch, with the numpy scalar a scene's geometry can give
        assert _gaussian_blur(img, np.float64(sigma)).size == img.size
    with pytest.raises(ValueError, match="defocus_frac"):
        generate(tmp_path, 1, config=SynthConfig(defocus_frac=(0.3, 0.1)), progress=False)


def test_addons_are_drawn_beside_the_symbol_not_inside_it() -> None:
    # Detector data asks for add-ons on any code; they sit right of the symbol box the detector learns.
    import random as _random

    from crnn.core.symbology import random_code
    from crnn.synth import label
    from crnn.synth.render import render_mask

    cfg = SynthConfig(p_addon=1.0)
    lengths = set()
    for i in range(12):
        fmt = ("UPC-A", "EAN-13", "UPC-E")[i % 3]
        code = random_code(fmt, _random.Random(i))  # type: ignore[arg-type]  # one of FORMATS
        style = label._sample_style(np.random.default_rng(i), cfg, fmt, code, ())  # type: ignore[arg-type]
        assert style.addon is not None and style.addon.isdigit()
        lengths.add(len(style.addon))
        g = render_mask(code, fmt, style, 2).geometry  # type: ignore[arg-type]
        assert g.symbol_box[2] < g.extras[-1][0]  # the add-on's bars start right of the symbol
    assert lengths == {2, 5}
    # The default generator keeps add-ons to books.
    default = SynthConfig()
    assert all(
        label._sample_style(np.random.default_rng(i), default, "UPC-A", "036000291452", ()).addon is None
        for i in range(20)
    )


def test_glare_washes_the_lower_bars_and_spares_the_digits(tmp_path: Path) -> None:
    """`p_glare`: the bars just over the digits fade toward white, their tops and the digits keep their contrast."""
    import math

    from crnn.synth import degradation
    from crnn.synth.render import BarcodeStyle
    from crnn.synth.scene import _surface

    cfg = SynthConfig(p_glare=1.0, glare_strength=(0.8, 0.8))
    rng = np.random.default_rng(0)
    surf = _surface(rng, "5901234123457", "EAN-13", BarcodeStyle(bar_height=60.0), 3, ())
    flat = degradation.Warp(np.eye(3), 0.0, math.inf, 0.0)
    scene = surf.image.convert("L")
    before = np.asarray(scene, dtype=np.float64)
    for seed in range(5):
        after = np.asarray(degradation._glare(np.random.default_rng(seed), cfg, scene, flat, surf), dtype=np.float64)
        x0, x1 = int(surf.bars[0]), int(surf.bars[2])
        bar_top, digit_top = int(surf.bars[1]), int(surf.text_box[1])
        top = slice(bar_top, bar_top + (digit_top - bar_top) // 5)
        low = slice(digit_top - 3 * surf.module_px - 2, digit_top - 3 * surf.module_px)
        digits = slice(digit_top, int(surf.text_box[3]))
        assert np.abs(after[top, x0:x1] - before[top, x0:x1]).max() < 2
        assert after[low, x0:x1].std() < 0.4 * before[low, x0:x1].std()
        assert np.abs(after[digits] - before[digits]).mean() < 2
    with pytest.raises(ValueError, match="glare_strength"):
        generate(tmp_path, 1, config=SynthConfig(glare_strength=(0.9, 0.5)), progress=False)


def test_crumple_waves_the_label_and_inverts(tmp_path: Path) -> None:
    """`p_crumple`: the warp moves rows up and down along the digit line, its inverse undoes it (the scene's mesh)."""
    import math

    from crnn.synth.degradation import Warp

    h = np.array([[0.9, 0.1, 20.0], [-0.05, 1.1, 30.0], [0.0001, 0.0002, 1.0]])
    for radius in (math.inf, 300.0):
        warp = Warp(h, 150.0, radius, 0.05, wave_y=6.0, wave_x=5.0, wave_len=60.0, wave_phase=0.7)
        pts = np.column_stack([np.linspace(20, 280, 40), np.linspace(10, 90, 40)])
        assert np.abs(warp.inverse(warp.forward(pts)) - pts).max() < 1e-3
    flat = Warp(np.eye(3), wave_y=6.0, wave_len=60.0)
    row = np.column_stack([np.arange(0.0, 120.0, 5.0), np.full(24, 50.0)])
    moved = flat.forward(row)[:, 1] - 50.0
    assert moved.max() == pytest.approx(6.0, abs=0.1) and moved.min() == pytest.approx(-6.0, abs=0.1)
    on = SynthConfig(p_crumple=1.0)
    for i in range(4):  # the same codes, the crops changed
        a, b = make_sample(i, seed=2), make_sample(i, seed=2, config=on)
        assert (a[3], a[4]) == (b[3], b[4]) and a[2].tobytes() != b[2].tobytes()
    with pytest.raises(ValueError, match="crumple"):
        generate(tmp_path, 1, config=SynthConfig(crumple_amp=(0.3, 0.1)), progress=False)


def _ensure_in_another_process(folder: str) -> bool:
    from crnn import synth

    return synth.ensure(Path(folder), count=300, seed=3, workers=1)


def test_a_second_maker_waits_for_the_folder_being_made(tmp_path):
    """Two steps that make one folder, run locally at once (two pipelines in one checkout), share it: the second
    must not take the first's half-written folder for the user's own data (it did, and failed reading it)."""
    import multiprocessing
    import time

    from crnn import synth

    folder = tmp_path / "scenes"
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        first = pool.apply_async(_ensure_in_another_process, [str(folder)])
        deadline = time.time() + 120
        while not (folder / "images").is_dir() or not any((folder / "images").iterdir()):
            assert time.time() < deadline and not first.ready()
            time.sleep(0.02)
        assert not synth.ensure(folder, count=300, seed=3, workers=1)  # made by the first, not again
        assert (folder / "crops.tsv").is_file() and (folder / synth.STAMP).is_file()  # and complete when it returns
        assert first.get(timeout=120) is True


def test_quiet_zone_marks_sit_beside_the_bars_at_the_digits() -> None:
    # GS1: '<' and '>' in an EAN-8's quiet zones, '>' right of an EAN-13; never inside the symbol.
    from crnn.synth import label
    from crnn.synth.render import render_mask

    cfg = SynthConfig(p_quiet_marks=1.0)
    for fmt, code, marks in (("EAN-8", "59001270", 2), ("EAN-13", "4006381333931", 1), ("UPC-A", "036000291452", 0)):
        style = label._sample_style(np.random.default_rng(0), cfg, fmt, code, ())  # type: ignore[arg-type]
        assert (style.show_lt, style.show_gt) == ((True, True) if marks == 2 else (False, marks == 1))
        g = render_mask(code, fmt, style, 3).geometry  # type: ignore[arg-type]
        bars = g.bars
        marks_found = [e for e in g.extras if e[2] <= bars[0] or e[0] >= bars[2]]
        assert len(marks_found) == marks
        for e in marks_found:  # on the digits' line, not above the bars
            assert e[1] > bars[1] + (bars[3] - bars[1]) / 2
    off = SynthConfig()
    assert not label._sample_style(np.random.default_rng(0), off, "EAN-8", "59001270", ()).show_lt


def test_scene_world_turns_barcodes_over_the_whole_circle() -> None:
    # The detector's scenes: barcodes at any angle, digits' side anywhere (issue #33); the crops stay near upright.
    import math

    from crnn.config.synth import scene_generator
    from crnn.core.geometry import direction
    from crnn.synth.scene import _make

    angles = []
    for i in range(40):
        d = direction(_make(i, 11, scene_generator()).quad)
        angles.append(math.degrees(math.atan2(d[1], d[0])))
    quadrants = {int(((a + 45) % 360) // 90) for a in angles}
    assert quadrants == {0, 1, 2, 3}
    assert sum(abs(a) > 40 for a in angles) >= 15  # most beyond the old +-35 degrees
    upright = [_make(i, 11, SynthConfig()).quad for i in range(10)]
    assert all(abs(math.degrees(math.atan2(*direction(q)[::-1]))) < 40 for q in upright)
