"""Fusing several reads of one barcode (views, hypotheses, zooms) into one number, scored as the decoder does."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crnn.core import symbology
from crnn.core.codec import EAN13_LEAD0_PRIOR, Codec, Decoded, ctc_log_likelihoods
from crnn.core.preprocess import VIEW_NAMES


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float
    checksum_ok: bool
    char_confidences: tuple[float, ...]
    inferred: tuple[int, ...] = ()  # positions of `text` supplied by the check digit, not read (crnn.core.codec)


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
    logps: np.ndarray,
    text: str,
    erasure_prior: float = 0.0,
    erasable: Sequence[str] = (),
) -> float:
    """log P(text | the views) under the constrained decoder's model, for views `logps: (V, T, C)` of one crop,
    summed over them: per view, CTC's likelihood of the digits as printed or, at `erasure_prior`, of the digits a
    crop lacking the erasable one shows (`symbology.erased_form`: a card's unprinted UPC-A check digit), whichever
    way the view shows them (the two summed)."""
    ll = ctc_log_likelihoods(logps, codec.encode(text))
    short = symbology.erased_form(text, erasable) if erasure_prior > 0 else None
    if short is not None:
        ll = np.logaddexp(ll, ctc_log_likelihoods(logps, codec.encode(short)) + math.log(erasure_prior))
    return float(ll.sum())


def fused_text(
    codec: Codec,
    logps: Sequence[np.ndarray],
    decoded: Sequence[Decoded],
    ean13_lead0_prior: float = EAN13_LEAD0_PRIOR,
    erasure_prior: float = 0.0,
    erasable: Sequence[str] = (),
    twins: bool = False,
) -> str:
    """The number several views of a crop read together: each view's read is a candidate, and the candidate the
    views find likeliest together (summed log-likelihood, a product of the views' probabilities, plus the
    decoder's layout prior for a 13-digit read starting with 0) wins; ties go to the earlier read. Without
    `twins`, always the text of one of `decoded`.

    With `erasure_prior` > 0 (the reader's own) a view's likelihood of a number covers a crop lacking its
    erasable digit (`view_log_likelihood`), as the constrained decoder does, so reads whose digit the check digit
    supplied compete on equal terms: every view of a loyalty card printed without its check digit reads 11
    digits, and plain CTC would score each view's 12-digit number by a digit no view shows. Without it such reads
    stand only for the crop as given (`decoded[0]`). Where some reads pass the check digit, only they are
    candidates (the constrained decoder's always do).

    With `twins`, a UPC-A read and the EAN-13 with a leading 0 (`symbology.layout_twin`: the same bars) each bring
    the other in as a candidate: each view's decoder weighs the layout prior against that view's evidence alone,
    so a leading 0 that every view shows a little can be lost in each and still win on all of them together. The
    winner may then be no view's read.
    """
    candidates = _candidates(decoded, erasure_prior)
    if twins:
        more = (symbology.layout_twin(t) for t in candidates if symbology.checksum_ok(t))
        candidates += [t for t in dict.fromkeys(more) if t is not None and t not in candidates]
    if len(candidates) < 2:
        return candidates[0] if candidates else decoded[0].text
    lead0 = math.log(ean13_lead0_prior) if ean13_lead0_prior > 0 else -math.inf
    stacked = np.stack(logps)  # every view at once: one forward pass per candidate
    score = {
        t: view_log_likelihood(codec, stacked, t, erasure_prior, erasable)
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
