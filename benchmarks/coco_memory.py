"""Peak memory of a COCO import: a generated COCO file of about `--mb` megabytes (Azure ML style: polygons,
areas, categories, a text attribute), a few real images, every annotation pointing at them.

    python benchmarks/coco_memory.py --mb 50        # peak traced memory
    python benchmarks/coco_memory.py --mb 50 --rss  # peak RSS without tracemalloc's overhead

Prints the file size, the import's peak traced Python memory (tracemalloc) and the process's peak RSS (the file
is written by a child process, so both are the import's).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crnn.config.steps import DatasetConfig  # noqa: E402  # after the path set-up above
from crnn.datasets.importers import import_dataset  # noqa: E402


def write_coco(path: Path, mb: float, images: int = 20, seed: int = 0) -> int:
    """A COCO file of about `mb` megabytes; returns the number of annotations."""
    rng = random.Random(seed)
    anns = []
    size = 0
    i = 0
    while size < mb * 1e6:
        x, y = rng.uniform(0, 300), rng.uniform(0, 200)
        poly = [round(rng.uniform(0, 640), 2) for _ in range(64)]
        ann = {
            "id": i,
            "image_id": i % images,
            "category_id": 1,
            "bbox": [x, y, 200.0, 60.0],
            "area": 12000.0,
            "iscrowd": 0,
            "segmentation": [poly],
            "attributes": {"text": "5901234123457", "occluded": False, "rotation": 0.0},
        }
        anns.append(ann)
        size += len(json.dumps(ann)) + 2
        i += 1
    coco = {
        "info": {"description": "generated"},
        "categories": [{"id": 1, "name": "barcode"}],
        "images": [
            {"id": k, "file_name": f"img/{k}.png", "width": 640, "height": 480, "coco_url": ""} for k in range(images)
        ],
        "annotations": anns,
    }
    path.write_text(json.dumps(coco))
    return len(anns)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--rss", action="store_true", help="peak RSS alone (tracemalloc's own records inflate it)")
    ap.add_argument("--write", help=argparse.SUPPRESS)  # the child that writes the file (its memory not counted)
    a = ap.parse_args()
    if a.write:
        print(write_coco(Path(a.write), a.mb))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "img").mkdir()
        for k in range(20):
            Image.new("RGB", (640, 480), "white").save(root / "img" / f"{k}.png")
        cmd = [sys.executable, __file__, "--mb", str(a.mb), "--write", str(root / "coco.json")]
        n = int(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        mb = (root / "coco.json").stat().st_size / 1e6
        cfg = DatasetConfig(source="coco", path=str(root / "coco.json"), coco_text_attribute="text")
        if not a.rss:
            tracemalloc.start()
        t0 = time.time()
        report = import_dataset(cfg, root / "out", progress=False)
        seconds = time.time() - t0
        _, peak = tracemalloc.get_traced_memory()  # 0 with --rss
        tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "file_mb": round(mb, 1),
                "annotations": n,
                "imported": report.imported,
                "peak_traced_mb": round(peak / 1e6, 1),
                "peak_rss_mb": round(rss, 1),
                "seconds": round(seconds, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
