"""Reading defaults shared by the photo reader and the pipeline: zooms, symbol hypotheses, box post-processing."""

from __future__ import annotations

from dataclasses import dataclass

# Scales the detector sees each photo at (crnn.reading.photos.PhotoReader), before it looks closer at each barcode it
# found (`LOOK_SHARE`). With the closer look, the photo at 1 alone read more of the tuning scenes than at (1, 0.8, 0.6)
# (upright 0.963 against 0.950, turned 45 degrees 0.940 against 0.920), as many close-ups, in two thirds of the time
# (docs/decisions.md, "A closer look"). Smaller scales show the detector a barcode that fills the frame with margins.
DEFAULT_ZOOMS = (1.0,)


# The detector's closer look at each barcode (`crnn.reading.detection.Detector.look_closer`): a window turned so its
# digit line runs left to right, in which the barcode's long side spans this share of the detector's input, inside
# the middle half of the generator scenes' barcode sizes (0.45-0.73 of the long side). On the tuning scenes 0.3 and 0.45
# read alike; the closer look read 0.937 -> 0.950 upright, 0.867 -> 0.920 turned 45 degrees.
LOOK_SHARE = 0.45


# Symbol hypotheses read per detection (crnn.core.geometry.SYMBOL_VARIANTS): as detected, with the bottom edge lower,
# and, only for a barcode the first two read unsure, the box moved down 0.3, 0.4, 0.5 and 0.6 of its height (digits
# far under tall or glare-washed bars). docs/decisions.md, "Symbol variants": chosen on 200 synthetic scenes with
# glare over the
# lower bars (seven recognisers read 1157 of 1400 with the 0.3 shift alone, 1190 with 0.5 too, 1203 with all four),
# the plain scenes and the loyalty-card scenes unchanged.
DEFAULT_VARIANTS = 6


@dataclass
class DetectorPostConfig:
    """From maps to boxes: a barcode is a connected region of probability >= threshold."""

    threshold: float = 0.5
    min_area: int = 12  # map cells
    min_score: float = 0.6  # mean probability over the region
