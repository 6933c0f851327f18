"""Shared fixtures: tiny synthetic data made once per session, and a shrunken training config."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Tests never talk to a ClearML server and never download anything.
os.environ.setdefault("CLEARML_OFFLINE_MODE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# ClearML reports through a process forked from the one calling Task.init. Forked from this test process, whose
# other threads (torch, onnxruntime, ClearML's own) may hold locks at that moment, the child can deadlock holding
# ClearML's shared lock, and the test process then waits on it for ever (a CI run timed out so). The tests report
# from their own thread instead: ClearML's switch for it, in a clearml.conf of the test session's own.
# Each task also detects its repository: in a thread by default, which ClearML kills when the task closes if it has
# not finished within 10 s (a loaded machine), and its kill on Python 3.11 raises SystemError ("exception SystemExit()
# is not a BaseException subclass": it passes an instance where CPython takes a class); a pipeline run of the server
# tests once ended so. The tests detect it in the task's own thread instead.
_CONF = Path(tempfile.mkdtemp(prefix="clearml-tests-")) / "clearml.conf"
_CONF.write_text("sdk {\n  development {\n    report_use_subprocess: false\n    vcs_repo_detect_async: false\n  }\n}\n")
os.environ["CLEARML_CONFIG_FILE"] = str(_CONF)

REPO = Path(__file__).resolve().parents[1]
REAL_CROPS = REPO.parent / "shared" / "data" / "real-dev" / "crops.tsv"


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """96 synthetic scenes + crops (crops.tsv, annotations.tsv)."""
    from crnn import synth

    out = tmp_path_factory.mktemp("synth")
    synth.generate(out, count=96, seed=123, workers=2, progress=False)
    (out / synth.STAMP).unlink()  # labelled data of the tests' own: trained on as it is, whatever the settings
    return out


@pytest.fixture
def tiny_train_cfg(synth_dir: Path, tmp_path: Path):
    """The default config shrunk to seconds: small model, 2 epochs on the 96 synthetic crops."""
    from crnn import config

    return config.load(
        config.TrainConfig,
        REPO / "configs" / "train.yaml",
        [
            f"data.train_tsv={synth_dir / 'crops.tsv'}",
            f"data.val_tsv={synth_dir / 'crops.tsv'}",
            "data.real_tsv=null",
            "data.batch_size=16",
            "data.num_workers=0",
            "model.neck_channels=32",
            "model.rnn_hidden=32",
            "model.rnn_layers=1",
            "trainer.max_epochs=2",
            "trainer.limit_val_batches=2",
            "erasure_prior=0.01",  # not the default, so tests see it carried into checkpoints and exports
            "erasable=[EAN-13]",  # ditto
            "input.x_stretch=1.5",  # ditto
            "ean13_lead0_prior=0.5",  # ditto
            f"out_dir={tmp_path / 'run'}",
        ],
    )


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ClearML offline with its cache, sessions and ~/.clearml under tmp_path; the local store there too."""
    monkeypatch.setenv("CLEARML_OFFLINE_MODE", "1")
    monkeypatch.setenv("CLEARML_CACHE_DIR", str(tmp_path / "clearml"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # ClearML keeps a session cache in ~/.clearml
    monkeypatch.setenv("CRNN_STORE", str(tmp_path / "store"))
    monkeypatch.chdir(REPO)
    return tmp_path


@pytest.fixture(scope="session")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained recogniser with the default architecture, exported (for plumbing tests, not accuracy)."""
    from crnn import config
    from crnn.recognizer.export import export_model
    from crnn.recognizer.model import CRNN

    cfg = config.load(config.TrainConfig, REPO / "configs" / "train.yaml")
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    export_model(CRNN(cfg.model, cfg.input), cfg, out)
    return out


@pytest.fixture(scope="session")
def photos_tsv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two generator scenes as labelled whole photos: a `filename<TAB>text<TAB>group` TSV beside the images,
    files named alone (like ../shared/data/real-dev/photos.tsv), groups g0 and g1."""
    import csv

    from crnn import synth

    out = tmp_path_factory.mktemp("photos")
    synth.generate(out, count=2, seed=7, workers=1, progress=False)
    with open(out / "annotations.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    lines = ["filename\ttext\tgroup"] + [f"{Path(r['filename']).name}\t{r['code']}\tg{i}" for i, r in enumerate(rows)]
    tsv = out / "images" / "photos.tsv"
    tsv.write_text("\n".join(lines) + "\n")
    return tsv


@pytest.fixture(scope="session")
def detector_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained detector with the default architecture, exported (for plumbing tests, not accuracy)."""
    import torch

    from crnn import config
    from crnn.detector.export import export_detector_net
    from crnn.detector.model import DetectorNet

    cfg = config.load(config.DetectorConfig, REPO / "configs" / "detector.yaml")
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("onnx") / "detector.onnx"
    export_detector_net(DetectorNet(cfg.model).eval(), cfg, out)
    return out
