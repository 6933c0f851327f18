"""The pipeline without a server: the same steps, one after another in `ORDER`, in this process.

Each step records a ClearML offline session; datasets and models go to a content-addressed local store
(`crnn.tracking.store.LocalStore`) and IDs pass between steps through the tasks' Inputs/Outputs sections, as on a
server. A step whose config, input IDs and code are unchanged since a completed run is reused, not redone.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crnn.config.loading import to_dict
from crnn.config.steps import PipelineConfig
from crnn.tracking.steps import StepFailed, run_step, step_work_dir
from crnn.tracking.store import LocalStore
from pipelines.wiring import ORDER, REPO, STEPS, parameter_inputs

log = logging.getLogger(__name__)


@dataclass
class StepRecord:
    step: str
    key: str
    outputs: dict[str, Any]
    session: str | None
    task_id: str
    seconds: float
    reused: bool = False


@dataclass
class LocalRun:
    work_dir: Path
    steps: dict[str, StepRecord] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def sessions(self) -> list[str]:
        return [r.session for r in self.steps.values() if r.session]

    def summary(self) -> dict:
        ev, ex = self.steps["evaluate"].outputs, self.steps["export"].outputs
        det, dex = self.steps["detector_train"].outputs, self.steps["detector_export"].outputs
        photos = self.steps["photo_evaluate"].outputs
        return {
            "exact_match": ev.get("exact_match"),
            "cer": ev.get("cer"),
            "metrics_file": ev.get("metrics_file"),
            "onnx_file": ex.get("onnx_file"),
            "onnx_model_id": ex.get("onnx_model_id"),
            "detector_val_f1": det.get("val_f1"),
            "detector_onnx_file": dex.get("onnx_file"),
            "detector_onnx_model_id": dex.get("model_id"),
            # n = 0: no photos TSV where the step ran (the figures are then NaN)
            "photos": {k: photos.get(k) for k in ("n", "read", "found", "zxing", "either", "seconds_per_photo")},
            "photo_metrics_file": photos.get("metrics_file"),
            "store": str(self.work_dir / "store"),
            "offline_sessions": self.sessions,
            "import_command": f"python pipelines/run.py --import-offline {self.work_dir / 'summary.json'}",
            "steps": {
                k: {"seconds": round(r.seconds, 1), "reused": r.reused, "task_id": r.task_id, "outputs": r.outputs}
                for k, r in self.steps.items()
            },
            "seconds": round(self.seconds, 1),
        }


def code_fingerprint() -> str:
    """Hash of the library and step sources: a code change invalidates reuse of completed steps."""
    h = hashlib.sha256()
    for folder in (REPO / "crnn", REPO / "steps"):
        for f in sorted(folder.rglob("*.py")):
            h.update(f.relative_to(REPO).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _step_key(step: str, cfg: Any, inputs: dict[str, str], code: str) -> str:
    blob = json.dumps(
        {"step": step, "config": to_dict(cfg), "inputs": inputs, "code": code}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _outputs_exist(store: LocalStore, outputs: dict[str, Any]) -> bool:
    """Every dataset and model a step made is in the store with the content its ID was made from (a deleted or
    changed file means running the step again), and its other files are there."""
    for k, v in outputs.items():
        problem = store.damage(v) if k.endswith(("dataset_id", "model_id")) else None
        if k.endswith("_file") and not Path(v).is_file():
            problem = f"{v} is missing"
        if problem is not None:
            log.warning("output %s of a finished step is damaged (%s): running the step again", k, problem)
            return False
    return True


def run_offline(pcfg: PipelineConfig, configs: dict[str, Any], reuse: bool = True) -> LocalRun:
    """Run every step in `ORDER`; raise StepFailed naming a failing step."""
    start = time.time()
    work = Path(pcfg.work_dir).resolve()
    store = LocalStore(work / "store")
    code = code_fingerprint()
    params = to_dict(pcfg.parameters)
    run = LocalRun(work)
    for name in ORDER:
        spec = STEPS[name]
        module = importlib.import_module(f"steps.{name}")
        inputs = {inp: "" for inp in module.INPUTS}  # unwired inputs (train's resume_model_id) stay visible
        inputs |= {inp: str(run.steps[src].outputs[out]) for inp, (src, out) in spec.inputs.items()}
        inputs |= {inp: str(params[p]) for p, inp in parameter_inputs(name)}  # IDs given as pipeline parameters
        key = _step_key(name, configs[name], inputs, code)
        record_file = work / "steps" / f"{name}-{key}.json"
        if reuse and record_file.is_file():
            rec = StepRecord(**json.loads(record_file.read_text()))
            if _outputs_exist(store, rec.outputs):
                rec.reused = True
                run.steps[name] = rec
                log.info("step %s: unchanged since %s, reusing its outputs", name, rec.task_id)
                continue
        log.info("step %s: running", name)
        outcome = run_step(
            name,
            configs[name],
            inputs,
            module.run,
            project=pcfg.project,
            store_dir=store.root,
            work_dir=step_work_dir(work, name, key),
            task_type=spec.task_type,
        )
        rec = StepRecord(
            name,
            key,
            outcome.outputs,
            str(outcome.session) if outcome.session else None,
            outcome.task_id,
            outcome.seconds,
        )
        if rec.session is None:
            raise StepFailed(name, RuntimeError("no ClearML offline session was written"))
        record_file.write_text(json.dumps(rec.__dict__, indent=1, default=str))
        run.steps[name] = rec
    run.seconds = time.time() - start
    (work / "summary.json").write_text(json.dumps(run.summary(), indent=1, default=str))
    return run


def import_sessions(summary_json: str | Path) -> list[str]:
    """Import a run's offline sessions into the configured server; return the new task IDs."""
    from clearml import Task

    summary = json.loads(Path(summary_json).read_text())
    return [str(Task.import_offline_session(s)) for s in summary["offline_sessions"]]
