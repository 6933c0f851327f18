"""CTC codec: charset <-> label indices, and the decoders (greedy, beam, check-digit constrained).

Numpy only, so reading with onnxruntime never needs torch. Index 0 is the CTC blank; character i of the
charset is class i + 1. Decoders take log-probabilities `logp: (T, C)` for one image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from crnn import symbology
from crnn.symbology import Constraint, Format

Decoder = Literal["greedy", "beam", "constrained"]
DECODERS: tuple[Decoder, ...] = ("greedy", "beam", "constrained")
_NEG = -1e30
# Prior probability that a crop lacks a digit the check digit can supply (constrained decoder); 0 turns the
# hypothesis off. The decoder's default is off; a model carries its own (`TrainConfig.erasure_prior`, in the
# checkpoint and the ONNX metadata), which readers use.
ERASURE_PRIOR = 0.0
# Prior that a 13-digit read starting with 0 is printed as an EAN-13 rather than as its UPC-A
# (`symbology.constraints`); 1 (the default) weighs both layouts alike.
EAN13_LEAD0_PRIOR = 1.0


@dataclass(frozen=True)
class Decoded:
    """A decoded string with its confidence (product of per-character confidences) and theirs."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    inferred: tuple[int, ...] = ()  # positions of `text` not read but supplied by the check digit


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable log-softmax in numpy (for ONNX logits)."""
    m = logits.max(axis=axis, keepdims=True)
    z = logits - m
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def min_time_steps(text: str) -> int:
    """Fewest CTC frames that can emit `text`: one per character plus a blank between repeats."""
    return len(text) + sum(a == b for a, b in zip(text, text[1:]))


class Codec:
    """Maps text to CTC labels and CTC outputs back to text."""

    def __init__(self, charset: str = "0123456789") -> None:
        if not charset:
            raise ValueError("charset must not be empty")
        if len(set(charset)) != len(charset):
            raise ValueError(f"charset {charset!r} has repeated characters")
        self.charset = charset
        self._index = {c: i + 1 for i, c in enumerate(charset)}

    @property
    def num_classes(self) -> int:
        """Number of network outputs: the charset plus the CTC blank."""
        return len(self.charset) + 1

    def check(self, text: str) -> None:
        """Raise ValueError when `text` is empty or has characters outside the charset."""
        if not text:
            raise ValueError("label is empty")
        bad = sorted({c for c in text if c not in self._index})
        if bad:
            raise ValueError(f"label {text!r} has characters outside charset {self.charset!r}: {''.join(bad)!r}")

    def encode(self, text: str) -> list[int]:
        """Class indices of `text` (no blanks)."""
        self.check(text)
        return [self._index[c] for c in text]

    def decode(
        self,
        logp: np.ndarray,
        decoder: Decoder = "greedy",
        beam_width: int = 10,
        formats: Sequence[Format] = symbology.FORMATS,
    ) -> Decoded:
        """Decode one image's log-probabilities `logp: (T, C)` with the named decoder."""
        if decoder == "greedy":
            return self.decode_greedy(logp)
        if decoder == "beam":
            return self.decode_beam(logp, beam_width)
        if decoder == "constrained":
            return self.decode_constrained(logp, formats)
        raise ValueError(f"unknown decoder {decoder!r}; choose one of {DECODERS}")

    def decode_batch(self, logp: np.ndarray, decoder: Decoder = "greedy", **kw: object) -> list[Decoded]:
        """Decode `logp: (N, T, C)`."""
        if decoder == "greedy":
            return self.decode_greedy_batch(logp)
        if decoder == "constrained":
            return self.decode_constrained_batch(logp, **kw)  # type: ignore[arg-type]  # kw typed per decoder
        return [self.decode(x, decoder, **kw) for x in logp]  # type: ignore[arg-type]  # kw typed per decoder

    # Greedy -----------------------------------------------------------------------------------

    def decode_greedy(self, logp: np.ndarray) -> Decoded:
        return self.decode_greedy_batch(logp[None])[0]

    def decode_greedy_batch(self, logp: np.ndarray) -> list[Decoded]:
        """Best class per frame, repeats merged, blanks dropped. `logp: (N, T, C)`."""
        best = logp.argmax(-1)  # (N, T)
        prob = np.exp(logp.max(-1))  # (N, T)
        out = []
        for seq, p in zip(best, prob):
            # A run starts where the class changes; keep runs of non-blank classes.
            starts = np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]])
            ends = np.r_[starts[1:], len(seq)]
            chars, confs = [], []
            for s, e in zip(starts, ends):
                k = int(seq[s])
                if k:
                    chars.append(self.charset[k - 1])
                    confs.append(float(p[s:e].max()))
            out.append(Decoded("".join(chars), float(np.prod(confs)) if confs else 0.0, tuple(confs)))
        return out

    # Beam search ------------------------------------------------------------------------------

    def decode_beam(self, logp: np.ndarray, beam_width: int = 10) -> Decoded:
        """CTC prefix beam search: the most probable string summed over its alignments."""
        beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, _NEG)}  # prefix -> (log p_blank, log p_char)
        blank = logp[:, 0]
        for t in range(logp.shape[0]):
            nxt: dict[tuple[int, ...], list[float]] = {}

            def add(prefix: tuple[int, ...], pb: float, pnb: float, nxt: dict = nxt) -> None:
                cur = nxt.setdefault(prefix, [_NEG, _NEG])
                cur[0] = np.logaddexp(cur[0], pb)
                cur[1] = np.logaddexp(cur[1], pnb)

            # Only characters with non-negligible probability can extend a beam.
            cands = np.flatnonzero(logp[t, 1:] > np.log(1e-4)) + 1
            for prefix, (pb, pnb) in beams.items():
                total = np.logaddexp(pb, pnb)
                add(prefix, total + blank[t], _NEG)
                last = prefix[-1] if prefix else None
                for k in cands:
                    lp = logp[t, k]
                    if k == last:
                        add(prefix, _NEG, pnb + lp)  # repeat collapses
                        add(prefix + (int(k),), _NEG, pb + lp)  # repeat after a blank
                    else:
                        add(prefix + (int(k),), _NEG, total + lp)
            ranked = sorted(nxt.items(), key=lambda kv: -np.logaddexp(kv[1][0], kv[1][1]))[:beam_width]
            beams = {p: (v[0], v[1]) for p, v in ranked}
        best = max(beams.items(), key=lambda kv: np.logaddexp(kv[1][0], kv[1][1]))[0]
        return self._with_confidences(logp, list(best))

    # Check-digit constrained ------------------------------------------------------------------

    def decode_constrained(
        self,
        logp: np.ndarray,
        formats: Sequence[Format] = symbology.FORMATS,
        erasure_prior: float = ERASURE_PRIOR,
        ean13_lead0_prior: float = EAN13_LEAD0_PRIOR,
    ) -> Decoded:
        """Most probable alignment whose string is a valid code of one of `formats`.

        A Viterbi search over CTC alignments with the weighted digit sum mod 10 in the state, so the
        result always has a format's length and a valid check digit (when the frames allow one).
        With `erasure_prior` > 0 it also weighs the hypothesis that the image lacks one digit the check
        digit can supply (`symbology.ERASABLE`), at that prior; such a read carries the position it
        inferred in `Decoded.inferred`. With `ean13_lead0_prior` < 1 a 13-digit string starting with 0 costs
        that prior (`symbology.constraints`). Falls back to greedy when no frame sequence can hold any format.
        """
        return self.decode_constrained_batch(logp[None], formats, erasure_prior, ean13_lead0_prior)[0]

    def decode_constrained_batch(
        self,
        logp: np.ndarray,
        formats: Sequence[Format] = symbology.FORMATS,
        erasure_prior: float = ERASURE_PRIOR,
        ean13_lead0_prior: float = EAN13_LEAD0_PRIOR,
    ) -> list[Decoded]:
        """`decode_constrained` for `logp: (N, T, C)`; the images that need the search share one."""
        symbology.check_erasure_prior(erasure_prior)  # also when no image needs the search
        symbology.check_lead0_prior(ean13_lead0_prior)
        out = self.decode_greedy_batch(logp)
        # Where the best path overall satisfies a constraint (at no prior cost) it is also the best constrained
        # path; a valid 13-digit path starting with 0 is searched again when that layout costs a prior.
        lead0_costs = ean13_lead0_prior < 1.0 and "EAN-13" in formats

        def settled(t: str) -> bool:
            if lead0_costs and len(t) == 13 and t.startswith("0"):
                return False
            return any(symbology.is_valid(t, f) for f in formats)

        todo = [i for i, d in enumerate(out) if not settled(d.text)]
        if not todo:
            return out
        digits = "0123456789"
        missing = [d for d in digits if d not in self._index]
        if missing:
            raise ValueError(f"constrained decoding needs the digits in the charset, missing {missing}")
        groups: dict[int, list[Constraint]] = {}
        for c in symbology.constraints(tuple(formats), erasure_prior, ean13_lead0_prior):
            groups.setdefault(len(c.weights), []).append(c)
        digit_class = [self._index[d] for d in digits]
        best: list[tuple[float, list[int], Constraint] | None] = [None] * len(todo)
        # Each image searches its groups (lengths) in the order of a cheap upper bound on their score (the best
        # path of that length that each position's allowed digits permit, sums ignored) and skips a group whose
        # bound cannot beat the best read found: the same result as searching every group, at a fraction.
        group_list = list(groups.values())
        sub = logp[todo]
        bounds = [_length_bound(sub, g, digit_class) for g in group_list]
        bound = np.stack([b for b, _ in bounds], axis=1)  # (len(todo), groups)
        order = np.argsort(-bound, axis=1, kind="stable")
        for rank in range(len(group_list)):
            for gi, group in enumerate(group_list):
                sel = [
                    j
                    for j in range(len(todo))
                    if order[j, rank] == gi
                    and bound[j, gi] > _NEG / 2
                    and (best[j] is None or bound[j, gi] > best[j][0])  # type: ignore[index]  # checked
                ]
                # Where the bound's own path passes the check digit it is the group's best read: no search.
                search = [j for j in sel if bounds[gi][1][j] is None]
                found = dict(zip(search, _viterbi_constrained(sub[search], group, digit_class) if search else []))
                for j in sel:
                    f = found[j] if j in found else bounds[gi][1][j]
                    if f is not None and (best[j] is None or f[0] > best[j][0]):  # type: ignore[index]  # checked
                        best[j] = f
        for i, b in zip(todo, best):
            if b is None:
                continue
            read = self._with_confidences(logp[i], b[1])
            pos = b[2].erased
            if pos is not None:
                # The inferred digit is right exactly when every digit read is: it takes their confidence.
                confs = read.char_confidences[:pos] + (read.confidence,) + read.char_confidences[pos:]
                read = Decoded(b[2].fill(read.text), read.confidence, confs, (pos,))
            out[i] = read
        return out

    def aligned(self, logp: np.ndarray, text: str) -> Decoded:
        """`text` as read from `logp: (T, C)`: per-character confidences from its best alignment."""
        return self._with_confidences(logp, self.encode(text))

    def _with_confidences(self, logp: np.ndarray, labels: list[int]) -> Decoded:
        """Decoded text for class `labels`, with per-character confidences from a forced alignment."""
        text = "".join(self.charset[k - 1] for k in labels)
        if not labels:
            return Decoded("", 0.0, ())
        frames = _force_align(logp, labels)
        prob = np.exp(logp)
        confs = tuple(float(prob[f, k].max()) for f, k in zip(frames, labels))
        return Decoded(text, float(np.prod(confs)), confs)


def ctc_log_likelihood(logp: np.ndarray, labels: Sequence[int]) -> float:
    """log P(labels | image) under CTC for `logp: (T, C)`: the forward algorithm summed over every alignment
    (-inf when T frames cannot emit the labels)."""
    ext = [0]
    for k in labels:
        ext += [k, 0]
    S, T = len(ext), logp.shape[0]
    alpha = np.full(S, -np.inf)
    alpha[0] = logp[0, 0]
    if S > 1:
        alpha[1] = logp[0, ext[1]]
    can_skip = np.array([s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2] for s in range(S)])
    prev1 = np.full(S, -np.inf)
    prev2 = np.full(S, -np.inf)
    emit = logp[:, ext]
    with np.errstate(divide="ignore"):
        for t in range(1, T):
            prev1[1:] = alpha[:-1]
            prev2[2:] = np.where(can_skip[2:], alpha[:-2], -np.inf)
            alpha = np.logaddexp(np.logaddexp(alpha, prev1), prev2) + emit[t]
        return float(np.logaddexp(alpha[-1], alpha[-2]) if S > 1 else alpha[-1])


def _force_align(logp: np.ndarray, labels: list[int]) -> list[list[int]]:
    """Frames of each label character in the best CTC alignment (Viterbi over the blank-extended label)."""
    ext = [0]
    for k in labels:
        ext += [k, 0]
    S, T = len(ext), logp.shape[0]
    score = np.full(S, _NEG)
    score[0] = logp[0, 0]
    if S > 1:
        score[1] = logp[0, ext[1]]
    back = np.zeros((T, S), dtype=np.int64)
    # Skipping a blank is allowed only between different characters.
    can_skip = np.array([s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2] for s in range(S)])
    stacked = np.full((3, S), _NEG)  # staying, from one state back, from two back (skipping a blank)
    steps = np.arange(S)
    emit = logp[:, ext]
    for t in range(1, T):
        stacked[0] = score
        stacked[1, 1:] = score[:-1]
        stacked[2, 2:] = np.where(can_skip[2:], score[:-2], _NEG)
        choice = stacked.argmax(0)
        back[t] = steps - choice
        score = stacked[choice, steps] + emit[t]
    s = S - 1 if S == 1 or score[S - 1] >= score[S - 2] else S - 2
    frames: list[list[int]] = [[] for _ in labels]
    for t in range(T - 1, -1, -1):
        if s % 2 == 1:
            frames[s // 2].append(t)
        s = back[t, s] if t > 0 else s
    return frames


def _argmax3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.stack([a, b, c]).argmax(0)` and `.max(0)` (broadcast; ties to the first), without the stack."""
    ab = b > a
    best = np.where(ab, b, a)
    bc = c > best
    return np.where(bc, 2, ab.astype(np.int8)), np.where(bc, c, best)


def _length_bound(
    logp: np.ndarray, group: Sequence[Constraint], digit_class: list[int]
) -> tuple[np.ndarray, list[tuple[float, list[int], Constraint] | None]]:
    """Per image of `logp: (N, T, C)`, an upper bound on `_viterbi_constrained`'s score for `group`: the best
    CTC path emitting exactly its length in digits each position allows, plus the constraint's prior, the
    check digit ignored (`_NEG` where no path fits); a tenth of the search's states. Also, per image, that
    path as `_viterbi_constrained` would return it when it passes its constraint's check digit (then it is
    the group's best read), else None.
    """
    N, T = logp.shape[:2]
    L, G = len(group[0].weights), len(group)
    if T < L:
        return np.full(N, _NEG), [None] * N
    allowed = np.array([[[str(d) in c.allowed[k] for d in range(10)] for k in range(L)] for c in group])
    lp_digit = logp[:, :, digit_class]  # (N, T, 10)
    lp_blank = logp[:, :, 0]
    B = np.full((N, G, L + 1), _NEG)
    C = np.full((N, G, L + 1, 10), _NEG)
    B[:, :, 0] = 0.0
    bp_B = np.zeros((T, N, G, L + 1), dtype=np.int8)  # 0: from B, 1 + d: from C of digit d
    bp_C = np.zeros((T, N, G, L + 1, 10), dtype=np.int8)  # 0: continue, 1: from B, 2 + d': from C of d'
    digits = np.arange(10)
    for t in range(T):
        arg1 = C.argmax(-1)
        top1 = C.max(-1)
        rest = np.where(arg1[..., None] == digits, _NEG, C)
        arg2 = rest.argmax(-1)
        top2 = rest.max(-1)
        use_c = top1 > B
        bp_B[t] = np.where(use_c, 1 + arg1, 0)
        newB = np.where(use_c, top1, B) + lp_blank[:, t, None, None]
        # Into digit d at position k: continue its run, or start it after a blank or another digit.
        other_is_d = arg1[:, :, :L, None] == digits
        other = np.where(other_is_d, top2[:, :, :L, None], top1[:, :, :L, None])
        other_arg = np.where(other_is_d, arg2[:, :, :L, None], arg1[:, :, :L, None])
        choice, best = _argmax3(C[:, :, 1:], B[:, :, :L, None], other)
        newC = np.full_like(C, _NEG)
        newC[:, :, 1:] = np.where(allowed[None], best + lp_digit[:, t, None, None, :], _NEG)
        bp_C[t, :, :, 1:] = np.where(choice == 2, 2 + other_arg, choice)
        B, C = newB, newC
    end_c = C[:, :, L].max(2)
    end = np.maximum(B[:, :, L], end_c) + np.array([c.log_prior for c in group])
    bound = end.max(1)
    paths: list[tuple[float, list[int], Constraint] | None] = []
    for n in range(N):
        g = int(end[n].argmax())
        if bound[n] <= _NEG / 2:
            paths.append(None)
            continue
        kind, k, d = ("B", L, -1) if B[n, g, L] >= end_c[n, g] else ("C", L, int(C[n, g, L].argmax()))
        read: list[int] = []
        for t in range(T - 1, -1, -1):
            if kind == "B":
                code = int(bp_B[t, n, g, k])
                kind, d = ("B", -1) if code == 0 else ("C", code - 1)
            else:
                code = int(bp_C[t, n, g, k, d])
                if code == 0:
                    continue
                read.append(d)
                kind, k, d = ("B", k - 1, -1) if code == 1 else ("C", k - 1, code - 2)
        read.reverse()
        c = group[g]
        valid = sum(w * x for w, x in zip(c.weights, read, strict=True)) % 10 == 0
        paths.append((float(bound[n]), [digit_class[x] for x in read], c) if valid else None)
    return np.where(bound > _NEG / 2, bound, _NEG), paths


def _viterbi_constrained(
    logp: np.ndarray, group: Sequence[Constraint], digit_class: list[int]
) -> list[tuple[float, list[int], Constraint] | None]:
    """Per image of `logp: (N, T, C)`, the best alignment emitting a string that satisfies one of `group`.

    `group` holds constraints of one length; images (axis N) and constraints (axis G) are searched together,
    which costs about as much as one of each in numpy. Each result is (log prob of the path plus its
    constraint's log prior, class labels, the constraint), or None when no path fits.
    """
    N, T = logp.shape[:2]
    L, G = len(group[0].weights), len(group)
    if any(len(c.weights) != L for c in group):
        raise ValueError("a constraint group must share one length")
    if T < L:
        return [None] * N
    # allowed[g, k, d]: digit d may stand at position k under constraint g.
    allowed = np.array([[[str(d) in c.allowed[k] for d in range(10)] for k in range(L)] for c in group])
    lp_digit = logp[:, :, digit_class]  # (N, T, 10)
    lp_blank = logp[:, :, 0]  # (N, T)
    # src[g, k, s, d]: the sum before digit d at position k, given the sum s after it.
    s_after = np.arange(10)[:, None]
    src = np.array([[(s_after - c.weights[k] * np.arange(10)) % 10 for k in range(L)] for c in group])
    # B[n, g, k, s]: k digits emitted, sum s, current frame blank. C[n, g, k, s, d]: in the run of digit d (the
    # k-th); the digit is the last axis, so the per-frame reductions over it run on contiguous memory.
    B = np.full((N, G, L + 1, 10), _NEG)
    C = np.full((N, G, L + 1, 10, 10), _NEG)
    B[:, :, 0, 0] = 0.0
    bp_B = np.zeros((T, N, G, L + 1, 10), dtype=np.int8)  # 0: from B, 1 + d: from C of digit d
    bp_C = np.zeros((T, N, G, L + 1, 10, 10), dtype=np.int8)  # 0: continue, 1: from B, 2 + d': from C of d'
    # The states a digit at position k (k = 1..L) comes from, as flat indices into a (G, L + 1, 10) array:
    # (g, k - 1, src[g, k - 1, s, d]); one precomputed `take` per frame gathers all of them.
    flat = (np.arange(G)[:, None, None, None] * (L + 1) * 10 + np.arange(L)[None, :, None, None] * 10 + src).reshape(-1)
    digits = np.arange(10)
    ok = allowed[None, :, :, None, :]  # (1, G, L, 1, 10)
    for t in range(T):
        arg1 = C.argmax(-1)  # best digit per (n, g, k, s), and its score
        top1 = C.max(-1)
        use_c = top1 > B
        bp_B[t] = np.where(use_c, 1 + arg1, 0)
        newB = np.where(use_c, top1, B) + lp_blank[:, t, None, None, None]
        # Into digit d at position k: continue its run, or start it after a blank or another digit
        # (the best other digit: the runner-up where the best is d itself).
        rest = np.where(arg1[..., None] == digits, _NEG, C)
        arg2 = rest.argmax(-1)
        top2 = rest.max(-1)
        gathered = np.stack([B, top1, top2, arg1, arg2]).reshape(5, N, -1).take(flat, axis=2)
        from_b, g_top1, g_top2, g_arg1, g_arg2 = gathered.reshape(5, N, G, L, 10, 10)
        other_is_d = g_arg1 == digits
        from_c = np.where(other_is_d, g_top2, g_top1)
        from_c_arg = np.where(other_is_d, g_arg2, g_arg1).astype(np.int64)
        choice, best = _argmax3(C[:, :, 1:], from_b, from_c)
        val = best + lp_digit[:, t, None, None, None, :]
        newC = np.full_like(C, _NEG)
        newC[:, :, 1:] = np.where(ok, val, _NEG)
        bp_C[t, :, :, 1:] = np.where(choice == 2, 2 + from_c_arg, choice)
        B, C = newB, newC
    end_b = B[:, :, L, 0]  # (N, G)
    end_c = C[:, :, L, 0, :]  # (N, G, 10)
    scores = np.maximum(end_b, end_c.max(2)) + np.array([c.log_prior for c in group])
    results: list[tuple[float, list[int], Constraint] | None] = []
    for n in range(N):
        g = int(scores[n].argmax())
        if scores[n, g] <= _NEG / 2:
            results.append(None)
            continue
        # Backtrack from the best final state of the best constraint.
        if end_b[n, g] >= end_c[n, g].max():
            state: tuple[str, int, int, int] = ("B", L, -1, 0)
        else:
            state = ("C", L, int(end_c[n, g].argmax()), 0)
        digits_rev: list[int] = []
        for t in range(T - 1, -1, -1):
            kind, k, d, s = state
            if kind == "B":
                code = int(bp_B[t, n, g, k, s])
                state = ("B", k, -1, s) if code == 0 else ("C", k, code - 1, s)
            else:
                code = int(bp_C[t, n, g, k, s, d])
                if code == 0:
                    continue
                digits_rev.append(d)
                s_prev = int(src[g, k - 1, s, d])
                state = ("B", k - 1, -1, s_prev) if code == 1 else ("C", k - 1, code - 2, s_prev)
        results.append((float(scores[n, g]), [digit_class[d] for d in reversed(digits_rev)], group[g]))
    return results
