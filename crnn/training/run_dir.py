"""A training run's output folder: never shared silently, and earlier epochs kept when a run resumes.

A lock file (created with O_EXCL, holding the process ID) refuses a second run into a folder in use; a lock left by
a process that is gone is taken over. A new run refuses a folder that holds anything unless it resumes or is told
to overwrite.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

LOCK = ".lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _take_lock(lock: Path) -> None:
    for _ in range(2):  # the second try follows removing a stale lock
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or "0")
            except (OSError, ValueError):
                pid = 0  # unreadable or half-written: no live owner to name
            if pid and pid != os.getpid() and _alive(pid):
                raise ValueError(
                    f"{lock.parent} is in use by another run (process {pid}, lock file {lock}); "
                    "wait for it or choose another out_dir"
                ) from None
            log.warning("taking over the stale lock %s (process %s is gone)", lock, pid or "unknown")
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return
    raise ValueError(f"cannot lock {lock.parent}: {lock} keeps coming back (another run is starting there)")


@contextlib.contextmanager
def claim(out_dir: str | Path, resume: str | None, overwrite: bool) -> Iterator[Path]:
    """Hold `out_dir` for one run: locked for the run's duration; a folder with files refused unless `resume` or
    `overwrite`. ValueError naming the folder (and the config keys that allow it) otherwise."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create out_dir {out}: {e}") from e
    lock = out / LOCK
    _take_lock(lock)
    try:
        earlier = sorted(p.name for p in out.iterdir() if p.name != LOCK)
        if earlier and not resume and not overwrite:
            shown = ", ".join(earlier[:5]) + (", ..." if len(earlier) > 5 else "")
            raise ValueError(
                f"out_dir {out} already holds a run ({shown}): set another out_dir, resume=<checkpoint> to "
                "continue it, or overwrite=true to replace it"
            )
        yield out
    finally:
        with contextlib.suppress(FileNotFoundError):
            if lock.read_text().strip() == str(os.getpid()):
                lock.unlink()


def earlier_history(out_dir: str | Path, epoch: int) -> tuple[list[dict[str, float]], dict[str, float]]:
    """What `metrics.json` in `out_dir` holds of the epochs up to `epoch` (a resumed checkpoint's), and its final
    metrics: a resumed run continues the history instead of starting it again. Nothing when there is no file."""
    f = Path(out_dir) / "metrics.json"
    try:
        data = json.loads(f.read_text())
    except FileNotFoundError:
        return [], {}
    except (OSError, ValueError) as e:
        log.warning("cannot read the earlier history %s (%s): the resumed run's starts from here", f, e)
        return [], {}
    if not isinstance(data, dict):
        return [], {}
    rows = [r for r in data.get("history") or [] if isinstance(r, dict) and r.get("epoch", epoch + 1) <= epoch]
    final = data.get("final")
    return rows, final if isinstance(final, dict) else {}


def check_resume(path: str | None, kind: str = "crnn") -> int:
    """The epoch a resume checkpoint was saved at (-1 when not resuming); ValueError when it is missing or does not
    load, before any data is prepared."""
    if not path:
        return -1
    from crnn.training.checkpoint import read_checkpoint

    ck = read_checkpoint(path, kind)
    raw = ck["hyper_parameters"].get("cfg")
    detector = isinstance(raw, dict) and "post" in raw  # the detector's config has its box decoding settings
    if detector != (kind == "detector"):
        got, want = ("detector", "recogniser") if detector else ("recogniser", "detector")
        raise ValueError(f"resume={path} is a {got} checkpoint: it cannot continue a {want} training")
    return int(ck.get("epoch", -1))
