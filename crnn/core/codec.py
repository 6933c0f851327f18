"""CTC codec: charset <-> label indices, and the decoders (greedy, beam, check-digit constrained).

Numpy, and numba for the constrained search where it is installed (`pip install .[fast]`; else the same search in
numpy, `crnn.core.search_numpy`), so reading with onnxruntime never needs torch. Index 0 is the CTC
blank; character i of the charset is class i + 1. Decoders take log-probabilities `logp: (T, C)` for one image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from crnn.core import search_numpy, symbology
from crnn.core.compiled import compiled as _compiled
from crnn.core.compiled import numba
from crnn.core.symbology import Constraint, Format

Decoder = Literal["greedy", "beam", "constrained"]


DECODERS: tuple[Decoder, ...] = ("greedy", "beam", "constrained")


_NEG = search_numpy.NEG_INF


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
        """Class indices of `text` (no blanks); none for "" (a crop that shows no number: all blank)."""
        if not text:
            return []
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
        erasable: Sequence[Format] = tuple(symbology.ERASABLE),
    ) -> Decoded:
        """Most probable alignment whose string is a valid code of one of `formats`.

        A Viterbi search over CTC alignments with the weighted digit sum mod 10 in the state, so the
        result always has a format's length and a valid check digit (when the frames allow one).
        With `erasure_prior` > 0 it also weighs the hypothesis that the image lacks one digit the check
        digit can supply (`symbology.ERASABLE`, for the formats in `erasable`), at that prior; such a read
        carries the position it inferred in `Decoded.inferred`. With `ean13_lead0_prior` < 1 a 13-digit string
        starting with 0 costs that prior (`symbology.constraints`). Falls back to greedy when no frame sequence
        can hold any format.
        """
        return self.decode_constrained_batch(logp[None], formats, erasure_prior, ean13_lead0_prior, erasable)[0]

    def decode_constrained_batch(
        self,
        logp: np.ndarray,
        formats: Sequence[Format] = symbology.FORMATS,
        erasure_prior: float = ERASURE_PRIOR,
        ean13_lead0_prior: float = EAN13_LEAD0_PRIOR,
        erasable: Sequence[Format] = tuple(symbology.ERASABLE),
    ) -> list[Decoded]:
        """`decode_constrained` for `logp: (N, T, C)`; the images that need the search share one."""
        symbology.check_erasure_prior(erasure_prior)  # also when no image needs the search
        symbology.check_lead0_prior(ean13_lead0_prior)
        erasable = symbology.check_erasable(erasable)
        out = self.decode_greedy_batch(logp)
        # Where the best path overall satisfies a constraint (at no prior cost) it is also the best constrained
        # path; a valid 13-digit path starting with 0 is searched again when that layout costs a prior.
        lead0_costs = ean13_lead0_prior < 1.0 and "EAN-13" in formats

        def settled(t: str) -> bool:
            if lead0_costs and symbology.is_ean13_lead0(t):
                return False
            return any(symbology.is_valid(t, f) for f in formats)

        todo = [i for i, d in enumerate(out) if not settled(d.text)]
        if not todo:
            return out
        digits = "0123456789"
        missing = [d for d in digits if d not in self._index]
        if missing:
            raise ValueError(f"constrained decoding needs the digits in the charset, missing {missing}")
        group = symbology.constraints(tuple(formats), erasure_prior, ean13_lead0_prior, erasable)
        digit_class = [self._index[d] for d in digits]
        best = _search(logp[todo], group, digit_class)
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


def _extended(labels: Sequence[int]) -> tuple[list[int], np.ndarray]:
    """The blank-extended label of CTC (blank, l1, blank, l2, ..., blank) and, per state, whether a path may
    reach it skipping the blank before it (only between different characters)."""
    ext = [0]
    for k in labels:
        ext += [k, 0]
    can_skip = np.array([s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2] for s in range(len(ext))])
    return ext, can_skip


def ctc_log_likelihood(logp: np.ndarray, labels: Sequence[int]) -> float:
    """log P(labels | image) under CTC for `logp: (T, C)`: the forward algorithm summed over every alignment
    (-inf when T frames cannot emit the labels)."""
    return float(ctc_log_likelihoods(logp[None], labels)[0])


def ctc_log_likelihoods(logps: np.ndarray, labels: Sequence[int]) -> np.ndarray:
    """`ctc_log_likelihood` of one label for each of `logps: (V, T, C)` (views of one crop), run together: `(V,)`."""
    ext, can_skip = _extended(labels)
    emit = logps[:, :, ext]
    if numba is not None:  # compiled: the same sums in the same order, 20 times faster on the photos' fusion
        return _ctc_forward(np.ascontiguousarray(emit, dtype=np.float64), can_skip)
    S, T = len(ext), logps.shape[1]
    V = logps.shape[0]
    alpha = np.full((V, S), -np.inf)
    alpha[:, 0] = logps[:, 0, 0]
    if S > 1:
        alpha[:, 1] = logps[:, 0, ext[1]]
    prev1 = np.full((V, S), -np.inf)
    prev2 = np.full((V, S), -np.inf)
    with np.errstate(divide="ignore"):
        for t in range(1, T):
            prev1[:, 1:] = alpha[:, :-1]
            prev2[:, 2:] = np.where(can_skip[2:], alpha[:, :-2], -np.inf)
            alpha = np.logaddexp(np.logaddexp(alpha, prev1), prev2) + emit[:, t]
        return np.logaddexp(alpha[:, -1], alpha[:, -2]) if S > 1 else alpha[:, -1]


@_compiled
def _logaddexp(x: float, y: float) -> float:  # pragma: no cover - compiled
    """numpy's `logaddexp` of two floats, as numpy computes it (with -inf, the other, as numpy's gives exactly)."""
    if y == -np.inf:
        return x
    if x == -np.inf:
        return y
    if x == y:
        return x + 0.6931471805599453
    d = x - y
    if d > 0:
        return x + np.log1p(np.exp(-d))
    if d <= 0:
        return y + np.log1p(np.exp(d))
    return d  # nan


@_compiled
def _ctc_forward(emit, can_skip):  # pragma: no cover - compiled
    """CTC's forward sums of `emit: (V, T, S)`, each view's log-probabilities of the blank-extended label's states
    (`_extended`), as `ctc_log_likelihoods` computes them: `(V,)`."""
    V, T, S = emit.shape
    out = np.empty(V)
    alpha = np.empty(S)
    nxt = np.empty(S)
    for v in range(V):
        alpha[:] = -np.inf
        alpha[0] = emit[v, 0, 0]
        if S > 1:
            alpha[1] = emit[v, 0, 1]
        for t in range(1, T):
            for s in range(S):
                a = _logaddexp(alpha[s], alpha[s - 1] if s >= 1 else -np.inf)
                a = _logaddexp(a, alpha[s - 2] if s >= 2 and can_skip[s] else -np.inf)
                nxt[s] = a + emit[v, t, s]
            alpha, nxt = nxt, alpha
        out[v] = _logaddexp(alpha[S - 1], alpha[S - 2]) if S > 1 else alpha[S - 1]
    return out


def _force_align(logp: np.ndarray, labels: list[int]) -> list[list[int]]:
    """Frames of each label character in the best CTC alignment (Viterbi over the blank-extended label)."""
    ext, can_skip = _extended(labels)
    S, T = len(ext), logp.shape[0]
    emit = logp[:, ext]
    if numba is not None:
        back, score = _align_kernel(np.ascontiguousarray(emit, dtype=np.float64), can_skip)
    else:
        score = np.full(S, _NEG)
        score[0] = logp[0, 0]
        if S > 1:
            score[1] = logp[0, ext[1]]
        back = np.zeros((T, S), dtype=np.int64)
        stacked = np.full((3, S), _NEG)  # staying, from one state back, from two back (skipping a blank)
        steps = np.arange(S)
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


@_compiled
def _align_kernel(emit, can_skip):  # pragma: no cover - compiled
    """`_force_align`'s Viterbi over `emit: (T, S)`: each frame's back-pointers `(T, S)` and the last frame's
    scores `(S,)`, the first of equal predecessors chosen as numpy's `argmax` does."""
    T, S = emit.shape
    back = np.zeros((T, S), dtype=np.int64)
    score = np.full(S, _NEG)
    nxt = np.empty(S)
    score[0] = emit[0, 0]
    if S > 1:
        score[1] = emit[0, 1]
    for t in range(1, T):
        for s in range(S):
            # A predecessor that does not exist counts as _NEG, as in the numpy version's stacked rows.
            best, frm = score[s], s
            one = score[s - 1] if s >= 1 else _NEG
            if one > best:
                best, frm = one, s - 1
            two = score[s - 2] if s >= 2 and can_skip[s] else _NEG
            if two > best:
                best, frm = two, s - 2
            back[t, s] = frm
            nxt[s] = best + emit[t, s]
        score, nxt = nxt, score
    return back, score


def _search(
    logp: np.ndarray, group: Sequence[Constraint], digit_class: list[int]
) -> list[tuple[float, list[int], Constraint] | None]:
    """Per image of `logp: (N, T, C)`, the best CTC alignment whose string satisfies one of `group`: (its log
    probability plus the constraint's log prior, class labels, the constraint), or None when no path fits."""
    if numba is None:
        return search_numpy.search(logp, group, digit_class)
    N, T = logp.shape[:2]
    G, L = len(group), max(len(c.weights) for c in group)
    lengths = np.array([len(c.weights) for c in group], dtype=np.int64)
    weights = np.zeros((G, L), dtype=np.int64)
    allowed = np.zeros((G, L, 10), dtype=np.bool_)
    for g, c in enumerate(group):
        weights[g, : len(c.weights)] = c.weights
        for k, digits in enumerate(c.allowed):
            allowed[g, k, [int(d) for d in digits]] = True
    log_prior = np.array([c.log_prior for c in group], dtype=np.float64)
    lp = logp.astype(np.float64)
    found, scores, read = _search_kernel(
        np.ascontiguousarray(lp[:, :, digit_class]),
        np.ascontiguousarray(lp[:, :, 0]),
        lengths,
        weights,
        allowed,
        log_prior,
    )
    return [
        None
        if found[n] < 0
        else (float(scores[n]), [digit_class[d] for d in read[n, : lengths[found[n]]]], group[found[n]])
        for n in range(N)
    ]


@_compiled
def _top2(row, t1, a1, t2, a2, i):  # pragma: no cover - compiled
    """The best and second-best entries of `row` (first index on ties) into t1/a1 and t2/a2 at `i`."""
    b1, i1 = row[0], 0
    for x in range(1, row.shape[0]):
        if row[x] > b1:
            b1, i1 = row[x], x
    b2, i2 = _NEG * 2, 0 if i1 != 0 else 1
    for x in range(row.shape[0]):
        if x != i1 and (row[x] > b2):
            b2, i2 = row[x], x
    t1[i], a1[i], t2[i], a2[i] = b1, i1, b2, i2


@_compiled
def _viterbi(lpd, lpb, L, weights, allowed, modulus, out):  # pragma: no cover - compiled
    """Best path of `lpd: (T, 10)` digit / `lpb: (T,)` blank log-probs emitting L allowed digits whose weighted
    sum is 0 mod `modulus` (digits to `out`); its log probability, or _NEG. With modulus 1 the sum is ignored:
    the constraint's cheap bound, on a tenth of the states."""
    T = lpd.shape[0]
    if T < L:
        return _NEG
    M = modulus
    B = np.full((L + 1, M), _NEG)
    C = np.full((L + 1, M, 10), _NEG)  # (k, s, d)
    nB = np.empty((L + 1, M))
    nC = np.empty((L + 1, M, 10))
    bpB = np.zeros((T, L + 1, M), dtype=np.int8)  # 0: from B, 1 + d: from C of digit d
    bpC = np.zeros((T, L + 1, M, 10), dtype=np.int8)  # 0: continue, 1: from B, 2 + d': from C of d'
    t1 = np.empty((L + 1) * M)
    a1 = np.empty((L + 1) * M, dtype=np.int64)
    t2 = np.empty((L + 1) * M)
    a2 = np.empty((L + 1) * M, dtype=np.int64)
    B[0, 0] = 0.0
    for t in range(T):
        for k in range(L + 1):
            for s in range(M):
                i = k * M + s
                _top2(C[k, s], t1, a1, t2, a2, i)
                if t1[i] > B[k, s]:
                    nB[k, s] = t1[i] + lpb[t]
                    bpB[t, k, s] = 1 + a1[i]
                else:
                    nB[k, s] = B[k, s] + lpb[t]
                    bpB[t, k, s] = 0
        nC[0] = _NEG
        for k in range(1, L + 1):
            w = weights[k - 1]
            for s in range(M):
                for d in range(10):
                    if not allowed[k - 1, d]:
                        nC[k, s, d] = _NEG
                        continue
                    sp = (s - w * d) % M
                    j = (k - 1) * M + sp
                    v = C[k, s, d]
                    code = 0
                    if B[k - 1, sp] > v:
                        v = B[k - 1, sp]
                        code = 1
                    o, oa = (t2[j], a2[j]) if a1[j] == d else (t1[j], a1[j])
                    if o > v:
                        v = o
                        code = 2 + oa
                    nC[k, s, d] = v + lpd[t, d]
                    bpC[t, k, s, d] = code
        B, nB = nB, B
        C, nC = nC, C
    d = 0
    for x in range(1, 10):
        if C[L, 0, x] > C[L, 0, d]:
            d = x
    score = max(B[L, 0], C[L, 0, d])
    if score <= _NEG / 2:
        return _NEG
    in_b = B[L, 0] >= C[L, 0, d]
    k, s = L, 0
    for t in range(T - 1, -1, -1):
        if in_b:
            code = bpB[t, k, s]
            if code > 0:
                in_b, d = False, code - 1
        else:
            code = bpC[t, k, s, d]
            if code == 0:
                continue
            out[k - 1] = d
            s = (s - weights[k - 1] * d) % M
            k -= 1
            if code == 1:
                in_b = True
            else:
                d = code - 2
    return score


@_compiled
def _search_kernel(lpd, lpb, lengths, weights, allowed, log_prior):  # pragma: no cover - compiled
    """`_search` over images `lpd: (N, T, 10)`, `lpb: (N, T)` and constraints (padded to the longest):
    per image the constraint found (-1: none), its score and its digits."""
    N = lpd.shape[0]
    G, Lmax = weights.shape
    found = np.full(N, -1, dtype=np.int64)
    scores = np.full(N, _NEG)
    read = np.zeros((N, Lmax), dtype=np.int64)
    bound = np.empty(G)
    paths = np.zeros((G, Lmax), dtype=np.int64)
    path = np.zeros(Lmax, dtype=np.int64)
    for n in range(N):
        for g in range(G):
            b = _viterbi(lpd[n], lpb[n], lengths[g], weights[g], allowed[g], 1, paths[g])
            bound[g] = b + log_prior[g] if b > _NEG / 2 else _NEG
        order = np.argsort(-bound, kind="mergesort")
        for g in order:
            if bound[g] <= _NEG / 2 or (found[n] >= 0 and bound[g] <= scores[n]):
                break  # sorted: no later constraint can win either
            L = lengths[g]
            total = 0
            for k in range(L):
                total += weights[g, k] * paths[g, k]
            if total % 10 == 0:
                score = bound[g]
                path[:L] = paths[g, :L]
            else:
                v = _viterbi(lpd[n], lpb[n], L, weights[g], allowed[g], 10, path)
                score = v + log_prior[g] if v > _NEG / 2 else _NEG
            if score > _NEG / 2 and (found[n] < 0 or score > scores[n]):
                found[n], scores[n] = g, score
                read[n, :L] = path[:L]
    return found, scores, read
