"""`crnn serve` round trip: a 640x480 JPEG posted to /read over loopback HTTP, answered with its readings.

    python benchmarks/serve_roundtrip.py --model model.onnx --detector detector.onnx [--photo P] [--n 20]

Prints the median and worst time of `--n` round trips (after one warm-up), on `--threads` onnxruntime threads.
Without `--photo`, the first real-dev photo; either way it is resized to 640x480 first.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import urllib.request
from pathlib import Path

from crnn.core.images import load_image
from crnn.reading.photos import PhotoReader
from crnn.reading.serve import ReadServer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--detector", action="append", required=True)
    ap.add_argument("--photo", default=None)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    photo = Path(a.photo) if a.photo else sorted(Path("../shared/data/real-dev/photos").glob("*"))[0]
    buf = io.BytesIO()
    load_image(photo).resize((640, 480)).save(buf, "JPEG", quality=90)
    body = buf.getvalue()
    server = ReadServer(PhotoReader(a.detector, a.model, threads=a.threads), port=0).start()
    times = []
    try:
        for i in range(a.n + 1):
            req = urllib.request.Request(server.url + "/read", data=body, headers={"Content-Type": "image/jpeg"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=60) as r:
                r.read()
            if i:  # the first warms onnxruntime up
                times.append(time.perf_counter() - t0)
    finally:
        server.close()
    print(
        f"{photo.name} at 640x480 ({len(body)} bytes), {a.threads} threads: round trip median "
        f"{statistics.median(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms over {len(times)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
