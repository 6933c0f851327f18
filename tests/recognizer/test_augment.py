import random

import numpy as np
from PIL import Image

from crnn.config.train import AugmentConfig
from crnn.recognizer.augment import Augment


def _all_on() -> AugmentConfig:
    return AugmentConfig(
        perspective_p=1, x_scale_p=1, color_p=1, blur_p=1, noise_p=1, downscale_p=1, jpeg_p=1, dropout_p=1, invert_p=1
    )


def _image(mode: str) -> Image.Image:
    arr = (np.random.default_rng(0).random((58, 213)) * 255).astype(np.uint8)
    im = Image.fromarray(arr)
    return im if mode == "L" else im.convert(mode)


def test_every_augmentation_keeps_mode_and_height():
    for mode in ("L", "RGB"):
        out = Augment(_all_on())(_image(mode), random.Random(1))
        assert out.mode == mode and out.height == 58
        assert 0.8 * 213 - 1 <= out.width <= 1.2 * 213 + 1  # only x-scale changes the width


def test_same_rng_same_result_and_disabled_is_identity():
    a = np.asarray(Augment(_all_on())(_image("L"), random.Random(5)))
    b = np.asarray(Augment(_all_on())(_image("L"), random.Random(5)))
    assert np.array_equal(a, b)
    off = AugmentConfig(
        perspective_p=0, x_scale_p=0, color_p=0, blur_p=0, noise_p=0, downscale_p=0, jpeg_p=0, dropout_p=0, invert_p=0
    )
    assert np.array_equal(np.asarray(Augment(off)(_image("L"), random.Random(5))), np.asarray(_image("L")))


def test_dropout_spares_the_digit_zone():
    cfg = AugmentConfig(
        perspective_p=0, x_scale_p=0, color_p=0, blur_p=0, noise_p=0, downscale_p=0, jpeg_p=0, dropout_p=1, invert_p=0
    )
    im = Image.new("L", (200, 60), 0)
    for seed in range(20):
        out = np.asarray(Augment(cfg)(im, random.Random(seed)))
        assert out[int(60 * 0.6) :].max() == 0  # the lower 40% (printed digits) is untouched
        assert out.max() > 0


def test_wave_bends_columns_and_keeps_the_digits_in_the_frame():
    """A dark line at the bottom (the digits) survives every bend whole, moved up or down along its length."""
    from crnn.recognizer.augment import _wave

    arr = np.full((58, 213), 230, np.uint8)
    arr[-5:-2] = 20
    for seed in range(5):
        out = np.asarray(_wave(Image.fromarray(arr), 0.12, random.Random(seed)))
        assert out.shape[1] == 213 and 58 < out.shape[0] <= 58 + 2 * int(np.ceil(0.12 * 58))
        dark_rows = (out[:, 20:190] < 100).sum(axis=0)  # per column: the bottom row's 3 px, moved not lost
        assert (dark_rows >= 2).all()
        tops = [int(np.argmax(out[:, x] < 100)) for x in (5, 60, 150, 208)]
        assert max(tops) - min(tops) >= 1


def test_cover_hides_some_digits_and_spares_the_bars():
    """Bars (dark stripes) over the top 55%, digits (a dark band) below: every cover changes part of the digit
    band, never the bars, and leaves most of the band as it was."""
    from crnn.recognizer.augment import _cover_digits

    arr = np.full((60, 200), 230, np.uint8)
    arr[:33, ::4] = 10  # bars
    arr[40:55, 10:190] = 30  # printed digits
    for seed in range(30):
        out = np.asarray(_cover_digits(Image.fromarray(arr).convert("L"), 0.3, random.Random(seed)))
        assert np.array_equal(out[:33], arr[:33])
        changed = (np.abs(out.astype(int) - arr) > 20).any(axis=0)  # per column
        assert 0.04 * 200 <= changed.sum() <= 0.3 * 200 + 1


def test_distort_crumples_inside_the_frame():
    """The frame's edges stay in place and filled, the picture changes; a move of 0 is the identity."""
    from crnn.recognizer.augment import _distort

    arr = np.full((58, 213), 230, np.uint8)
    arr[:, ::6] = 20  # bars
    arr[45:52, 10:200] = 30  # the digit band
    im = Image.fromarray(arr)
    assert np.array_equal(np.asarray(_distort(im, 0.0, random.Random(0))), arr)
    for seed in range(10):
        out = np.asarray(_distort(im, 0.3, random.Random(seed)))
        assert out.shape == arr.shape
        assert (out[:, 0] < 100).mean() > 0.9  # the left edge's nodes slide along it: its bar stays there
        assert (np.abs(out.astype(int) - arr) > 50).mean() > 0.02  # it moved things
        band = (out[:, 20:190] < 100).sum(axis=0)  # every column still crosses the dark band (bars or digits)
        assert (band >= 1).all()


def test_distort_is_drawn_only_when_enabled():
    """distort_p=0 (the default) draws nothing, so the default augmentation stream is unchanged."""
    on = AugmentConfig(distort_p=1.0)
    off = AugmentConfig()
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 150), dtype=np.uint8))
    a = np.asarray(Augment(off)(im, random.Random(3)))
    b = np.asarray(Augment(AugmentConfig(distort_p=0.0))(im, random.Random(3)))
    c = np.asarray(Augment(on)(im, random.Random(3)))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
