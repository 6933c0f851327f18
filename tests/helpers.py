"""Helpers shared by tests in several folders."""

from __future__ import annotations

import json
import zipfile

import numpy as np

from crnn.core.codec import Codec, log_softmax


class StandDetector:
    """Base of stand-in detectors that give `detect` only: their closer look (`Detector.look_closer`) finds nothing
    more."""

    def look_closer(self, image: object, quad: np.ndarray) -> list:
        return []


def frames_for(text: str, t: int = 30, codec: Codec | None = None, seed: int = 0) -> np.ndarray:
    """Log-probabilities whose best path spells `text` (each character two frames, blanks between repeats)."""
    codec = codec or Codec()
    labels = codec.encode(text)
    path: list[int] = []
    for i, k in enumerate(labels):
        if i and labels[i - 1] == k:
            path.append(0)
        path += [k, k] if len(path) + 2 * (len(labels) - i) <= t else [k]
    path += [0] * (t - len(path))
    logits = np.random.default_rng(seed).normal(0, 0.3, (t, codec.num_classes))
    logits[np.arange(t), path] += 6
    return log_softmax(logits)


def lead0_frames(upca: str, p_zero: float) -> np.ndarray:
    """Frames spelling `upca` after a frame that is '0' with probability `p_zero`, else blank, and a blank: the best
    path is the 13-digit EAN-13 `'0' + upca` (same bars), the runner-up the 12-digit UPC-A."""
    codec = Codec()
    lp = frames_for(upca, t=30)
    first = np.full((2, codec.num_classes), 1e-6)
    first[0, codec.encode("0")[0]], first[0, 0], first[1, 0] = p_zero, 1 - p_zero, 1.0  # then a blank
    return np.concatenate([np.log(first / first.sum(1, keepdims=True)), lp])


class AgentTask:
    """A task as an agent sees it after edits in the web UI: its parameters are text, read through ClearML's own
    casting (`clearml.backend_interface.task.args._Arguments.copy_to_dict`), as `Task.connect` does remotely."""

    def __init__(self, section: str, edits: dict[str, str], base: dict[str, str] | None = None) -> None:
        from types import SimpleNamespace

        from clearml.backend_interface.task.args import _Arguments

        self.section, self.edits, self.base, self.warnings = section, edits, base, []
        self.log = SimpleNamespace(warning=self.warnings.append)
        self._arguments = _Arguments(self)
        self.params: dict[str, str] = {}

    def get_parameters(self) -> dict[str, str]:
        return self.params

    def _get_task_property(self, *args, **kwargs):
        return {}

    def set_parameter(self, name: str, value) -> None:
        self.params[name] = value

    def connect(self, flat: dict, name: str) -> dict:
        # The task holds the code's values (or a base task's parameters); the edits replace some and may add keys.
        base = self.base if self.base is not None else {f"{name}/{k}": str(v) for k, v in flat.items()}
        self.params = base | {f"{name}/{k}": v for k, v in self.edits.items()}
        return self._arguments.copy_to_dict(dict(flat), prefix=name)


# Overrides that shrink the default recogniser training to seconds (a small network, one epoch, no real data).
TINY_TRAIN = [
    "model.neck_channels=32",
    "model.rnn_hidden=32",
    "model.rnn_layers=1",
    "data.batch_size=16",
    "data.num_workers=0",
    "data.real_tsv=null",
    "trainer.max_epochs=1",
    "trainer.log_every_n_steps=1",
]


def session(path: str) -> dict:
    """Hyperparameters and scalar series ({title/series: [values]}) of an offline session zip."""
    with zipfile.ZipFile(path) as z:
        task = json.loads(z.read("task.json"))
        events = [e for line in z.read("metrics.jsonl").decode().splitlines() if line.strip() for e in json.loads(line)]
        images = [n for n in z.namelist() if n.endswith((".jpeg", ".png"))]
    plots = sorted({f"{e['metric']}/{e['variant']}" for e in events if e.get("type") == "plot"})
    artifacts = [a["key"] for a in task.get("execution", {}).get("artifacts") or []]
    params = {f"{s}/{k}": v["value"] for s, sec in task.get("hyperparams", {}).items() for k, v in sec.items()}
    scalars: dict[str, list[float]] = {}
    for e in events:
        if e.get("type") == "training_stats_scalar":
            scalars.setdefault(f"{e['metric']}/{e['variant']}", []).append(e["value"])
    return {
        "name": task["name"],
        "params": params,
        "scalars": scalars,
        "images": images,
        "artifacts": artifacts,
        "plots": plots,
    }
