"""`crnn config show STEP` (the resolved configuration, as a step would run it) and the CLI's help texts."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from crnn import config
from crnn.cli import main

REPO = Path(__file__).resolve().parents[1]


def _shown(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, dict]:
    assert main(["config", "show", *args]) == 0
    out = capsys.readouterr().out
    return out.splitlines()[0], OmegaConf.to_container(OmegaConf.create(out))  # type: ignore[return-value]


def test_config_show_prints_the_resolved_step_config(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    head, shown = _shown(capsys, "detector_train", "trainer.max_epochs=3")
    assert head == "# detector_train: configs/detector.yaml + trainer.max_epochs=3"
    want = config.load(config.DetectorConfig, REPO / "configs" / "detector.yaml", ["trainer.max_epochs=3"])
    # The YAML it prints loads back into the schema as the same config: a user can save it and train from it.
    assert config.from_dict(config.DetectorConfig, shown) == want and shown["trainer"]["max_epochs"] == 3


def test_config_show_outside_a_checkout_shows_the_shipped_defaults(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no configs/ here (a pip install): the schema's defaults are the product's
    head, shown = _shown(capsys, "train")
    assert "schema's defaults" in head
    assert config.from_dict(config.TrainConfig, shown) == config.TrainConfig()


def test_config_show_refuses_unknown_keys_and_steps(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["config", "show", "train", "trainer.max_epoch=3"]) == 2
    assert "max_epoch" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["config", "show", "no_such_step"])


def test_every_flag_of_every_subcommand_has_help_text():
    import argparse

    from crnn.cli import build_parser

    missing = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            elif not action.help:
                missing.append(" ".join([*path, *(action.option_strings or [action.dest])]))

    walk(build_parser(), ["crnn"])
    assert missing == []
