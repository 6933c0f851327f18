"""Reading crops with a trained model: onnxruntime (no torch needed) or a training checkpoint.

Both readers share `crnn.preprocess` and `crnn.codec`, so a string read in training, evaluation and
deployment comes from the same preprocessing and the same decoder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from crnn import symbology
from crnn.codec import EAN13_LEAD0_PRIOR, ERASURE_PRIOR, Codec, Decoded, Decoder, ctc_log_likelihood, log_softmax
from crnn.preprocess import VIEW_NAMES, VIEWS, InputSpec, to_batch, view
from crnn.symbology import Format

META_PREFIX = "crnn."
# Reads below this confidence are shown as unsure (crops) or set apart (photos). Chosen on synthetic val
# crops, never the real ones: the highest of the floors tried (benchmarks/confidence.py) whose dropped reads
# there are still more often wrong than right. README, "Confidence floor": what it does on real crops and photos.
MIN_CONFIDENCE = 0.05
# Reads below this confidence are read again under the test-time views (`crnn.preprocess.VIEWS`) and the
# views' answers fused (`Reader.read`). Chosen on synthetic val crops, never the real ones (benchmarks/views.py):
# of the thresholds tried, the lowest beyond which no model of ten read more short of reading every crop in views
# (twice the cost); 3-5% of synthetic crops and 11-25% of the real ones are read again (README, "Views").
VIEWS_BELOW = 0.5


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


def _candidates(decoded: Sequence[Decoded], erasure_prior: float = 0.0) -> list[str]:
    """The reads `fused_text` chooses from, the crop's own first. Reads with a digit the check digit supplied come
    from any view when the erasure hypothesis scores them (`erasure_prior` > 0), else only from the first."""
    candidates = list(
        dict.fromkeys(
            d.text for k, d in enumerate(decoded) if d.text and (k == 0 or not d.inferred or erasure_prior > 0)
        )
    )
    valid = [t for t in candidates if symbology.checksum_ok(t)]
    return valid or candidates  # a read that passes the check digit beats one that fails it


def view_log_likelihood(
    codec: Codec,
    logp: np.ndarray,
    text: str,
    erasure_prior: float = 0.0,
    erasable: Sequence[str] = (),
) -> float:
    """log P(text | one view) under the constrained decoder's model: CTC's likelihood of the digits as printed or,
    at `erasure_prior`, of the digits a crop lacking the erasable one shows (`symbology.erased_form`: a card's
    unprinted UPC-A check digit), whichever way the view shows them (the two summed)."""
    ll = ctc_log_likelihood(logp, codec.encode(text))
    short = symbology.erased_form(text, erasable) if erasure_prior > 0 else None
    if short is not None:
        ll = float(np.logaddexp(ll, ctc_log_likelihood(logp, codec.encode(short)) + math.log(erasure_prior)))
    return ll


def fused_text(
    codec: Codec,
    logps: Sequence[np.ndarray],
    decoded: Sequence[Decoded],
    ean13_lead0_prior: float = EAN13_LEAD0_PRIOR,
    erasure_prior: float = 0.0,
    erasable: Sequence[str] = (),
) -> str:
    """The number several views of a crop read together: each view's read is a candidate, and the candidate the
    views find likeliest together (summed log-likelihood, a product of the views' probabilities, plus the
    decoder's layout prior for a 13-digit read starting with 0) wins; ties go to the earlier read. Always the
    text of one of `decoded`.

    With `erasure_prior` > 0 (the reader's own) a view's likelihood of a number covers a crop lacking its
    erasable digit (`view_log_likelihood`), as the constrained decoder does, so reads whose digit the check digit
    supplied compete on equal terms: every view of a loyalty card printed without its check digit reads 11
    digits, and plain CTC would score each view's 12-digit number by a digit no view shows. Without it such reads
    stand only for the crop as given (`decoded[0]`). Where some reads pass the check digit, only they are
    candidates (the constrained decoder's always do).
    """
    candidates = _candidates(decoded, erasure_prior)
    if len(candidates) < 2:
        return candidates[0] if candidates else decoded[0].text
    lead0 = math.log(ean13_lead0_prior) if ean13_lead0_prior > 0 else -math.inf
    score = {
        t: sum(view_log_likelihood(codec, lp, t, erasure_prior, erasable) for lp in logps)
        + (lead0 if symbology.is_ean13_lead0(t) else 0.0)
        for t in candidates
    }
    return max(candidates, key=lambda t: score[t])


def fuse_views(
    codec: Codec,
    logps: Sequence[np.ndarray],
    decoded: Sequence[Decoded],
    ean13_lead0_prior: float = EAN13_LEAD0_PRIOR,
    erasure_prior: float = 0.0,
    erasable: Sequence[str] = (),
) -> Decoded:
    """One read from several views of a crop: the number of `fused_text`, with confidences.

    `logps[0]`/`decoded[0]` are the crop as given; when its read wins it is returned as it was, and a sole
    candidate is returned as its first read. Otherwise the winner's per-character confidences are the geometric
    mean of its forced-alignment confidences over the views (the same product of experts); a winner with a digit
    the check digit supplied (no view shows it to align) is its most confident view's read.
    """
    candidates = _candidates(decoded, erasure_prior)
    if len(candidates) < 2:
        return next((d for d in decoded if candidates and d.text == candidates[0]), decoded[0])
    best = fused_text(codec, logps, decoded, ean13_lead0_prior, erasure_prior, erasable)
    if best == decoded[0].text:
        return decoded[0]
    inferred = [d for d in decoded if d.text == best and d.inferred]
    if inferred:
        return max(inferred, key=lambda d: d.confidence)
    confs = np.array([codec.aligned(lp, best).char_confidences for lp in logps])
    mean = tuple(float(c) for c in np.exp(np.log(np.maximum(confs, 1e-30)).mean(axis=0)))
    return Decoded(best, float(np.prod(mean)), mean)


def check_views(views: Sequence[str]) -> tuple[str, ...]:
    """`views` as a tuple, each a known view name (ValueError otherwise)."""
    unknown = [v for v in views if v not in VIEW_NAMES]
    if unknown:
        raise ValueError(f"unknown test-time view(s) {unknown}: expected names from {', '.join(VIEW_NAMES)}")
    return tuple(views)


def reading(d: Decoded) -> Reading:
    """A decoded string as a reading (the check digit checked)."""
    return Reading(d.text, d.confidence, symbology.checksum_ok(d.text), d.char_confidences, d.inferred)


class Reader:
    """Common part: preprocess a batch, run the network (subclass), decode."""

    spec: InputSpec
    codec: Codec
    decoder: Decoder
    # The constrained decoder's missing-digit hypothesis (crnn.codec): the model's own (its training config,
    # its ONNX metadata), unless set per reader.
    erasure_prior: float = ERASURE_PRIOR
    ean13_lead0_prior: float = EAN13_LEAD0_PRIOR  # the same: the model's own unless set
    erasable: tuple[Format, ...] = tuple(symbology.ERASABLE)  # the formats the hypothesis covers: the model's own
    views: tuple[str, ...] = VIEWS  # test-time views of unsure reads; () reads each crop once
    views_below: float = VIEWS_BELOW

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """`(N, C, H, W)` float32 -> `(N, T, classes)` logits."""
        raise NotImplementedError

    def override_priors(
        self,
        erasure_prior: float | None = None,
        ean13_lead0_prior: float | None = None,
        erasable: Sequence[str] | None = None,
    ) -> None:
        """Set the decoder priors given per command (CLI, photo reader); None keeps the model's own."""
        if erasure_prior is not None:
            self.erasure_prior = erasure_prior
        if erasable is not None:
            self.erasable = symbology.check_erasable(erasable)
        if ean13_lead0_prior is not None:
            self.ean13_lead0_prior = symbology.check_lead0_prior(ean13_lead0_prior)

    def set_views(self, views: Sequence[str] | None) -> None:
        """The test-time views given per command (`crnn.preprocess.VIEW_NAMES`; empty: none); None keeps them."""
        if views is not None:
            self.views = check_views(views)

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
        """`decode_images` per model: this reader's one (an `EnsembleReader` has several)."""
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


class EnsembleReader(Reader):
    """Several models read each crop together (opt-in: `--model` given more than once). Every model reads the crop
    and each of its test-time views; every read is a candidate, and the candidate all the models and views find
    likeliest together wins (`fuse_views`: summed CTC log-likelihood, plus the first model's layout prior). The
    views run for every crop, so an ensemble of k models runs 3k networks a crop (README, "Ensembles").
    """

    def __init__(self, readers: Sequence[Reader]) -> None:
        if not readers:
            raise ValueError("an ensemble needs at least one model")
        charsets = sorted({r.codec.charset for r in readers})
        if len(charsets) > 1:
            raise ValueError(f"the ensemble's models read different charsets {charsets}")
        self.readers = list(readers)
        first = self.readers[0]
        self.spec, self.codec, self.decoder = first.spec, first.codec, first.decoder
        self.erasure_prior, self.ean13_lead0_prior, self.erasable, self.views = (
            first.erasure_prior,
            first.ean13_lead0_prior,
            first.erasable,
            first.views,
        )

    def override_priors(
        self,
        erasure_prior: float | None = None,
        ean13_lead0_prior: float | None = None,
        erasable: Sequence[str] | None = None,
    ) -> None:
        super().override_priors(erasure_prior, ean13_lead0_prior, erasable)
        for r in self.readers:
            r.override_priors(erasure_prior, ean13_lead0_prior, erasable)

    def set_views(self, views: Sequence[str] | None) -> None:
        super().set_views(views)
        for r in self.readers:
            r.set_views(views)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError("an ensemble has one network per model: use read() or decode_members()")

    def decode_members(
        self, images: Sequence[Image.Image], decoder: Decoder | None = None
    ) -> list[tuple[np.ndarray, list[Decoded]]]:
        return [r.decode_images(images, decoder) for r in self.readers]

    def read(self, images: Sequence[Image.Image], decoder: Decoder | None = None) -> list[Reading]:
        if not images:
            return []
        batches = [list(images)] + [[view(im, v) for im in images] for v in self.views]
        # One entry per view and model, each over all the images.
        logps, decoded = zip(*(m for batch in batches for m in self.decode_members(batch, decoder)), strict=True)
        return [
            reading(
                fuse_views(
                    self.codec,
                    [lp[i] for lp in logps],
                    [d[i] for d in decoded],
                    self.ean13_lead0_prior,
                    self.erasure_prior,
                    self.erasable,
                )
            )
            for i in range(len(images))
        ]


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
            erasable = meta.get(META_PREFIX + "erasable", ",".join(symbology.ERASABLE))  # ... or its formats
            self.erasable = symbology.check_erasable([f for f in erasable.split(",") if f])
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
        self.erasable = symbology.check_erasable(self.cfg.erasable)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()


def open_reader(
    path: str | Path | Sequence[str | Path],
    decoder: Decoder | None = None,
    threads: int | None = None,
    erasure_prior: float | None = None,
    ean13_lead0_prior: float | None = None,
    views: Sequence[str] | None = None,
    erasable: Sequence[str] | None = None,
) -> Reader:
    """A reader for an `.onnx` model or a `.ckpt` checkpoint, or an `EnsembleReader` of several (the priors: see
    `Reader`; None: the model's; `views`: the test-time views, None: `VIEWS`)."""
    reader: Reader
    if not isinstance(path, (str, Path)):
        paths = list(path)
        if len(paths) != 1:
            members = [
                open_reader(p, decoder, threads, erasure_prior, ean13_lead0_prior, views, erasable) for p in paths
            ]
            return EnsembleReader(members)
        path = paths[0]
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        reader = OnnxReader(path, threads=threads, decoder=decoder)
    elif suffix == ".ckpt":
        reader = TorchReader(path, decoder=decoder)
    else:
        raise ValueError(f"unsupported model file {path}: expected .onnx or .ckpt")
    reader.override_priors(erasure_prior, ean13_lead0_prior, erasable)
    reader.set_views(views)
    return reader


def metadata_for(
    cfg_dict: dict,
    spec: InputSpec,
    charset: str,
    decoder: str,
    time_steps: int,
    erasure_prior: float,
    ean13_lead0_prior: float,
    erasable: Sequence[str] = tuple(symbology.ERASABLE),
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
        META_PREFIX + "erasable": ",".join(symbology.check_erasable(erasable)),
        META_PREFIX + "time_steps": str(time_steps),
        META_PREFIX + "config": json.dumps(cfg_dict),
    }
