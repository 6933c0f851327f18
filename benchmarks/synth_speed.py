"""Print how many samples (scene + crop, written to disk) the generator makes per second.

python benchmarks/synth_speed.py --count 1000 --workers 2
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

from crnn.synth.writer import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up outside the timing: fonts, the noise bank, the pool.
        generate(Path(tmp) / "warm", 2 * args.workers, args.seed, args.workers, progress=False)
        before = _cpu_seconds()
        summary = generate(Path(tmp) / "run", args.count, args.seed, args.workers, progress=False)
        cpu = (_cpu_seconds() - before) / summary.count
    print(
        f"{summary.count} samples on {args.workers} workers: {summary.seconds:.2f} s wall, "
        f"{summary.samples_per_s:.1f} crops/s ({summary.per_format})"
    )
    # CPU time per sample does not depend on what else the machine runs; on idle cores the
    # rate approaches workers / cpu.
    print(f"CPU time {1000 * cpu:.1f} ms/sample -> {args.workers / cpu:.0f} crops/s on idle cores")


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    main()
