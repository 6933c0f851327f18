"""The synthetic generator's settings, typed: one schema for the recogniser's crops, the detector's scenes and the
dataset step (`crnn.synth` draws from them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class SynthConfig:
    """Knobs of the generator. Ranges are (low, high)."""

    format_weights: dict[str, float] = field(
        default_factory=lambda: {"EAN-13": 0.45, "UPC-A": 0.30, "UPC-E": 0.15, "EAN-8": 0.10}
    )
    scene_long_side: tuple[int, int] = (240, 640)
    module_px: tuple[float, float] = (1.5, 3.6)  # scene pixels per bar module
    crop_module_px: tuple[float, float] = (1.5, 3.0)
    crop_height: tuple[int, int] = (32, 90)
    crop_aspect: float = 3.7
    crop_aspect_jitter: float = 0.06  # relative, uniform
    crop_edge_jitter: float = 0.03  # std of each crop edge, fraction of the crop's width/height
    crop_corner_jitter: float = 0.01  # std of the detector quad's corners, fraction of crop width
    small_digit_scale: tuple[float, float] = (0.6, 0.95)  # outer UPC-A / UPC-E digits vs normal ones
    outside_gap: tuple[float, float] = (0.5, 5.0)  # modules between an outer digit's slot and the bars
    outside_gap_ean13: tuple[float, float] = (0.5, 2.5)
    p_other_font: float = 0.25  # DejaVu instead of OCR-B for the digits (when installed)
    p_sans_font: float = 0.0  # Liberation Sans (shipped; Helvetica-like, as on loyalty cards) for the digits
    p_flat_layout: float = 0.05  # non-GS1 printing: equal bars, digits in one even row
    p_addon_book: float = 0.25  # books with a 5-digit price add-on right of the bars
    p_addon: float = 0.0  # other codes with a 2- or 5-digit add-on (not part of the symbol: detector negatives)
    # GS1's quiet-zone marks printed: '>' right of an EAN-13, '<' and '>' either side of an EAN-8 (books print the
    # '>' by themselves, see label.py); a reader must not take them for digits.
    p_quiet_marks: float = 0.0
    p_pale_ink: float = 0.0  # faded grey ink (90-170) instead of near-black; needs a low min_contrast to stay pale
    p_text_below: float = 0.0  # a line of small print (lot, date, price; boxed or not) just under the digits
    # A crop that shows no digit: moved up onto the bars alone, or down onto the print under the digits (drawn for
    # it), as a photo reader's far-fetched boxes and false detections are. Labelled `printed` = `-`: the recogniser
    # learns to read nothing there, so such crops read unsure instead of as a wrong number (docs/decisions.md,
    # "No-number crops").
    p_no_number: float = 0.0
    # A UPC-A printed the way loyalty cards and in-store labels print it: equal bars, the check digit not
    # printed (`printed` lacks it), the 11 digits spread evenly under the bars, often small and widely spaced,
    # half of them in a sans face. Its number is a restricted-circulation one (number system 4 or 2,
    # `symbology.RESTRICTED_UPCA`).
    p_card: float = 0.0
    # A camera looking up or down at the label: its height foreshortened by a factor in `tilt_squash`, so the
    # digits come out wide and short and a crop cut at `crop_aspect` reaches further above and below them.
    p_tilt: float = 0.0
    tilt_squash: tuple[float, float] = (0.45, 0.85)
    # Where a tilted crop's extra height goes: a share drawn up to this reaches below the digits (a crop centred on
    # the barcode rather than on the bars), the rest above; and how often a tilted label has small print under
    # its digits (cans and jars: a boxed lot or date line). Both only act on tilted labels.
    tilt_reach_below: float = 0.0
    p_tilt_print_below: float = 0.0
    max_rotation_deg: float = 35.0
    p_large_rotation: float = 0.15  # else a few degrees
    p_upright_turn: float = 0.05  # barcode turned by 90/180/270 degrees
    max_perspective: float = 0.08  # corner displacement, fraction of the symbol's size
    p_curvature: float = 0.3
    # A crumpled bag or pouch: the label waves along the digit line (period `crumple_period` digit widths), rows
    # moved up and down by `crumple_amp` of the digits' height, the folds shaded; digits and bars bend with it.
    p_crumple: float = 0.0
    crumple_amp: tuple[float, float] = (0.08, 0.25)
    crumple_period: tuple[float, float] = (2.5, 7.0)
    p_greyscale: float = 0.4
    p_streaks: float = 0.5
    # A broad specular highlight (a shiny can or film seen against a light) over the lower bars: they fade toward
    # white by `glare_strength` down to just above the digits, which stay printed; the bars above it keep their
    # contrast. A detector that learnt bars dark down to the digits boxes such a symbol without its digits.
    p_glare: float = 0.0
    glare_strength: tuple[float, float] = (0.5, 0.85)
    p_motion_blur: float = 0.15
    p_downscale: float = 0.2
    max_blur_frac: float = 0.07  # blur sigma cap, fraction of the digits' height in pixels
    p_defocus: float = 0.0  # an out-of-focus camera: Gaussian blur of `defocus_frac` of the digits' height
    defocus_frac: tuple[float, float] = (0.1, 0.18)  # sigma range; 0.18 is about the blurriest a person still reads
    blur_skew: float = 3.0  # blur sigma = 0.3 + (budget - 0.3) * u ** blur_skew, u uniform: >1 favours mild blur
    max_black_level: float = 30.0  # ink's grey level after levels is up to this (quadratically favouring black)
    min_contrast: float = 55.0  # grey levels between ink and paper after lighting
    max_noise_frac: float = 0.12  # noise std cap, fraction of that contrast
    jpeg_quality: tuple[int, int] = (35, 92)
    scene_format: Literal["jpg", "png"] = "jpg"


def crop_generator() -> SynthConfig:
    """The recogniser's crops as shipped: 10% of the UPC-As printed as loyalty cards print them (equal bars, 11
    digits spread out, no check digit), 5% of the labels seen tilted (digits wide and short) with the crop reaching
    below the digits, half of them over small print (docs/decisions.md)."""
    return SynthConfig(p_card=0.1, p_tilt=0.05, tilt_reach_below=1.0, p_tilt_print_below=0.5, p_quiet_marks=0.3)


def scene_generator() -> SynthConfig:
    """The detector's scenes as shipped: paler ink and larger barcodes than the recogniser's crops (faded print,
    close-ups), more add-on symbols (not part of the barcode: negatives), and small print under the digits (lot
    numbers, prices) so boxes end at the digits (docs/decisions.md)."""
    return SynthConfig(
        # Any angle: a tenth turned by a quarter or a half, three quarters of the rest uniform over the full
        # circle, the others near upright (most photos are taken so); strong perspective.
        p_upright_turn=0.1,
        p_large_rotation=0.75,
        max_rotation_deg=180.0,
        max_perspective=0.15,
        p_quiet_marks=0.3,
        p_addon_book=0.6,
        p_addon=0.2,
        min_contrast=25.0,
        module_px=(1.5, 5.0),
        p_pale_ink=0.3,
        p_text_below=0.4,
    )
