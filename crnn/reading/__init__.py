"""The torch-free product: crop and photo readers, detector runtime, bar decoder, reading policy."""
