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
