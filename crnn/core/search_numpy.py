"""The check-digit constrained search in numpy: what `crnn.core.codec` runs where numba is not installed (the light
install), and the reference its compiled search is tested against (the same reads; about ten times slower).

It searches every constraint in full, images and constraints together; the compiled one bounds them first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crnn.core.symbology import Constraint

NEG_INF = -1e30  # a log-probability that stands for impossible


def search(
    logp: np.ndarray, group: Sequence[Constraint], digit_class: list[int]
) -> list[tuple[float, list[int], Constraint] | None]:
    """`crnn.core.codec._search` in numpy: per image, the best of every constraint of `group` (any lengths)."""
    by_length: dict[int, list[Constraint]] = {}
    for c in group:
        by_length.setdefault(len(c.weights), []).append(c)
    best: list[tuple[float, list[int], Constraint] | None] = [None] * logp.shape[0]
    for same in by_length.values():
        for n, found in enumerate(search_one_length(logp, same, digit_class)):
            current = best[n]
            if found is not None and (current is None or found[0] > current[0]):
                best[n] = found
    return best


def search_one_length(
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
    # src[g, k, d, s]: the sum before digit d at position k, given the sum s after it.
    s_after = np.arange(10)
    src = np.array([[[(s_after - c.weights[k] * d) % 10 for d in range(10)] for k in range(L)] for c in group])
    # B[n, g, k, s]: k digits emitted, sum s, current frame blank. C[n, g, k, d, s]: in the run of digit d (k-th).
    B = np.full((N, G, L + 1, 10), NEG_INF)
    C = np.full((N, G, L + 1, 10, 10), NEG_INF)
    B[:, :, 0, 0] = 0.0
    bp_B = np.zeros((T, N, G, L + 1, 10), dtype=np.int8)  # 0: from B, 1 + d: from C of digit d
    bp_C = np.zeros((T, N, G, L + 1, 10, 10), dtype=np.int8)  # 0: continue, 1: from B, 2 + d': from C of d'
    nn = np.arange(N)[:, None, None, None, None]
    gg = np.arange(G)[None, :, None, None, None]
    km1 = np.arange(L)[None, None, :, None, None]  # position k - 1 for k = 1..L
    dd = np.arange(10)[None, None, None, :, None]
    sidx = src[None]  # (1, G, L, 10, 10)
    for t in range(T):
        arg1 = C.argmax(3)  # best digit per (n, g, k, s), and its score
        top1 = np.take_along_axis(C, arg1[:, :, :, None], 3)[:, :, :, 0]
        use_c = top1 > B
        bp_B[t] = np.where(use_c, 1 + arg1, 0)
        newB = np.where(use_c, top1, B) + lp_blank[:, t, None, None, None]
        # Into digit d at position k: continue its run, or start it after a blank or another digit
        # (the best other digit: the runner-up where the best is d itself).
        rest = C.copy()
        np.put_along_axis(rest, arg1[:, :, :, None], NEG_INF, 3)
        arg2 = rest.argmax(3)
        top2 = np.take_along_axis(rest, arg2[:, :, :, None], 3)[:, :, :, 0]
        from_b = B[nn, gg, km1, sidx]
        other_is_d = arg1[nn, gg, km1, sidx] == dd
        from_c = np.where(other_is_d, top2[nn, gg, km1, sidx], top1[nn, gg, km1, sidx])
        from_c_arg = np.where(other_is_d, arg2[nn, gg, km1, sidx], arg1[nn, gg, km1, sidx])
        stacked = np.stack([C[:, :, 1:], from_b, from_c])
        choice = stacked.argmax(0)
        val = stacked.max(0) + lp_digit[:, t, None, None, :, None]
        newC = np.full_like(C, NEG_INF)
        newC[:, :, 1:] = np.where(allowed[None, ..., None], val, NEG_INF)
        bp_C[t, :, :, 1:] = np.where(choice == 2, 2 + from_c_arg, choice)
        B, C = newB, newC
    end_b = B[:, :, L, 0]  # (N, G)
    end_c = C[:, :, L, :, 0]  # (N, G, 10)
    scores = np.maximum(end_b, end_c.max(2)) + np.array([c.log_prior for c in group])
    results: list[tuple[float, list[int], Constraint] | None] = []
    for n in range(N):
        g = int(scores[n].argmax())
        if scores[n, g] <= NEG_INF / 2:
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
                code = int(bp_C[t, n, g, k, d, s])
                if code == 0:
                    continue
                digits_rev.append(d)
                s_prev = int(src[g, k - 1, d, s])
                state = ("B", k - 1, -1, s_prev) if code == 1 else ("C", k - 1, code - 2, s_prev)
        results.append((float(scores[n, g]), [digit_class[d] for d in reversed(digits_rev)], group[g]))
    return results
