"""Degrading a scene as a camera would: the warp (perspective, curvature, crumple), lighting, glare, streaks,
blur and noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from crnn.core.geometry import apply_h as _apply_h
from crnn.synth.render import Box
from crnn.synth.settings import SynthConfig


@dataclass
class Warp:
    """Label (surface) pixels -> scene pixels: crumple waves, cylinder bend around x = `uc`, then homography `h`.

    The waves (a crumpled bag or pouch) move each point by `wave_y` * sin(2 pi u / `wave_len` + `wave_phase`) down
    and by `wave_x` times the same with a quarter-period offset along the digit line. The bend foreshortens x
    (u' = uc + R sin t, t = (u - uc) / R) and bows rows by `gamma` R (1 - cos t), the way a label on a bottle looks;
    `radius` = inf means flat.
    """

    h: np.ndarray
    uc: float = 0.0
    radius: float = math.inf
    gamma: float = 0.0
    wave_y: float = 0.0
    wave_x: float = 0.0
    wave_len: float = 1.0
    wave_phase: float = 0.0

    def _angle(self, u: np.ndarray) -> np.ndarray:
        return 2 * math.pi * u / self.wave_len + self.wave_phase

    def bend(self, pts: np.ndarray) -> np.ndarray:
        if self.wave_y or self.wave_x:
            a = self._angle(pts[:, 0])
            pts = np.column_stack([pts[:, 0] + self.wave_x * np.cos(a), pts[:, 1] + self.wave_y * np.sin(a)])
        if math.isinf(self.radius):
            return pts
        t = (pts[:, 0] - self.uc) / self.radius
        return np.column_stack(
            [
                self.uc + self.radius * np.sin(t),
                pts[:, 1] + self.gamma * self.radius * (1 - np.cos(t)),
            ]
        )

    def forward(self, pts: np.ndarray) -> np.ndarray:
        return _apply_h(self.h, self.bend(pts))

    def inverse(self, pts: np.ndarray) -> np.ndarray:
        q = _apply_h(np.linalg.inv(self.h), pts)
        if not math.isinf(self.radius):
            t = np.arcsin(np.clip((q[:, 0] - self.uc) / self.radius, -1.0, 1.0))
            q = np.column_stack([self.uc + self.radius * t, q[:, 1] - self.gamma * self.radius * (1 - np.cos(t))])
        if self.wave_y or self.wave_x:
            u = q[:, 0].copy()
            for _ in range(30):  # u + wave_x cos(.) = q_u: a contraction while 2 pi wave_x / wave_len < 1
                u = q[:, 0] - self.wave_x * np.cos(self._angle(u))
            q = np.column_stack([u, q[:, 1] - self.wave_y * np.sin(self._angle(u))])
        return q


def _shade_columns(image: Image.Image, shade: np.ndarray) -> Image.Image:
    """The RGBA label `image` darkened column by column by the gains `shade` (0-1, one per column), alpha kept."""
    gain = Image.fromarray((shade[None, :] * 255).astype(np.uint8)).resize(image.size)
    rgb = ImageChops.multiply(image.convert("RGB"), Image.merge("RGB", (gain,) * 3))
    rgb.putalpha(image.getchannel("A"))
    return rgb


def _box_points(box: Box, n: int = 9) -> np.ndarray:
    """Points along the outline of `box` (curved warps bend its edges)."""
    x0, y0, x1, y1 = box
    t = np.linspace(0.0, 1.0, n)
    xs, ys = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
    return np.concatenate(
        [
            np.column_stack([xs, np.full(n, y0)]),
            np.column_stack([xs, np.full(n, y1)]),
            np.column_stack([np.full(n, x0), ys]),
            np.column_stack([np.full(n, x1), ys]),
        ]
    )


def _mesh(warp: Warp, size: tuple[int, int], region: Box, cell: int = 48) -> list:
    """PIL MESH data covering `region` of the scene: output cells and their source quads."""
    w, h = size
    x0, y0 = max(0, int(region[0])), max(0, int(region[1]))
    x1, y1 = min(w, math.ceil(region[2])), min(h, math.ceil(region[3]))
    if x1 <= x0 or y1 <= y0:
        return []
    xs = np.unique(np.append(np.arange(x0, x1, cell), x1))
    ys = np.unique(np.append(np.arange(y0, y1, cell), y1))
    gx, gy = np.meshgrid(xs, ys)
    src = warp.inverse(np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float64)).reshape(len(ys), len(xs), 2)
    mesh = []
    for j in range(len(ys) - 1):
        for i in range(len(xs) - 1):
            quad = (src[j, i], src[j + 1, i], src[j + 1, i + 1], src[j, i + 1])
            mesh.append(
                (
                    (int(xs[i]), int(ys[j]), int(xs[i + 1]), int(ys[j + 1])),
                    tuple(float(c) for p in quad for c in p),
                )
            )
    return mesh


def _photometric(
    rng: np.random.Generator,
    cfg: SynthConfig,
    scene: Image.Image,
    surf: _Surface,
    digit_px: float,
    warp: Warp,
) -> Image.Image:
    """Lighting, plastic-wrap streaks, levels, blur, noise; bounded so the digits stay legible.

    Greyscale scenes are processed in mode 'L' (a third of the work) and returned as RGB.
    """
    w, h = scene.size
    if rng.random() < cfg.p_greyscale:
        scene = scene.convert("L")
    bands = len(scene.getbands())

    def expand(img: Image.Image) -> Image.Image:
        return img if bands == 1 else Image.merge("RGB", (img,) * 3)

    # Smooth lighting: gains on a coarse grid.
    gmin = rng.uniform(0.55, 0.95)
    grid = rng.uniform(gmin, 1.0, (int(rng.integers(2, 4)), int(rng.integers(2, 4))))
    gain = Image.fromarray((grid * 255).astype(np.uint8), "L").resize((w, h), Image.Resampling.BICUBIC)
    scene = ImageChops.multiply(scene, expand(gain))
    # Levels: the grey, low-contrast look of phone photos, with a colour cast.
    paper_l = float(np.mean(surf.paper)) * gmin
    ink_l = float(np.mean(surf.ink)) * gmin
    # Mostly near-black ink: real crops' darkest 5% sit at grey 20-50 (median 32), their contrast at 110-155.
    lo = cfg.max_black_level * rng.random() ** 2
    hi = rng.uniform(max(lo + 100, 170), 255)
    span = max(paper_l - ink_l, 1.0)
    if span * (hi - lo) / 255 < cfg.min_contrast:
        hi = min(255.0, lo + cfg.min_contrast * 255 / span)
        lo = max(0.0, hi - cfg.min_contrast * 255 / span)
    contrast = span * (hi - lo) / 255
    cast = rng.normal(0, 4, bands)
    x = np.arange(256, dtype=np.float64)
    luts = np.concatenate([np.clip(lo + c + (hi - lo) * x / 255, 0, 255) for c in cast])
    scene = scene.point(luts.astype(np.uint8).tolist())
    if rng.random() < cfg.p_streaks:
        scene = _streaks(rng, scene, warp, surf, max_alpha=0.45)
    if cfg.p_glare > 0 and rng.random() < cfg.p_glare:  # no draw at 0: the default stream is unchanged
        scene = _glare(rng, cfg, scene, warp, surf)

    # An out-of-focus camera (small close-up barcodes, e.g. books): one strong blur, instead of the budget below.
    # No draw at 0: the default stream is unchanged.
    # Only at a fair contrast (grey levels): faint and defocused together is past reading.
    if cfg.p_defocus > 0 and contrast >= 80 and rng.random() < cfg.p_defocus:
        scene = _gaussian_blur(scene, rng.uniform(*cfg.defocus_frac) * digit_px)
        return _noise(rng, cfg, scene, contrast, expand)
    # Blur budget: sigma, motion and resolution loss together stay under max_blur_frac * digit height.
    budget = max(0.6, cfg.max_blur_frac * digit_px)
    if rng.random() < cfg.p_downscale:
        f = rng.uniform(max(0.5, 0.5 / budget), 0.9)
        small = (max(1, round(w * f)), max(1, round(h * f)))
        scene = scene.resize(small, Image.Resampling.BILINEAR).resize((w, h), Image.Resampling.BILINEAR)
        budget = math.sqrt(max(0.09, budget**2 - (0.5 / f) ** 2))
    # Mostly mild: real crops are sharper than an even spread up to the budget would make them.
    sigma = float(0.3 + (budget - 0.3) * rng.random() ** cfg.blur_skew)
    if rng.random() < cfg.p_motion_blur:
        length = rng.uniform(1.0, max(1.5, 2.0 * budget))
        scene = _motion_blur(scene, length, rng.uniform(0, math.pi))
        sigma = math.sqrt(max(0.0, sigma**2 - (length / 3) ** 2))
    scene = _gaussian_blur(scene, sigma)
    return _noise(rng, cfg, scene, contrast, expand)


def _noise(
    rng: np.random.Generator,
    cfg: SynthConfig,
    scene: Image.Image,
    contrast: float,
    expand: Callable[[Image.Image], Image.Image],
) -> Image.Image:
    """Sensor noise, luminance only: add (noise + 128) and take the 128 back off; returns RGB."""
    w, h = scene.size
    std = rng.uniform(1.0, max(1.5, min(12.0, cfg.max_noise_frac * contrast)))
    bank = _noise_bank()
    x0, y0 = (int(rng.integers(0, n - d + 1)) for n, d in zip(bank.size, (w, h), strict=True))
    scale = std / _NOISE_BANK_STD
    noise_img = bank.crop((x0, y0, x0 + w, y0 + h)).point(_scale_lut(scale))
    scene = ImageChops.add(scene, expand(noise_img), 1.0, -128)
    return scene.convert("RGB")


_NOISE_BANK_STD = 32.0


def _scale_lut(scale: float) -> list[int]:
    """LUT scaling an 'L' image's deviation from 128 by `scale`."""
    return np.clip(128 + (np.arange(256) - 128) * scale, 0, 255).astype(np.uint8).tolist()


def _gaussian_blur(img: Image.Image, sigma: float) -> Image.Image:
    """Approximately Gaussian blur of std `sigma` px, cheaply.

    PIL's GaussianBlur (three box passes) costs ~8 ms on a 480x360 RGB scene, a third of a sample's
    budget. Mild blur is one box pass of equal variance; strong blur runs at half resolution.
    """
    sigma = float(sigma)  # PIL's BoxBlur cannot take a numpy scalar
    if sigma <= 0.3:  # below a one-pixel box
        return img
    if sigma < 1.2:
        # A box of width 2r + 1 has variance (2r + 1)^2 / 12.
        return img.filter(ImageFilter.BoxBlur((math.sqrt(12) * sigma - 1) / 2))
    # reduce(2) and the bilinear way back add about 0.6 px of blur between them.
    small = img.reduce(2).filter(ImageFilter.GaussianBlur(math.sqrt(sigma**2 - 0.6**2) / 2))
    return small.resize(img.size, Image.Resampling.BILINEAR)


@lru_cache(maxsize=1)
def _noise_bank() -> Image.Image:
    """A fixed field of Gaussian noise (std 32 around 128); samples take random windows of it.

    Drawing fresh normals for every scene costs more than the rest of the photometric chain.
    """
    field_ = np.random.default_rng(20240601).standard_normal((1024, 1024), dtype=np.float32)
    return Image.fromarray(np.clip(128 + _NOISE_BANK_STD * field_, 0, 255).astype(np.uint8), "L")


def _motion_blur(scene: Image.Image, length: float, angle: float) -> Image.Image:
    arr = np.asarray(scene, dtype=np.float32)
    n = max(2, round(length) + 1)
    pad = n
    widths = ((pad, pad), (pad, pad)) + (((0, 0),) if arr.ndim == 3 else ())
    padded = np.pad(arr, widths, mode="edge")
    h, w = arr.shape[:2]
    acc = np.zeros_like(arr)
    for i in range(n):
        r = (i / (n - 1) - 0.5) * length
        dx, dy = round(r * math.cos(angle)), round(r * math.sin(angle))
        acc += padded[pad + dy : pad + dy + h, pad + dx : pad + dx + w]
    return Image.fromarray((acc / n).astype(np.uint8), scene.mode)


def _streaks(rng: np.random.Generator, scene: Image.Image, warp: Warp, surf: _Surface, max_alpha: float) -> Image.Image:
    """Soft specular bands of plastic wrap, mostly across the barcode."""
    w, h = scene.size
    q = 4
    layer = Image.new("L", (w // q + 1, h // q + 1), 0)
    draw = ImageDraw.Draw(layer)
    centre = warp.forward(np.array([[(surf.symbol_box[0] + surf.symbol_box[2]) / 2, surf.text_box[1]]]))[0]
    direction = rng.uniform(0, math.pi)
    for _ in range(int(rng.integers(1, 6))):
        length = rng.uniform(0.1, 0.8) * max(w, h)
        cx, cy = centre + rng.normal(0, 0.15 * min(w, h), 2)
        d = direction + rng.normal(0, 0.15)
        pts = []
        for t in np.linspace(-0.5, 0.5, 6):
            jitter = rng.normal(0, 0.015 * length)
            pts.append(
                (
                    (cx + t * length * math.cos(d) - jitter * math.sin(d)) / q,
                    (cy + t * length * math.sin(d) + jitter * math.cos(d)) / q,
                )
            )
        draw.line(pts, fill=int(rng.uniform(80, 255)), width=max(1, int(rng.uniform(1, 10) / q * 2)))
    layer = layer.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    alpha = rng.uniform(0.15, max_alpha)
    layer = layer.resize((w, h), Image.Resampling.BILINEAR).point(lambda v: int(v * alpha))
    return Image.composite(Image.new(scene.mode, (w, h), 250 if scene.mode == "L" else (250,) * 3), scene, layer)


def _glare(rng: np.random.Generator, cfg: SynthConfig, scene: Image.Image, warp: Warp, surf: _Surface) -> Image.Image:
    """Wash the lower bars toward white: a band from 20-70% of the way down the bars to just over the digits,
    fading in from its top edge (a ramp over up to half its height), its bottom edge soft but off the digits."""
    x0, _, x1, _ = surf.symbol_box
    bar_top, digit_top, m = surf.bars[1], surf.text_box[1], surf.module_px
    y1 = digit_top - m * rng.uniform(1.0, 2.5)
    y0 = y1 - (y1 - bar_top) * rng.uniform(0.2, 0.7)
    ramp = (y1 - y0) * rng.uniform(0.0, 0.5)
    pad = (x1 - x0) * rng.uniform(0.0, 0.15)
    scene_module = float(np.ptp(warp.forward(np.array([[x0, y1], [x1, y1]]))[:, 0])) / max(x1 - x0, 1.0) * m
    q = 2
    layer = Image.new("L", (scene.width // q + 1, scene.height // q + 1), 0)
    draw = ImageDraw.Draw(layer)
    steps = 4
    for k in range(steps):  # nested bands, each starting lower and brighter: the ramp
        band = warp.forward(_box_points((x0 - pad, y0 + ramp * k / steps, x1 + pad, y1), 12))
        hull = band[np.argsort(np.arctan2(*(band - band.mean(axis=0)).T[::-1]))]  # outline points in angle order
        draw.polygon([(float(x) / q, float(y) / q) for x, y in hull], fill=round(255 * (k + 1) / steps))
    layer = layer.filter(ImageFilter.GaussianBlur(max(0.5, 0.8 * scene_module / q)))
    alpha = rng.uniform(*cfg.glare_strength)
    layer = layer.resize(scene.size, Image.Resampling.BILINEAR).point(lambda v: int(v * alpha))
    white = 250 if scene.mode == "L" else (250,) * 3
    return Image.composite(Image.new(scene.mode, scene.size, white), scene, layer)


@dataclass
class _Surface:
    image: Image.Image  # RGBA, label coordinates
    symbol_box: Box
    digit_boxes: list[Box]
    text_box: Box
    bars: Box
    long_bottom: float
    module_px: int
    paper: tuple[int, int, int]
    ink: tuple[int, int, int]
