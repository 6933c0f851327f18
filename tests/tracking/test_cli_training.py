"""`crnn train` and `crnn train-detector` record ClearML tasks as the pipeline's train steps do (offline here)."""

from __future__ import annotations

import json
from pathlib import Path

from crnn.cli import main
from tests.helpers import TINY_TRAIN, session

TINY = [*TINY_TRAIN, "trainer.limit_val_batches=2"]


def _train(args: list[str], capsys) -> tuple[int, str]:
    rc = main(["train", *args])
    out = capsys.readouterr()
    if rc == 0:  # the result line names checkpoints that exist
        assert Path(json.loads(out.out.strip().splitlines()[-1])["best_checkpoint"]).is_file()
    return rc, out.err


def test_crnn_train_records_an_offline_task(offline: Path, synth_dir: Path, capsys):
    data = [f"data.train_tsv={synth_dir / 'crops.tsv'}", f"data.val_tsv={synth_dir / 'crops.tsv'}"]
    rc, err = _train([*TINY, *data, f"out_dir={offline / 'run'}", "optim.lr=0.001"], capsys)
    assert rc == 0, err
    zipped = err.split("offline session ")[1].split(")")[0]
    s = session(zipped)
    assert s["name"] == "train"
    assert s["params"]["train/optim.lr"] == "0.001"  # the configuration as the task's hyperparameters
    assert any(k.startswith("val") for k in s["scalars"]) and any("loss" in k for k in s["scalars"])
    assert "metrics" in s["artifacts"] and s["images"]  # batches and predictions drawn, as in the train step


def test_crnn_train_no_track_records_nothing(offline: Path, synth_dir: Path, capsys):
    data = [f"data.train_tsv={synth_dir / 'crops.tsv'}", f"data.val_tsv={synth_dir / 'crops.tsv'}"]
    rc, err = _train(["--no-track", *TINY, *data, f"out_dir={offline / 'run'}"], capsys)
    assert rc == 0, err
    assert "ClearML task" not in err and not list((offline / "clearml").rglob("*.zip"))
