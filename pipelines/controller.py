"""The ClearML PipelineController of the pipeline's steps (server mode), as `pipelines.wiring` lists them.

Each step is a task made from `steps/<name>.py` at the repository's commit, in its docker image. Steps pass
IDs through parameter overrides that reference upstream outputs (`${dataset.parameters.Outputs/dataset_id}`);
pipeline-level parameters (`${pipeline.epochs}`) override step keys, so a clone of the pipeline can be edited
in the web UI. Unchanged steps are reused from ClearML's cache.
"""

from __future__ import annotations

import logging
import subprocess
import tomllib
from typing import Any

from crnn.config.loading import to_dict
from crnn.config.steps import PipelineConfig
from crnn.tracking.params import INPUTS, OUTPUTS, flatten
from pipelines.wiring import ORDER, PARAMETERS, REPO, STEPS, parameter_inputs, parameter_targets

log = logging.getLogger(__name__)

STEPS_PROJECT = "steps"  # base tasks live in <project>/steps


def git_source(pcfg: PipelineConfig) -> tuple[str, str]:
    """(repository URL, commit) the agents check out: from the config, else this checkout's remote and HEAD."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()

    try:
        repo = pcfg.repo or git("remote", "get-url", "origin")
        commit = pcfg.commit or git("rev-parse", "HEAD")
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        raise ValueError(
            "steps run on agents from a git remote: push this repository and set `repo` (and "
            f"optionally `commit`) in configs/pipeline.yaml ({e})"
        ) from e
    if not pcfg.commit and git("status", "--porcelain", "--untracked-files=no", "--", "crnn", "steps", "configs"):
        log.warning(
            "uncommitted changes in crnn/, steps/ or configs/ are not seen by agents (they run %s)", commit[:12]
        )
    return repo, commit


def step_packages() -> list[str]:
    """The pinned dependencies from pyproject.toml (already in the docker images, so agents install nothing)."""
    with (REPO / "pyproject.toml").open("rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def step_parameters(name: str, cfg: Any) -> dict[str, Any]:
    """A node's hyperparameters: its config (section = the step's name, which its script connects)
    and its input IDs (section Inputs)."""
    import importlib

    flat, _ = flatten(cfg)
    params: dict[str, Any] = {f"{name}/{k}": v for k, v in flat.items()}
    params |= {f"{INPUTS}/{i}": "" for i in importlib.import_module(f"steps.{name}").INPUTS}
    return params


def upload_destination(pcfg: PipelineConfig) -> str:
    """Where every task of the pipeline uploads: `output_uri`, or the files server this machine's clearml.conf names.

    Set on the controller (ClearML copies it to each step it clones) and on the base tasks (a step cloned from the
    web UI keeps it), because a task running on an agent ignores `Task.init(output_uri=True)`: it uploads to the
    destination its task record holds, else the project's default, else the agent's own configuration."""
    if pcfg.output_uri:
        return pcfg.output_uri
    from clearml.backend_api.session import Session

    return str(Session.get_files_server_host())


def register_base_tasks(pcfg: PipelineConfig, configs: dict[str, Any]) -> dict[str, str]:
    """Create (or find, for this commit) the template task of every step; return their IDs."""
    from clearml import Task

    repo, commit = git_source(pcfg)
    tag = f"commit:{commit[:12]}"
    project = f"{pcfg.project}/{STEPS_PROJECT}"
    ids = {}
    for name in ORDER:
        spec = STEPS[name]
        task_name = f"step {name}"
        found: list[Any] = Task.get_tasks(project_name=project, task_name=f"^{task_name}$", tags=[tag])
        if found:
            ids[name] = found[0].id
            continue
        task: Any = Task.create(
            project_name=project,
            task_name=task_name,
            task_type=spec.task_type,
            repo=repo,
            commit=commit,
            script=spec.script,
            working_directory=".",
            packages=step_packages(),
            docker=pcfg.docker.gpu if spec.queue == "gpu" else pcfg.docker.cpu,
            add_task_init_call=False,  # the scripts call Task.init themselves (crnn.tracking.tracker.start_step)
        )
        task.set_parameters(step_parameters(name, configs[name]))
        task.output_uri = upload_destination(pcfg)
        task.add_tags([tag, "pipeline-step"])
        ids[name] = task.id
        log.info("base task for step %s: %s", name, task.id)
    return ids


def node_overrides(name: str, cfg: Any) -> dict[str, Any]:
    """parameter_override of a step node: its resolved config, upstream IDs, and the pipeline parameters (on config
    keys, and on the inputs they give by ID)."""
    params = step_parameters(name, cfg)
    params = {k: v for k, v in params.items() if not k.startswith(f"{INPUTS}/")}
    for inp, (src, out) in STEPS[name].inputs.items():
        params[f"{INPUTS}/{inp}"] = f"${{{src}.parameters.{OUTPUTS}/{out}}}"
    for p, key in parameter_targets(name):
        params[f"{name}/{key}"] = f"${{pipeline.{p}}}"
    for p, inp in parameter_inputs(name):
        params[f"{INPUTS}/{inp}"] = f"${{pipeline.{p}}}"
    return params


def build_controller(
    pcfg: PipelineConfig,
    configs: dict[str, Any],
    base_task_ids: dict[str, str],
    gpu_queue: str | None = None,
    cpu_queue: str | None = None,
    repo: str | None = None,
    commit: str | None = None,
) -> Any:
    """The PipelineController (not started): a node per step, its parents, queue and parameter overrides."""
    from clearml import PipelineController

    gpu_queue = gpu_queue or pcfg.queues.gpu
    cpu_queue = cpu_queue or pcfg.queues.cpu
    pipe = PipelineController(
        name=pcfg.name,
        project=pcfg.project,
        version=pcfg.version,
        output_uri=upload_destination(pcfg),  # copied to every step node's cloned task
        add_pipeline_tags=True,
        abort_on_failure=True,  # a failing step (e.g. accuracy under the threshold) stops the pipeline
        docker=pcfg.docker.cpu,
        repo=repo,
        repo_commit=commit,
    )
    pipe.set_default_execution_queue(cpu_queue)
    defaults = to_dict(pcfg.parameters)
    for p, targets in PARAMETERS.items():
        value = defaults[p]
        where = ", ".join(f"{step}: {key}" for step, key in targets)
        pipe.add_parameter(p, default="" if value is None else value, description=f"sets {where}")
    for name in ORDER:
        spec = STEPS[name]
        pipe.add_step(
            name=name,
            base_task_id=base_task_ids[name],
            parents=spec.parents,
            execution_queue=gpu_queue if spec.queue == "gpu" else cpu_queue,
            parameter_override=node_overrides(name, configs[name]),
            cache_executed_step=True,
        )
    return pipe


def step_outcomes(pipe: Any) -> tuple[list[str], list[str]]:
    """(failed, not run): the steps whose job failed, was aborted or did not complete, and those never launched
    (skipped after a parent failed: ClearML's `skip_job`). A step reused from the cache counts as neither. The
    controller's own status is not trusted alone: it can end completed while a step failed."""
    failed, not_run = [], []
    for name, node in pipe.get_pipeline_dag().items():
        job = node.job
        if node.executed and job is None:
            continue  # reused from cache
        if job is None or getattr(node, "skip_job", False):
            not_run.append(name)
        elif job.is_failed() or job.is_aborted() or not job.is_completed():
            failed.append(name)
    return failed, not_run
