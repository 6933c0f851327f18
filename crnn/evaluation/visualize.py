"""Images for reports: captioned grids (batches, predictions, failures) and a character confusion matrix.

Pillow only; text is drawn with the OCR-B font shipped in crnn/fonts (never a system font assumed to exist).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from crnn.synth.render import OCRB_FONT

GREEN, RED, GREY = (20, 140, 40), (200, 30, 30), (90, 90, 90)


DELETED = "∅"  # a target character the prediction lacks (row) / an extra predicted character (column)


@lru_cache(maxsize=8)
def font(size: int = 14) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(OCRB_FONT), size)


def grid(
    images: Sequence[Image.Image],
    captions: Sequence[str] | None = None,
    colours: Sequence[tuple[int, int, int]] | None = None,
    cols: int = 4,
    cell: tuple[int, int] = (224, 48),
    caption_size: int = 14,
) -> Image.Image:
    """Tile images (letterboxed into `cell`) with an optional caption line under each."""
    if not images:
        raise ValueError("no images to draw")
    cols = max(1, min(cols, len(images)))
    rows = -(-len(images) // cols)
    cap_h = caption_size + 6 if captions is not None else 0
    pad = 4
    cw, ch = cell
    sheet = Image.new("RGB", (cols * (cw + pad) + pad, rows * (ch + cap_h + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        x, y = pad + c * (cw + pad), pad + r * (ch + cap_h + pad)
        thumb = im.convert("RGB")
        thumb.thumbnail((cw, ch))
        sheet.paste(thumb, (x, y))
        if captions is not None:
            colour = colours[i] if colours is not None else (0, 0, 0)
            draw.text((x, y + ch + 2), captions[i], fill=colour, font=font(caption_size))
    return sheet


def batch_grid(
    images: np.ndarray, texts: Sequence[str], mean: float, std: float, cols: int = 4, limit: int = 16
) -> Image.Image:
    """A training batch as the network sees it: `images (N, C, H, W)` normalised float, labels as captions."""
    n = min(limit, len(images))
    arr = np.clip((images[:n] * std + mean) * 255.0, 0, 255).astype(np.uint8)
    tiles = [Image.fromarray(a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)) for a in arr]
    h, w = arr.shape[2], arr.shape[3]
    return grid(tiles, list(texts[:n]), cols=cols, cell=(w, h))


def prediction_gallery(
    images: Sequence[Image.Image],
    texts: Sequence[str],
    targets: Sequence[str],
    confidences: Sequence[float] | None = None,
    cols: int = 4,
) -> Image.Image:
    """Crops captioned `prediction (confidence)`, green when right and red with the target when wrong."""
    captions, colours = [], []
    for i, (p, t) in enumerate(zip(texts, targets, strict=False)):
        conf = f" {confidences[i]:.2f}" if confidences is not None else ""
        captions.append(f"{p or '-'}{conf}" if p == t else f"{p or '-'}{conf} != {t}")
        colours.append(GREEN if p == t else RED)
    return grid(images, captions, colours, cols=cols)


def align(pred: str, target: str) -> list[tuple[str, str]]:
    """(target char, predicted char) pairs of a minimum edit alignment; DELETED marks a gap."""
    n, m = len(target), len(pred)
    d = np.zeros((n + 1, m + 1), dtype=np.int32)
    d[:, 0], d[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (target[i - 1] != pred[j - 1]))
    pairs, i, j = [], n, m
    while i or j:
        if i and j and d[i, j] == d[i - 1, j - 1] + (target[i - 1] != pred[j - 1]):
            pairs.append((target[i - 1], pred[j - 1]))
            i, j = i - 1, j - 1
        elif i and d[i, j] == d[i - 1, j] + 1:
            pairs.append((target[i - 1], DELETED))
            i -= 1
        else:
            pairs.append((DELETED, pred[j - 1]))
            j -= 1
    return pairs[::-1]


def char_confusion(preds: Sequence[str], targets: Sequence[str], charset: str) -> tuple[list[str], np.ndarray]:
    """Counts `matrix[target char, predicted char]` over aligned strings; the last label is DELETED."""
    labels = [*charset, DELETED]
    index = {c: i for i, c in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for p, t in zip(preds, targets, strict=False):
        if p == t:
            for c in t:
                m[index[c], index[c]] += 1
            continue
        for a, b in align(p, t):
            if a in index and b in index:
                m[index[a], index[b]] += 1
    return labels, m


def confusion_image(labels: Sequence[str], matrix: np.ndarray, title: str = "", cell: int = 30) -> Image.Image:
    """The confusion matrix as a heat map (rows: target, columns: prediction), errors in red, counts written."""
    n = len(labels)
    margin, top = 40, 50
    im = Image.new("RGB", (margin + n * cell + 10, top + n * cell + 10), "white")
    draw = ImageDraw.Draw(im)
    draw.text((4, 4), title or "characters: rows target, columns predicted", fill=(0, 0, 0), font=font(12))
    diag = matrix.diagonal().max() if matrix.size else 1
    off = (matrix - np.diag(matrix.diagonal())).max() if matrix.size else 1
    for i, lab in enumerate(labels):
        draw.text((margin + i * cell + cell // 3, top - 18), lab, fill=(0, 0, 0), font=font(13))
        draw.text((12, top + i * cell + cell // 4), lab, fill=(0, 0, 0), font=font(13))
        for j in range(n):
            v = int(matrix[i, j])
            if i == j:
                shade = int(255 - 150 * v / max(1, diag))
                colour = (shade, 255, shade)
            else:
                shade = int(255 - 200 * v / max(1, off)) if v else 255
                colour = (255, shade, shade)
            x, y = margin + j * cell, top + i * cell
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=colour, outline=(220, 220, 220))
            if v:
                draw.text((x + 2, y + cell // 3), str(v), fill=(0, 0, 0) if i == j else RED, font=font(9))
    return im


def curves(history: Sequence[dict[str, float]], keys: Sequence[str], size: tuple[int, int] = (360, 200)) -> Image.Image:
    """One small line chart per metric in `keys` over the epochs of `history` (rows with an `epoch` key),
    side by side, each with its own y range; metrics absent from the history are left out."""
    keys = [k for k in keys if any(k in row for row in history)]
    if not keys:
        raise ValueError("no metric of the history to draw")
    w, h = size
    pad, top = 48, 24
    sheet = Image.new("RGB", (w * len(keys), h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, key in enumerate(keys):
        pts = [(row["epoch"], row[key]) for row in history if key in row and "epoch" in row]
        x0 = i * w
        draw.text((x0 + pad, 4), key, fill=(0, 0, 0), font=font(13))
        if not pts:
            continue
        xs, ys = np.array([p[0] for p in pts], dtype=float), np.array([p[1] for p in pts], dtype=float)
        lo, hi = float(ys.min()), float(ys.max())
        span_x, span_y = max(float(np.ptp(xs)), 1.0), max(hi - lo, 1e-9)
        left, right, bottom = x0 + pad, x0 + w - 10, h - 20
        draw.rectangle((left, top, right, bottom), outline=GREY)
        line = [
            (left + (x - xs.min()) / span_x * (right - left), bottom - (y - lo) / span_y * (bottom - top))
            for x, y in zip(xs, ys, strict=True)
        ]
        if len(line) > 1:
            draw.line(line, fill=RED, width=2)
        for p in line:
            draw.ellipse((p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2), fill=RED)
        draw.text((x0 + 2, top), f"{hi:.3g}", fill=GREY, font=font(11))
        draw.text((x0 + 2, bottom - 12), f"{lo:.3g}", fill=GREY, font=font(11))
        draw.text((left, bottom + 4), f"epoch {int(xs.min())}..{int(xs.max())}", fill=GREY, font=font(11))
    return sheet
