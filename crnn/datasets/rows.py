"""What every importer's source reader yields: a row before validation, or an issue naming where it is; and the
confinement of image names to their folder (docs/security.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from crnn.core.images import ImageError, image_size

Box = tuple[int, int, int, int]  # x_from, y_from, width, height


@dataclass(frozen=True)
class Issue:
    """One rejected row: where it is (`file:line` or a JSON element), what kind of problem, and the detail."""

    where: str
    kind: str  # missing_image | unreadable_image | box_outside | bad_label | bad_row
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


@dataclass(frozen=True)
class Row:
    """A source row before validation."""

    where: str
    image: Path
    name: str  # filename in the raw dataset
    text: str
    box: Box | None
    fmt: str | None = None
    printed: str | None = None


def header_size(path: Path) -> tuple[int, int] | str:
    """(width, height) from the header, or the reason the image cannot be used."""
    try:
        return image_size(path)
    except ImageError as e:
        return f"image not found: {path}" if e.reason == "not found" else str(e)


def inside(images_dir: Path, name: str) -> Path | None:
    """`images_dir / name`, or None when the name is not a plain relative path inside the folder.

    Absolute names, `..` parts and names that resolve (through symlinks) outside `images_dir` are refused, so the
    name can also be stored as it is under the dataset folder (`image_name`) without climbing out of it.
    """
    if relative_parts(name) is None:
        return None
    try:
        root = images_dir.resolve()
        p = (root / name).resolve()
    except (OSError, ValueError):  # a NUL byte, a symlink loop, a name too long
        return None
    return p if p.is_relative_to(root) else None


def relative_parts(name: str) -> tuple[str, ...] | None:
    """The parts of a plain relative path (`a/b.png`), or None for an absolute one or one with `..` parts."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if not name or pure.is_absolute() or PureWindowsPath(name).drive or ".." in pure.parts:
        return None
    parts = tuple(p for p in pure.parts if p not in ("", "."))
    return parts or None


def image_name(name: str) -> str:
    """Where an image is stored in the raw dataset; `name` must have passed `inside`."""
    parts = relative_parts(name)
    if parts is None:
        raise ValueError(f"image name {name!r} is not a relative path inside the dataset")
    return "/".join(("images", *parts))
