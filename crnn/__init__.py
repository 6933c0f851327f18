"""crnn: read the digits printed under EAN/UPC barcodes with a CRNN.

Importing the package is cheap: torch, lightning and onnxruntime load only in the modules that need them.
"""

__version__ = "0.1.0"
