"""Behaviour record: what a refactor must not change, as one JSON file to diff against a reference.

Records, for the code checked out here:
  synth    sha256 of every file the generator writes for the default seed (default settings, and the settings
           configs/train.yaml trains on), crops and scenes;
  configs  every configs/*.yaml resolved through its schema, and each schema's own defaults;
  reads    `crnn read --json` of a fixed exported recogniser on the real-dev crops, and with a fixed detector on
           the real-dev photos (when --model / --detector are given).

    python benchmarks/behaviour.py --out before.json --model m.onnx --detector d.onnx
    python benchmarks/behaviour.py --out after.json --model m.onnx --detector d.onnx --compare before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real-dev"


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "synth.json"
    }


def synth_record(count: int) -> dict[str, dict[str, str]]:
    from crnn import config, synth

    train = config.load(config.TrainConfig, REPO / "configs" / "train.yaml")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        generator = train.data.synth.generator  # typed since the one-source-of-defaults change, a dict before
        settings = generator if isinstance(generator, synth.SynthConfig) else synth.synth_config(dict(generator))
        for name, cfg in (("default", synth.SynthConfig()), ("train.yaml", settings)):
            folder = Path(tmp) / name
            synth.generate(folder, count=count, seed=0, workers=1, config=cfg, progress=False)
            out[name] = _hashes(folder)
    return out


def config_record() -> dict[str, dict]:
    from crnn import config

    schemas = {
        "train.yaml": config.TrainConfig,
        "detector.yaml": config.DetectorConfig,
        "dataset.yaml": config.DatasetConfig,
        "preprocess.yaml": config.PreprocessConfig,
        "evaluate.yaml": config.EvaluateConfig,
        "export.yaml": config.ExportConfig,
        "detector_export.yaml": config.DetectorExportConfig,
        "photo_evaluate.yaml": config.PhotoEvaluateConfig,
        "pipeline.yaml": config.PipelineConfig,
    }
    out = {}
    for name, schema in schemas.items():
        out[name] = config.to_dict(config.load(schema, REPO / "configs" / name))
        out[f"{schema.__name__}()"] = config.to_dict(schema())
    return out


def read_record(model: Path, detector: Path | None) -> dict[str, list]:
    def run(*args: str) -> list:
        cmd = [sys.executable, "-m", "crnn.cli", "read", "--model", str(model), "--json", "--quiet", *args]
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if res.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
        rows = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
        for row in rows:  # the same record wherever the data lies
            row["file"] = Path(row["file"]).name
        return rows

    out = {"crops": run(str(REAL / "crops"))}
    if detector is not None:
        out["photos"] = run("--detector", str(detector), str(REAL / "photos"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--count", type=int, default=48, help="samples per generator setting")
    ap.add_argument("--model", type=Path)
    ap.add_argument("--detector", type=Path)
    ap.add_argument("--compare", type=Path, help="a reference record: print what differs, exit 1 if anything does")
    args = ap.parse_args()
    record = {"synth": synth_record(args.count), "configs": config_record()}
    if args.model:
        record["reads"] = read_record(args.model, args.detector)
    args.out.write_text(json.dumps(record, indent=1, sort_keys=True))
    record = json.loads(args.out.read_text())  # compared as stored (tuples become lists)
    for part, value in record.items():
        items = "" if part == "configs" else f" ({sum(len(v) for v in value.values())} items)"
        print(f"{part}: {len(value)} entries{items}")
    if args.compare:
        ref = json.loads(args.compare.read_text())
        differ = 0
        for part in sorted(set(ref) | set(record)):
            a, b = ref.get(part, {}), record.get(part, {})
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    differ += 1
                    print(f"DIFFERS {part}/{key}")
        print("identical" if not differ else f"{differ} entries differ")
        sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
