"""All ClearML plumbing in one place: step tasks, config connection, datasets, models, Lightning reporting.

A step runs in one of two modes:
  server   a ClearML server is configured: the step is a ClearML Task; datasets are ClearML Datasets,
           checkpoints and ONNX files are OutputModels, inputs are fetched by ID from the server.
  offline  no server (or CLEARML_OFFLINE_MODE=1): the step still records a ClearML offline session
           (parameters, scalars, images, artifacts; importable into a server later), while datasets and
           models live in `LocalStore`, a content-addressed folder with parent links.
Either way a step sees the same `Tracker` API and passes on plain string IDs.

The rest of the library never imports ClearML; this module imports it lazily.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers.logger import Logger

from crnn.config import from_dict, to_dict

log = logging.getLogger(__name__)

T = TypeVar("T")

OFFLINE_ENV = "CLEARML_OFFLINE_MODE"
INPUTS, OUTPUTS = "Inputs", "Outputs"


class ServerUnreachable(RuntimeError):
    """A ClearML server is configured but does not answer."""


# ---------------------------------------------------------------- server detection


def _config_files() -> list[Path]:
    env = os.environ.get("CLEARML_CONFIG_FILE") or os.environ.get("TRAINS_CONFIG_FILE")
    if env:
        return [Path(env).expanduser()]
    return [Path("~/clearml.conf").expanduser(), Path("~/.clearml.conf").expanduser()]


def api_host() -> str | None:
    """The configured API server (CLEARML_API_HOST, else clearml.conf's api.api_server), or None."""
    host = os.environ.get("CLEARML_API_HOST") or os.environ.get("TRAINS_API_HOST")
    if host:
        return host.rstrip("/")
    for f in _config_files():
        if f.is_file():
            from clearml.backend_config.config import ConfigFactory  # pyhocon, vendored by clearml

            try:
                host = ConfigFactory.parse_file(str(f)).get("api.api_server", None)
            except Exception as e:  # pyhocon raises many types; a broken file must not pass silently
                raise ValueError(f"cannot parse ClearML config {f}: {e}") from e
            if host:
                return str(host).rstrip("/")
    return None


def offline_forced() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def server_configured() -> bool:
    """True when a server is configured and offline mode is not forced."""
    return not offline_forced() and api_host() is not None


def check_server(timeout: float = 10.0) -> str:
    """Ping the configured API server; raise ServerUnreachable with what to do when it does not answer."""
    import requests

    host = api_host()
    if host is None:
        raise ServerUnreachable("no ClearML server configured (clearml.conf or CLEARML_API_HOST)")
    try:
        r = requests.get(f"{host}/debug.ping", timeout=timeout)
        r.raise_for_status()
    except requests.RequestException as e:
        raise ServerUnreachable(
            f"the ClearML server configured at {host} is unreachable ({e.__class__.__name__}: {e}). "
            "Start it (docker/README.md), fix api.api_server in clearml.conf / CLEARML_API_HOST, "
            f"or run offline with {OFFLINE_ENV}=1."
        ) from e
    return host


def queue_workers(queue: str) -> int | None:
    """Number of agents serving `queue` (None when the server cannot tell)."""
    try:
        from clearml.backend_api.session.client import APIClient

        client = APIClient()
        found = [q for q in client.queues.get_all(name=f"^{queue}$") if q.name == queue]
        if not found:
            return 0
        qid = found[0].id
        return sum(any(getattr(q, "id", None) == qid for q in (w.queues or [])) for w in client.workers.get_all())
    except Exception as e:  # best effort: a warning, never a failure
        log.debug("cannot list workers of queue %s: %s", queue, e)
        return None


# ---------------------------------------------------------------- config <-> ClearML hyperparameters


def flatten(cfg: Any) -> tuple[dict[str, Any], set[str]]:
    """A config dataclass as `{"optim.lr": 0.002, ...}` for ClearML's hyperparameter table.

    Lists and None become YAML text (the UI edits scalars); the returned set names those keys.
    """
    flat: dict[str, Any] = {}
    encoded: set[str] = set()

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict) and v:
            for k, sub in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), sub)
        elif v is None or isinstance(v, (list, tuple, dict)):
            flat[prefix] = yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()
            encoded.add(prefix)
        else:
            flat[prefix] = v

    walk("", to_dict(cfg))
    return flat, encoded


def unflatten(schema: type[T], flat: dict[str, Any], encoded: set[str]) -> T:
    """The inverse of `flatten`, validated against `schema` (a bad edit in the UI fails here, by key)."""
    nested: dict[str, Any] = {}
    for key, v in flat.items():
        if isinstance(v, str) and (key in encoded or v.strip() in ("null", "None", "~")):
            v = yaml.safe_load(v) if v.strip() else None
        node = nested
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    try:
        return from_dict(schema, nested)
    except Exception as e:  # omegaconf validation errors: report them as a config error
        raise ValueError(f"invalid {schema.__name__} from the task's hyperparameters: {e}") from e


# ---------------------------------------------------------------- local store (offline stand-in)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_manifest(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under `folder`."""
    return {p.relative_to(folder).as_posix(): _sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def content_id(manifest: dict[str, str], extra: Iterable[str] = ()) -> str:
    h = hashlib.sha256()
    for k, v in sorted(manifest.items()):
        h.update(f"{k}\0{v}\n".encode())
    for e in extra:
        h.update(f"{e}\n".encode())
    return h.hexdigest()[:24]


class LocalStore:
    """Datasets and models in a folder, addressed by content; a dataset records its parents.

    datasets/<id>/manifest.json, datasets/<id>/files/...;  models/<id>/<file>, models/<id>/model.json.
    Adding content that is already stored returns the existing ID without copying anything.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def add_dataset(self, folder: str | Path, name: str, parents: Iterable[str] = (), project: str = "") -> str:
        folder = Path(folder)
        parents = list(parents)
        for p in parents:
            self.dataset_info(p)  # the parent must exist
        manifest = folder_manifest(folder)
        if not manifest:
            raise ValueError(f"dataset {name!r}: {folder} has no files")
        ds_id = "ds-" + content_id(manifest, [name, *parents])
        target = self.root / "datasets" / ds_id
        if (target / "manifest.json").is_file():
            log.info("dataset %s (%s) unchanged: reusing %s", name, folder, ds_id)
            return ds_id
        tmp = target.with_name(ds_id + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(folder, tmp / "files")
        info = {
            "id": ds_id,
            "name": name,
            "project": project,
            "parents": parents,
            "files": manifest,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        (tmp / "manifest.json").write_text(json.dumps(info, indent=1))
        tmp.rename(target)
        return ds_id

    def dataset_info(self, ds_id: str) -> dict:
        f = self.root / "datasets" / ds_id / "manifest.json"
        if not f.is_file():
            raise ValueError(f"dataset {ds_id!r} not found in the local store {self.root}")
        return json.loads(f.read_text())

    def dataset_path(self, ds_id: str) -> Path:
        self.dataset_info(ds_id)
        return self.root / "datasets" / ds_id / "files"

    def lineage(self, ds_id: str) -> list[str]:
        """The dataset and its ancestors, nearest first."""
        out, todo = [], [ds_id]
        while todo:
            d = todo.pop(0)
            out.append(d)
            todo += self.dataset_info(d)["parents"]
        return out

    def add_model(self, path: str | Path, name: str, metadata: dict[str, Any] | None = None) -> str:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"model file not found: {path}")
        model_id = "model-" + content_id({path.name: _sha256(path)}, [name])
        target = self.root / "models" / model_id
        if not (target / "model.json").is_file():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / path.name)
            info = {
                "id": model_id,
                "name": name,
                "file": path.name,
                "metadata": metadata or {},
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            (target / "model.json").write_text(json.dumps(info, indent=1, default=str))
        return model_id

    def model_info(self, model_id: str) -> dict:
        f = self.root / "models" / model_id / "model.json"
        if not f.is_file():
            raise ValueError(f"model {model_id!r} not found in the local store {self.root}")
        return json.loads(f.read_text())

    def model_path(self, model_id: str) -> Path:
        return self.root / "models" / model_id / self.model_info(model_id)["file"]


# ---------------------------------------------------------------- the step's tracker


@dataclass
class Tracker:
    """One step's ClearML task plus where its datasets and models go (server, or the local store)."""

    task: Any  # clearml.Task
    store: LocalStore | None  # None: the ClearML server stores datasets and models

    @property
    def offline(self) -> bool:
        return self.store is not None

    # ---- parameters

    def connect_config(self, cfg: T, name: str) -> T:
        """Show every key of `cfg` as a hyperparameter in section `name`; return it with any edits
        made in the UI or by a pipeline override (on an agent), validated again against its schema."""
        flat, encoded = flatten(cfg)
        flat = self.task.connect(flat, name=name)
        return unflatten(type(cfg), flat, encoded)

    def connect_inputs(self, inputs: dict[str, str]) -> dict[str, str]:
        """Input IDs (section Inputs): pipeline overrides set them to upstream steps' outputs."""
        got = self.task.connect(dict(inputs), name=INPUTS)
        return {k: ("" if v is None else str(v)) for k, v in got.items()}

    def set_outputs(self, outputs: dict[str, Any]) -> None:
        """Output IDs (section Outputs), which downstream steps reference as ${step.parameters.Outputs/x}."""
        self.task.update_parameters({f"{OUTPUTS}/{k}": str(v) for k, v in outputs.items()})

    def execute_remotely(self, queue: str) -> None:
        """Stop here and enqueue this task on `queue` (server mode, when run from a workstation)."""
        if self.offline:
            raise ValueError("--queue needs a ClearML server; none is configured (offline mode)")
        self.task.execute_remotely(queue_name=queue, exit_process=True)

    # ---- reporting

    def scalar(self, title: str, series: str, value: float, iteration: int = 0) -> None:
        self.task.get_logger().report_scalar(title, series, float(value), iteration)

    def scalars(self, values: Mapping[str, float], iteration: int = 0, title: str | None = None) -> None:
        """`{"val/exact_match": 0.9}` as title `val`, series `exact_match` (or all under `title`)."""
        for k, v in values.items():
            t, _, s = k.rpartition("/") if title is None else (title, "", k)
            self.scalar(t or "metrics", s, v, iteration)

    def image(self, title: str, series: str, image: Any, iteration: int = 0) -> None:
        import numpy as np

        self.task.get_logger().report_image(title, series, iteration=iteration, image=np.asarray(image.convert("RGB")))

    def line(
        self, title: str, series: str, points: list[tuple[float, float]], xaxis: str, yaxis: str, iteration: int = 0
    ) -> None:
        """A curve of (x, y) points (an interactive plot in the web UI)."""
        self.task.get_logger().report_scatter2d(
            title, series, scatter=points, iteration=iteration, xaxis=xaxis, yaxis=yaxis, mode="lines+markers"
        )

    def table(self, title: str, series: str, rows: list[dict], iteration: int = 0) -> None:
        """Rows of dicts with the same keys, as a table (header row first)."""
        if not rows:
            return
        header = list(rows[0])
        table = [header] + [[r.get(k) for k in header] for r in rows]
        self.task.get_logger().report_table(title, series, iteration=iteration, table_plot=table)

    def text(self, message: str) -> None:
        self.task.get_logger().report_text(message)

    def artifact(self, name: str, obj: Any) -> None:
        """A dict (JSON) or a file path, attached to the task."""
        self.task.upload_artifact(name, artifact_object=obj, wait_on_upload=True)

    # ---- datasets

    def create_dataset(self, folder: str | Path, name: str, project: str, parents: Iterable[str] = ()) -> str:
        """A dataset version of `folder` with `parents`; unchanged content returns the existing version."""
        parents = [p for p in parents if p]
        if self.store is not None:
            ds_id = self.store.add_dataset(folder, name, parents, project)
        else:
            ds_id = _clearml_dataset(Path(folder), name, project, parents)
        self.task.update_parameters({f"{OUTPUTS}/dataset_lineage": " <- ".join(self.lineage(ds_id))})
        return ds_id

    def dataset(self, ds_id: str) -> Path:
        """A local, read-only copy of dataset `ds_id`."""
        if not ds_id:
            raise ValueError("no dataset ID given (Inputs/dataset_id is empty)")
        if self.store is not None:
            return self.store.dataset_path(ds_id)
        from clearml import Dataset

        return Path(Dataset.get(dataset_id=ds_id).get_local_copy())

    def lineage(self, ds_id: str) -> list[str]:
        if self.store is not None:
            return self.store.lineage(ds_id)
        from clearml import Dataset

        graph = Dataset.get(dataset_id=ds_id).get_dependency_graph()  # {id: [parent ids]} of the whole lineage
        out, todo = [], [ds_id]
        while todo:
            d = todo.pop(0)
            out.append(d)
            todo += list(graph.get(d, []))
        return out

    # ---- models

    def register_model(
        self, path: str | Path, name: str, framework: str, metadata: dict[str, Any], tags: Iterable[str] = ()
    ) -> str:
        """Store a weights file as a model (an OutputModel of this task on a server); return its ID."""
        if self.store is not None:
            model_id = self.store.add_model(path, name, {**metadata, "framework": framework, "tags": list(tags)})
            self.artifact(
                f"model-{name}",
                {
                    "id": model_id,
                    "file": str(self.store.model_path(model_id)),
                    "framework": framework,
                    "metadata": metadata,
                },
            )
            return model_id
        from clearml import OutputModel

        model = OutputModel(task=self.task, name=name, framework=framework, tags=list(tags))
        for k, v in metadata.items():
            model.set_metadata(k, str(v))
        model.update_weights(weights_filename=str(path), auto_delete_file=False, async_enable=False)
        return str(model.id)

    def model(self, model_id: str) -> Path:
        """A local copy of model `model_id` (connected as an InputModel on a server)."""
        if not model_id:
            raise ValueError("no model ID given (Inputs/model_id is empty)")
        if self.store is not None:
            return self.store.model_path(model_id)
        from clearml import InputModel

        model = InputModel(model_id=model_id)
        self.task.connect(model)
        local = model.get_local_copy()
        if not local:
            raise ValueError(f"cannot download model {model_id}")
        return Path(local)

    # ---- end

    def close(self) -> Path | None:
        """Close the task; offline, return the session zip to import into a server."""
        folder = self.task.get_offline_mode_folder() if self.offline else None
        self.task.close()
        if folder is None:
            return None
        zipped = Path(str(folder) + ".zip")
        return zipped if zipped.is_file() else None


def start_step(
    step: str, project: str, store_dir: str | Path, task_type: str = "data_processing", tags: Iterable[str] = ()
) -> Tracker:
    """Start (or, on an agent, attach to) the ClearML task of a pipeline step."""
    from clearml import Task

    offline = not server_configured()
    if offline:
        Task.set_offline(True)
        # Reporting through a subprocess costs ~11 s at each close() for nothing offline (no network);
        # equivalent to sdk.development.report_use_subprocess=false in clearml.conf.
        Task._report_subprocess_enabled = False  # type: ignore[assignment]  # no public switch but clearml.conf
    task: Any = Task.init(
        project_name=project,
        task_name=step,
        task_type=getattr(Task.TaskTypes, task_type),
        tags=list(tags) or None,
        reuse_last_task_id=False,
        auto_connect_frameworks=False,  # models are registered explicitly, with metadata
        auto_connect_arg_parser=False,  # hyperparameters come from connect_config, not argv
        auto_resource_monitoring=not offline,
        output_uri=None if offline else True,
    )
    return Tracker(task, LocalStore(store_dir) if offline else None)


def _clearml_dataset(folder: Path, name: str, project: str, parents: list[str]) -> str:
    """Create (or reuse, when the same content and parents exist) a finalized ClearML Dataset."""
    from clearml import Dataset

    tag = "content-" + content_id(folder_manifest(folder), [name, *parents])
    found = Dataset.list_datasets(dataset_project=project, partial_name=name, tags=[tag], only_completed=True)
    if found:
        log.info("dataset %s unchanged: reusing %s", name, found[0]["id"])
        return str(found[0]["id"])
    ds = Dataset.create(dataset_name=name, dataset_project=project, parent_datasets=parents or None, dataset_tags=[tag])
    ds.add_files(str(folder))
    ds.upload()
    ds.finalize()
    return str(ds.id)


# ---------------------------------------------------------------- Lightning: scalars and images


def lightning_reporting(tracker: Tracker, every_n_epochs: int = 1, gallery_size: int = 16) -> tuple[Any, Any]:
    """(logger, callback) sending Lightning's logged metrics and image reports to the step's task."""
    return _ClearMLLogger(tracker), _ImageReports(tracker, every_n_epochs, gallery_size)


class _ClearMLLogger(Logger):
    """Every `self.log`ged metric (loss, learning rate, exact match, CER) as a ClearML scalar."""

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self.tracker = tracker

    @property
    def name(self) -> str:
        return "clearml"

    @property
    def version(self) -> str:
        return str(self.tracker.task.id)

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass  # connected as the step's config already

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for k, v in metrics.items():
            if k == "epoch":
                continue
            title, _, series = k.rpartition("/")
            if not title:  # LearningRateMonitor: "lr-AdamW"
                title, series = ("learning_rate", k) if k.startswith("lr") else ("metrics", k)
            self.tracker.scalar(title, series, float(v), int(step or 0))


class _ImageReports(Callback):
    """A grid of the first augmented training batch every N epochs; captioned val predictions each epoch."""

    def __init__(self, tracker: Tracker, every_n_epochs: int, gallery_size: int) -> None:
        self.tracker, self.every, self.size = tracker, max(1, every_n_epochs), gallery_size

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: dict, batch_idx: int) -> None:
        if batch_idx != 0 or trainer.current_epoch % self.every:
            return
        from crnn.visualize import batch_grid

        cfg = pl_module.cfg.input
        sheet = batch_grid(batch["images"].float().cpu().numpy(), batch["texts"], cfg.mean, cfg.std, limit=self.size)
        self.tracker.image("train", "augmented batch", sheet, trainer.current_epoch)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        # Runs after the epoch's validation, when last_predictions holds this epoch's readings.
        from crnn.preprocess import load_image
        from crnn.visualize import prediction_gallery

        loaders = trainer.val_dataloaders
        loaders = loaders if isinstance(loaders, (list, tuple)) else [loaders]
        for i, name in enumerate(pl_module.val_names):
            preds = pl_module.last_predictions.get(name, [])[: self.size]
            if not preds or i >= len(loaders):
                continue
            samples = loaders[i].dataset.samples
            images = [load_image(s.path) for s in samples[: len(preds)]]
            sheet = prediction_gallery(
                images, [p.text for p in preds], [p.target for p in preds], [p.confidence for p in preds]
            )
            self.tracker.image("val predictions", name, sheet, trainer.current_epoch)


# ---------------------------------------------------------------- running a step


class StepFailed(RuntimeError):
    """A pipeline step raised; the message names the step."""

    def __init__(self, step: str, cause: BaseException) -> None:
        super().__init__(f"step '{step}' failed: {cause.__class__.__name__}: {cause}")
        self.step, self.cause = step, cause


@dataclass
class StepOutcome:
    step: str
    outputs: dict[str, Any]
    session: Path | None  # offline session zip
    task_id: str
    seconds: float


def run_step(
    step: str,
    cfg: Any,
    inputs: dict[str, str],
    fn: Callable[..., dict[str, Any]],
    *,
    project: str,
    store_dir: str | Path,
    work_dir: str | Path,
    task_type: str = "data_processing",
    queue: str | None = None,
    section: str | None = None,
) -> StepOutcome:
    """Run `fn(cfg, tracker, work_dir, **inputs)` as the ClearML task `step`.

    The config goes under the parameter section `section` (default `step`: a second node of one step script
    is named apart but keeps the section its script reads), the input IDs under Inputs; both are connected
    first (so an edit in the UI or a pipeline override applies),
    the outputs are recorded in the task's Outputs section; a failure marks the task failed and raises
    StepFailed naming the step.
    """
    start = time.time()
    tracker = start_step(step, project, store_dir, task_type)
    task_id = str(tracker.task.id)
    try:
        cfg = tracker.connect_config(cfg, section or step)
        got = tracker.connect_inputs(inputs)
        if queue:
            tracker.execute_remotely(queue)
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        outputs = fn(cfg, tracker, Path(work_dir), **got)
        tracker.set_outputs(outputs)
    except BaseException as e:
        try:
            tracker.task.mark_failed(status_reason=str(e)[:255], force=True)
        except Exception as inner:  # offline tasks cannot always change status; the error below still stands
            log.debug("could not mark %s failed: %s", step, inner)
        tracker.close()
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        raise StepFailed(step, e) from e
    session = tracker.close()
    return StepOutcome(step, outputs, session, task_id, time.time() - start)


def step_main(
    step: str,
    schema: type,
    default_config: str,
    input_names: list[str],
    fn: Callable[..., dict[str, Any]],
    task_type: str,
    argv: list[str] | None = None,
) -> int:
    """The command line of a step script: `python steps/<step>.py [--config F] [--<input>-id ID] [key=value ...]`."""
    import argparse
    import sys

    from crnn import config as config_mod

    p = argparse.ArgumentParser(description=f"Pipeline step '{step}' as a ClearML task (offline without a server).")
    p.add_argument("--config", default=default_config, help=f"YAML config (default {default_config})")
    for name in input_names:
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, default="", help=f"input {name}")
    p.add_argument("--project", default="barcode-ocr", help="ClearML project")
    p.add_argument(
        "--store",
        default=os.environ.get("CRNN_STORE", "runs/pipeline/store"),
        help="offline: the local dataset/model store (env CRNN_STORE)",
    )
    p.add_argument("--work-dir", default=f"runs/steps/{step}", help="where the step writes its files")
    p.add_argument("--queue", default=None, help="server: enqueue this step on QUEUE instead of running it here")
    p.add_argument("overrides", nargs="*", help="config overrides, e.g. optim.lr=3e-4")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg: Any = config_mod.load(schema, a.config, a.overrides)
        outcome = run_step(
            step,
            cfg,
            {n: getattr(a, n) for n in input_names},
            fn,
            project=a.project,
            store_dir=a.store,
            work_dir=a.work_dir,
            task_type=task_type,
            queue=a.queue,
        )
    except (StepFailed, ValueError) as e:
        cause = e.cause if isinstance(e, StepFailed) else e
        if not isinstance(cause, ValueError):  # a bug rather than bad input: keep the traceback
            log.error("step %s crashed", step, exc_info=cause)
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "step": step,
                "task_id": outcome.task_id,
                "outputs": outcome.outputs,
                "offline_session": str(outcome.session) if outcome.session else None,
            },
            default=str,
        )
    )
    return 0
