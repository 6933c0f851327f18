"""COCO JSON as importer rows: `images[{id, file_name, width, height}]`, `annotations[{id, image_id, bbox,
attributes}]`, one box per barcode, the printed digits in an annotation attribute (Azure ML labelling).

Every malformed element (a bbox that is null, infinite, NaN or text; attributes that are not an object; a width
that is not a number; an image without an id) is an `Issue` naming the file and the element, and the import goes
on. Only the fields used are kept while parsing (polygons, areas and the rest are dropped as each object is read),
and each image is held once, as its name and width.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from crnn.datasets.rows import Issue, Row, header_size, image_name, inside

log = logging.getLogger(__name__)

# The keys read; every other key of every JSON object is dropped as it is parsed.
_KEPT = {"images", "annotations", "id", "image_id", "bbox", "attributes", "file_name", "width"}


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _key(v: Any) -> bool:
    return isinstance(v, int | str) and not isinstance(v, bool)


def coco_rows(path: Path, images_dir: Path, attr: str) -> Iterator[Row | Issue]:
    """The rows of a COCO file; `attr`: the annotation attribute that holds the digits.

    Azure ML labelling exports `file_name` as a datastore URL and may write bbox as fractions of the image size;
    both are handled (a box whose values all lie within [0, 1] is read as fractions)."""
    kept = _KEPT | {attr}
    try:
        coco = json.loads(
            path.read_text(encoding="utf-8"), object_hook=lambda d: {k: v for k, v in d.items() if k in kept}
        )
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from e
    if (
        not isinstance(coco, dict)
        or not isinstance(coco.get("images"), list)
        or not isinstance(coco.get("annotations"), list)
    ):
        raise ValueError(f"{path}: a COCO file needs 'images' and 'annotations' lists")
    images: dict[int | str, tuple[str, float | None]] = {}  # id -> (file_name, width)
    for i, im in enumerate(coco.pop("images")):
        where = f"{path}: images[{i}]"
        if not isinstance(im, dict) or not _key(im.get("id")) or not isinstance(im.get("file_name"), str):
            yield Issue(where, "bad_row", f"an image needs an 'id' (number or text) and a 'file_name' (text): {im!r}")
            continue
        where += f" (id {im['id']!r})"
        width = im.get("width")
        if width is not None and not (_number(width) and width > 0):
            yield Issue(where, "bad_row", f"width must be a positive number, got {width!r}")
            continue
        if im["id"] in images:
            yield Issue(where, "bad_row", f"image id {im['id']!r} appears twice in 'images'")
            continue
        images[im["id"]] = (im["file_name"], width)
    anns = coco.pop("annotations")
    for i in range(len(anns)):
        ann, anns[i] = anns[i], None  # each annotation freed once read
        yield _row(path, images_dir, attr, i, ann, images)


def _row(
    path: Path, images_dir: Path, attr: str, i: int, ann: Any, images: dict[int | str, tuple[str, float | None]]
) -> Row | Issue:
    if not isinstance(ann, dict):
        return Issue(f"{path}: annotations[{i}]", "bad_row", f"an annotation must be an object, got {ann!r}")
    where = f"{path}: annotations[{i}] (id {ann.get('id', '?')!r})"
    image_id = ann.get("image_id")
    im = images.get(image_id) if isinstance(image_id, int | str) and not isinstance(image_id, bool) else None
    if im is None:
        return Issue(where, "missing_image", f"image_id {image_id!r} is not in 'images'")
    attributes = ann.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        return Issue(where, "bad_row", f"attributes must be an object, got {attributes!r}")
    text = (attributes or {}).get(attr, ann.get(attr))
    if not isinstance(text, str):
        return Issue(where, "bad_label", f"no text in attributes.{attr}")
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(_number(v) for v in bbox):
        return Issue(where, "bad_row", f"bbox must be [x, y, width, height] of finite numbers, got {bbox!r}")
    file_name, width = im
    image, name = _coco_image(images_dir, file_name)
    if image is None:
        return Issue(where, "bad_row", f"file_name {file_name!r} points outside {images_dir}")
    x, y, w, h = (float(v) for v in bbox)
    if max(x, y, w, h) <= 1.0 and (width is None or width > 1):
        size = header_size(image)
        if isinstance(size, tuple):
            x, w, y, h = x * size[0], w * size[0], y * size[1], h * size[1]
    return Row(where, image, name, text.strip(), (round(x), round(y), round(w), round(h)))


def _coco_image(images_dir: Path, file_name: str) -> tuple[Path | None, str]:
    """The local file of a COCO `file_name`: a relative path inside `images_dir`, or a URL.

    A URL (Azure ML exports datastore URLs) is read as its path after the host, relative to `images_dir`; when
    that is not there, an image of the same base name directly in `images_dir` is used (logged). Absolute names
    and names with `..` parts are refused (None), never swapped for a file of the same base name.
    """
    url = "://" in file_name
    if url:
        file_name = file_name.split("://", 1)[1].split("/", 1)[-1]
    direct = inside(images_dir, file_name)
    if direct is None:
        return None, ""
    if direct.is_file() or not url:
        return direct, image_name(file_name)
    base = PurePosixPath(file_name).name
    flat = inside(images_dir, base)
    if flat is not None and flat.is_file():
        log.warning("COCO file_name URL %r: using %s (same base name)", file_name, flat)
        return flat, image_name(base)
    return direct, image_name(file_name)
