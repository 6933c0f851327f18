"""Training augmentations on PIL images, every parameter from `AugmentConfig`.

They imitate what separates a clean synthetic crop from a phone photo: perspective, width changes,
exposure, defocus, sensor noise, low resolution, JPEG and occlusion.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from crnn.config.train import AugmentConfig
from crnn.core.geometry import perspective_coeffs
from crnn.core.preprocess import border_colour


class Augment:
    """Callable applying each enabled augmentation with its probability."""

    def __init__(self, cfg: AugmentConfig) -> None:
        self.cfg = cfg

    def __call__(self, im: Image.Image, rng: random.Random) -> Image.Image:
        c = self.cfg
        if rng.random() < c.perspective_p:
            im = _perspective(im, c.perspective_max, rng)
        if rng.random() < c.x_scale_p:
            s = rng.uniform(*c.x_scale_range)
            im = im.resize((max(8, round(im.width * s)), im.height), Image.Resampling.BILINEAR)
        if rng.random() < c.color_p:
            im = ImageEnhance.Brightness(im).enhance(1 + rng.uniform(-c.brightness, c.brightness))
            im = ImageEnhance.Contrast(im).enhance(max(0.2, 1 + rng.uniform(-c.contrast, c.contrast)))
        if rng.random() < c.downscale_p:
            f = rng.uniform(c.downscale_min, 1.0)
            w, h = im.size
            im = im.resize((max(8, round(w * f)), max(4, round(h * f))), Image.Resampling.BILINEAR)
            im = im.resize((w, h), Image.Resampling.BILINEAR)
        if rng.random() < c.blur_p:
            im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, c.blur_max)))
        if rng.random() < c.noise_p:
            arr = np.asarray(im, dtype=np.float32)
            sigma = rng.uniform(2.0, c.noise_max)
            noise = np.random.default_rng(rng.getrandbits(32)).normal(0, sigma, arr.shape)
            im = Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8))
        if rng.random() < c.dropout_p:
            im = _dropout(im, c.dropout_max_frac, rng)
        if rng.random() < c.invert_p:
            im = ImageOps.invert(im)
        if rng.random() < c.jpeg_p:
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=rng.randint(*c.jpeg_quality))
            buf.seek(0)
            im = Image.open(buf).convert(im.mode)
        return im


def _perspective(im: Image.Image, amount: float, rng: random.Random) -> Image.Image:
    """Move each corner by up to `amount` of the size, then map back onto the same frame."""
    w, h = im.size
    dx, dy = amount * w, amount * h
    src = [(rng.uniform(-dx, dx) + x, rng.uniform(-dy, dy) + y) for x, y in ((0, 0), (w, 0), (w, h), (0, h))]
    coeffs = perspective_coeffs(np.array([(0, 0), (w, 0), (w, h), (0, h)]), np.array(src))
    return im.transform(
        (w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR, fillcolor=border_colour(im, sides=False)
    )


def _dropout(im: Image.Image, max_frac: float, rng: random.Random) -> Image.Image:
    """Blank a few thin vertical stripes (scratches, glare) over the bars, never wider than `max_frac`.

    Stripes stay in the upper 60% (the bars) so the printed digits, which carry the label, stay legible.
    """
    arr = np.asarray(im).copy()
    h, w = arr.shape[:2]
    for _ in range(rng.randint(1, 3)):
        sw = max(1, int(w * rng.uniform(0.01, max_frac)))
        x0 = rng.randint(0, max(0, w - sw))
        y0 = rng.randint(0, h // 4)
        arr[y0 : int(h * 0.6), x0 : x0 + sw] = rng.randint(120, 255)
    return Image.fromarray(arr)
