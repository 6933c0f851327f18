"""ClearML plumbing that needs no server: config <-> hyperparameters, the local store, server detection."""

from pathlib import Path

import numpy as np
import pytest

from crnn import config, tracking
from crnn.config import SCHEMAS
from crnn.config.train import TrainConfig
from crnn.evaluation.visualize import DELETED, align, char_confusion, confusion_image, prediction_gallery
from crnn.tracking.params import flatten, unflatten
from crnn.tracking.store import LocalStore


@pytest.mark.parametrize("schema", sorted(set(SCHEMAS.values()), key=lambda s: s.__name__))
def test_every_config_round_trips_through_hyperparameters(schema):
    cfg = config.load(schema)
    flat, encoded = flatten(cfg)
    assert all(isinstance(v, (str, int, float, bool)) for v in flat.values())
    assert unflatten(schema, flat, encoded) == cfg


def test_ui_edits_arrive_as_strings_and_are_validated():
    cfg = config.load(TrainConfig)
    flat, encoded = flatten(cfg)
    assert flat["model.out_indices"] == str(cfg.model.out_indices) and flat["resume"] == "null"
    assert flat["input.charset"] == "0123456789"
    # What an agent hands back after edits in the web UI: strings for the encoded keys.
    flat |= {"optim.lr": 3e-4, "model.out_indices": "[1, 2]", "resume": "runs/last.ckpt", "data.real_tsv": "null"}
    got = unflatten(TrainConfig, flat, encoded)
    assert got.optim.lr == pytest.approx(3e-4) and got.model.out_indices == [1, 2]
    assert got.resume == "runs/last.ckpt" and got.data.real_tsv is None
    assert got.input.charset == "0123456789"  # stays a string, leading zero kept
    with pytest.raises(ValueError, match="rnn"):
        unflatten(TrainConfig, flat | {"model.rnn": "transformer"}, encoded)


def test_local_store_is_content_addressed_with_parents(tmp_path):
    store = LocalStore(tmp_path / "store")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("one")
    raw = store.add_dataset(tmp_path / "a", "raw")
    stored = store.dataset_path(raw) / "x.txt"
    mtime = stored.stat().st_mtime_ns
    assert store.add_dataset(tmp_path / "a", "raw") == raw  # unchanged: same version, nothing copied
    assert stored.stat().st_mtime_ns == mtime
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "y.txt").write_text("two")
    child = store.add_dataset(tmp_path / "b", "crops", parents=[raw])
    assert store.dataset_info(child)["parents"] == [raw]
    assert store.lineage(child) == [child, raw]
    (tmp_path / "a" / "x.txt").write_text("changed")
    assert store.add_dataset(tmp_path / "a", "raw") != raw
    with pytest.raises(ValueError, match="not found"):
        store.add_dataset(tmp_path / "b", "crops", parents=["ds-missing"])
    (tmp_path / "m.bin").write_bytes(b"weights")
    mid = store.add_model(tmp_path / "m.bin", "net", {"k": 1})
    assert store.model_path(mid).read_bytes() == b"weights" and store.model_info(mid)["metadata"] == {"k": 1}


def test_server_detection(monkeypatch, tmp_path):
    monkeypatch.delenv("CLEARML_API_HOST", raising=False)
    monkeypatch.setenv("CLEARML_CONFIG_FILE", str(tmp_path / "none.conf"))
    monkeypatch.setenv("CLEARML_OFFLINE_MODE", "0")
    assert tracking.api_host() is None and not tracking.server_configured()
    conf = tmp_path / "clearml.conf"
    conf.write_text('api {\n  api_server: "http://127.0.0.1:9"\n}\n')
    monkeypatch.setenv("CLEARML_CONFIG_FILE", str(conf))
    assert tracking.api_host() == "http://127.0.0.1:9" and tracking.server_configured()
    with pytest.raises(tracking.ServerUnreachable, match="unreachable"):
        tracking.check_server(timeout=2)
    monkeypatch.setenv("CLEARML_OFFLINE_MODE", "1")
    assert not tracking.server_configured()


def test_alignment_and_confusion():
    assert align("1284", "1234") == [("1", "1"), ("2", "2"), ("3", "8"), ("4", "4")]
    assert align("124", "1234") == [("1", "1"), ("2", "2"), ("3", DELETED), ("4", "4")]
    labels, m = char_confusion(["1284", "124", "12345"], ["1234", "1234", "1234"], "0123456789")
    i = labels.index
    assert m[i("3"), i("8")] == 1 and m[i("3"), i(DELETED)] == 1 and m[i(DELETED), i("5")] == 1
    assert m[i("1"), i("1")] == 3
    im = confusion_image(labels, m)
    assert im.width > 300 and np.asarray(im).std() > 0


def test_prediction_gallery_marks_failures_red():
    from PIL import Image

    crops = [Image.new("RGB", (120, 30), "white")] * 2
    im = prediction_gallery(crops, ["123", "128"], ["123", "123"], [0.9, 0.4], cols=2)
    arr = np.asarray(im)
    red = (arr[..., 0] > 150) & (arr[..., 1] < 80)
    green = (arr[..., 1] > 100) & (arr[..., 0] < 80)
    assert red[:, im.width // 2 :].any() and not red[:, : im.width // 2].any() and green.any()


def test_each_task_gets_its_own_work_dir(offline, monkeypatch):
    """Two runs of one step script (two pipelines at once, or a rerun) never share a folder: the default work dir
    is named after the task."""
    from crnn.tracking.steps import run_step

    monkeypatch.chdir(offline)
    seen = []

    def fn(cfg, tracker, work_dir, **inputs):
        seen.append(work_dir)
        (work_dir / "detector.onnx").write_text(str(len(seen)))
        return {"n": len(seen)}

    cfg = config.EvaluateConfig()
    for _ in range(2):
        run_step("detector_export", cfg, {}, fn, project="t", store_dir=offline / "store", task_type="testing")
    assert len(set(seen)) == 2 and all(p.parent == Path("runs/steps/detector_export") for p in seen)
    assert [(p / "detector.onnx").read_text() for p in seen] == ["1", "2"]  # the first run's file is intact


def test_real_data_missing_on_a_server_is_an_error_not_a_silent_skip(tmp_path):
    """On an agent the checkout has no ../shared: a configured real-data path that is missing fails the step, naming
    the key; offline it is a warning in the step's report, and a file that is there is used."""
    from types import SimpleNamespace

    from crnn.tracking.store import LocalStore
    from crnn.tracking.tracker import Tracker

    said: list[str] = []
    task = SimpleNamespace(get_logger=lambda: SimpleNamespace(report_text=said.append))
    here = tmp_path / "photos.tsv"
    here.write_text("filename\ttext\n")
    missing = str(tmp_path / "nope.tsv")
    server, offline = Tracker(task, None), Tracker(task, LocalStore(tmp_path / "store"))
    assert server.local_data(None, "photos_tsv") is None and server.local_data(str(here), "photos_tsv") == here
    with pytest.raises(ValueError, match="photos_tsv=.*nope.tsv is not on this machine"):
        server.local_data(missing, "photos_tsv")
    assert offline.local_data(missing, "real_tsv") is None
    assert said and "real_tsv" in said[0] and "WARNING" in said[0]


def test_input_models_load_by_the_id_given_named_and_never_swapped(monkeypatch):
    """On an agent ClearML replaces a connected InputModel with the task's recorded input model of the same name,
    else its first one (clearml/model.py, InputModel.connect), unless connected with ignore_remote_overrides: so
    photo_evaluate's recogniser loaded as its first detector (D2), and an edited Inputs ID of a clone had no effect
    (D6). Each input model is connected under its input's name, with remote overrides ignored."""
    from types import SimpleNamespace

    import clearml

    from crnn.tracking.tracker import Tracker

    connected = []

    class FakeInputModel:
        def __init__(self, model_id):
            self.id = model_id

        def connect(self, task, name=None, ignore_remote_overrides=False):
            connected.append((self.id, name, ignore_remote_overrides))

        def get_local_copy(self):
            return f"/models/{self.id}.onnx"

    monkeypatch.setattr(clearml, "InputModel", FakeInputModel)
    tracker = Tracker(SimpleNamespace(), None)  # server mode
    got = [tracker.model("det-a", "detector_model_id"), tracker.model("rec", "recogniser_model_id")]
    assert got == [Path("/models/det-a.onnx"), Path("/models/rec.onnx")]
    assert connected == [("det-a", "detector_model_id", True), ("rec", "recogniser_model_id", True)]
    with pytest.raises(ValueError, match="Inputs/recogniser_model_id is empty"):
        tracker.model("", "recogniser_model_id")


def test_a_bad_ui_edit_fails_the_step_naming_the_key():
    from tests.helpers import AgentTask

    """D5: ClearML casts an agent's parameters to the connected values' types and keeps the default when that fails
    (`max_epochs="ten"` trained 10 epochs); connected as text, the schema judges every edit."""
    from crnn.tracking.tracker import Tracker

    cfg = config.load(TrainConfig)
    good = Tracker(AgentTask("train", {"trainer.max_epochs": "12", "optim.lr": "3e-4"}), None)
    got = good.connect_config(cfg, "train")
    assert got.trainer.max_epochs == 12 and got.optim.lr == pytest.approx(3e-4) and not good.task.warnings
    with pytest.raises(ValueError, match="max_epochs"):
        Tracker(AgentTask("train", {"trainer.max_epochs": "ten"}), None).connect_config(cfg, "train")
    with pytest.raises(ValueError, match="unknown key.*optim.learning_rate"):
        Tracker(AgentTask("train", {"optim.learning_rate": "0.1"}), None).connect_config(cfg, "train")


def test_the_test_session_reports_from_a_thread_not_a_fork():
    """tests/conftest.py: a reporting process forked from the test process could deadlock the whole run."""
    from clearml.backend_interface.task.task import Task

    assert not Task._report_subprocess_enabled
