"""The pipeline: offline end to end on a tiny config, and the PipelineController's DAG built without a server."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from crnn.tracking.store import LocalStore

REPO = Path(__file__).resolve().parents[2]

TINY = [
    "parameters.count=64",
    "parameters.epochs=1",
    "parameters.threshold=0",
    "dataset.synthetic.workers=1",
    "train.model.neck_channels=32",
    "train.model.rnn_hidden=32",
    "train.model.rnn_layers=1",
    "train.data.batch_size=16",
    "train.data.num_workers=0",
    "train.data.real_tsv=null",
    "train.trainer.log_every_n_steps=1",
    "evaluate.real_tsv=null",
    "parameters.detector_epochs=1",
    "detector_train.data.synth.train_count=16",
    "detector_train.data.synth.val_count=4",
    "detector_train.data.synth.workers=1",
    "detector_train.data.batch_size=8",
    "detector_train.data.num_workers=0",
    "detector_train.input.size=160",
    "detector_train.trainer.log_every_n_steps=1",
    "detector_train.overlays=2",
]

# The steps in the order the controller and the offline runner take them.
STEPS_IN_ORDER = [
    "dataset",
    "preprocess",
    "train",
    "evaluate",
    "export",
    "detector_train",
    "detector_export",
    "photo_evaluate",
]
STEP_NAMES = set(STEPS_IN_ORDER)


def _session(path: str) -> tuple[dict, dict]:
    with zipfile.ZipFile(path) as z:
        task = json.loads(z.read("task.json"))
        events = [e for line in z.read("metrics.jsonl").decode().splitlines() if line.strip() for e in json.loads(line)]
    scalars = {f"{e['metric']}/{e['variant']}" for e in events if e.get("type") == "training_stats_scalar"}
    return task, scalars


@pytest.mark.slow
def test_offline_pipeline_end_to_end(offline, capsys, photos_tsv):
    from pipelines import run

    work = offline / "work"
    scenes = offline / "scenes"  # the detector's synthetic scenes, made on first use (never in the repository)
    tiny = [
        *TINY,
        f"work_dir={work}",
        f"detector_train.data.train_dirs=[{scenes / 'train'}]",
        f"detector_train.data.val_dir={scenes / 'val'}",
        f"photo_evaluate.photos_tsv={photos_tsv}",
    ]
    assert run.main(tiny) == 0
    out = capsys.readouterr().out
    assert "exact match (test)" in out and "--import-offline" in out and "photos (2, " in out
    summary = json.loads((work / "summary.json").read_text())

    # One offline session per step, each with its parameters and scalars, named after its step.
    assert len(summary["offline_sessions"]) == len(STEP_NAMES)
    names = {}
    for z in summary["offline_sessions"]:
        task, scalars = _session(z)
        names[task["name"]] = (task["hyperparams"], scalars)
    assert set(names) == STEP_NAMES
    params, scalars = names["dataset"]
    assert params["dataset"]["synthetic.count"]["value"] == "64"
    params, scalars = names["train"]
    assert params["train"]["trainer.max_epochs"]["value"] == "1"
    assert params["Inputs"]["dataset_id"]["value"] == summary["steps"]["preprocess"]["outputs"]["dataset_id"]
    assert {"train/loss", "val/exact_match", "val/cer"} <= scalars
    params, scalars = names["evaluate"]
    assert params["Inputs"]["model_id"]["value"] == summary["steps"]["train"]["outputs"]["model_id"]
    assert {"test/exact_match", "test/cer", "val/exact_match"} <= scalars
    assert "parity/max_abs_diff" in names["export"][1]

    # The detector branch: raw dataset in, trained on synthetic scenes only (a crops dataset has no boxes).
    outputs = {k: v["outputs"] for k, v in summary["steps"].items()}
    params, scalars = names["detector_train"]
    assert params["Inputs"]["raw_dataset_id"]["value"] == outputs["dataset"]["dataset_id"]
    assert params["detector_train"]["trainer.max_epochs"]["value"] == "1"
    assert {"train/loss", "val/f1"} <= scalars
    store = LocalStore(summary["store"])
    assert store.model_info(outputs["detector_train"]["model_id"])["metadata"]["raw_boxes"] == 0
    params, scalars = names["detector_export"]
    assert params["Inputs"]["model_id"]["value"] == outputs["detector_train"]["model_id"]
    assert Path(summary["detector_onnx_file"]).is_file() and outputs["detector_export"]["parity_max_abs_diff"] < 1e-3
    # One detector, in the summary with its figure and files.
    detector_keys = {"detector_val_f1", "detector_onnx_file", "detector_onnx_model_id"}
    assert {k for k in summary if "detector" in k} == detector_keys
    # Photo evaluation of the two ONNX models, its figures in the run's summary.
    params, scalars = names["photo_evaluate"]
    assert set(params["Inputs"]) == {"detector_model_id", "recogniser_model_id"}
    assert params["Inputs"]["detector_model_id"]["value"] == outputs["detector_export"]["model_id"]
    assert params["Inputs"]["recogniser_model_id"]["value"] == outputs["export"]["onnx_model_id"]
    assert {"photos/read", "photos/found", "photos/zxing"} <= scalars
    assert summary["photos"]["n"] == 2 and summary["photos"]["read"] == outputs["photo_evaluate"]["read"]
    assert 0.0 <= summary["photos"]["found"] <= 1.0 and 0.0 <= summary["detector_val_f1"] <= 1.0

    # Dataset versions with parent links.
    raw = summary["steps"]["dataset"]["outputs"]["dataset_id"]
    crops = summary["steps"]["preprocess"]["outputs"]["dataset_id"]
    assert store.lineage(crops) == [crops, raw]

    # An ONNX model that passed parity and reads like the checkpoint.
    from crnn.core.images import load_image
    from crnn.core.labels import read_tsv
    from crnn.reading.crops import OnnxReader
    from crnn.recognizer.reader import TorchReader

    onnx = OnnxReader(summary["onnx_file"])
    torch_reader = TorchReader(store.model_path(summary["steps"]["train"]["outputs"]["model_id"]))
    images = [load_image(s.path) for s in read_tsv(store.dataset_path(crops) / "test" / "crops.tsv", onnx.codec)]
    a, b = onnx.read(images), torch_reader.read(images)
    assert [r.text for r in a] == [r.text for r in b]
    assert np.allclose([r.confidence for r in a], [r.confidence for r in b], atol=1e-4)
    assert summary["steps"]["export"]["outputs"]["parity_max_abs_diff"] < 1e-3

    # A metrics file with values.
    metrics = json.loads(Path(summary["metrics_file"]).read_text())
    test = metrics["sets"]["test"]
    assert test["n"] == summary["steps"]["preprocess"]["outputs"]["test_size"] > 0
    assert 0.0 <= test["exact_match"] <= 1.0 and test["cer"] >= 0.0 and test["per_format"]
    assert summary["exact_match"] == test["exact_match"]

    # A re-run reuses every completed step; a changed evaluate config reruns evaluate (and export) only.
    assert run.main(tiny) == 0
    again = json.loads((work / "summary.json").read_text())
    assert all(s["reused"] for s in again["steps"].values())
    capsys.readouterr()

    # A file deleted from the store is found: the step that made it runs again and stores it again; options and
    # overrides in any order.
    ds_id = summary["steps"]["dataset"]["outputs"]["dataset_id"]
    labels = work / "store" / "datasets" / ds_id / "files" / "labels.tsv"
    labels.unlink()
    assert run.main([*tiny[:2], "--offline", *tiny[2:]]) == 0
    repaired = json.loads((work / "summary.json").read_text())
    assert not repaired["steps"]["dataset"]["reused"] and repaired["steps"]["train"]["reused"]
    assert repaired["steps"]["dataset"]["outputs"]["dataset_id"] == ds_id and labels.is_file()
    capsys.readouterr()

    # Your own data by ID, as pipeline parameters: train runs again, fine-tuning the trained model with the crops
    # dataset mixed in (here the run's own). With a threshold no model passes, evaluate then stops the run (export and
    # photo_evaluate are spared): a failing step names itself and exits non-zero.
    from crnn.config.train import MixConfig
    from crnn.recognizer.checkpoint import load_checkpoint

    model_id = summary["steps"]["train"]["outputs"]["model_id"]
    own = [f"parameters.mix_dataset_id={crops}", f"parameters.init_model_id={model_id}", "parameters.mix_weight=0.5"]
    assert run.main([*tiny, *own, "parameters.threshold=1.01"]) == 1
    err = capsys.readouterr().err
    assert "step 'evaluate' failed" in err and "under the threshold" in err
    records = [json.loads(f.read_text()) for f in (work / "steps").glob("train-*.json")]
    tuned = next(r for r in records if r["task_id"] != summary["steps"]["train"]["task_id"])
    params = _session(tuned["session"])[0]["hyperparams"]
    assert (
        params["Inputs"]["mix_dataset_id"]["value"] == crops and params["Inputs"]["init_model_id"]["value"] == model_id
    )
    _, cfg = load_checkpoint(store.model_path(tuned["outputs"]["model_id"]))
    assert cfg.init_from == str(store.model_path(model_id))
    assert cfg.data.mix == [MixConfig(str(store.dataset_path(crops) / "train" / "crops.tsv"), 0.5)]


def test_controller_dag_built_without_a_server(offline):
    from clearml import Task

    from pipelines.controller import build_controller
    from pipelines.wiring import load_pipeline

    pcfg, configs = load_pipeline(
        None,
        ["parameters.epochs=3", "parameters.detector_epochs=2", "train.optim.weight_decay=0.001"]
        + ["output_uri=http://files.example:8081"],
    )
    pipe = build_controller(pcfg, configs, {n: f"base-{n}" for n in configs}, gpu_queue="gpu-a100")
    try:
        # Every node uploads where the pipeline says, also on an agent (D1: models never left the agent before).
        assert {d.output_uri for d in pipe.get_pipeline_dag().values()} == {"http://files.example:8081"}
        dag = pipe.get_pipeline_dag()
        assert list(dag) == STEPS_IN_ORDER
        assert dag["dataset"].parents == []
        assert dag["preprocess"].parents == ["dataset"]
        assert dag["train"].parents == ["preprocess"]
        assert set(dag["evaluate"].parents) == {"preprocess", "train"}
        assert set(dag["export"].parents) == {"preprocess", "train", "evaluate"}
        # The detector branch needs only the raw dataset; photo evaluation needs both ONNX models.
        assert dag["detector_train"].parents == ["dataset"]
        assert dag["detector_export"].parents == ["detector_train"]
        assert set(dag["photo_evaluate"].parents) == {"export", "detector_export"}
        assert {n: d.queue for n, d in dag.items()} == {
            "dataset": "cpu",
            "preprocess": "cpu",
            "train": "gpu-a100",
            "evaluate": "gpu-a100",
            "export": "gpu-a100",
            "detector_train": "gpu-a100",
            "detector_export": "gpu-a100",
            "photo_evaluate": "gpu-a100",
        }
        assert all(d.base_task_id == f"base-{n}" and d.cache_executed_step for n, d in dag.items())
        p = {n: d.parameters for n, d in dag.items()}
        assert p["preprocess"]["Inputs/raw_dataset_id"] == "${dataset.parameters.Outputs/dataset_id}"
        assert p["train"]["Inputs/dataset_id"] == "${preprocess.parameters.Outputs/dataset_id}"
        assert p["evaluate"]["Inputs/model_id"] == "${train.parameters.Outputs/model_id}"
        assert p["export"]["Inputs/model_id"] == "${train.parameters.Outputs/model_id}"
        assert p["detector_train"]["Inputs/raw_dataset_id"] == "${dataset.parameters.Outputs/dataset_id}"
        assert p["detector_export"]["Inputs/model_id"] == "${detector_train.parameters.Outputs/model_id}"
        assert p["photo_evaluate"]["Inputs/detector_model_id"] == "${detector_export.parameters.Outputs/model_id}"
        assert p["photo_evaluate"]["Inputs/recogniser_model_id"] == "${export.parameters.Outputs/onnx_model_id}"
        assert {k for k in p["photo_evaluate"] if k.startswith("Inputs/")} == {
            "Inputs/detector_model_id",
            "Inputs/recogniser_model_id",
        }
        assert p["detector_train"]["detector_train/trainer.seed"] == "0"  # text: the schema casts
        # Unwired inputs stay out of the overrides (the base task holds them, empty).
        assert "Inputs/resume_model_id" not in p["detector_train"]
        # Pipeline parameters (editable on a clone in the UI) reach the step keys they override.
        assert p["train"]["train/trainer.max_epochs"] == "${pipeline.epochs}"
        assert p["dataset"]["dataset/synthetic.count"] == "${pipeline.count}"
        assert p["evaluate"]["evaluate/threshold"] == "${pipeline.threshold}"
        assert p["detector_train"]["detector_train/trainer.max_epochs"] == "${pipeline.detector_epochs}"
        # Your own data by ID: two parameters give train's inputs, one its mix weight; empty by default.
        assert p["train"]["Inputs/init_model_id"] == "${pipeline.init_model_id}"
        assert p["train"]["Inputs/mix_dataset_id"] == "${pipeline.mix_dataset_id}"
        assert p["train"]["train/data.mix_weight"] == "${pipeline.mix_weight}"
        assert "Inputs/resume_model_id" not in p["train"]
        assert pipe._pipeline_args["init_model_id"] == pipe._pipeline_args["mix_dataset_id"] == ""  # noqa: SLF001
        assert pipe._pipeline_args["mix_weight"] == 1.0  # noqa: SLF001
        assert pipe._pipeline_args["epochs"] == 3  # noqa: SLF001  # no public getter for the defaults
        assert pipe._pipeline_args["detector_epochs"] == 2  # noqa: SLF001
        # The new steps' configs travel whole, under their own sections.
        assert p["detector_export"]["detector_export/model_name"] == "barcode-detector-onnx"
        assert p["photo_evaluate"]["photo_evaluate/zxing"] == "true"
        assert p["detector_train"]["detector_train/data.train_dirs"] == "[data/synth_scenes/train]"
        assert p["detector_train"]["detector_train/data.synth.generator.p_text_below"] == "0.4"
        assert p["photo_evaluate"]["photo_evaluate/min_confidence"] == "0.05"
        # Step-level overrides travel as the step's resolved config.
        assert p["train"]["train/optim.weight_decay"] == "0.001"
    finally:
        Task.current_task().close()


def test_parameters_name_keys_and_inputs_the_steps_have():
    """Each pipeline parameter sets a key of its step's schema, or an input of its step script that no upstream step
    feeds; `parameters.<name>=...` reaches the step config offline as in the controller."""
    import importlib

    from omegaconf import OmegaConf

    from pipelines.wiring import PARAMETERS, STEPS, load_pipeline, parameter_inputs, parameter_targets

    for step, spec in STEPS.items():
        schema = OmegaConf.structured(spec.schema)
        for _, key in parameter_targets(step):
            assert OmegaConf.select(schema, key, default=KeyError) is not KeyError, (step, key)
        for _, inp in parameter_inputs(step):
            assert inp in importlib.import_module(f"steps.{step}").INPUTS and inp not in spec.inputs, (step, inp)
    assert parameter_inputs("train") == [("init_model_id", "init_model_id"), ("mix_dataset_id", "mix_dataset_id")]
    assert {p for p, _ in parameter_targets("train")} | {p for p, _ in parameter_inputs("train")} == {
        p for p, targets in PARAMETERS.items() if any(s == "train" for s, _ in targets)
    }
    pcfg, configs = load_pipeline(None, ["parameters.mix_weight=0.25", "parameters.mix_dataset_id=ds-mine"])
    assert configs["train"].data.mix_weight == 0.25 and pcfg.parameters.mix_dataset_id == "ds-mine"
    assert configs["train"].data.mix == []  # the dataset is the step's to fetch: no path in the config


def test_configured_but_unreachable_server_is_an_error(tmp_path, monkeypatch, capsys):
    from pipelines import run

    monkeypatch.setenv("CLEARML_OFFLINE_MODE", "0")
    monkeypatch.setenv("CLEARML_API_HOST", "http://127.0.0.1:9")
    assert run.main([f"work_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "unreachable" in err and "127.0.0.1:9" in err
    assert not (tmp_path / "summary.json").exists()  # no silent offline fallback


def test_step_outcomes_tell_failed_steps_from_steps_never_run():
    """After a step fails, ClearML skips its children (`skip_job`): they are reported as not run, not as failed;
    a step reused from the cache is neither."""
    from types import SimpleNamespace

    from pipelines.controller import step_outcomes

    def job(failed=False, aborted=False, completed=True):
        return SimpleNamespace(is_failed=lambda: failed, is_aborted=lambda: aborted, is_completed=lambda: completed)

    dag = {
        "dataset": SimpleNamespace(job=None, executed="task-1", skip_job=False),  # cached
        "preprocess": SimpleNamespace(job=job(), executed="task-2", skip_job=False),
        "train": SimpleNamespace(job=job(failed=True, completed=False), executed=False, skip_job=False),
        "evaluate": SimpleNamespace(job=None, executed=False, skip_job=True),  # skipped after train failed
        "detector_export": SimpleNamespace(job=job(aborted=True), executed=False, skip_job=False),
    }
    pipe = SimpleNamespace(get_pipeline_dag=lambda: dag)
    assert step_outcomes(pipe) == (["train", "detector_export"], ["evaluate"])


def test_a_controller_on_an_agent_builds_from_the_recorded_command_line(monkeypatch):
    """D4: an agent runs the controller task as `pipelines/run.py` with no arguments; the command line recorded on
    the task (at launch, or edited on a clone) is what the graph is built from, so --queue, --config and the
    overrides survive. Running remotely is simulated with ClearML's own hook (`override_current_task_id`)."""
    import clearml
    from clearml.config.remote import override_current_task_id

    from pipelines.run import COMMAND_LINE, _parser, controller_argv, record_command_line

    class FakeTask:
        objects: dict[str, str] = {}

        def set_configuration_object(self, name, config_text=None, description=None):
            self.objects[name] = config_text

        def get_configuration_object(self, name):
            return self.objects.get(name)

    argv = ["--queue", "gpu-a100", "--remote-controller", "parameters.epochs=4", "train.optim.lr=1e-3"]
    assert controller_argv(["x"]) == ["x"]  # here, not on an agent: the real command line
    record_command_line(FakeTask(), argv)
    monkeypatch.setattr(clearml.Task, "get_task", classmethod(lambda cls, task_id=None, **kw: FakeTask()))
    override_current_task_id("controller-1")
    try:
        got = controller_argv([])
        assert got == argv
        a = _parser().parse_args(got)
        assert a.queue == "gpu-a100" and a.overrides == ["parameters.epochs=4", "train.optim.lr=1e-3"]
        FakeTask.objects[COMMAND_LINE] = '{"not": "a list"}'
        with pytest.raises(ValueError, match="records no 'command line'"):
            controller_argv([])
    finally:
        override_current_task_id(None)


def test_every_node_as_an_agent_sees_it_gets_the_offline_runners_config(offline):
    """The agent's view of each node: the base task's parameters, the controller's overrides with their references
    resolved (pipeline parameters at their defaults, stand-in upstream IDs), read by the step script through
    ClearML's own casting (`_Arguments.copy_to_dict`) into its default config: the offline runner's config for the
    node, every one of them. A bad value in the overrides fails, naming the key."""
    import re

    from crnn import config
    from crnn.tracking.tracker import Tracker
    from pipelines.controller import build_controller, step_parameters
    from pipelines.wiring import REPO, STEPS, load_pipeline
    from tests.helpers import AgentTask

    pcfg, configs = load_pipeline(None, ["parameters.epochs=3", "train.optim.weight_decay=0.001"])
    pipe = build_controller(pcfg, configs, {n: f"base-{n}" for n in configs})
    args = dict(pipe._pipeline_args)  # noqa: SLF001  # the pipeline parameters' values, no public getter

    def resolve(v):
        v = re.sub(r"\$\{pipeline\.(\w+)\}", lambda m: str(args[m.group(1)]), str(v))
        return re.sub(r"\$\{(\w+)\.parameters\.Outputs/(\w+)\}", lambda m: f"id-{m.group(1)}-{m.group(2)}", v)

    def agent_config(name, extra=None):
        spec = STEPS[name]
        params = {k: str(v) for k, v in step_parameters(name, configs[name]).items()}  # the base task
        params |= {k: resolve(v) for k, v in pipe.get_pipeline_dag()[name].parameters.items()} | (extra or {})
        default = config.load(spec.schema, REPO / "configs" / f"{config_file(name)}")  # what the script loads
        return Tracker(AgentTask(name, {}, base=params), None).connect_config(default, name)

    def config_file(step):
        return {"detector_train": "detector.yaml"}.get(step, f"{step}.yaml")

    try:
        for name in STEPS:
            assert agent_config(name) == configs[name], name
        assert agent_config("train").trainer.max_epochs == 3
        with pytest.raises(ValueError, match="max_epochs"):
            agent_config("train", {"train/trainer.max_epochs": "ten"})
    finally:
        pipe.task.close()


def test_real_data_travel_as_a_dataset_on_a_server(tmp_path, monkeypatch):
    """D7: on a server the folder of evaluate.real_tsv is uploaded once and passed by ID to both evaluation steps
    (and recorded for an agent running the controller); the steps take their files from it by name."""
    import argparse

    from crnn.tracking.store import LocalStore
    from crnn.tracking.tracker import Tracker
    from pipelines.run import with_real_data
    from pipelines.wiring import load_pipeline

    real = tmp_path / "real"
    (real / "crops").mkdir(parents=True)
    (real / "crops.tsv").write_text("filename\ttext\n")
    (real / "photos.tsv").write_text("filename\ttext\n")
    overrides = [f"evaluate.real_tsv={real / 'crops.tsv'}", f"photo_evaluate.photos_tsv={real / 'photos.tsv'}"]
    a = argparse.Namespace(config=None, overrides=list(overrides), argv=list(overrides))
    pcfg, configs = load_pipeline(None, overrides)
    uploads = []

    def register(folder, name, project, parents):
        uploads.append((folder, name))
        return "ds-real"

    pcfg, configs = with_real_data(a, pcfg, configs, register)
    assert uploads == [(real, "real-dev")] and pcfg.parameters.real_dataset_id == "ds-real"
    assert configs["evaluate"].real_dataset_id == configs["photo_evaluate"].real_dataset_id == "ds-real"
    assert a.argv[-1] == "parameters.real_dataset_id=ds-real"
    assert with_real_data(a, pcfg, configs, register)[0] is pcfg and len(uploads) == 1  # given: left alone

    # A step takes the file of the configured name from the dataset; a missing one is an error naming it.
    store = LocalStore(tmp_path / "store")
    ds = store.add_dataset(real, "real-dev")
    tracker = Tracker(object(), store)
    got = tracker.real_data("../shared/data/real-dev/crops.tsv", ds, "real_tsv")
    assert got is not None and got.name == "crops.tsv" and got.read_text() == "filename\ttext\n"
    with pytest.raises(ValueError, match="has no labels.tsv"):
        tracker.real_data("elsewhere/labels.tsv", ds, "real_tsv")
