"""Reading crops with an exported model in onnxruntime (no torch): preprocess, network, decoder, test-time views."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from crnn.core.codec import Codec, Decoded, Decoder, log_softmax
from crnn.core.preprocess import InputSpec, to_batch, view
from crnn.core.symbology import Format
from crnn.reading.fusion import Reading, fuse_views, reading
from crnn.reading.metadata import META_PREFIX
from crnn.reading.policy import Overrides, ReadingPolicy, model_policy


class Reader:
    """Common part: preprocess a batch, run the network (subclass), decode."""

    spec: InputSpec
    codec: Codec
    policy: ReadingPolicy = ReadingPolicy()  # the model's own settings with the user's overrides, set at construction

    # The policy's settings the readers use, read-only.
    @property
    def decoder(self) -> Decoder:
        return self.policy.decoder

    @property
    def erasure_prior(self) -> float:
        return self.policy.erasure_prior

    @property
    def ean13_lead0_prior(self) -> float:
        return self.policy.ean13_lead0_prior

    @property
    def erasable(self) -> tuple[Format, ...]:
        return self.policy.erasable

    @property
    def views(self) -> tuple[str, ...]:
        return self.policy.views

    @property
    def views_below(self) -> float:
        return self.policy.views_below

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """`(N, C, H, W)` float32 -> `(N, T, classes)` logits."""
        raise NotImplementedError

    def read(self, images: Sequence[Image.Image], decoder: Decoder | None = None) -> list[Reading]:
        """Read crops; each read under `views_below` confidence is fused with its test-time views
        (`fuse_views`)."""
        if not images:
            return []
        decoder = decoder or self.decoder
        logp, decoded = self.decode_images(images, decoder)
        unsure = [i for i, d in enumerate(decoded) if d.confidence < self.views_below] if self.views else []
        if unsure:
            n = len(self.views)
            view_logp, view_decoded = self.decode_images(
                [view(images[i], v) for i in unsure for v in self.views], decoder
            )
            for j, i in enumerate(unsure):
                span = slice(j * n, (j + 1) * n)
                decoded[i] = fuse_views(
                    self.codec,
                    [logp[i], *view_logp[span]],
                    [decoded[i], *view_decoded[span]],
                    self.ean13_lead0_prior,
                    self.erasure_prior,
                    self.erasable,
                )
        return [reading(d) for d in decoded]

    def decode_images(
        self, images: Sequence[Image.Image], decoder: Decoder | None = None
    ) -> tuple[np.ndarray, list[Decoded]]:
        """Each image's log-probabilities `(N, T, classes)` and its read, without test-time views."""
        logp = self._logp(images)
        return logp, self._decode(logp, decoder or self.decoder)

    def decode_members(
        self, images: Sequence[Image.Image], decoder: Decoder | None = None
    ) -> list[tuple[np.ndarray, list[Decoded]]]:
        """`decode_images` per network (the photo reader's fusion takes a list): this reader's one."""
        return [self.decode_images(images, decoder)]

    def _logp(self, images: Sequence[Image.Image]) -> np.ndarray:
        return log_softmax(self.logits(to_batch(list(images), self.spec)).astype(np.float32))

    def _decode(self, logp: np.ndarray, decoder: Decoder) -> list[Decoded]:
        if decoder == "constrained":
            return self.codec.decode_constrained_batch(
                logp,
                erasure_prior=self.erasure_prior,
                ean13_lead0_prior=self.ean13_lead0_prior,
                erasable=self.erasable,
            )
        return self.codec.decode_batch(logp, decoder)

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
    # Idle worker threads sleep instead of spinning for the next run: a photo is read by two sessions (detector,
    # recogniser) between stretches of numpy and PIL work, and spinning threads take the cores those need: 74 -> 52
    # ms a photo on this machine's 2 cores, the same reads (docs/decisions.md, "Threads that sleep").
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for bad files
        raise ValueError(f"cannot load ONNX model {path}: {e}") from e


class OnnxReader(Reader):
    """An exported model in onnxruntime; everything it needs comes from the ONNX file's metadata."""

    def __init__(self, path: str | Path, threads: int | None = None, overrides: Overrides | None = None) -> None:
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
            )
            if meta.get(META_PREFIX + "levels", "none") != "none":
                raise ValueError(f"{path} stretches its input levels, which this version no longer does: retrain it")
            self.codec = Codec(meta[META_PREFIX + "charset"])
            self.policy = model_policy(meta).updated(overrides)
        except KeyError as e:
            if any(k.startswith("crnn_detector.") for k in meta):
                raise ValueError(
                    f"{path} is a barcode detector, not a recogniser: give it as `--detector` (photos)"
                ) from None
            raise ValueError(f"{path} lacks crnn metadata {e}; export it with `crnn export`") from None
        self.metadata = dict(meta)
        self.input_name = self.session.get_inputs()[0].name

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]


def open_reader(
    path: str | Path,
    overrides: Overrides | None = None,
    threads: int | None = None,
    checkpoint_reader: Callable[[Path, Overrides | None], Reader] | None = None,
) -> Reader:
    """A reader for an `.onnx` model with its own policy and the user's `overrides` (`ReadingPolicy` fields; None
    keeps the model's). A `.ckpt` training checkpoint is read by `checkpoint_reader` (`crnn.recognizer.reader.
    open_reader` passes `TorchReader`, which needs the training install)."""
    ReadingPolicy().updated(overrides)  # bad settings fail before any model loads
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        return OnnxReader(path, threads=threads, overrides=overrides)
    if suffix == ".ckpt":
        if checkpoint_reader is None:
            raise ValueError(
                f"{path} is a training checkpoint: export it to ONNX (crnn export) to read it without PyTorch"
            )
        return checkpoint_reader(Path(path), overrides)
    raise ValueError(f"unsupported model file {path}: expected .onnx or .ckpt")
