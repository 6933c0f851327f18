"""A detection's quad fitted to its bars (`crnn.reading.bars_fit`): from a box off the way a detector errs (turned
a few degrees, reaching onto the print under the digits, too wide), the fitted quad lies on the generated symbol."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from crnn.config.synth import scene_generator
from crnn.core.geometry import UNIT_SQUARE, apply_h, homography, sub_quad
from crnn.reading.bars_fit import fit_to_bars
from crnn.synth.scene import _make

SEED = 4242  # held-out scenes: upright-ish, in perspective, half of them with small print under the digits


def _scene(index: int):
    cfg = replace(scene_generator(), p_upright_turn=0.0, p_large_rotation=0.0, p_text_below=0.5, p_addon=0.0)
    return _make(index, SEED, cfg)


def _askew(quad: np.ndarray, degrees: float) -> np.ndarray:
    """`quad` as a detector may give it: wider by a tenth, its bottom edge a third of its height lower (onto the
    print under the digits), turned by `degrees` about its centre."""
    q = sub_quad(quad.astype(np.float64), (-0.05, 0.0, 1.05, 1.33))
    a = np.radians(degrees)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    c = q.mean(axis=0)
    return (q - c) @ rot.T + c


@pytest.mark.parametrize("index", range(6))
def test_a_stray_box_is_fitted_back_onto_its_symbol(index):
    s = _scene(index)
    for degrees in (-6.0, 6.0):
        fitted = fit_to_bars(s.scene, _askew(s.quad, degrees))
        assert fitted is not None
        # The fitted corners in the true symbol's own frame (unit square: the symbol exactly).
        u = apply_h(homography(s.quad.astype(np.float64), UNIT_SQUARE), fitted.astype(np.float64))
        # Bottom at the digits' (print or the label's edge right under them may hold it a little lower, within a
        # quarter of the symbol's height where the stray box reaches a third), the ends at the symbol's (an EAN-13's
        # '>' quiet-zone mark is kept: the recogniser reads crops with it), the top at the bars'.
        assert np.abs(u[2:, 1] - 1.0).max() < 0.25, (s.fmt, degrees, u.round(2).tolist())
        assert np.abs(u[[0, 3], 0]).max() < 0.12 and np.abs(u[[1, 2], 0] - 1.0).max() < 0.15, u.round(2).tolist()
        assert np.abs(u[:2, 1]).max() < 0.1, u.round(2).tolist()


def test_no_bars_no_fit():
    quad = np.array([[40, 40], [200, 40], [200, 100], [40, 100]], dtype=np.float32)
    blank = Image.new("L", (240, 160), 200)
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (160, 240), dtype=np.uint8))
    assert fit_to_bars(blank, quad) is None
    assert fit_to_bars(noise, quad) is None
    assert fit_to_bars(blank, np.array([[5, 5], [7, 5], [7, 6], [5, 6]], dtype=np.float32)) is None


@pytest.mark.parametrize("index", [5, 8, 18, 27])  # scenes whose add-on the frame shows
def test_an_addon_beside_the_symbol_is_left_out(index):
    """A box reaching over a 2- or 5-digit add-on (GS1: 7-12 modules right of the symbol) is fitted to the main
    symbol alone: read with it, the digits are squeezed and a digit may be lost."""
    cfg = replace(scene_generator(), p_upright_turn=0.0, p_large_rotation=0.0, p_addon_book=1.0, p_addon=1.0)
    cfg = replace(cfg, format_weights={"EAN-13": 1.0})
    s = _make(index, SEED + 1, cfg)
    wide = sub_quad(s.quad.astype(np.float64), (-0.03, 0.0, 1.55, 1.1))  # over the add-on
    fitted = fit_to_bars(s.scene, wide)
    assert fitted is not None
    u = apply_h(homography(s.quad.astype(np.float64), UNIT_SQUARE), fitted.astype(np.float64))
    assert np.abs(u[[1, 2], 0] - 1.0).max() < 0.2, u.round(2).tolist()  # with it: 1.3-1.8 (a '>' mark may stay)


def test_any_quad_gives_a_quad_or_none():
    """Untrusted geometry (collinear, off the photo, huge, tiny) never raises: a finite quad or None."""
    rng = np.random.default_rng(7)
    scene = _scene(1).scene
    quads = [rng.uniform(-400, 800, (4, 2)) for _ in range(20)]
    quads += [np.array([[0, 0], [100, 0], [200, 0], [300, 0]], float), np.zeros((4, 2)), _scene(1).quad * 50]
    for quad in quads:
        fitted = fit_to_bars(scene, quad)
        assert fitted is None or (fitted.shape == (4, 2) and np.isfinite(fitted).all())


@pytest.mark.parametrize("index", range(4))
def test_bars_cut_by_the_frame_run_out_of_it(index):
    """A symbol in view with its quiet zones shows a light run wider than any of its spaces before the frame's edge
    at both ends; its middle, cut out by the frame, shows bars up to the edge (`bars_run_out`)."""
    from crnn.core.symbology import BAR_MODULES
    from crnn.reading.bars_fit import bars_run_out

    s = _scene(index)
    grey = s.scene.convert("L")
    quad = s.quad.astype(np.float64)
    module = float(np.linalg.norm(quad[1] - quad[0])) / BAR_MODULES[s.fmt]
    assert not bars_run_out(grey, quad, module), s.fmt
    # A window holding the middle half of the symbol (its full height), the quad in the window's pixels.
    x0, x1 = quad[0] + 0.25 * (quad[1] - quad[0]), quad[0] + 0.75 * (quad[1] - quad[0])
    top = min(quad[0, 1], quad[1, 1]) - 5
    bottom = max(quad[2, 1], quad[3, 1]) + 5
    window = grey.crop((round(x0[0]), round(top), round(x1[0]), round(bottom)))
    shifted = quad - np.array([round(x0[0]), round(top)])
    assert bars_run_out(window, shifted, module), s.fmt


def test_a_blank_or_tiny_quad_does_not_run_out():
    from crnn.reading.bars_fit import bars_run_out

    blank = Image.new("L", (240, 160), 200)
    quad = np.array([[0, 40], [240, 40], [240, 100], [0, 100]], dtype=np.float64)
    assert not bars_run_out(blank, quad, 2.0)  # no contrast: no bars to run out
    assert not bars_run_out(blank, np.array([[5, 5], [5.5, 5], [5.5, 6], [5, 6]]), 2.0)


def test_the_box_sums_of_the_light_install_equal_the_compiled_ones(monkeypatch):
    """The gradient energies' box sums, compiled and in numpy: the same float32 figures, edges included."""
    from crnn.reading import bars_fit

    if bars_fit.numba is None:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(0)
    arrays = [
        np.abs(rng.normal(0, s, shape)).astype(np.float32) for s, shape in ((1, (1, 1)), (40, (5, 9)), (90, (200, 256)))
    ]
    compiled = [bars_fit._box_sum(a, 3, 2) for a in arrays]
    monkeypatch.setattr(bars_fit, "numba", None)
    for a, got in zip(arrays, compiled, strict=True):
        want = bars_fit._box_sum(a, 3, 2)
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_array_equal(got, want)
