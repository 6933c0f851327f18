"""Reading crops with a trained model: onnxruntime (no torch needed) or a training checkpoint.

Both readers share `crnn.preprocess` and `crnn.codec`, so a string read in training, evaluation and
deployment comes from the same preprocessing and the same decoder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from crnn import symbology
from crnn.codec import EAN13_LEAD0_PRIOR, ERASURE_PRIOR, Codec, Decoder, log_softmax
from crnn.preprocess import InputSpec, to_batch

META_PREFIX = "crnn."
# Reads below this confidence are shown as unsure (crops) or set apart (photos). Chosen on synthetic val
# crops, never the real ones: the highest of the floors tried (benchmarks/confidence.py) whose dropped reads
# there are still more often wrong than right. README, "Confidence floor": what it does on real crops and photos.
MIN_CONFIDENCE = 0.05


def is_sure(confidence: float, checksum_ok: bool, floor: float = MIN_CONFIDENCE) -> bool:
    """A read a user may take as it is: it passes the check digit and its confidence reaches the floor."""
    return checksum_ok and confidence >= floor


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float
    checksum_ok: bool
    char_confidences: tuple[float, ...]
    inferred: tuple[int, ...] = ()  # positions of `text` supplied by the check digit, not read (crnn.codec)


class Reader:
    """Common part: preprocess a batch, run the network (subclass), decode."""

    spec: InputSpec
    codec: Codec
    decoder: Decoder
    # The constrained decoder's missing-digit hypothesis (crnn.codec): the model's own (its training config,
    # its ONNX metadata), unless set per reader.
    erasure_prior: float = ERASURE_PRIOR
    ean13_lead0_prior: float = EAN13_LEAD0_PRIOR  # the same: the model's own unless set

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """`(N, C, H, W)` float32 -> `(N, T, classes)` logits."""
        raise NotImplementedError

    def override_priors(self, erasure_prior: float | None = None, ean13_lead0_prior: float | None = None) -> None:
        """Set the decoder priors given per command (CLI, photo reader); None keeps the model's own."""
        if erasure_prior is not None:
            self.erasure_prior = erasure_prior
        if ean13_lead0_prior is not None:
            self.ean13_lead0_prior = symbology.check_lead0_prior(ean13_lead0_prior)

    def read(self, images: Sequence[Image.Image], decoder: Decoder | None = None) -> list[Reading]:
        if not images:
            return []
        logp = log_softmax(self.logits(to_batch(list(images), self.spec)).astype(np.float32))
        decoder = decoder or self.decoder
        if decoder == "constrained":
            decoded = self.codec.decode_constrained_batch(
                logp, erasure_prior=self.erasure_prior, ean13_lead0_prior=self.ean13_lead0_prior
            )
        else:
            decoded = self.codec.decode_batch(logp, decoder)
        return [
            Reading(d.text, d.confidence, symbology.checksum_ok(d.text), d.char_confidences, d.inferred)
            for d in decoded
        ]

    def read_stream(
        self, images: Iterable[Image.Image], batch_size: int = 64, decoder: Decoder | None = None
    ) -> Iterator[Reading]:
        """Read an iterable of images in batches, holding at most one batch in memory."""
        buf: list[Image.Image] = []
        for im in images:
            buf.append(im)
            if len(buf) == batch_size:
                yield from self.read(buf, decoder)
                buf = []
        yield from self.read(buf, decoder)


def ort_session(path: Path, threads: int | None = None) -> Any:
    """An onnxruntime CPU session (`threads` intra-op threads; default: all cores); ValueError for a missing
    or unloadable file."""
    import onnxruntime as ort

    if not path.is_file():
        raise ValueError(f"model not found: {path}")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for bad files
        raise ValueError(f"cannot load ONNX model {path}: {e}") from e


def _optional_float(value: str) -> float | None:
    return None if value.lower() == "none" else float(value)


class OnnxReader(Reader):
    """An exported model in onnxruntime; everything it needs comes from the ONNX file's metadata."""

    def __init__(self, path: str | Path, threads: int | None = None, decoder: Decoder | None = None) -> None:
        path = Path(path)
        self.session = ort_session(path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            self.spec = InputSpec(
                int(meta[META_PREFIX + "height"]),
                int(meta[META_PREFIX + "width"]),
                int(meta[META_PREFIX + "channels"]),
                float(meta[META_PREFIX + "mean"]),
                float(meta[META_PREFIX + "std"]),
                float(meta.get(META_PREFIX + "blur", "0")),  # models exported before the low-pass existed
                float(meta.get(META_PREFIX + "x_stretch", "1")),  # ... or the stretch
                _optional_float(meta.get(META_PREFIX + "levels", "none")),  # ... or the levels stretch
            )
            self.codec = Codec(meta[META_PREFIX + "charset"])
            self.decoder = decoder or meta.get(META_PREFIX + "decoder", "greedy")  # type: ignore[assignment]
            # models exported before the prior was a model setting read without it
            self.erasure_prior = float(meta.get(META_PREFIX + "erasure_prior", "0"))
            self.ean13_lead0_prior = float(meta.get(META_PREFIX + "ean13_lead0_prior", "1"))
        except KeyError as e:
            raise ValueError(f"{path} lacks crnn metadata {e}; export it with `crnn export`") from None
        self.metadata = dict(meta)
        self.input_name = self.session.get_inputs()[0].name

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]


class TorchReader(Reader):
    """A training checkpoint in PyTorch (evaluation and export checks)."""

    def __init__(self, path: str | Path, decoder: Decoder | None = None, device: str = "cpu") -> None:
        from crnn.system import input_spec
        from crnn.train import load_checkpoint

        self.model, self.cfg = load_checkpoint(path)
        self.device = device
        self.model.to(device)
        self.spec = input_spec(self.cfg)
        self.codec = Codec(self.cfg.input.charset)
        self.decoder = decoder or self.cfg.decoder
        self.erasure_prior = self.cfg.erasure_prior
        self.ean13_lead0_prior = self.cfg.ean13_lead0_prior

    def logits(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()


def open_reader(
    path: str | Path,
    decoder: Decoder | None = None,
    threads: int | None = None,
    erasure_prior: float | None = None,
    ean13_lead0_prior: float | None = None,
) -> Reader:
    """A reader for an `.onnx` model or a `.ckpt` checkpoint (the priors: see `Reader`; None: the model's)."""
    suffix = Path(path).suffix.lower()
    reader: Reader
    if suffix == ".onnx":
        reader = OnnxReader(path, threads=threads, decoder=decoder)
    elif suffix == ".ckpt":
        reader = TorchReader(path, decoder=decoder)
    else:
        raise ValueError(f"unsupported model file {path}: expected .onnx or .ckpt")
    reader.override_priors(erasure_prior, ean13_lead0_prior)
    return reader


def metadata_for(
    cfg_dict: dict,
    spec: InputSpec,
    charset: str,
    decoder: str,
    time_steps: int,
    erasure_prior: float,
    ean13_lead0_prior: float,
) -> dict[str, str]:
    """The ONNX metadata `OnnxReader` needs (written by export)."""
    return {
        META_PREFIX + "charset": charset,
        META_PREFIX + "height": str(spec.height),
        META_PREFIX + "width": str(spec.width),
        META_PREFIX + "channels": str(spec.channels),
        META_PREFIX + "mean": str(spec.mean),
        META_PREFIX + "std": str(spec.std),
        META_PREFIX + "blur": str(spec.blur),
        META_PREFIX + "x_stretch": str(spec.x_stretch),
        META_PREFIX + "levels": "none" if spec.levels is None else str(spec.levels),
        META_PREFIX + "decoder": decoder,
        META_PREFIX + "erasure_prior": str(erasure_prior),
        META_PREFIX + "ean13_lead0_prior": str(ean13_lead0_prior),
        META_PREFIX + "time_steps": str(time_steps),
        META_PREFIX + "config": json.dumps(cfg_dict),
    }
