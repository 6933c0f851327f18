"""Importers on small fixtures built from synthetic data, bad rows included; crops and splits."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from crnn import config
from crnn.config.steps import DatasetConfig, PreprocessConfig
from crnn.core.codec import Codec
from crnn.core.labels import read_tsv
from crnn.datasets.crops import cut, make_crops, split_samples
from crnn.datasets.importers import ImportRejected, import_dataset, read_raw


def _rows(tsv: Path) -> list[dict]:
    with tsv.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _write(tsv: Path, header: list[str], rows: list[list]) -> Path:
    with tsv.open("w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return tsv


@pytest.fixture
def old_tsv(synth_dir, tmp_path) -> Path:
    """The earlier project's format: 10 good rows, then a missing image, a box outside, foreign characters."""
    src = _rows(synth_dir / "annotations.tsv")[:10]
    (tmp_path / "old").mkdir()
    for r in src:
        (tmp_path / "old" / r["filename"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(synth_dir / r["filename"], tmp_path / "old" / r["filename"])
    good = [[r["filename"], r["code"], r["x_from"], r["y_from"], r["width"], r["height"]] for r in src]
    bad = [
        ["images/nope.jpg", "4006381333931", 1, 1, 10, 10],  # line 12: missing image
        [src[0]["filename"], src[0]["code"], 5, 5, 100000, 10],  # line 13: box outside
        [src[1]["filename"], "40063813339A1", 1, 1, 10, 10],  # line 14: foreign character
    ]
    return _write(
        tmp_path / "old" / "annotations.tsv", ["filename", "code", "x_from", "y_from", "width", "height"], good + bad
    )


def _cfg(**kw) -> DatasetConfig:
    return config.load(DatasetConfig, overrides=[f"{k}={v}" for k, v in kw.items()])


def test_tsv_import_skips_bad_rows_with_file_and_line(old_tsv, tmp_path):
    report = import_dataset(_cfg(source="tsv", path=old_tsv, max_skipped_fraction=0.5), tmp_path / "raw")
    assert (report.rows, report.imported, report.skipped) == (13, 10, 3)
    assert report.counts == {"missing_image": 1, "box_outside": 1, "bad_label": 1}
    where = {i.kind: i.where for i in report.issues}
    assert where["missing_image"].endswith("annotations.tsv:12")
    assert where["box_outside"].endswith("annotations.tsv:13")
    assert where["bad_label"].endswith("annotations.tsv:14")
    raw = read_raw(tmp_path / "raw")
    assert len(raw) == 10 and all(s.path.is_file() and s.box is not None for s in raw)
    assert {s.fmt for s in raw} <= {"EAN-13", "UPC-A", "EAN-8", "UPC-E"}


def test_tsv_import_rejects_when_configured(old_tsv, tmp_path):
    with pytest.raises(ImportRejected, match=r"annotations.tsv:13") as e:
        import_dataset(_cfg(source="tsv", path=old_tsv, on_error="reject"), tmp_path / "raw")
    assert e.value.report.skipped == 3


def test_too_many_bad_rows_reject_even_when_skipping(old_tsv, tmp_path):
    with pytest.raises(ImportRejected, match="max_skipped_fraction"):
        import_dataset(_cfg(source="tsv", path=old_tsv, max_skipped_fraction=0.1), tmp_path / "raw")


def test_tsv_without_expected_header_is_an_error(tmp_path):
    bad = _write(tmp_path / "a.tsv", ["file", "text"], [["x.png", "123"]])
    with pytest.raises(ValueError, match="line 1 must be a header"):
        import_dataset(_cfg(source="tsv", path=bad), tmp_path / "raw")


def _coco(synth_dir: Path, tmp_path: Path, normalized: bool) -> Path:
    src = _rows(synth_dir / "annotations.tsv")[:6]
    images, anns = [], []
    for i, r in enumerate(src):
        w, h = Image.open(synth_dir / r["filename"]).size
        # Azure ML exports a datastore URL as file_name.
        images.append(
            {"id": i + 1, "file_name": f"AmlDatastore://workspaceblobstore/{r['filename']}", "width": w, "height": h}
        )
        box = [int(r["x_from"]), int(r["y_from"]), int(r["width"]), int(r["height"])]
        if normalized:
            box = [box[0] / w, box[1] / h, box[2] / w, box[3] / h]
        anns.append(
            {"id": 100 + i, "image_id": i + 1, "category_id": 1, "bbox": box, "attributes": {"text": r["code"]}}
        )
    anns.append({"id": 200, "image_id": 1, "bbox": [1, 1, 99999, 5], "attributes": {"text": src[0]["code"]}})
    anns.append({"id": 201, "image_id": 2, "bbox": [1, 1, 5, 5], "attributes": {"text": "12x4"}})
    anns.append({"id": 202, "image_id": 99, "bbox": [1, 1, 5, 5], "attributes": {"text": "1234"}})
    anns.append({"id": 203, "image_id": 1, "bbox": [1, 1, 5, 5], "attributes": {}})
    coco = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "barcode"}]}
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco))
    return path


@pytest.mark.parametrize("normalized", [False, True])
def test_coco_import(synth_dir, tmp_path, normalized):
    path = _coco(synth_dir, tmp_path, normalized)
    report = import_dataset(
        _cfg(source="coco", path=path, images_dir=synth_dir, max_skipped_fraction=0.5), tmp_path / "raw"
    )
    assert report.imported == 6 and report.skipped == 4
    assert report.counts == {"box_outside": 1, "bad_label": 2, "missing_image": 1}
    assert any("annotations[6] (id 200)" in i.where for i in report.issues)
    raw = read_raw(tmp_path / "raw")
    expected = [
        (int(r["x_from"]), int(r["y_from"]), int(r["width"]), int(r["height"]))
        for r in _rows(synth_dir / "annotations.tsv")[:6]
    ]
    for s, box in zip(raw, expected, strict=False):
        assert all(abs(a - b) <= 1 for a, b in zip(s.box, box, strict=False))


def test_crops_import(synth_dir, tmp_path):
    src = _rows(synth_dir / "crops.tsv")[:8]
    tsv = _write(
        tmp_path / "labels.tsv",
        ["filename", "text"],
        [[r["filename"], r["text"]] for r in src] + [["crops/missing.png", "123"]],
    )
    report = import_dataset(
        _cfg(source="crops", path=tsv, images_dir=synth_dir, max_skipped_fraction=0.2), tmp_path / "raw"
    )
    assert (report.imported, report.counts) == (8, {"missing_image": 1})
    assert report.issues[0].where.endswith("labels.tsv:10")
    assert [s.text for s in read_raw(tmp_path / "raw")] == [r["text"] for r in src]


def test_printed_digits_flow_from_import_to_training_crops(synth_dir, tmp_path):
    """A crop showing fewer digits than its number keeps both through import and preprocess (the recogniser
    learns the printed ones); a `printed` that is not the label less some digits is a bad label."""
    src = _rows(synth_dir / "crops.tsv")[:4]
    rows = [[r["filename"], r["text"], r["text"][:-1] if i % 2 else ""] for i, r in enumerate(src)]
    rows.append([src[0]["filename"], src[0]["text"], "x" + src[0]["text"]])
    tsv = _write(tmp_path / "labels.tsv", ["filename", "text", "printed"], rows)
    report = import_dataset(
        _cfg(source="crops", path=tsv, images_dir=synth_dir, max_skipped_fraction=0.5), tmp_path / "raw"
    )
    assert (report.imported, report.counts) == (4, {"bad_label": 1})
    raw = read_raw(tmp_path / "raw")
    assert [s.printed for s in raw] == [None, src[1]["text"][:-1], None, src[3]["text"][:-1]]
    cfg = config.load(PreprocessConfig, overrides=["split.train=1.0", "split.val=0.0", "split.test=0.0"])
    summary = make_crops(tmp_path / "raw", tmp_path / "crops", cfg)
    targets = {s.text: s.target for s in read_tsv(summary.tsv("train"), Codec())}
    assert targets == {r["text"]: r["text"][:-1] if i % 2 else r["text"] for i, r in enumerate(src)}


@pytest.mark.parametrize("images", ["crops", "scenes"])
def test_synthetic_import(tmp_path, images):
    report = import_dataset(
        _cfg(**{"synthetic.count": 6, "synthetic.workers": 1, "synthetic.images": images}), tmp_path / "raw"
    )
    assert report.imported == 6 and not report.issues
    raw = read_raw(tmp_path / "raw")
    assert all(s.path.is_file() for s in raw)
    assert all((s.box is None) == (images == "crops") for s in raw)


def test_synthetic_import_takes_the_generator_settings(tmp_path):
    """The dataset step's `synthetic.generator` reaches the generator (as train's `data.synth.generator` does)."""
    base = {"synthetic.count": 2, "synthetic.workers": 1}
    plain = import_dataset(_cfg(**base), tmp_path / "plain")
    blurred = import_dataset(_cfg(**base, **{"synthetic.generator": "{p_defocus: 1.0}"}), tmp_path / "blurred")
    assert plain.imported == blurred.imported == 2
    a, b = (sorted(read_raw(tmp_path / d), key=lambda s: s.path.name) for d in ("plain", "blurred"))
    assert [s.text for s in a] == [s.text for s in b]  # same codes, other pixels
    assert any(Image.open(x.path).tobytes() != Image.open(y.path).tobytes() for x, y in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="p_typo.* not in .SynthConfig"):
        import_dataset(_cfg(**base, **{"synthetic.generator": "{p_typo: 1.0}"}), tmp_path / "typo")


def test_cut_margin_clip_and_rotation():
    im = Image.new("RGB", (100, 60), "white")
    crop, turned = cut(im, (10, 10, 40, 20), margin_x=0.25, margin_y=0.5)
    assert crop.size == (60, 40) and not turned
    crop, _ = cut(im, (0, 0, 100, 60), margin_x=0.5, margin_y=0.5)  # clipped to the image
    assert crop.size == (100, 60)
    tall = Image.new("RGB", (20, 80), "white")
    tall.putpixel((0, 0), (255, 0, 0))  # top-left marker
    crop, turned = cut(tall, None, rotate_vertical=True, direction="ccw")
    assert turned and crop.size == (80, 20)
    assert crop.getpixel((0, 19)) == (255, 0, 0)  # counter-clockwise: top-left goes to bottom-left
    crop, _ = cut(tall, None, rotate_vertical=True, direction="cw")
    assert crop.getpixel((79, 0)) == (255, 0, 0)


def test_split_is_seeded_and_keeps_numbers_together(tmp_path):
    from crnn.datasets.importers import RawSample

    samples = [RawSample(Path(f"{i}.png"), f"{i % 40:08d}", "EAN-8", None, i) for i in range(120)]
    a = split_samples(samples, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    b = split_samples(samples, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    assert a == b and sum(len(v) for v in a.values()) == 120
    assert [len(v) for v in a.values()] == [96, 12, 12]
    texts = {k: {s.text for s in v} for k, v in a.items()}
    assert not (texts["train"] & texts["test"]) and not (texts["train"] & texts["val"])
    assert split_samples(samples, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=4) != a


def test_make_crops_writes_readable_splits(old_tsv, tmp_path):
    import_dataset(_cfg(source="tsv", path=old_tsv, max_skipped_fraction=0.5), tmp_path / "raw")
    cfg = config.load(PreprocessConfig, overrides=["split.train=0.6", "split.val=0.2", "split.test=0.2"])
    summary = make_crops(tmp_path / "raw", tmp_path / "crops", cfg)
    assert sum(summary.sizes.values()) == 10 and all(summary.sizes.values())
    for split in ("train", "val", "test"):
        samples = read_tsv(summary.tsv(split), Codec())
        assert len(samples) == summary.sizes[split]
        w, h = Image.open(samples[0].path).size
        assert w >= h


# ---------------------------------------------------------------- path confinement (security)


def _escape_tree(tmp_path: Path) -> tuple[Path, Path, str]:
    """A source folder with a symlinked sub-folder, and an image name that resolves inside the source through
    the link but whose raw `..` parts, stored as they are under the dataset, climb out of it."""
    src = tmp_path / "src"
    deep = src / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    Image.new("L", (60, 20), 255).save(src / "a" / "x.png")
    (src / "link").symlink_to(deep, target_is_directory=True)
    name = "link/../../../x.png"  # via the link: src/a/x.png; stored raw: <out>/images/link/../../../x.png
    assert (src / name).resolve() == (src / "a" / "x.png").resolve()
    return src, tmp_path / "store" / "raw", name


def _outside_files(tmp_path: Path, out: Path) -> set[Path]:
    """Files under tmp_path, other than the source tree's and those inside the dataset folder."""
    return {
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and not p.is_relative_to(tmp_path / "src") and not p.is_relative_to(out)
    }


@pytest.mark.parametrize("on_error", ["skip", "reject"])
@pytest.mark.parametrize("source", ["tsv", "crops", "coco"])
def test_import_never_writes_outside_its_dataset(tmp_path, source, on_error):
    src, out, name = _escape_tree(tmp_path)
    if source == "tsv":
        labels = _write(
            src / "labels.tsv",
            ["filename", "code", "x_from", "y_from", "width", "height"],
            [[name, "4006381333931", 0, 0, 60, 20], ["a/x.png", "4006381333931", 0, 0, 60, 20]],
        )
    elif source == "crops":
        labels = _write(
            src / "labels.tsv", ["filename", "text"], [[name, "4006381333931"], ["a/x.png", "4006381333931"]]
        )
    else:
        images = [
            {"id": 1, "file_name": name, "width": 60, "height": 20},
            {"id": 2, "file_name": "a/x.png", "width": 60, "height": 20},
        ]
        anns = [
            {"id": i, "image_id": i, "bbox": [0, 0, 60, 20], "attributes": {"text": "4006381333931"}} for i in (1, 2)
        ]
        labels = src / "coco.json"
        labels.write_text(json.dumps({"images": images, "annotations": anns}))
    cfg = _cfg(source=source, path=labels, on_error=on_error, max_skipped_fraction=0.9)
    if on_error == "reject":
        with pytest.raises(ImportRejected, match="outside"):
            import_dataset(cfg, out)
    else:
        report = import_dataset(cfg, out)
        assert (report.imported, report.skipped) == (1, 1)
        assert "outside" in report.issues[0].detail
        assert [s.path.resolve() for s in read_raw(out)] == [(out / "images" / "a" / "x.png").resolve()]
    assert _outside_files(tmp_path, out) == set()


@pytest.mark.parametrize(
    "file_name", ["../x.png", "/etc/passwd", "https://example.com/../../x.png", "sub/../../x.png", "C:\\x.png"]
)
def test_coco_file_name_outside_is_refused_not_replaced_by_base_name(tmp_path, file_name):
    src = tmp_path / "src"
    src.mkdir()
    Image.new("L", (60, 20), 255).save(src / "x.png")  # same base name, must not be swapped in
    Image.new("L", (60, 20), 255).save(src / "ok.png")
    images = [
        {"id": 1, "file_name": file_name, "width": 60, "height": 20},
        {"id": 2, "file_name": "ok.png", "width": 60, "height": 20},
    ]
    anns = [{"id": i, "image_id": i, "bbox": [0, 0, 60, 20], "attributes": {"text": "4006381333931"}} for i in (1, 2)]
    path = src / "coco.json"
    path.write_text(json.dumps({"images": images, "annotations": anns}))
    report = import_dataset(_cfg(source="coco", path=path, max_skipped_fraction=0.9), tmp_path / "raw")
    assert report.imported == 1 and report.counts == {"bad_row": 1}
    assert "annotations[0]" in report.issues[0].where and "outside" in report.issues[0].detail
    assert [s.path.name for s in read_raw(tmp_path / "raw")] == ["ok.png"]


def test_malformed_coco_values_are_skipped_naming_the_element(synth_dir, tmp_path):
    """Values of the wrong kind abort nothing: each bad element is an issue naming the file and the element."""
    path = _coco(synth_dir, tmp_path, normalized=False)
    coco = json.loads(path.read_text())
    good = coco["annotations"][0]
    bad_values = {
        300: {"bbox": None},
        301: {"bbox": [1, 1, float("inf"), 5]},
        302: {"bbox": [1, float("nan"), 5, 5]},
        303: {"bbox": "1,1,5,5"},
        304: {"bbox": [1, 1, True, 5]},
        305: {"attributes": ["text", "123"]},
        306: {"image_id": [1]},
        307: {"image_id": 50},  # an image whose width is text
    }
    for ann_id, change in bad_values.items():
        coco["annotations"].append({**good, "id": ann_id, **change})
    coco["annotations"].append("not an object")
    coco["images"] += [
        {"id": 50, "file_name": coco["images"][0]["file_name"], "width": "640"},
        {"file_name": "x.png"},
        ["not", "an", "image"],
    ]
    path.write_text(json.dumps(coco))  # inf and NaN as JSON's Infinity and NaN, which Python reads
    report = import_dataset(
        _cfg(source="coco", path=path, images_dir=synth_dir, max_skipped_fraction=0.9), tmp_path / "raw"
    )
    assert report.imported == 6
    issues = [str(i) for i in report.issues]
    for ann_id in bad_values:
        assert any("coco.json: annotations[" in s and f"(id {ann_id})" in s for s in issues), ann_id
    assert any("(id 303)" in s and "bbox must be [x, y, width, height] of finite numbers" in s for s in issues)
    assert any("(id 305)" in s and "attributes must be an object" in s for s in issues)
    assert any("images[6] (id 50): width must be a positive number, got '640'" in s for s in issues)
    assert any("coco.json: images[7]" in s for s in issues) and any("coco.json: images[8]" in s for s in issues)
    assert any("an annotation must be an object" in s for s in issues)


def test_reject_logs_rejected_and_a_bom_is_accepted(old_tsv, tmp_path, caplog):
    old_tsv.write_text("\ufeff" + old_tsv.read_text())  # a UTF-8 BOM, as Excel writes
    with caplog.at_level("WARNING"), pytest.raises(ImportRejected):
        import_dataset(_cfg(source="tsv", path=old_tsv, on_error="reject"), tmp_path / "raw")
    logged = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("rejected ") and "annotations.tsv:13" in m for m in logged)
    assert not any(m.startswith("skipped ") for m in logged)
    caplog.clear()
    report = import_dataset(_cfg(source="tsv", path=old_tsv, max_skipped_fraction=0.5), tmp_path / "raw2")
    assert report.imported == 10


def test_crnn_import_runs_the_importers_from_the_command_line(synth_dir: Path, tmp_path: Path, capsys) -> None:
    from crnn.cli import main

    coco = _coco(synth_dir, tmp_path, normalized=False)
    out = tmp_path / "mine"
    args = ["import", "--source", "coco", str(coco), "--images-dir", str(synth_dir), "--max-skipped", "0.5"]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "imported 6 of 10 rows" in printed.out and "skipped" in printed.err
    assert len((out / "labels.tsv").read_text().splitlines()) == 7
    # An existing folder is never written into; a rejected import names its problems and exits non-zero.
    assert main([*args, "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    rejected = ["import", "--source", "coco", str(coco), "--images-dir", str(synth_dir), "--on-error", "reject"]
    assert main([*rejected, "--out", str(tmp_path / "other")]) == 2
    assert "error:" in capsys.readouterr().err
