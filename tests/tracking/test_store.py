"""The offline store checks content hashes: a deleted or damaged file is found, and storing again repairs it."""

from __future__ import annotations

from pathlib import Path

from crnn.tracking.store import LocalStore


def test_damaged_datasets_and_models_are_found_and_stored_again(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    (src / "labels.tsv").write_text("filename\ttext\nimages/a.png\t123\n")
    (src / "images" / "a.png").write_bytes(b"pixels")
    weights = tmp_path / "best.ckpt"
    weights.write_bytes(b"weights")
    store = LocalStore(tmp_path / "store")
    ds = store.add_dataset(src, "raw")
    model = store.add_model(weights, "crnn")
    assert store.damage(ds) is None and store.damage(model) is None

    stored = store.dataset_path(ds) / "images" / "a.png"
    stored.unlink()
    assert "a.png is missing" in (store.damage(ds) or "")
    store.model_path(model).write_bytes(b"weightz")
    assert "best.ckpt has changed" in (store.damage(model) or "")
    assert store.damage("model-unknown") is not None

    # Adding the same content again (what a step run again does) repairs the stored copies under the same IDs.
    assert store.add_dataset(src, "raw") == ds and store.add_model(weights, "crnn") == model
    assert store.damage(ds) is None and stored.read_bytes() == b"pixels"
    assert store.damage(model) is None and store.model_path(model).read_bytes() == b"weights"
    (store.dataset_path(ds) / "labels.tsv").write_text("filename\ttext\n")
    assert "labels.tsv has changed" in (store.damage(ds) or "")
