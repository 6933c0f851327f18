"""crnn.core.geometry: region labelling of the detector's maps."""

from __future__ import annotations

import numpy as np


def test_label_regions_finds_the_4_connected_regions_a_flood_fill_finds():
    from collections import deque

    from crnn.core.geometry import label_regions

    def flood(mask: np.ndarray) -> list[set]:
        seen, out = np.zeros_like(mask), []
        for r0, c0 in zip(*np.nonzero(mask)):
            if seen[r0, c0]:
                continue
            seen[r0, c0] = True
            queue, cells = deque([(r0, c0)]), set()
            while queue:
                r, c = queue.popleft()
                cells.add((int(r), int(c)))
                for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                    if 0 <= rr < mask.shape[0] and 0 <= cc < mask.shape[1] and mask[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        queue.append((rr, cc))
            out.append(cells)
        return out

    rng = np.random.default_rng(0)
    for _ in range(50):
        mask = rng.random((30, 41)) < rng.uniform(0.05, 0.6)
        labels = label_regions(mask)
        got = [{(int(r), int(c)) for r, c in zip(*np.nonzero(labels == k))} for k in range(1, labels.max() + 1)]
        assert got == flood(mask)  # the same regions, numbered in raster order of their first cell
        assert ((labels > 0) == mask).all()
