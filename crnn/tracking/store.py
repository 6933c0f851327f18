"""The offline store: content-addressed datasets and models for runs without a server."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


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
    Adding content that is already stored returns the existing ID without copying anything, once its stored files
    are checked against their content hashes: a deleted or damaged file is copied again. `damage` says what is
    wrong with a stored entry, so a step is not reused on top of it.
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
            problem = self.damage(ds_id)
            if problem is None:
                log.info("dataset %s (%s) unchanged: reusing %s", name, folder, ds_id)
                return ds_id
            log.warning("stored dataset %s is damaged (%s): storing it again", ds_id, problem)
            shutil.rmtree(target)
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
        problem = self.damage(model_id) if (target / "model.json").is_file() else "new"
        if problem is not None:
            if problem != "new":
                log.warning("stored model %s is damaged (%s): storing it again", model_id, problem)
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

    def damage(self, item_id: str) -> str | None:
        """What is wrong with a stored dataset or model (a deleted or changed file), or None when every file has the
        content its ID was made from."""
        try:
            if item_id.startswith("ds-"):
                info = self.dataset_info(item_id)
                folder = self.root / "datasets" / item_id / "files"
                for rel, sha in info["files"].items():
                    f = folder / rel
                    if not f.is_file():
                        return f"{f} is missing"
                    if _sha256(f) != sha:
                        return f"{f} has changed"
                if "ds-" + content_id(info["files"], [info["name"], *info["parents"]]) != item_id:
                    return f"its manifest does not match its ID {item_id}"
            else:
                info = self.model_info(item_id)
                f = self.root / "models" / item_id / info["file"]
                if not f.is_file():
                    return f"{f} is missing"
                if "model-" + content_id({info["file"]: _sha256(f)}, [info["name"]]) != item_id:
                    return f"{f} has changed"
        except (ValueError, KeyError, TypeError, AttributeError, OSError) as e:  # a damaged manifest or model.json
            return f"{type(e).__name__}: {e}"
        return None
