"""Torch-free basics: symbologies, the codec and decoders, preprocessing, geometry, labels, metrics."""
