"""The Tracker: one API for a step in ClearML or offline (task, parameters, datasets, models, reports).

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

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from crnn.tracking.params import INPUTS, OUTPUTS, flatten, unflatten
from crnn.tracking.server import server_configured
from crnn.tracking.store import LocalStore, content_id, folder_manifest

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Tracker:
    """One step's ClearML task plus where its datasets and models go (server, or the local store)."""

    task: Any  # clearml.Task
    store: LocalStore | None  # None: the ClearML server stores datasets and models

    @property
    def offline(self) -> bool:
        return self.store is not None

    def local_data(self, path: str | None, key: str) -> Path | None:
        """A data file a step's config names by path (the real-dev crops or photos), or None when none is named.

        Named but not on this machine: offline, a warning in the step's log and report, and None; on a server (an
        agent's checkout has no `../shared`), a ValueError naming the key, so real-data evaluation never turns
        itself off silently."""
        if not path:
            return None
        if Path(path).is_file():
            return Path(path)
        message = f"{key}={path} is not on this machine: real-data evaluation is off in this step"
        if not self.offline:
            raise ValueError(f"{message}; set {key} to a file the agent can read, or to null")
        log.warning(message)
        self.task.get_logger().report_text(f"WARNING: {message}")
        return None

    def real_data(self, path: str | None, dataset_id: str, key: str) -> Path | None:
        """The real-data file `path` names: taken from dataset `dataset_id` when one is given (by its file name: the
        pipeline uploads the folder once and passes its ID, so agents need no ../shared), else `local_data`."""
        if not dataset_id:
            return self.local_data(path, key)
        if not path:
            raise ValueError(f"real_dataset_id={dataset_id} is given but {key} names no file to take from it")
        found = self.dataset(dataset_id) / Path(path).name
        if not found.is_file():
            raise ValueError(f"dataset {dataset_id} has no {Path(path).name} ({key}={path})")
        return found

    # ---- parameters

    def connect_config(self, cfg: T, name: str) -> T:
        """Show every key of `cfg` as a hyperparameter in section `name`; return it with any edits
        made in the UI or by a pipeline override (on an agent), validated again against its schema."""
        flat, encoded = flatten(cfg)
        flat = self.task.connect(flat, name=name)
        # A key added in the UI that the schema does not know would be dropped without a word by ClearML.
        known = set(flat)
        unknown = sorted(
            k.removeprefix(f"{name}/")
            for k in (self.task.get_parameters() or {})
            if k.startswith(f"{name}/") and k.removeprefix(f"{name}/") not in known
        )
        if unknown:
            raise ValueError(f"unknown key(s) in the task's {name} parameters: {', '.join(unknown)}")
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
            ds_id = clearml_dataset(Path(folder), name, project, parents)
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

    def model(self, model_id: str, name: str = "model_id") -> Path:
        """A local copy of model `model_id`, the step's input `name` (connected under that name on a server).

        The ID in the step's Inputs is the one loaded, also on an agent: ClearML would otherwise replace a connected
        model with the task's recorded input model of that name, or its first one (so a second model would load as
        the first, and an edited Inputs ID of a cloned task would load the old model)."""
        if not model_id:
            raise ValueError(f"no model ID given (Inputs/{name} is empty)")
        if self.store is not None:
            return self.store.model_path(model_id)
        from clearml import InputModel

        model = InputModel(model_id=model_id)
        model.connect(self.task, name=name, ignore_remote_overrides=True)
        local = model.get_local_copy()
        if not local:
            raise ValueError(f"cannot download model {model_id}")
        return Path(local)

    # ---- end

    def fail(self, error: BaseException) -> None:
        """Mark the task failed with `error` as its reason, and close it.

        ClearML's development worker polls a task running outside an agent (and a pipeline's locally run steps) for
        a status it did not set, which it takes for an abort from the web UI: seeing `failed` while the task still
        closes, it marks it `stopped` ("USER ABORTED") and kills the process, and the pipeline then shows the step
        aborted, not failed (a CI run ended so). It is stopped first, as `Task.close` does before it sets a status (no
        public switch). On an agent, clearml-agent keeps a task that marked itself failed as failed."""
        worker = getattr(self.task, "_dev_worker", None)
        if worker is not None:
            worker.unregister()
            self.task._dev_worker = None
        try:
            self.task.mark_failed(status_reason=str(error)[:255], force=True)
        except Exception as inner:  # offline tasks cannot always change status; the error itself still stands
            log.debug("could not mark task %s failed: %s", self.task.id, inner)
        self.close()

    def close(self) -> Path | None:
        """Close the task; offline, return the session zip to import into a server."""
        folder = self.task.get_offline_mode_folder() if self.offline else None
        # Reports still queued reach the session (or the server) before it is closed and, offline, zipped: without
        # this a short run's scalars could be left out of the zip (seen once in CI).
        self.task.flush(wait_for_uploads=True)
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


def clearml_dataset(folder: Path, name: str, project: str, parents: list[str]) -> str:
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
