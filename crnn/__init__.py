"""crnn: read the digits printed under EAN/UPC barcodes with a CRNN.

Importing the package is cheap: torch, lightning and onnxruntime load only in the modules that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Barcode", "BarcodeReader", "__version__"]

if TYPE_CHECKING:
    from crnn.reading.api import Barcode, BarcodeReader


def __getattr__(name: str) -> Any:
    """`from crnn import BarcodeReader, Barcode`: the reading API, loaded on first use (onnxruntime, no torch)."""
    if name in ("Barcode", "BarcodeReader"):
        from crnn.reading import api

        return getattr(api, name)
    raise AttributeError(f"module 'crnn' has no attribute {name!r}")
