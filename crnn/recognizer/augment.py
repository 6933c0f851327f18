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
        if c.wave_p > 0 and rng.random() < c.wave_p:  # no draw at 0: the default stream is unchanged
            im = _wave(im, c.wave_max, rng)
        if c.distort_p > 0 and rng.random() < c.distort_p:  # no draw at 0: the default stream is unchanged
            im = _distort(im, c.distort_max, rng)
        if rng.random() < c.x_scale_p:
            s = rng.uniform(*c.x_scale_range)
            im = im.resize((max(8, round(im.width * s)), im.height), Image.Resampling.BILINEAR)
        if rng.random() < c.color_p:
            im = ImageEnhance.Brightness(im).enhance(1 + rng.uniform(-c.brightness, c.brightness))
            im = ImageEnhance.Contrast(im).enhance(max(0.2, 1 + rng.uniform(-c.contrast, c.contrast)))
        if c.cover_p > 0 and rng.random() < c.cover_p:  # no draw at 0: the default stream is unchanged
            im = _cover_digits(im, c.cover_max_frac, rng)
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


def _wave(im: Image.Image, amount: float, rng: random.Random, strips: int = 16) -> Image.Image:
    """Bend the crop like a wrinkled bag: each column moves up or down by a sine of its position, up to
    `amount` of the height, 0.7 to 3 waves across (piecewise linear over `strips` vertical strips). The
    frame grows by the shift above and below, so no digit leaves it."""
    w, h = im.size
    amp = rng.uniform(0.3, 1.0) * amount * h
    pad = int(np.ceil(amp))
    period = w / rng.uniform(0.7, 3.0)
    phase = rng.uniform(0, 2 * np.pi)
    xs = np.linspace(0, w, strips + 1)
    top = amp * np.sin(2 * np.pi * xs / period + phase) - pad  # source row at the output's top edge
    bottom = top + h + 2 * pad
    mesh = [
        ((round(x0), 0, round(x1), h + 2 * pad), (x0, top[i], x0, bottom[i], x1, bottom[i + 1], x1, top[i + 1]))
        for i, (x0, x1) in enumerate(zip(xs[:-1], xs[1:]))
    ]
    fill = border_colour(im, sides=False)
    return im.transform((w, h + 2 * pad), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR, fillcolor=fill)


def _distort(im: Image.Image, amount: float, rng: random.Random) -> Image.Image:
    """Crumple the crop locally: a grid of 3-8 by 2-3 cells whose inner nodes move by up to `amount` of a
    cell in x and y (the grid distortion of scene-text augmentation, e.g. STRAug's `Distort`), each cell
    warped bilinearly. Nodes on the frame slide along it only and the corners stay, so the frame stays
    filled and no digit leaves it; glyphs come out unevenly wide, tall and spaced, as on crumpled packaging."""
    w, h = im.size
    nx, ny = rng.randint(3, 8), rng.randint(2, 3)
    xs = np.round(np.linspace(0, w, nx + 1)).astype(int)
    ys = np.round(np.linspace(0, h, ny + 1)).astype(int)
    cw, ch = w / nx, h / ny
    gx = np.tile(xs, (ny + 1, 1)).astype(float)  # source x of each node, (ny + 1, nx + 1)
    gy = np.tile(ys[:, None], (1, nx + 1)).astype(float)
    for j in range(ny + 1):
        for i in range(nx + 1):
            if 0 < i < nx:
                gx[j, i] += rng.uniform(-amount, amount) * cw
            if 0 < j < ny:
                gy[j, i] += rng.uniform(-amount, amount) * ch

    def node(j: int, i: int) -> tuple[float, float]:
        return float(gx[j, i]), float(gy[j, i])

    mesh = [  # output cell -> source quad: upper-left, lower-left, lower-right, upper-right
        (
            (int(xs[i]), int(ys[j]), int(xs[i + 1]), int(ys[j + 1])),
            (*node(j, i), *node(j + 1, i), *node(j + 1, i + 1), *node(j, i + 1)),
        )
        for j in range(ny)
        for i in range(nx)
    ]
    return im.transform((w, h), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR, fillcolor=border_colour(im))


def _cover_digits(im: Image.Image, max_frac: float, rng: random.Random) -> Image.Image:
    """Hide a stretch of the printed digits (a sticker, glare or a smear) and leave the bars above them: the
    label still holds every digit, so the network learns to read the hidden ones from their bars, which sit
    right above them (only useful when it can resolve the bars: `input.x_stretch`)."""
    w, h = im.size
    cw = max(2, round(w * rng.uniform(0.06, max_frac)))
    x0 = rng.randint(0, max(0, w - cw))
    box = (x0, round(h * rng.uniform(0.55, 0.7)), x0 + cw, h)  # the digit band: bars above stay whole
    kind = rng.random()
    out = im.copy()
    if kind < 1 / 3:  # an opaque sticker or paint of the background's tone
        out.paste(border_colour(im, sides=False), box)
        return out
    patch = im.crop(box)
    if kind < 2 / 3:  # glare: washed towards white
        patch = Image.blend(patch, Image.new(im.mode, patch.size, (255,) * len(im.getbands())), rng.uniform(0.7, 0.95))
    else:  # a smear: the glyphs blurred beyond reading
        patch = patch.filter(ImageFilter.GaussianBlur(h * rng.uniform(0.06, 0.12)))
    out.paste(patch, box[:2])
    return out


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
