"""Fuzzing the readers and importers with mutated real files (seeded, so a failure reproduces): corrupt PNGs and
JPEGs, TSVs and COCO JSON through the public functions and the command line. Nothing may raise past the CLI, and
every error names its file."""

from __future__ import annotations

import io
import json
import math
import random
import shutil
from pathlib import Path

import pytest
from PIL import Image

from crnn import cli, config
from crnn.config.steps import DatasetConfig
from crnn.core.codec import Codec
from crnn.core.images import ImageError, image_size, load_image
from crnn.core.labels import read_tsv
from crnn.datasets.importers import import_dataset

SEED = 34


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three of: flipped bytes, a cut, inserted junk, a zeroed run, a repeated block."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        i = rng.randrange(max(1, len(b)))
        if op == 0:
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 1:
            del b[i:]
        elif op == 2:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 3:
            b[i : i + rng.randint(1, 64)] = bytes(min(64, len(b) - i))
        else:
            j = min(len(b), i + rng.randint(1, 64))
            b[j:j] = b[i:j]
        if not b:
            break
    return bytes(b)


def _originals(synth_dir: Path) -> dict[str, bytes]:
    crop = Image.open(sorted((synth_dir / "crops").glob("*.png"))[0]).convert("RGB")
    out = {}
    for name, im, kw in (
        ("png", crop, {}),
        ("p.png", crop.convert("P"), {}),
        ("jpg", crop, {"quality": 90, "exif": _exif()}),
        ("la.png", crop.convert("LA"), {}),
    ):
        buf = io.BytesIO()
        im.save(buf, "JPEG" if name == "jpg" else "PNG", **kw)
        out[name] = buf.getvalue()
    return out


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif.tobytes()


def test_corrupt_images_never_raise_past_the_loader_or_the_cli(
    synth_dir: Path, tmp_path: Path, onnx_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED)
    folder = tmp_path / "images"
    folder.mkdir()
    originals = _originals(synth_dir)
    for k in range(96):
        suffix = rng.choice(sorted(originals))
        (folder / f"{k:03d}.{suffix}").write_bytes(mutate(originals[suffix], rng))
    files = sorted(folder.iterdir())
    bad = set()
    for f in files:
        for load in (load_image, image_size):
            try:
                out = load(f)
            except ImageError as e:
                assert str(f) in str(e)
                bad.add(f.name)
            else:
                assert load is image_size or (out.mode == "RGB" and min(out.size) > 0)
    assert 10 < len(bad) < len(files)  # the mutations hit: some files fail, some still decode

    rc = cli.main(["read", "--model", str(onnx_model), "--quiet", "--views", "none", str(folder)])
    out, err = capsys.readouterr()
    assert rc == 1
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors and all(any(str(f) in line for f in files) for line in errors)
    assert len(out.splitlines()) + len(errors) == len(files)


def test_corrupt_tsvs_are_errors_naming_the_file(
    synth_dir: Path, tmp_path: Path, onnx_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED)
    shutil.copytree(synth_dir / "crops", tmp_path / "crops")
    original = (synth_dir / "crops.tsv").read_bytes()
    specials = [b"\x00", b"\t", b"\n", b"\r", b'"', b"\xef\xbb\xbf", b"\xff\xfe", b"../", b"\\", b"-"]
    for k in range(40):
        data = mutate(original, rng)
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(len(data) + 1)
            data = data[:i] + rng.choice(specials) + data[i:]
        tsv = tmp_path / f"crops{k}.tsv"
        tsv.write_bytes(data)
        try:
            read_tsv(tsv, Codec())
        except ValueError as e:
            assert str(tsv) in str(e), e
        if k % 8 == 0:  # the command line too: a message, never a traceback
            rc = cli.main(["evaluate", "--model", str(onnx_model), "--data", str(tsv), "--views", "none"])
            err = capsys.readouterr().err
            assert rc in (0, 1, 2)
            assert rc == 0 or str(tsv) in err or "cannot read image" in err, err
        for source in ("crops", "tsv"):
            cfg = config.load(DatasetConfig, overrides=[f"source={source}", f"path={tsv}", "max_skipped_fraction=1"])
            try:
                report = import_dataset(cfg, tmp_path / f"raw{k}{source}", progress=False)
            except ValueError as e:
                assert str(tsv) in str(e), e
            else:
                assert all(str(tsv) in str(i) for i in report.issues)


def _replace_somewhere(node: object, rng: random.Random, junk: list) -> object:
    """`node` with one value somewhere inside replaced by a junk value."""
    if isinstance(node, dict) and node and rng.random() < 0.8:
        k = rng.choice(list(node))
        return {**node, k: _replace_somewhere(node[k], rng, junk)}
    if isinstance(node, list) and node and rng.random() < 0.8:
        i = rng.randrange(len(node))
        return [*node[:i], _replace_somewhere(node[i], rng, junk), *node[i + 1 :]]
    return rng.choice(junk)


def test_corrupt_coco_files_are_skipped_or_errors_naming_the_file(synth_dir: Path, tmp_path: Path) -> None:
    from tests.datasets.test_importers import _coco

    rng = random.Random(SEED)
    good = json.loads(_coco(synth_dir, tmp_path, normalized=False).read_text())
    junk = [None, math.inf, -math.inf, math.nan, "x", "", [], {}, -1, 0, 1e308, True, [1, 2], {"a": 1}, "../x.png"]
    for k in range(60):
        path = tmp_path / f"coco{k}.json"
        if k % 3 == 0:
            path.write_bytes(mutate(json.dumps(good).encode(), rng))
        else:
            doc: object = good
            for _ in range(rng.randint(1, 4)):
                doc = _replace_somewhere(doc, rng, junk)
            path.write_text(json.dumps(doc))
        cfg = config.load(
            DatasetConfig,
            overrides=["source=coco", f"path={path}", f"images_dir={synth_dir}", "max_skipped_fraction=1"],
        )
        try:
            report = import_dataset(cfg, tmp_path / f"raw{k}", progress=False)
        except ValueError as e:
            assert str(path) in str(e), e
        else:
            assert report.imported > 0 and all(str(path) in str(i) for i in report.issues)
