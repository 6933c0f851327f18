"""Running a pipeline step: as a ClearML task or offline, with reuse of finished steps and a clear failure."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crnn.tracking.tracker import start_step

log = logging.getLogger(__name__)


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


def step_work_dir(root: Path, node: str, run_id: str) -> Path:
    """Where a step writes its files, offline and on a server alike: `<root>/steps/<node>/<run id>` (the task ID on
    a server, the step's content key offline), so that two nodes or two runs never share a folder."""
    return root / "steps" / node / run_id


def run_step(
    step: str,
    cfg: Any,
    inputs: dict[str, str],
    fn: Callable[..., dict[str, Any]],
    *,
    project: str,
    store_dir: str | Path,
    work_dir: str | Path | None = None,
    task_type: str = "data_processing",
    queue: str | None = None,
) -> StepOutcome:
    """Run `fn(cfg, tracker, work_dir, **inputs)` as the ClearML task `step`.

    The config goes under the parameter section `step`, the input IDs under Inputs; both are connected first (so
    an edit in the UI or a pipeline override applies),
    the outputs are recorded in the task's Outputs section; a failure marks the task failed and raises
    StepFailed naming the step. `work_dir` None: `runs/steps/<step>/<task id>`, one folder per task, so two nodes
    of one step script (in two pipelines at once) or two runs never write into each other's files.
    """
    start = time.time()
    tracker = start_step(step, project, store_dir, task_type)
    task_id = str(tracker.task.id)
    try:
        cfg = tracker.connect_config(cfg, step)
        got = tracker.connect_inputs(inputs)
        if queue:
            tracker.execute_remotely(queue)
        work = Path(work_dir) if work_dir is not None else step_work_dir(Path("runs"), step, task_id)
        work.mkdir(parents=True, exist_ok=True)
        outputs = fn(cfg, tracker, work, **got)
        tracker.set_outputs(outputs)
    except BaseException as e:
        tracker.fail(e)
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
    p.add_argument(
        "--work-dir", default=None, help=f"where the step writes its files (default: runs/steps/{step}/<task id>)"
    )
    p.add_argument("--queue", default=None, help="server: enqueue this step on QUEUE instead of running it here")
    p.add_argument("overrides", nargs="*", help="config overrides, e.g. optim.lr=3e-4")
    a = p.parse_intermixed_args(argv)  # options and overrides in any order
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
