"""Each step script on its own, offline: config + inputs by ID in, outputs by ID and an offline session out."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import TINY_TRAIN, session

REPO = Path(__file__).resolve().parents[2]


TINY_DETECTOR = [
    "data.synth.train_count=16",
    "data.synth.val_count=4",
    "data.synth.workers=1",
    "data.batch_size=8",
    "data.num_workers=0",
    "input.size=160",
    "trainer.max_epochs=1",
    "trainer.log_every_n_steps=1",
    "overlays=2",
]


def _main(step: str, argv: list[str], capsys) -> dict:
    import importlib

    module = importlib.import_module(f"steps.{step}")
    rc = module.main(argv)
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0, out
    return json.loads(out[-1])


@pytest.mark.slow
def test_each_step_standalone_offline(offline, capsys):
    work = ["--work-dir"]
    ds = _main("dataset", [*work, str(offline / "w1"), "synthetic.count=48", "synthetic.workers=1"], capsys)
    s = session(ds["offline_session"])
    assert s["params"]["dataset/synthetic.count"] == "48"
    assert s["params"]["Outputs/dataset_id"] == ds["outputs"]["dataset_id"]
    assert s["scalars"]["import/imported"] == [48.0]

    pre = _main("preprocess", [*work, str(offline / "w2"), "--raw-dataset-id", ds["outputs"]["dataset_id"]], capsys)
    s = session(pre["offline_session"])
    assert s["params"]["Inputs/raw_dataset_id"] == ds["outputs"]["dataset_id"]
    assert sum(pre["outputs"][f"{k}_size"] for k in ("train", "val", "test")) == 48 and s["images"]
    from crnn.tracking.store import LocalStore

    store = LocalStore(offline / "store")
    assert store.dataset_info(pre["outputs"]["dataset_id"])["parents"] == [ds["outputs"]["dataset_id"]]

    tr = _main("train", [*work, str(offline / "w3"), "--dataset-id", pre["outputs"]["dataset_id"], *TINY_TRAIN], capsys)
    s = session(tr["offline_session"])
    assert s["params"]["train/model.rnn_hidden"] == "32"
    assert {"train/loss", "val/exact_match", "val/cer"} <= set(s["scalars"])
    assert any(k.startswith("learning_rate/") for k in s["scalars"])
    assert any("augmented batch" in n for n in s["images"]) and any("val predictions" in n for n in s["images"])
    assert store.model_path(tr["outputs"]["model_id"]).suffix == ".ckpt"
    # The best checkpoint carries the best epoch's score (not the last epoch's), and so does the step's output.
    best_score = max(s["scalars"]["val/exact_match"])
    assert store.model_info(tr["outputs"]["model_id"])["metadata"]["val/exact_match"] == pytest.approx(best_score)
    assert tr["outputs"]["val_exact_match"] == pytest.approx(best_score)

    # Resume from the last checkpoint by model ID, one more epoch.
    tr2 = _main(
        "train",
        [
            *work,
            str(offline / "w3b"),
            "--dataset-id",
            pre["outputs"]["dataset_id"],
            "--resume-model-id",
            tr["outputs"]["last_model_id"],
            *TINY_TRAIN,
            "trainer.max_epochs=2",
        ],
        capsys,
    )
    assert tr2["outputs"]["epochs"] == 2

    # Your own data by ID: fine-tune the best model (its weights, a new run of its own epochs) with a crops dataset's
    # train split mixed in at data.mix_weight (the same dataset here).
    from crnn.config.train import MixConfig
    from crnn.recognizer.checkpoint import load_checkpoint

    own = ["--init-model-id", tr["outputs"]["model_id"], "--mix-dataset-id", pre["outputs"]["dataset_id"]]
    tr3 = _main(
        "train",
        [
            *work,
            str(offline / "w3c"),
            "--dataset-id",
            pre["outputs"]["dataset_id"],
            *own,
            *TINY_TRAIN,
            "data.mix_weight=0.5",
        ],
        capsys,
    )
    assert tr3["outputs"]["epochs"] == 1
    s = session(tr3["offline_session"])
    assert s["params"]["Inputs/init_model_id"] == tr["outputs"]["model_id"]
    assert s["params"]["Inputs/mix_dataset_id"] == pre["outputs"]["dataset_id"]
    _, cfg = load_checkpoint(store.model_path(tr3["outputs"]["model_id"]))
    assert cfg.init_from == str(store.model_path(tr["outputs"]["model_id"]))
    mine = store.dataset_path(pre["outputs"]["dataset_id"]) / "train" / "crops.tsv"
    assert cfg.data.mix == [MixConfig(str(mine), 0.5)] and cfg.data.train_weight == 1.0
    meta = store.model_info(tr3["outputs"]["model_id"])["metadata"]
    assert meta["init_model_id"] == tr["outputs"]["model_id"] and meta["mix_dataset_id"] == pre["outputs"]["dataset_id"]
    # A raw dataset is not crops: the step fails naming what to give instead.
    from steps import train

    raw_mix = ["--dataset-id", pre["outputs"]["dataset_id"], "--mix-dataset-id", ds["outputs"]["dataset_id"]]
    assert train.main(["--work-dir", str(offline / "w3d"), *raw_mix, *TINY_TRAIN]) == 1
    assert "has no train/crops.tsv" in capsys.readouterr().err

    ids = ["--model-id", tr["outputs"]["model_id"], "--dataset-id", pre["outputs"]["dataset_id"]]
    # The test split's crops stand in for the real ones (`real_tsv`), which also get a table per distinct number.
    real = store.dataset_path(pre["outputs"]["dataset_id"]) / "test" / "crops.tsv"
    ev = _main("evaluate", [*work, str(offline / "w4"), *ids, "threshold=0", f"real_tsv={real}"], capsys)
    metrics = json.loads(Path(ev["outputs"]["metrics_file"]).read_text())
    assert set(metrics["sets"]) == {"val", "test", "real"}
    assert 0 <= metrics["sets"]["test"]["exact_match"] <= 1 and metrics["sets"]["test"]["per_format"]
    numbers = metrics["sets"]["real"]["per_number"]
    assert sum(r["n"] for r in numbers) == metrics["sets"]["real"]["n"] and "per_number" not in metrics["sets"]["test"]
    s = session(ev["offline_session"])
    assert "test/exact_match" in s["scalars"] and any("confusion" in n for n in s["images"])
    assert "per number/real" in s["plots"] and "per number/test" not in s["plots"]
    assert {"confidence floor/test", "confidence floor/val"} <= set(s["plots"]) and "test/sure_coverage" in s["scalars"]
    # The same figures as one page for people, a section per set, attached to the task.
    report = Path(ev["outputs"]["report_file"]).read_text(encoding="utf-8")
    assert "report" in s["artifacts"] and all(f"<h2>{k}</h2>" in report for k in ("val", "test", "real"))

    ex = _main("export", [*work, str(offline / "w5"), *ids], capsys)
    assert Path(ex["outputs"]["onnx_file"]).is_file() and ex["outputs"]["parity_max_abs_diff"] < 1e-3
    assert store.model_info(ex["outputs"]["onnx_model_id"])["metadata"]["charset"] == "0123456789"

    # The accuracy gate: under the threshold the step fails with a message, exit status 1.
    from steps import evaluate

    assert evaluate.main(["--work-dir", str(offline / "w6"), *ids, "threshold=1.01", "real_tsv=null"]) == 1
    assert "under the threshold" in capsys.readouterr().err


def test_step_script_runs_as_a_file(offline):
    """What an agent does: `python steps/dataset.py ...` from the repository root."""
    # Task.init in this process (earlier tests) leaves CLEARML_PROC_MASTER_ID / CLEARML_TASK_ID behind, which
    # would make the child attach to that task as a subprocess of it; an agent starts from a clean environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_PROC_", "CLEARML_TASK_", "TRAINS_"))}
    r = subprocess.run(
        [
            sys.executable,
            "steps/dataset.py",
            "--work-dir",
            str(offline / "w"),
            "synthetic.count=8",
            "synthetic.workers=1",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["outputs"]["dataset_id"].startswith("ds-") and Path(out["offline_session"]).is_file()


def test_bad_import_fails_the_step_with_file_and_line(offline, tmp_path, capsys):
    tsv = tmp_path / "labels.tsv"
    tsv.write_text("filename\tcode\tx_from\ty_from\twidth\theight\nimages/missing.jpg\t123\t0\t0\t5\t5\n")
    from steps import dataset

    assert dataset.main(["--work-dir", str(tmp_path / "w"), "source=tsv", f"path={tsv}"]) == 1
    assert "labels.tsv:2" in capsys.readouterr().err


def test_bad_override_is_rejected_before_any_task(offline, capsys):
    from steps import train

    assert train.main(["--dataset-id", "x", "optim.lrr=1"]) == 1
    assert "lrr" in capsys.readouterr().err


@pytest.mark.slow
def test_detector_steps_and_photo_evaluation_standalone_offline(offline, capsys, caplog, onnx_model, photos_tsv):
    import logging

    from crnn.detector.data import read_scenes
    from crnn.tracking.store import LocalStore

    caplog.set_level(logging.INFO)
    store = LocalStore(offline / "store")
    # A raw dataset of whole scenes with boxes: they join the (generated) synthetic scenes.
    raw = ["synthetic.count=8", "synthetic.workers=1", "synthetic.images=scenes"]
    ds = _main("dataset", ["--work-dir", str(offline / "w1"), *raw], capsys)
    ds_id = ds["outputs"]["dataset_id"]
    scenes = offline / "scenes"
    dirs = [f"data.train_dirs=[{scenes / 'train'}]", f"data.val_dir={scenes / 'val'}"]
    tr = _main(
        "detector_train", ["--work-dir", str(offline / "w2"), "--raw-dataset-id", ds_id, *TINY_DETECTOR, *dirs], capsys
    )
    assert f"raw dataset {ds_id}: 8 boxes join the synthetic scenes" in caplog.text
    assert len(read_scenes(scenes / "train")) == 16 and len(read_scenes(scenes / "val")) == 4
    s = session(tr["offline_session"])
    assert s["params"]["Inputs/raw_dataset_id"] == ds_id
    assert s["params"]["detector_train/input.size"] == "160"
    assert {"train/loss", "val/recall", "val/precision", "val/f1"} <= set(s["scalars"])
    assert any("detector overlays" in n for n in s["images"])
    assert {"predictions_epoch_000", "metrics"} <= set(s["artifacts"])
    best = store.model_info(tr["outputs"]["model_id"])
    assert best["name"] == "barcode-detector-best" and best["file"].endswith(".ckpt")
    assert best["metadata"]["raw_boxes"] == 8 and best["metadata"]["input_size"] == 160
    assert 0.0 <= tr["outputs"]["val_f1"] <= 1.0 and tr["outputs"]["val_f1"] == max(s["scalars"]["val/f1"])
    assert store.model_info(tr["outputs"]["last_model_id"])["name"] == "barcode-detector-last"
    # Resume from the last checkpoint by model ID, one more epoch.
    resumed = [*TINY_DETECTOR, *dirs, "trainer.max_epochs=2", "--resume-model-id", tr["outputs"]["last_model_id"]]
    tr2 = _main("detector_train", ["--work-dir", str(offline / "w2b"), "--raw-dataset-id", ds_id, *resumed], capsys)
    assert tr2["outputs"]["epochs"] == 2

    ex = _main("detector_export", ["--work-dir", str(offline / "w3"), "--model-id", tr["outputs"]["model_id"]], capsys)
    assert ex["outputs"]["parity_max_abs_diff"] < 1e-3
    onnx = store.model_info(ex["outputs"]["model_id"])
    assert onnx["name"] == "barcode-detector-onnx" and onnx["file"] == "detector.onnx"
    assert onnx["metadata"]["source_model_id"] == tr["outputs"]["model_id"] and onnx["metadata"]["input_size"] == 160
    assert "parity/max_abs_diff" in session(ex["offline_session"])["scalars"]

    # The recogniser as the export step would register it; photos_tsv: two labelled photos, groups g0, g1.
    rec_id = store.add_model(onnx_model, "crnn-barcode-onnx")
    ids = ["--detector-model-id", ex["outputs"]["model_id"], "--recogniser-model-id", rec_id]
    ph = _main("photo_evaluate", ["--work-dir", str(offline / "w4"), *ids, f"photos_tsv={photos_tsv}"], capsys)
    out = ph["outputs"]
    assert out["n"] == 2 and all(0.0 <= out[k] <= 1.0 for k in ("read", "found", "zxing", "either"))
    assert out["either"] >= max(out["read"], out["zxing"]) and out["seconds_per_photo"] > 0
    assert out["failures"] == round(2 * (1 - out["read"]))
    assert out["read_any"] >= out["read"] and out["read"] + out["wrong_sure"] <= 1.0
    metrics = json.loads(Path(out["metrics_file"]).read_text())
    assert metrics["n"] == 2 and set(metrics["per_group"]) == {"g0", "g1"}
    assert all(g["n"] == 1 for g in metrics["per_group"].values())
    s = session(ph["offline_session"])
    assert s["params"]["Inputs/detector_model_id"] == ex["outputs"]["model_id"]
    assert s["scalars"]["photos/read"] == [pytest.approx(out["read"])] and "photos/seconds_per_photo" in s["scalars"]
    assert {"failures", "photo_metrics"} <= set(s["artifacts"])
    assert metrics["detector_model_id"] == ex["outputs"]["model_id"] and metrics["recogniser_model_id"] == rec_id

    # No photos TSV where the step runs offline: n = 0 with a warning naming it, and the step passes (on a server
    # it fails: tests/tracking, test_real_data_missing_on_a_server_is_an_error_not_a_silent_skip).
    missing = offline / "missing.tsv"
    ph0 = _main("photo_evaluate", ["--work-dir", str(offline / "w5"), *ids, f"photos_tsv={missing}"], capsys)
    assert ph0["outputs"]["n"] == 0 and math.isnan(ph0["outputs"]["read"])
    assert f"photos_tsv={missing} is not on this machine" in caplog.text

    # The gate: a share read under the threshold fails the step with a message.
    from steps import photo_evaluate

    argv = ["--work-dir", str(offline / "w6"), *ids, f"photos_tsv={photos_tsv}", "threshold=1.01", "zxing=false"]
    assert photo_evaluate.main(argv) == 1
    assert "under the threshold 1.01" in capsys.readouterr().err
