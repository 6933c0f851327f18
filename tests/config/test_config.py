from pathlib import Path

import pytest

from crnn import config

REPO = Path(__file__).resolve().parents[2]


def _schemas() -> dict[str, type]:
    """Every config file in configs/ and the schema it must satisfy (extended as steps add configs)."""
    from crnn.config import SCHEMAS

    return SCHEMAS


def test_every_yaml_in_configs_loads():
    files = sorted((REPO / "configs").rglob("*.yaml"))
    assert files, "no configs found"
    schemas = _schemas()
    for f in files:
        name = f.relative_to(REPO / "configs").as_posix()
        assert name in schemas, f"{name} has no schema in crnn.config.SCHEMAS"
        cfg = config.load(schemas[name], f)
        assert isinstance(cfg, schemas[name])


def test_overrides_are_typed_and_applied():
    cfg = config.load(config.TrainConfig, REPO / "configs/train.yaml", ["optim.lr=3e-4", "model.rnn=lstm"])
    assert cfg.optim.lr == pytest.approx(3e-4)
    assert cfg.model.rnn == "lstm"


@pytest.mark.parametrize("override", ["optim.lrr=1", "model.rnn=transformer", "trainer.max_epochs=many"])
def test_bad_override_is_an_error(override):
    with pytest.raises(ValueError, match="invalid configuration"):
        config.load(config.TrainConfig, REPO / "configs/train.yaml", [override])


def test_unknown_key_in_yaml_is_an_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  learning_rate: 0.1\n")
    with pytest.raises(ValueError, match="learning_rate"):
        config.load(config.TrainConfig, bad)


def test_round_trip_through_dict():
    cfg = config.load(config.TrainConfig, overrides=["input.width=256"])
    again = config.from_dict(config.TrainConfig, config.to_dict(cfg))
    assert again == cfg


def test_the_pipeline_trains_on_as_many_crops_as_crnn_train():
    """The pipeline's dataset, split by the preprocess step, gives its train step the count of synthetic crops
    that `crnn train` makes (the accuracy figures in the README were measured at that count)."""
    train = config.load(config.TrainConfig, REPO / "configs/train.yaml")
    dataset = config.load(config.DatasetConfig, REPO / "configs/dataset.yaml")
    preprocess = config.load(config.PreprocessConfig, REPO / "configs/preprocess.yaml")
    pipeline = config.load(config.PipelineConfig, REPO / "configs/pipeline.yaml")
    assert pipeline.parameters.count == dataset.synthetic.count
    assert round(dataset.synthetic.count * preprocess.split.train) == train.data.synth.train_count


def test_the_pipeline_and_crnn_train_make_the_same_synthetic_crops():
    """The dataset step's generator settings are train.yaml's, so the pipeline's model and a standalone
    `crnn train` learn from the same kind of crops, and the decoder settings that rely on them (the loyalty
    cards' `erasure_prior`) hold for both."""
    train = config.load(config.TrainConfig, REPO / "configs/train.yaml")
    dataset = config.load(config.DatasetConfig, REPO / "configs/dataset.yaml")
    assert dataset.synthetic.generator == train.data.synth.generator
    if train.erasure_prior > 0:
        assert train.data.synth.generator.p_card > 0 and train.erasable == ["UPC-A"]


# Keys a config file sets for this checkout's layout (the real-dev data beside the repository), never a schema
# default: the schema holds no machine paths.
LOCAL_KEYS = {"data.real_tsv", "real_tsv", "photos_tsv"}


def _flat(d: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v and k not in ("format_weights",):
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "configs").glob("*.yaml")))
def test_a_schema_with_no_arguments_is_the_shipped_config(name):
    """One source of defaults: `Schema()` in Python is what the YAML file ships, but for the local data paths."""
    schema = _schemas()[name]
    shipped = _flat(config.to_dict(config.load(schema, REPO / "configs" / name)))
    default = _flat(config.to_dict(schema()))
    differ = {
        k: (default.get(k), shipped.get(k)) for k in shipped.keys() | default.keys() if default.get(k) != shipped.get(k)
    }
    assert set(differ) <= LOCAL_KEYS, differ
    for key in LOCAL_KEYS & default.keys():
        assert default[key] is None  # no machine path in a schema


def test_the_generator_settings_are_typed():
    cfg = config.load(config.TrainConfig, overrides=["data.synth.generator.p_card=0.2"])
    assert isinstance(cfg.data.synth.generator, config.SynthConfig) and cfg.data.synth.generator.p_tilt == 0.05
    with pytest.raises(ValueError, match="p_crad"):
        config.load(config.TrainConfig, overrides=["data.synth.generator.p_crad=0.2"])
    with pytest.raises(ValueError, match="module_px"):
        config.load(config.DetectorConfig, overrides=["data.synth.generator.module_px=[1.0,2.0,3.0]"])
