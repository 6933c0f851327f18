"""Reading defaults shared by the photo reader and the pipeline: zooms, symbol hypotheses, box post-processing."""

from __future__ import annotations

from dataclasses import dataclass

# Scales the detector sees each photo at (crnn.reading.photos.PhotoReader): barcodes that fill the frame are found at
# the
# smaller ones (docs/decisions.md: 78.4% of the 88 real photos read against 71.6% at 1 alone), for about twice the
# time a photo.
DEFAULT_ZOOMS = (1.0, 0.8, 0.6)


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
