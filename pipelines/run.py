"""Run the pipeline: dataset -> preprocess -> train -> evaluate -> export (the recogniser),
dataset -> detector_train -> detector_export (the detector), then photo_evaluate on the recogniser and the
detector.

    python pipelines/run.py                       # no server configured: all steps here, offline
    python pipelines/run.py --queue gpu           # server: a PipelineController; training and evaluation on `gpu`
    python pipelines/run.py parameters.count=2000 train.trainer.max_epochs=2   # overrides, as dotlists

Overrides prefixed with a step name (`train.optim.lr=1e-3`) go to that step's config; others to
configs/pipeline.yaml (`parameters.epochs=4`, `work_dir=/tmp/run`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import this checkout's steps/ and pipelines/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crnn import tracking
from pipelines.wiring import load_pipeline

log = logging.getLogger("pipelines.run")

# The configuration object of the controller task that holds the command line its graph was built from.
COMMAND_LINE = "command line"


def controller_argv(argv: list[str]) -> list[str]:
    """The arguments to build the pipeline from: `argv`, except on an agent.

    An agent runs a controller task (`--remote-controller`, or a clone enqueued from the web UI) as this script with
    no arguments, and ClearML rebuilds the graph from code (`always_create_from_code`): `--queue`, `--config` and
    the overrides would be lost. There the command line recorded on the task is used (editable on a clone)."""
    from clearml.config import get_remote_task_id, running_remotely

    if not running_remotely():
        return argv
    from clearml import Task

    task_id = get_remote_task_id()
    text: str | None = Task.get_task(task_id=task_id).get_configuration_object(COMMAND_LINE)
    try:
        recorded = json.loads(text or "null")
    except json.JSONDecodeError as e:
        raise ValueError(f"controller task {task_id}: {COMMAND_LINE!r} is not a JSON list of arguments: {e}") from e
    if not isinstance(recorded, list) or not all(isinstance(x, str) for x in recorded):
        raise ValueError(
            f"controller task {task_id} records no {COMMAND_LINE!r} (a JSON list of arguments): launch it with "
            "pipelines/run.py, or set it on the clone"
        )
    log.info("agent: building the pipeline from the recorded command line %s", recorded)
    return recorded


def record_command_line(task, argv: list[str]) -> None:  # type: ignore[no-untyped-def]  # clearml.Task
    """Keep the command line on the controller task, for an agent to build the same graph (`controller_argv`)."""
    task.set_configuration_object(
        name=COMMAND_LINE,
        config_text=json.dumps(list(argv)),
        description="pipelines/run.py arguments this pipeline is built from (JSON list; edit on a clone)",
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=None, help="pipeline YAML (default configs/pipeline.yaml)")
    p.add_argument("--queue", default=None, help="server: queue for the GPU steps (default: queues.gpu)")
    p.add_argument("--cpu-queue", default=None, help="server: queue for dataset/preprocess (default: queues.cpu)")
    p.add_argument(
        "--remote-controller",
        action="store_true",
        help="server: run the controller on the services queue instead of here",
    )
    p.add_argument(
        "--local-steps",
        action="store_true",
        help="server: run the steps here as well (start_locally(run_pipeline_steps_locally=True))",
    )
    p.add_argument("--offline", action="store_true", help="run offline even when a server is configured")
    p.add_argument("--no-reuse", action="store_true", help="offline: redo steps even when unchanged")
    p.add_argument(
        "--import-offline",
        metavar="SUMMARY_JSON",
        default=None,
        help="import the offline sessions listed in a run's summary.json into the configured server",
    )
    p.add_argument("overrides", nargs="*", help="dotlist overrides: parameters.epochs=4, train.optim.lr=1e-3")
    return p


def with_real_data(a: argparse.Namespace, pcfg, configs, register=None):  # type: ignore[no-untyped-def]  # configs
    """On a server, the real evaluation data travel as a dataset: the folder of `evaluate.real_tsv` (with
    `photo_evaluate.photos_tsv` when it lies there too) is uploaded once (reused while its content is the same) and
    its ID set as the pipeline parameter `real_dataset_id`. An ID given already, or no such folder here, is left as
    it is (the steps then fail on an agent if they cannot read the files, naming the key)."""
    real = configs["evaluate"].real_tsv
    if pcfg.parameters.real_dataset_id or not real or not Path(real).is_file():
        return pcfg, configs
    folder = Path(real).resolve().parent
    photos = configs["photo_evaluate"].photos_tsv
    if photos and Path(photos).resolve().parent != folder:
        log.warning("photo_evaluate.photos_tsv %s is not beside evaluate.real_tsv: photos are not uploaded", photos)
    if register is None:
        from crnn.tracking.tracker import clearml_dataset as register
    ds_id = register(folder, "real-dev", f"{pcfg.project}/datasets", [])
    log.info("real evaluation data %s: dataset %s", folder, ds_id)
    override = f"parameters.real_dataset_id={ds_id}"
    a.overrides = [*a.overrides, override]
    a.argv = [*getattr(a, "argv", []), override]  # recorded for an agent running the controller
    return load_pipeline(a.config, a.overrides)


def run_with_server(a: argparse.Namespace, pcfg, configs) -> int:  # type: ignore[no-untyped-def]  # config types
    from pipelines.controller import build_controller, git_source, register_base_tasks, step_outcomes

    host = tracking.check_server()  # configured but unreachable: an error, never a silent offline fallback
    gpu, cpu = a.queue or pcfg.queues.gpu, a.cpu_queue or pcfg.queues.cpu
    queues = [gpu, cpu] + ([pcfg.queues.controller] if a.remote_controller else [])
    if not a.local_steps:
        for q in dict.fromkeys(queues):
            n = tracking.queue_workers(q)
            if n == 0:
                log.warning(
                    "no agent serves queue %r: its steps will wait until one does "
                    "(clearml-agent daemon --queue %s; see docker/README.md)",
                    q,
                    q,
                )
    repo, commit = git_source(pcfg)
    pcfg, configs = with_real_data(a, pcfg, configs)
    base = register_base_tasks(pcfg, configs)
    pipe = build_controller(pcfg, configs, base, gpu_queue=gpu, cpu_queue=cpu, repo=repo, commit=commit)
    print(f"pipeline on {host}: {pcfg.project} / {pcfg.name}")
    from clearml.config import running_remotely

    if not running_remotely():
        record_command_line(pipe.task, a.argv)
    if a.remote_controller and not running_remotely():
        pipe.start(queue=pcfg.queues.controller)  # enqueues the controller and exits this process
        print(f"controller enqueued on {pcfg.queues.controller!r}; follow it in the web UI")
        return 0
    # start_locally waits for the pipeline and stops it (marking it failed when ClearML saw a step fail); it is not
    # stopped a second time here. A failure ClearML missed still marks the pipeline task failed.
    pipe.start_locally(run_pipeline_steps_locally=a.local_steps)
    failed, not_run = step_outcomes(pipe)
    if failed or not_run:
        from clearml import Task

        reason = f"failed: {', '.join(failed) or '-'}; not run: {', '.join(not_run) or '-'}"
        Task.get_task(task_id=pipe.id).mark_failed(status_reason=reason[:255], force=True)
        print(f"error: pipeline {reason}", file=sys.stderr)
        return 1
    print("pipeline completed")
    return 0


def run_offline(a: argparse.Namespace, pcfg, configs) -> int:  # type: ignore[no-untyped-def]  # config types
    from pipelines.local import run_offline as run_local

    try:
        run = run_local(pcfg, configs, reuse=not a.no_reuse)
    except tracking.StepFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    s = run.summary()
    shown = (
        "exact_match",
        "cer",
        "metrics_file",
        "onnx_file",
        "detector_onnx_file",
        "photos",
    )
    print(json.dumps({k: s[k] for k in shown}, indent=1))
    reused = [k for k, v in s["steps"].items() if v["reused"]]
    print(f"\nfinished in {s['seconds']}s" + (f" (reused: {', '.join(reused)})" if reused else ""))
    print(f"exact match ({configs['evaluate'].gate_split}): {s['exact_match']:.4f}   CER: {s['cer']:.4f}")
    ev = s["steps"]["evaluate"]["outputs"]
    for split in (k.removesuffix("_exact_match") for k in ev if k.endswith("_exact_match")):
        if split != configs["evaluate"].gate_split:
            print(f"exact match ({split}): {ev[f'{split}_exact_match']:.4f}")
    print(f"ONNX model: {s['onnx_file']}")
    print(f"detector: val F1 {s['detector_val_f1']:.4f}, ONNX {s['detector_onnx_file']}")
    ph = s["photos"]
    if ph["n"]:
        print(
            f"photos ({ph['n']}, {configs['photo_evaluate'].photos_tsv}): "
            f"read {ph['read']:.4f}   "
            f"found {ph['found']:.4f}   zxing {ph['zxing']:.4f}   either {ph['either']:.4f}   "
            f"{ph['seconds_per_photo'] * 1000:.0f} ms/photo"
        )
    else:
        print(f"photos: none evaluated (photos_tsv {configs['photo_evaluate'].photos_tsv!r} does not exist)")
    print(f"ClearML offline sessions ({len(s['offline_sessions'])}):")
    for z in s["offline_sessions"]:
        print(f"  {z}")
    print(f"run summary: {run.work_dir / 'summary.json'}")
    print(f"import the sessions into a server (once one is configured):\n  {s['import_command']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        argv = controller_argv(argv)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    a = _parser().parse_intermixed_args(argv)  # options and overrides in any order
    a.argv = argv
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if a.import_offline:
            tracking.check_server()
            from pipelines.local import import_sessions

            for task_id in import_sessions(a.import_offline):
                print(f"imported task {task_id}")
            return 0
        pcfg, configs = load_pipeline(a.config, a.overrides)
        if a.offline:
            os.environ[tracking.OFFLINE_ENV] = "1"
        if not tracking.server_configured():
            if not a.offline:
                log.info("no ClearML server configured: running offline")
            return run_offline(a, pcfg, configs)
        return run_with_server(a, pcfg, configs)
    except (ValueError, tracking.ServerUnreachable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
