"""The README's own-data walk through, run as written (training shrunk to seconds by overrides appended to it)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from crnn.cli import main
from tests.helpers import TINY_TRAIN

REPO = Path(__file__).resolve().parents[1]


def walkthrough() -> list[list[str]]:
    """The commands between the README's walkthrough markers, without `crnn` and comments."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- walkthrough -->\s*```bash\n(.*?)```\s*<!-- /walkthrough -->", text, re.S)
    assert block, "README.md lost its walkthrough block"
    lines = [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.strip()]
    assert all(cmd[0] == "crnn" for cmd in lines)
    return [cmd[1:] for cmd in lines]


def test_the_readme_walkthrough_runs(offline: Path, synth_dir: Path, monkeypatch, capsys):
    work = offline / "walk"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(work)
    commands = walkthrough()
    assert [c[0] for c in commands] == ["import", "preprocess", "train", "evaluate"]
    for cmd in commands:
        if cmd[0] == "train":  # the synthetic crops of the tests' small set, and a network trained in seconds
            cmd = [
                *cmd,
                *TINY_TRAIN,
                f"data.train_tsv={synth_dir / 'crops.tsv'}",
                f"data.val_tsv={synth_dir / 'crops.tsv'}",
            ]
        assert main(cmd) == 0, (cmd, capsys.readouterr().err[-2000:])
    assert len((work / "data/mine_crops/train/crops.tsv").read_text().splitlines()) > 5
    assert "<html" in (work / "mine.html").read_text().lower()
