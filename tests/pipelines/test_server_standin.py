"""The server path executed against a stand-in of the ClearML API (tests/standin/clearml_api.py), not a server.

`python pipelines/run.py --local-steps` registers the base tasks, clones every node with its overrides through the
controller, and runs each step as ClearML's LocalClearmlJob does (a subprocess attached to its cloned task), so the
steps upload datasets and models to the files server and fetch them by ID. `clearml-agent execute --id` runs steps
as an agent does: a fresh checkout of the repository at the commit, the step script, the task's parameters.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipelines.test_pipeline import STEPS_IN_ORDER, TINY
from tests.standin.clearml_api import StandIn

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.server_standin, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    s = StandIn(tmp_path_factory.mktemp("fileserver"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def env(server: StandIn, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML", "TRAINS"))}
    return clean | server.env() | {"HOME": str(home), "CLEARML_CONFIG_FILE": str(home / "none.conf")}


@pytest.fixture(scope="module")
def real_folder(synth_dir: Path, photos_tsv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder like ../shared/data/real-dev: crops.tsv with crops/, photos.tsv beside its photos."""
    real = tmp_path_factory.mktemp("real")
    shutil.copytree(synth_dir / "crops", real / "crops")
    shutil.copy(synth_dir / "crops.tsv", real / "crops.tsv")
    for f in photos_tsv.parent.iterdir():
        shutil.copy(f, real / f.name)
    return real


def _commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout


def _pipeline(env: dict[str, str], work: Path, real: Path, *extra: str) -> subprocess.CompletedProcess:
    scenes = work / "scenes"
    args = [
        *TINY,
        f"work_dir={work}",
        f"repo=file://{REPO}",
        f"evaluate.real_tsv={real / 'crops.tsv'}",
        f"photo_evaluate.photos_tsv={real / 'photos.tsv'}",
        f"detector_train.data.train_dirs=[{scenes / 'train'}]",
        f"detector_train.data.val_dir={scenes / 'val'}",
        *extra,
    ]
    cmd = [sys.executable, "pipelines/run.py", "--local-steps", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)


def _params(task: dict, section: str) -> dict[str, str]:
    return {k: v.get("value", "") for k, v in task["hyperparams"].get(section, {}).items()}


def _nodes(server: StandIn, controller: str) -> dict[str, dict]:
    return {
        t["name"]: t for t in server.tasks.values() if t.get("parent") == controller and t["name"] in STEPS_IN_ORDER
    }


@pytest.fixture(scope="module")
def first_run(server: StandIn, env: dict[str, str], real_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    r = _pipeline(env, tmp_path_factory.mktemp("run1"), real_folder)
    if os.environ.get("STANDIN_DUMP"):  # for debugging a failure: the stand-in's records after the run
        Path(os.environ["STANDIN_DUMP"]).write_text(json.dumps({"tasks": server.tasks, "models": server.models}))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]
    controllers = [t for t in server.tasks.values() if t["type"] == "controller"]
    assert len(controllers) == 1
    return controllers[0]


def test_the_pipeline_runs_the_server_path_end_to_end(server: StandIn, first_run: dict):
    assert not server.errors and not server.unknown, (server.errors, sorted(set(server.unknown)))
    # Base tasks: one per step, at this commit, uploading to the files server.
    base = {t["name"]: t for t in server.tasks.values() if t["name"].startswith("step ")}
    assert set(base) == {f"step {s}" for s in STEPS_IN_ORDER}
    assert all(f"commit:{_commit()[:12]}" in t["tags"] for t in base.values())
    assert all(t["output"]["destination"] == server.files_url for t in base.values())

    # Every node is a clone of its base task, with its overrides, and completed.
    nodes = _nodes(server, first_run["id"])
    assert set(nodes) == set(STEPS_IN_ORDER)
    assert {n: t["status"] for n, t in nodes.items()} == dict.fromkeys(STEPS_IN_ORDER, "completed")
    assert _params(nodes["dataset"], "dataset")["synthetic.count"] == "64"
    assert _params(nodes["train"], "train")["trainer.max_epochs"] == "1"
    out = {n: _params(t, "Outputs") for n, t in nodes.items()}
    assert _params(nodes["preprocess"], "Inputs")["raw_dataset_id"] == out["dataset"]["dataset_id"]
    assert _params(nodes["train"], "Inputs")["dataset_id"] == out["preprocess"]["dataset_id"]
    assert _params(nodes["evaluate"], "Inputs")["model_id"] == out["train"]["model_id"]

    # Models went to the files server and were fetched by ID; photo_evaluate got the right two, by name.
    for m in server.models.values():
        assert m["uri"].startswith(server.files_url), m["uri"]
        assert (server.files_dir / m["uri"][len(server.files_url) + 1 :]).is_file()
    photo_inputs = {m["name"]: m["model"] for m in nodes["photo_evaluate"]["models"]["input"]}
    assert photo_inputs == {
        "recogniser_model_id": out["export"]["onnx_model_id"],
        "detector_model_id": out["detector_export"]["model_id"],
    }

    # The real data travelled as a dataset, passed by ID, and both evaluations used it.
    real_id = _params(first_run, "Args")["real_dataset_id"]  # a pipeline parameter
    assert real_id and _params(nodes["evaluate"], "evaluate")["real_dataset_id"] == real_id
    assert any(k.startswith("real_") for k in out["evaluate"]), out["evaluate"]
    assert int(out["photo_evaluate"]["n"]) == 2


def test_the_gate_below_its_threshold_fails_the_pipeline(
    server: StandIn, env: dict[str, str], first_run: dict, real_folder: Path, tmp_path: Path
):
    before = set(server.tasks)
    r = _pipeline(env, tmp_path / "run2", real_folder, "parameters.threshold=1.01")
    if os.environ.get("STANDIN_DUMP"):
        Path(os.environ["STANDIN_DUMP"] + ".2").write_text(json.dumps({"tasks": server.tasks, "models": server.models}))
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-4000:]
    assert "failed: evaluate" in r.stderr
    controller = next(t for i, t in server.tasks.items() if i not in before and t["type"] == "controller")
    assert controller["status"] == "failed"
    ran = {n: t["status"] for n, t in _nodes(server, controller["id"]).items()}
    # evaluate ran again (its threshold changed) and failed; export and photo_evaluate never started; unchanged
    # steps were reused from the first run, not run again.
    assert ran.get("evaluate") == "failed", ran
    assert not {"export", "photo_evaluate", "dataset", "preprocess", "train"} & set(ran), ran


def _child(env: dict[str, str], code: str, *args: str) -> str:
    cmd = [sys.executable, "-c", code, *args]
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip().splitlines()[-1]


def _agent(env: dict[str, str], task_id: str, home: Path) -> subprocess.CompletedProcess:
    """`clearml-agent execute --id`, in the environment it would have in our docker image (everything installed:
    CLEARML_AGENT_SKIP_PIP_VENV_INSTALL points it at this Python)."""
    agent_env = env | {
        "HOME": str(home),
        "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL": sys.executable,
        "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",
    }
    agent = Path(sys.executable).parent / "clearml-agent"
    cmd = [str(agent), "execute", "--id", task_id]
    return subprocess.run(cmd, cwd=home, env=agent_env, capture_output=True, text=True, timeout=600)


def test_an_agent_runs_steps_from_a_fresh_checkout_and_passes_ids(server: StandIn, env: dict[str, str], tmp_path):
    """Two steps through clearml-agent: the agent checks the repository out afresh for each task (wiping the
    previous one's folder), so preprocess can only get the dataset step's output by its ID, from the server."""
    clone = (
        "from clearml import Task; from pipelines.controller import register_base_tasks; "
        "from pipelines.wiring import load_pipeline; import sys; "
        f"pcfg, configs = load_pipeline(None, ['repo=file://{REPO}', 'project=agent-check']); "
        "base = register_base_tasks(pcfg, configs); "
        "t = Task.clone(source_task=base[sys.argv[1]], name=sys.argv[1]); "
        "t.set_parameters(dict(a.split('=', 1) for a in sys.argv[2:])); print(t.id)"
    )
    home = tmp_path / "agent-home"
    home.mkdir()
    ds_task = _child(env, clone, "dataset", "dataset/synthetic.count=8", "dataset/synthetic.workers=1")
    r = _agent(env, ds_task, home)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    ds_out = _params(server.tasks[ds_task], "Outputs")
    assert server.tasks[ds_task]["status"] == "completed" and ds_out["dataset_id"]
    checkout = home / ".clearml" / "venvs-builds" / "task_repository" / REPO.name
    first_files = checkout / "runs" / "steps" / "dataset" / ds_task
    assert first_files.is_dir()  # what the step wrote beside its checkout

    pre_task = _child(env, clone, "preprocess", f"Inputs/raw_dataset_id={ds_out['dataset_id']}")
    r = _agent(env, pre_task, home)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert not first_files.exists()  # the agent wiped the first task's checkout
    pre = server.tasks[pre_task]
    assert pre["status"] == "completed"
    assert int(_params(pre, "Outputs")["train_size"]) + int(_params(pre, "Outputs")["val_size"]) > 0
    assert json.dumps(server.errors) == "[]"


def test_a_step_that_fails_ends_failed_not_aborted(server: StandIn, env: dict[str, str], tmp_path: Path):
    """ClearML's development worker polls a running task's status and takes one it did not set for an abort from the
    web UI. A step marking itself failed, still closing when it looked (here: its flush held 4 s, the worker polling
    each second), became `stopped`, and the pipeline showed it aborted."""
    conf = tmp_path / "clearml.conf"
    conf.write_text(
        "sdk { development { report_use_subprocess: false, vcs_repo_detect_async: false,"
        " worker { ping_period_sec: 1, report_period_sec: 1 } } }\n"
    )
    code = (
        "import sys, time; from crnn.tracking.tracker import start_step; "
        "t = start_step('evaluate', 'fail-check', sys.argv[1]); flush = t.task.flush; "
        "t.task.flush = lambda **k: (time.sleep(4), flush(**k))[1]; "
        "print('task', t.task.id); t.fail(RuntimeError('exact match under the threshold'))"
    )
    env = env | {"CLEARML_CONFIG_FILE": str(conf), "HOME": str(tmp_path)}
    cmd = [sys.executable, "-c", code, str(tmp_path / "store")]
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    ids = [ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith("task ")]
    assert ids, r.stdout[-2000:] + r.stderr[-3000:]  # the step never started its task
    task = server.tasks[ids[0]]
    assert task["status"] == "failed", (task["status"], task.get("status_reason"), r.stdout[-2000:])
    assert r.returncode == 0, r.stderr[-3000:]  # before: ClearML killed the step (-9) when it saw the "abort"
    assert "under the threshold" in task.get("status_reason", "")
