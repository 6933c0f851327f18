"""The evaluation page: per-format counts, failures with truth and read, escaped file names, the risk-coverage
curve, and `crnn evaluate --report`."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from crnn import cli
from crnn.core.codec import Codec, Decoder
from crnn.evaluation.crops import evaluate
from crnn.evaluation.report import operating_point, risk_coverage, write_report
from crnn.reading.crops import Reader
from crnn.reading.fusion import Reading
from crnn.reading.policy import ReadingPolicy

FLOOR = 0.5  # not the shipped floor, so a report that ignored the reader's would count otherwise

EVIL = "<script>x</script>.png"

# (file name, label, read, confidence, checksum_ok): the stand-in reader's answer for each crop.
CROPS = [
    ("a.png", "5901234123457", "5901234123457", 0.99, True),  # EAN-13, right
    ("b.png", "4006381333931", "4006381333948", 0.90, True),  # EAN-13, sure but wrong
    ("c.png", "9141777631705", "9141777631706", 0.30, True),  # EAN-13, wrong, under the floor: unsure
    ("d.png", "036000291452", "036000291452", 0.80, True),  # UPC-A, right
    ("e.png", "669074391508", "669074391509", 0.95, False),  # UPC-A, wrong, bad check digit: unsure
    ("f.png", "96385074", "96385074", 0.70, True),  # EAN-8, right
    ("g.png", "04252614", "04252615", 0.60, True),  # UPC-E, sure but wrong
    (EVIL, "590123412345", "", 0.40, False),  # valid as no format: other; read as nothing
]


class ScriptedReader(Reader):
    """Reads each crop as `CROPS` says, knowing it by its width (crop i is 40 + i pixels wide)."""

    def __init__(self, floor: float) -> None:
        self.codec = Codec("0123456789")
        self.policy = ReadingPolicy(min_confidence=floor)

    def read(self, images: Sequence[Image.Image], decoder: Decoder | None = None) -> list[Reading]:
        out = []
        for im in images:
            _, _, text, confidence, ok = CROPS[im.width - 40]
            out.append(Reading(text, confidence, ok, tuple(confidence for _ in text)))
        return out


class Page(HTMLParser):
    """Tags, table cells by the table's class, image sources and text of an HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.circles: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("class") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(a.get("src") or "")
        elif tag == "circle":
            self.circles.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def crops_tsv(tmp_path: Path) -> Path:
    """The crops of `CROPS` (blank images told apart by width) and their labels TSV, one file name malicious."""
    folder = tmp_path / "crops"
    for i, (name, *_) in enumerate(CROPS):
        path = folder / name  # the malicious name holds a '/': a folder `<script>x<` and a file `script>.png`
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40 + i, 24), (200, 200, 200)).save(path)
    tsv = folder / "labels.tsv"
    tsv.write_text("filename\ttext\n" + "".join(f"{name}\t{label}\n" for name, label, *_ in CROPS))
    return tsv


def test_page_counts_formats_shows_failures_and_escapes_names(crops_tsv: Path, tmp_path: Path) -> None:
    reader = ScriptedReader(FLOOR)
    ev = evaluate(reader, crops_tsv)
    out = write_report(
        tmp_path / "out" / "report.html",
        {"<b>crops</b>": ev},
        reader.codec.charset,
        reader.policy.min_confidence,
        "stand-in <i>reader</i>",
    )
    text = out.read_text(encoding="utf-8")
    page = Page(text)

    # Nothing runs and nothing is fetched: the names from the TSV, the set and the title are text, not tags.
    assert not {"script", "b", "i", "link", "iframe"} & set(page.tags)
    assert "&lt;script&gt;x&lt;/script&gt;.png" in text and "<script" not in text
    assert "http://" not in text and "https://" not in text
    assert any(EVIL in t for t in page.text) and "<b>crops</b>" in page.text and "stand-in <i>reader</i>" in page.text

    # format, n, exact match, sure but wrong, CER
    table = page.tables["per-format"]
    assert table[0] == ["format", "n", "exact match", "sure but wrong", "CER"]
    counts = {r[0]: (int(r[1]), r[2], int(r[3])) for r in table[1:]}
    assert counts == {
        "EAN-13": (3, "33.3%", 1),
        "UPC-A": (2, "50.0%", 0),
        "EAN-8": (1, "100.0%", 0),
        "UPC-E": (1, "0.0%", 1),
        "other": (1, "0.0%", 0),
        "all": (8, "37.5%", 2),
    }
    assert [r[0] for r in table[1:]] == ["EAN-13", "UPC-A", "EAN-8", "UPC-E", "other", "all"]
    # CER of all: 2 + 1 + 1 + 1 + 12 edits over 13 * 3 + 12 * 2 + 8 + 8 + 12 characters
    assert table[-1][4] == f"{100 * 17 / 91:.2f}%"

    # One row per misread crop: its image, file, truth, read, confidence and whether a user is shown it as sure.
    failures = page.tables["failures"]
    assert failures[0] == ["crop", "file", "truth", "read", "confidence", "sure"]
    expected = [
        (Path(name).name, label, text or "(nothing)", f"{conf:.3f}", "sure" if ok and conf >= FLOOR else "unsure")
        for name, label, text, conf, ok in CROPS
        if text != label
    ]
    assert [(Path(r[1]).name, *r[2:]) for r in failures[1:]] == expected
    assert [r[4] for r in failures[1:] if r[5] == "sure"] == ["0.900", "0.600"]
    crops = [src for src in page.images if src.startswith("data:image/png;base64,")]
    assert len(crops) == len(page.images) == 1 + len(expected)  # the confusion matrix and each failure's crop
    widths = [Image.open(io.BytesIO(base64.b64decode(src.partition(",")[2]))).width for src in crops[1:]]
    assert widths == [40 + i for i, (_, label, text, *_) in enumerate(CROPS) if text != label]

    # The floor's operating point: reads at or above 0.5, 6 of 8, of which 3 wrong.
    (floor_mark,) = [c for c in page.circles if c.get("class") == "floor"]
    assert floor_mark is not None and "coverage 75.0%, risk 50.00%" in text


def test_risk_coverage_rises_to_every_read_at_the_overall_error_rate() -> None:
    confidences = [c for *_, c, _ in CROPS]
    correct = [label == text for _, label, text, *_ in CROPS]
    points = risk_coverage(confidences, correct)
    coverage = [p[0] for p in points]
    assert coverage == sorted(set(coverage)) and len(points) == len(CROPS)  # no tied confidences here
    assert points[-1][:2] == (1.0, pytest.approx(5 / 8))
    # Most confident first: 0.99 right, then 0.95 wrong, then 0.90 wrong.
    assert points[:3] == [(1 / 8, 0.0, 0.99), (2 / 8, 0.5, 0.95), (3 / 8, pytest.approx(2 / 3), 0.90)]
    assert operating_point(confidences, correct, FLOOR) == (6 / 8, 3 / 6)
    assert operating_point(confidences, correct, 1.0) is None


def test_tied_confidences_make_one_point() -> None:
    points = risk_coverage([0.9, 0.5, 0.9], [True, True, False])
    assert points == [(2 / 3, 0.5, 0.9), (1.0, pytest.approx(1 / 3), 0.5)]
    assert risk_coverage([], []) == []


def test_evaluate_writes_the_report(tmp_path: Path, onnx_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`crnn evaluate --report` on an untrained model: the page holds the command's own figures."""
    folder = tmp_path / "crops"
    (folder / "<script>x<").mkdir(parents=True)
    labels = {"a.png": "5901234123457", "b.png": "036000291452", EVIL: "96385074"}
    for i, name in enumerate(labels):
        Image.new("RGB", (160 + 8 * i, 48), (230, 230, 230)).save(folder / name)
    (folder / "labels.tsv").write_text("filename\ttext\n" + "".join(f"{n}\t{t}\n" for n, t in labels.items()))
    report = tmp_path / "report.html"
    args = ["evaluate", "--model", str(onnx_model), "--data", str(folder / "labels.tsv"), "--views", "none"]
    rc = cli.main([*args, "--report", str(report)])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0
    text = report.read_text(encoding="utf-8")
    page = Page(text)
    assert "script" not in page.tags and "&lt;script&gt;x&lt;/script&gt;.png" in text
    counts = {r[0]: int(r[1]) for r in page.tables["per-format"][1:]}
    assert counts == {"EAN-13": 1, "UPC-A": 1, "EAN-8": 1, "all": 3}
    misread = round(3 * (1 - summary["exact_match"]))
    assert len(page.tables.get("failures", [[]])) - 1 == misread
    assert "labels.tsv" in page.text and "risk-coverage" in text
