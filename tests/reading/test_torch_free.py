"""`crnn read` on crops and on photos with torch, lightning, timm, clearml, onnx and numba made unimportable: reading
needs onnxruntime alone (the plain install)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

# The training and pipeline extras, and numba (`[fast]`): the plain install reads without any of them.
BLOCKED = (
    "torch",
    "torchvision",
    "lightning",
    "pytorch_lightning",
    "timm",
    "clearml",
    "onnx",
    "onnxscript",
    "numba",
    "llvmlite",
)
RUN_BLOCKED = f"""
import importlib.abc, sys
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: reading must not need it)")
        return None
sys.meta_path.insert(0, Blocked())
for name in list(sys.modules):
    if name.partition(".")[0] in {BLOCKED!r}:
        del sys.modules[name]
from crnn.cli import main
code = main(sys.argv[1:])
leaked = sorted(n for n in sys.modules if n.partition(".")[0] in {BLOCKED!r})
assert not leaked, leaked
sys.exit(code)
"""


def _read(args: list[str], blocked: bool) -> list[dict]:
    cmd = [sys.executable, "-c", RUN_BLOCKED, *args] if blocked else [sys.executable, "-m", "crnn.cli", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


@pytest.fixture
def crops(synth_dir: Path) -> Path:
    return synth_dir / "crops"


def test_the_blocker_blocks():
    res = subprocess.run(
        [sys.executable, "-c", RUN_BLOCKED.replace("from crnn.cli import main", "import torch")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode != 0 and "blocked: reading must not need it" in res.stderr


def test_read_crops_without_training_libraries(onnx_model: Path, crops: Path):
    args = ["read", "--model", str(onnx_model), "--json", "--quiet", str(crops)]
    rows = _read(args, blocked=True)
    assert len(rows) == len(list(crops.glob("*.png"))) > 0
    assert rows == _read(args, blocked=False)  # the same reads as with everything installed


def test_read_photos_without_training_libraries(onnx_model: Path, detector_onnx: Path, synth_dir: Path, tmp_path):
    photos = sorted((synth_dir / "images").glob("*"))[:3]
    assert photos
    # also a photo as a user might give it: RGB JPEG
    Image.open(photos[0]).convert("RGB").save(tmp_path / "photo.jpg")
    files = [str(p) for p in photos] + [str(tmp_path / "photo.jpg")]
    args = ["read", "--model", str(onnx_model), "--detector", str(detector_onnx), "--json", "--quiet", *files]
    rows = _read(args, blocked=True)
    assert [Path(r["file"]).name for r in rows] == [Path(f).name for f in files]
    assert all({"barcodes", "size"} <= set(r) for r in rows)
    assert rows == _read(args, blocked=False)
