"""Runs never share an output folder silently; a resumed run keeps its history; inputs checked before long work."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crnn import config
from crnn.recognizer.train import fit
from crnn.training.run_dir import LOCK, claim

REPO = Path(__file__).resolve().parents[2]


def test_a_folder_with_a_run_is_refused_unless_resuming_or_overwriting(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with claim(out, None, False):
        (out / "metrics.json").write_text("{}")
    assert not (out / LOCK).exists()  # released
    with (
        pytest.raises(ValueError, match=r"already holds a run \(metrics.json\).*overwrite=true"),
        claim(out, None, False),
    ):
        pass
    with claim(out, "ckpt", False), claim(tmp_path / "other", None, False):
        pass
    with claim(out, None, True):
        pass


def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK).write_text(str(alive.pid))
        with pytest.raises(ValueError, match=rf"in use by another run \(process {alive.pid}"), claim(out, None, True):
            pass
    finally:
        alive.kill()
        alive.wait()
    # The same lock from a process that is gone is taken over, and released after.
    with claim(out, None, True):
        assert (out / LOCK).read_text() == str(__import__("os").getpid())
    assert not (out / LOCK).exists()


def test_training_into_a_used_folder_is_refused_before_any_work(tiny_train_cfg, tmp_path: Path) -> None:
    out = Path(tiny_train_cfg.out_dir)
    out.mkdir(parents=True)
    (out / "checkpoints").mkdir()
    tiny_train_cfg.data.train_tsv = str(tmp_path / "data" / "synth" / "train" / "crops.tsv")
    tiny_train_cfg.data.synth.root = str(tmp_path / "data" / "synth")
    with pytest.raises(ValueError, match="already holds a run"):
        fit(tiny_train_cfg)
    assert not (tmp_path / "data").exists()  # nothing generated


@pytest.mark.parametrize("epochs", ["0", "-1"])
def test_max_epochs_below_one_is_a_config_error(epochs: str) -> None:
    with pytest.raises(ValueError, match=f"trainer.max_epochs must be at least 1, got {epochs}"):
        config.load(config.TrainConfig, REPO / "configs" / "train.yaml", [f"trainer.max_epochs={epochs}"])
    with pytest.raises(ValueError, match="trainer.max_epochs"):
        config.load(config.DetectorConfig, REPO / "configs" / "detector.yaml", [f"trainer.max_epochs={epochs}"])


def test_a_missing_resume_file_is_found_before_data_is_made(tiny_train_cfg, tmp_path: Path) -> None:
    tiny_train_cfg.resume = str(tmp_path / "nowhere.ckpt")
    tiny_train_cfg.data.train_tsv = str(tmp_path / "data" / "synth" / "train" / "crops.tsv")
    tiny_train_cfg.data.synth.root = str(tmp_path / "data" / "synth")
    with pytest.raises(ValueError, match="checkpoint not found: .*nowhere.ckpt"):
        fit(tiny_train_cfg)
    assert not (tmp_path / "data").exists() and not Path(tiny_train_cfg.out_dir).exists()
    from tests.test_cli import _fake_checkpoint

    tiny_train_cfg.resume = str(_fake_checkpoint(tmp_path / "det.ckpt", config.DetectorConfig()))
    with pytest.raises(ValueError, match="is a detector checkpoint: it cannot continue a recogniser training"):
        fit(tiny_train_cfg)


def test_a_mistyped_train_tsv_is_an_error_not_synthetic_data(tiny_train_cfg, tmp_path: Path) -> None:
    tiny_train_cfg.data.train_tsv = str(tmp_path / "mydata" / "train" / "crops.tsv")  # does not exist
    with pytest.raises(ValueError, match=r"data.train_tsv: labels file not found: .*mydata/train/crops.tsv"):
        fit(tiny_train_cfg)
    assert not (tmp_path / "mydata").exists()


@pytest.mark.slow
def test_resume_keeps_earlier_epochs_and_bad_images_are_skipped(tiny_train_cfg, synth_dir: Path, tmp_path) -> None:
    from tests.core.test_images import broken_idat_png

    # Training crops with two bad images: one whose header does not open (left out before training), one that
    # only fails to decode (another crop takes its place when the loader reaches it).
    data = tmp_path / "data"
    shutil.copytree(synth_dir / "crops", data / "crops")
    (data / "garbage.png").write_bytes(b"not an image")
    broken_idat_png(data / "broken.png")
    rows = (synth_dir / "crops.tsv").read_text().splitlines()
    text = rows[1].split("\t")[1]
    rows += [f"garbage.png\t{text}\t\t", f"broken.png\t{text}\t\t"]
    (data / "crops.tsv").write_text("\n".join(rows) + "\n")
    tiny_train_cfg.data.train_tsv = str(data / "crops.tsv")
    tiny_train_cfg.trainer.max_epochs = 1
    first = fit(tiny_train_cfg)
    assert any("garbage.png" in s for s in first.skipped_images)
    assert any("broken.png: SyntaxError" in s for s in first.skipped_images)
    out = Path(tiny_train_cfg.out_dir)
    assert [r["epoch"] for r in json.loads((out / "metrics.json").read_text())["history"]] == [0]

    tiny_train_cfg.trainer.max_epochs = 2
    tiny_train_cfg.resume = str(first.last_checkpoint)
    again = fit(tiny_train_cfg)
    saved = json.loads((out / "metrics.json").read_text())
    assert [r["epoch"] for r in saved["history"]] == [0, 1] == [r["epoch"] for r in again.history]
    # Resuming the finished run trains nothing and empties nothing.
    tiny_train_cfg.resume = str(again.last_checkpoint)
    done = fit(tiny_train_cfg)
    after = json.loads((out / "metrics.json").read_text())
    assert [r["epoch"] for r in after["history"]] == [0, 1]
    assert after["final"] == saved["final"] and after["final"] and done.metrics == saved["final"]


@pytest.mark.slow
def test_a_bad_image_met_by_a_loader_worker_is_counted(tiny_train_cfg, synth_dir: Path, tmp_path) -> None:
    """A loader worker is another process: what it skips reaches the result through the run folder's report."""
    from tests.core.test_images import broken_idat_png

    data = tmp_path / "data"
    shutil.copytree(synth_dir / "crops", data / "crops")
    broken_idat_png(data / "broken.png")
    rows = (synth_dir / "crops.tsv").read_text().splitlines()
    rows.append(f"broken.png\t{rows[1].split(chr(9))[1]}\t\t")
    (data / "crops.tsv").write_text("\n".join(rows) + "\n")
    tiny_train_cfg.data.train_tsv = str(data / "crops.tsv")
    tiny_train_cfg.data.num_workers = 1
    tiny_train_cfg.trainer.max_epochs = 1
    result = fit(tiny_train_cfg)
    assert [s for s in result.skipped_images if "broken.png" in s] == [
        next(s for s in result.skipped_images if "broken.png: SyntaxError" in s)
    ]


@pytest.mark.slow
def test_init_from_fine_tunes_from_a_trained_model_with_a_fresh_schedule(tiny_train_cfg, tmp_path: Path) -> None:
    import copy

    import torch
    from lightning.pytorch.callbacks import Callback

    from crnn.recognizer.checkpoint import load_checkpoint

    first = fit(tiny_train_cfg)
    seen: dict = {}

    class StartingWeights(Callback):
        def on_train_start(self, trainer, module) -> None:  # type: ignore[no-untyped-def]
            seen.update({k: v.detach().clone() for k, v in module.model.state_dict().items()})

    tuned = copy.deepcopy(tiny_train_cfg)
    tuned.out_dir, tuned.init_from, tuned.trainer.max_epochs = str(tmp_path / "tuned"), first.best_checkpoint, 1
    fit(tuned, callbacks=[StartingWeights()])
    trained, _ = load_checkpoint(first.best_checkpoint)
    assert seen and all(torch.equal(seen[k], v) for k, v in trained.state_dict().items())
    history = json.loads((tmp_path / "tuned" / "metrics.json").read_text())["history"]
    assert [r["epoch"] for r in history] == [0]  # a new run: its own epochs, not the first run's

    other = copy.deepcopy(tuned)
    other.out_dir, other.model.rnn_hidden = str(tmp_path / "other"), 64
    with pytest.raises(ValueError, match="another architecture"):
        fit(other)
    both = copy.deepcopy(tuned)
    both.out_dir, both.resume = str(tmp_path / "both"), first.best_checkpoint
    with pytest.raises(ValueError, match="not both"):
        fit(both)


def test_a_mix_draws_each_source_by_its_weight_whatever_its_size() -> None:
    import torch

    from crnn.recognizer.train import mix_sampler

    sampler = mix_sampler([900, 100], [1.0, 1.0], torch.Generator().manual_seed(0))
    drawn = list(sampler)
    assert len(drawn) == 1000
    mine = sum(i >= 900 for i in drawn) / len(drawn)
    assert 0.45 < mine < 0.55  # half from the 100 crops, half from the 900


@pytest.mark.slow
def test_training_mixes_your_crops_with_the_synthetic_ones(tiny_train_cfg, synth_dir: Path, tmp_path: Path) -> None:
    from crnn.config.train import MixConfig

    mine = tmp_path / "mine"
    shutil.copytree(synth_dir / "crops", mine / "crops")
    rows = (synth_dir / "crops.tsv").read_text().splitlines()
    (mine / "crops.tsv").write_text("\n".join(rows[:9]) + "\n")
    tiny_train_cfg.data.mix = [MixConfig(str(mine / "crops.tsv"), 3.0)]
    tiny_train_cfg.trainer.max_epochs = 1
    assert fit(tiny_train_cfg).best_checkpoint
    tiny_train_cfg.data.mix = [MixConfig(str(tmp_path / "typo.tsv"), 1.0)]
    tiny_train_cfg.out_dir = str(tmp_path / "second")
    with pytest.raises(ValueError, match=r"data.mix\[0\].tsv: labels file not found"):
        fit(tiny_train_cfg)
