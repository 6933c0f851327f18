"""Writing synthetic samples to disk in parallel: scenes + annotations.tsv, crops + crops.tsv, a settings stamp."""

from __future__ import annotations

import csv
import json
import logging
import multiprocessing
import time

try:
    import fcntl
except ImportError:  # Windows: no cross-process lock; one maker at a time is then the user's care
    fcntl = None  # type: ignore[assignment]
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from crnn.synth.scene import _make
from crnn.synth.settings import GENERATOR_VERSION, SynthConfig, _validate

log = logging.getLogger(__name__)


ANNOTATION_HEADER = ("filename", "code", "x_from", "y_from", "width", "height", "quad")


# `printed`: the digits a reader can see (the label the recogniser learns), `text` less the unprinted or cut ones.
CROP_HEADER = ("filename", "text", "format", "printed")


STAMP = "synth.json"


@dataclass
class SynthSummary:
    out_dir: Path
    count: int
    seconds: float
    per_format: dict[str, int]

    @property
    def samples_per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")


_Row = tuple[int, str, tuple[int, int, int, int], str, str, str]  # index, text, box, format, quad, printed


def _write_chunk(args: tuple[Path, int, int, int, SynthConfig, int]) -> list[_Row]:
    out_dir, seed, start, stop, cfg, digits = args
    rows: list[_Row] = []
    for i in range(start, stop):
        s = _make(i, seed, cfg)
        name = f"{i:0{digits}d}"
        (out_dir / "images" / f"{name}.{cfg.scene_format}").write_bytes(s.scene_bytes)
        s.crop.save(out_dir / "crops" / f"{name}.png", compress_level=1)
        rows.append((i, s.text, s.box, s.fmt, " ".join(f"{v:.1f}" for v in s.quad.ravel()), s.printed))
    return rows


def generate(
    out_dir: Path,
    count: int,
    seed: int = 0,
    workers: int = 2,
    config: SynthConfig | None = None,
    chunk_size: int = 32,
    progress: bool = True,
    stamp_extra: dict | None = None,
) -> SynthSummary:
    """Write `count` samples under `out_dir`:

    images/NNNNNN.jpg  scenes;  annotations.tsv  filename, code, x_from, y_from, width, height, quad
    crops/NNNNNN.png   crops;   crops.tsv        filename, text, format, printed
    Filenames in the TSVs are relative to `out_dir` (the TSVs' own folder). `synth.json` records the
    generator version, count, seed and settings, plus `stamp_extra`.
    """
    cfg = config or SynthConfig()
    _validate(cfg)
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "crops").mkdir(parents=True, exist_ok=True)
    digits = max(6, len(str(max(count - 1, 0))))
    jobs = [(out_dir, seed, a, min(a + chunk_size, count), cfg, digits) for a in range(0, count, chunk_size)]
    rows: list[_Row] = []
    t0 = time.perf_counter()
    with tqdm(total=count, desc="synth", unit="sample", disable=not progress) as bar:
        if workers <= 1:
            for job in jobs:
                rows += _write_chunk(job)
                bar.update(job[3] - job[2])
        else:
            # Fresh worker processes, not forks: a fork of a process whose other threads (onnxruntime, torch)
            # hold locks can hang forever (it did, in the test suite).
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                for chunk in pool.imap_unordered(_write_chunk, jobs):
                    rows += chunk
                    bar.update(len(chunk))
    seconds = time.perf_counter() - t0
    rows.sort()
    with open(out_dir / "annotations.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(ANNOTATION_HEADER)
        for i, text, box, _, quad, _ in rows:
            w.writerow([f"images/{i:0{digits}d}.{cfg.scene_format}", text, *box, quad])
    with open(out_dir / "crops.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(CROP_HEADER)
        for i, text, _, fmt, _, printed in rows:
            w.writerow([f"crops/{i:0{digits}d}.png", text, fmt, printed])
    # Provenance, and what `crnn.recognizer.train.ensure_synthetic` compares to know a folder is current.
    stamp = {"generator_version": GENERATOR_VERSION, "count": count, "seed": seed, "config": asdict(cfg)}
    stamp |= stamp_extra or {}
    (out_dir / STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
    per_format = dict(Counter(r[3] for r in rows))
    log.info("wrote %d samples to %s in %.1fs (%s)", count, out_dir, seconds, per_format)
    return SynthSummary(out_dir, count, seconds, per_format)


def ensure(folder: Path, count: int, seed: int, workers: int = 2, config: SynthConfig | None = None) -> bool:
    """Make `folder` hold `count` samples of stream `seed` with `config`, unless it already does.

    A folder this function made (marked `"auto": true` in its stamp) is made again when the generator's version or
    settings, the count or the seed changed. A folder made by `crnn synth` with other settings is refused (a
    ValueError saying what differs): it is never used silently. A folder without a stamp is your own data, used as
    it is. True when it generated.
    """
    folder = Path(folder)
    with _making(folder):
        return _ensure(folder, count, seed, workers, config or SynthConfig())


@contextmanager
def _making(folder: Path) -> Iterator[None]:
    """One maker at a time per folder, across processes: two steps sharing a checkout (two pipelines run locally at
    once) would otherwise see the other's half-written folder as "your own data"."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _ensure(folder: Path, count: int, seed: int, workers: int, cfg: SynthConfig) -> bool:
    want = {
        "generator_version": GENERATOR_VERSION,
        "count": count,
        "seed": seed,
        "config": json.loads(json.dumps(asdict(cfg))),  # as the stamp holds it (tuples as lists)
    }
    if folder.is_dir() and any(folder.iterdir()):  # a folder with anything in it holds someone's data
        if not (folder / STAMP).is_file():
            log.info("%s has no %s: your own data, used as it is", folder, STAMP)
            return False
        stamp = _read_stamp(folder / STAMP)
        if isinstance(stamp.get("config"), dict):
            # A knob newer than the stamp was at its default then (new knobs leave the default stream alone).
            defaults = json.loads(json.dumps(asdict(SynthConfig())))
            stamp["config"] = {k: stamp["config"].get(k, defaults[k]) for k in defaults}
        if all(stamp.get(k) == v for k, v in want.items()):
            return False
        if not stamp.get("auto"):
            raise ValueError(
                f"{folder} was made with other synthetic settings ({_differences(stamp, want)}); "
                "delete it to have it made as configured, or point the config at another folder"
            )
        changed = sorted(k for k, v in want.items() if stamp.get(k) != v)
        log.info("synthetic data in %s is stale (%s changed); making it again", folder, ", ".join(changed))
    log.info("generating %d synthetic samples into %s", count, folder)
    generate(folder, count=count, seed=seed, workers=workers, config=cfg, stamp_extra={"auto": True})
    return True


def _differences(stamp: dict, want: dict) -> str:
    out = [f"{k} {stamp.get(k)} instead of {v}" for k, v in want.items() if k != "config" and stamp.get(k) != v]
    config = stamp.get("config")
    have: dict = config if isinstance(config, dict) else {}
    out += [f"{k}={have.get(k)!r} instead of {v!r}" for k, v in want["config"].items() if have.get(k) != v]
    return "; ".join(out)


def _read_stamp(path: Path) -> dict:
    try:
        stamp = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}
