"""Labelled crops: a `filename<TAB>text` TSV (header row, extra columns allowed) beside an image folder.

An optional `printed` column holds the digits the crop shows when it shows fewer than `text` (a UPC-A
printed without its check digit, an EAN-13 whose leading digit the frame cut): the recogniser learns to
read `printed`, and the check-digit decoder infers the rest (crnn.core.codec). `printed` = `-` (`NO_DIGITS`) marks a
crop that shows none of them (the generator's `p_no_number`: bars alone, print under the digits): it teaches
the recogniser to read nothing there, and is left out of accuracy figures (`crnn.evaluation.crops`).

Filenames resolve relative to the TSV's folder, or to the folder named after the TSV (`crops.tsv` ->
`crops/`, as in ../shared/data/real-dev), and may not escape it. Every problem names the file and line.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from crnn.core.codec import Codec

log = logging.getLogger(__name__)

NO_DIGITS = "-"  # `printed` of a crop that shows no digit of its label


@dataclass(frozen=True)
class Sample:
    path: Path
    text: str
    line: int
    fmt: str | None = None
    printed: str | None = None  # the digits the crop shows, where fewer than `text`

    @property
    def target(self) -> str:
        """What the recogniser learns to read: the printed digits (none for a `NO_DIGITS` crop)."""
        if self.printed == NO_DIGITS:
            return ""
        return self.printed or self.text

    @property
    def shows_number(self) -> bool:
        return self.printed != NO_DIGITS


def read_tsv(tsv: str | Path, codec: Codec | None, check_files: bool = True) -> list[Sample]:
    """Samples of a labels TSV; raise ValueError naming file and line for any bad row.

    `codec` checks each label against its charset; None skips that (when only the images are wanted).
    """
    tsv = Path(tsv)
    if not tsv.is_file():
        raise ValueError(f"labels file not found: {tsv}")
    root = tsv.parent.resolve()
    samples: list[Sample] = []
    seen: dict[tuple[Path, str, str | None], Sample] = {}  # a row repeated (same image, same label)
    repeats: list[str] = []
    rows = tsv_rows(tsv)
    header = next(rows, (1, None))[1]
    if header is None or "filename" not in header or "text" not in header:
        raise ValueError(f"{tsv}: line 1 must be a header with 'filename' and 'text' columns, got {header}")
    i_file, i_text = header.index("filename"), header.index("text")
    i_fmt = header.index("format") if "format" in header else None
    i_printed = header.index("printed") if "printed" in header else None
    for line, row in rows:
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise ValueError(f"{tsv}: line {line} has {len(row)} columns, expected {len(header)}")
        name, text = row[i_file].strip(), row[i_text].strip()
        try:
            if codec is not None:
                codec.check(text)
            printed = printed_digits(row[i_printed].strip() if i_printed is not None else "", text)
        except ValueError as e:
            raise ValueError(f"{e} (line {line} of {tsv})") from None
        try:
            path = (root / name).resolve()
        except (OSError, ValueError) as e:  # a NUL byte, a symlink loop
            raise ValueError(f"{tsv}: line {line}: filename {name!r} is not a usable path ({e})") from None
        if not path.is_relative_to(root):
            raise ValueError(f"{tsv}: line {line}: filename {name!r} points outside {root}")
        if not path.is_file() and (root / tsv.stem / name).resolve().is_file():
            path = (root / tsv.stem / name).resolve()
        if check_files and not path.is_file():
            raise ValueError(f"{tsv}: line {line}: image not found: {path}")
        fmt = row[i_fmt].strip() if i_fmt is not None else None
        sample = Sample(path, text, line, fmt or None, printed)
        first = seen.setdefault((path, text, printed), sample)
        if first is not sample:
            repeats.append(f"line {line} repeats line {first.line} ({name})")
            continue
        samples.append(sample)
    if repeats:
        # Counted once: a repeated row would weigh its image twice in training and in the metrics.
        shown = "; ".join(repeats[:5]) + (f"; and {len(repeats) - 5} more" if len(repeats) > 5 else "")
        log.warning("%s: %d duplicate rows skipped: %s", tsv, len(repeats), shown)
    if not samples:
        raise ValueError(f"{tsv}: no samples")
    return samples


def tsv_rows(tsv: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each line of a tab-separated UTF-8 file (a BOM, as Excel writes, is not part of the
    header); ValueError naming the file and line for text that is not UTF-8 or that csv refuses (a NUL byte)."""
    line = 0
    try:
        with tsv.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            for row in reader:
                line = reader.line_num
                yield line, row
    except UnicodeDecodeError as e:
        raise ValueError(f"{tsv}: not UTF-8 text after line {line}: {e}") from None
    except csv.Error as e:
        raise ValueError(f"{tsv}: line {line + 1}: {e}") from None


def printed_digits(printed: str, text: str) -> str | None:
    """The `printed` value of a label `text`: None when empty or all of `text`, `NO_DIGITS` for none of them;
    ValueError unless it is `text` with some digits left out."""
    if printed == NO_DIGITS:
        return NO_DIGITS
    it = iter(text)
    if printed and not all(c in it for c in printed):
        raise ValueError(f"printed digits {printed!r} are not a subsequence of the label {text!r}")
    return printed if printed and printed != text else None


def write_tsv(
    tsv: str | Path,
    rows: Sequence[Sequence[str]],
    header: tuple[str, ...] = ("filename", "text"),
) -> None:
    """Write a labels TSV (tab separated, header first)."""
    Path(tsv).parent.mkdir(parents=True, exist_ok=True)
    with Path(tsv).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE)
        w.writerow(header)
        w.writerows(rows)
