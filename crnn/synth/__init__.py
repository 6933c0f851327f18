"""Synthetic barcodes: rendering (GS1 layouts), label print, scenes, degradations and the writer.

The entry points: `generate` (write samples), `ensure` (a folder as configured, or refused), `make_sample` (one in
memory); settings are `SynthConfig` (`crnn.config.synth`).
"""

from crnn.config.synth import SynthConfig
from crnn.synth.label import background
from crnn.synth.scene import make_sample
from crnn.synth.settings import synth_config
from crnn.synth.writer import STAMP, ensure, generate

__all__ = ["STAMP", "SynthConfig", "background", "ensure", "generate", "make_sample", "synth_config"]
