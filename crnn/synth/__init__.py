"""Synthetic barcodes: rendering (GS1 layouts), label print, scenes, degradations and the writer."""

from crnn.synth.degradation import Warp
from crnn.synth.label import SANS_FONTS, background, find_fonts
from crnn.synth.render import (
    OCRB_FONT,
    BarcodeGeometry,
    BarcodeStyle,
    Box,
    PrintedDigit,
    RenderedBarcode,
    addon_pattern,
    font_size_for,
    isbn_text,
    long_bar_modules,
    module_pattern,
    printed_digits,
    render_barcode,
    render_mask,
)
from crnn.synth.scene import CROP_MARGIN_MODULES, Sample, make_sample
from crnn.synth.settings import GENERATOR_VERSION, SynthConfig, synth_config
from crnn.synth.writer import ANNOTATION_HEADER, CROP_HEADER, STAMP, SynthSummary, ensure, generate

__all__ = [
    "ANNOTATION_HEADER",
    "BarcodeGeometry",
    "BarcodeStyle",
    "Box",
    "CROP_HEADER",
    "CROP_MARGIN_MODULES",
    "GENERATOR_VERSION",
    "OCRB_FONT",
    "PrintedDigit",
    "RenderedBarcode",
    "SANS_FONTS",
    "STAMP",
    "Sample",
    "SynthConfig",
    "SynthSummary",
    "Warp",
    "addon_pattern",
    "background",
    "ensure",
    "find_fonts",
    "font_size_for",
    "generate",
    "isbn_text",
    "long_bar_modules",
    "make_sample",
    "module_pattern",
    "printed_digits",
    "render_barcode",
    "render_mask",
    "synth_config",
]
