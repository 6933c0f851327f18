import numpy as np
import pytest

from crnn import symbology
from crnn.codec import Codec, log_softmax, min_time_steps


def frames_for(text: str, t: int = 30, codec: Codec | None = None, seed: int = 0) -> np.ndarray:
    """Log-probabilities whose best path spells `text` (each character two frames, blanks between repeats)."""
    codec = codec or Codec()
    labels = codec.encode(text)
    path: list[int] = []
    for i, k in enumerate(labels):
        if i and labels[i - 1] == k:
            path.append(0)
        path += [k, k] if len(path) + 2 * (len(labels) - i) <= t else [k]
    path += [0] * (t - len(path))
    logits = np.random.default_rng(seed).normal(0, 0.3, (t, codec.num_classes))
    logits[np.arange(t), path] += 6
    return log_softmax(logits)


@pytest.mark.parametrize("text", ["5901234123457", "0011223344556", "1111", "7", "00000000"])
def test_round_trip_with_repeats(text):
    codec = Codec()
    lp = frames_for(text)
    for decoder in ("greedy", "beam"):
        d = codec.decode(lp, decoder)
        assert d.text == text
        assert len(d.char_confidences) == len(text)
        assert 0 < d.confidence <= 1


def test_encode_rejects_foreign_characters():
    with pytest.raises(ValueError, match="outside charset"):
        Codec().encode("12a4")
    with pytest.raises(ValueError, match="empty"):
        Codec().encode("")


def test_custom_charset_round_trip():
    codec = Codec("0123456789>")
    assert codec.num_classes == 12
    assert codec.decode_greedy(frames_for("978>", codec=codec)).text == "978>"


def test_min_time_steps():
    assert min_time_steps("0011") == 6
    assert min_time_steps("0123") == 4


def test_constrained_repairs_a_bad_check_digit():
    """One ambiguous digit: greedy reads it wrong (bad checksum), constrained finds the valid code."""
    codec = Codec()
    code = "5901234123457"
    lp = frames_for(code)
    # Make digit 4 ('2') look like a '7' in both its frames, with '2' a close second.
    frames = [t for t in range(lp.shape[0]) if lp[t].argmax() == codec.encode("2")[0]][:2]
    logits = lp.copy()
    for t in frames:
        logits[t, codec.encode("7")[0]] = logits[t, codec.encode("2")[0]] + 0.5
    lp2 = log_softmax(logits)
    greedy = codec.decode_greedy(lp2).text
    assert greedy != code and not symbology.checksum_ok(greedy)
    fixed = codec.decode_constrained(lp2)
    assert fixed.text == code
    assert symbology.checksum_ok(fixed.text)


@pytest.mark.parametrize("fmt", symbology.FORMATS)
def test_constrained_keeps_valid_codes(fmt):
    import random

    rng = random.Random(11)
    codec = Codec()
    for i in range(5):
        code = symbology.random_code(fmt, rng)
        d = codec.decode_constrained(frames_for(code, seed=i), formats=(fmt,))
        assert d.text == code


def test_constrained_restricted_to_format_gives_its_length():
    codec = Codec()
    lp = frames_for("5901234123457")
    d = codec.decode_constrained(lp, formats=("EAN-8",))
    assert len(d.text) == 8 and symbology.is_valid(d.text, "EAN-8")


def test_batch_greedy_matches_single():
    codec = Codec()
    batch = np.stack([frames_for("123", seed=1), frames_for("4455", seed=2)])
    assert [d.text for d in codec.decode_batch(batch)] == ["123", "4455"]


@pytest.mark.parametrize(("code", "fmt", "pos"), [("036000291452", "UPC-A", 11), ("9780804816632", "EAN-13", 0)])
def test_constrained_infers_a_digit_the_crop_lacks(code, fmt, pos):
    """A UPC-A read without its check digit, an EAN-13 without its leading one: the check digit supplies it,
    and the read says which position it inferred. With the hypothesis off, no such read."""
    codec = Codec()
    shown = code[:pos] + code[pos + 1 :]
    lp = frames_for(shown)
    d = codec.decode_constrained(lp, erasure_prior=0.02)
    assert d.text == code and d.inferred == (pos,) and symbology.is_valid(d.text, fmt)
    assert len(d.char_confidences) == len(code) and d.char_confidences[pos] == pytest.approx(d.confidence)
    off = codec.decode_constrained(lp, erasure_prior=0.0)
    assert off.inferred == () and off.text != code


def test_erasure_hypothesis_leaves_whole_codes_alone():
    """A whole code, even one needing the check-digit search, is read whole: the missing-digit hypothesis
    pays its prior and the frames hold every digit."""
    codec = Codec()
    code = "5901234123457"
    lp = frames_for(code)
    two = codec.encode("2")[0]
    frames = [t for t in range(lp.shape[0]) if lp[t].argmax() == two][:2]
    logits = lp.copy()
    for t in frames:
        logits[t, codec.encode("7")[0]] = logits[t, two] + 0.5
    d = codec.decode_constrained(log_softmax(logits), erasure_prior=0.02)
    assert d.text == code and d.inferred == ()


def test_constraint_fill():
    (c,) = [c for c in symbology.constraints(("UPC-A",), erasure_prior=0.5) if c.erased is not None]
    assert c.fill("03600029145") == "036000291452" and c.log_prior == pytest.approx(np.log(0.5))
    assert symbology.constraints(("UPC-A",)) == [c for c in symbology.constraints(("UPC-A",), 0.5) if c.erased is None]


def test_reader_takes_the_missing_digit_hypothesis_only_when_asked():
    """`Reader.erasure_prior` (CLI --erasure-prior) reaches the decoder; off by default."""
    from PIL import Image

    from crnn.inference import Reader
    from crnn.preprocess import InputSpec

    class Fixed(Reader):
        spec, codec, decoder = InputSpec(32, 128, 1, 0.5, 0.5), Codec(), "constrained"

        def logits(self, batch: np.ndarray) -> np.ndarray:
            return np.stack([frames_for("03600029145")] * len(batch))

    reader = Fixed()
    (off,) = reader.read([Image.new("L", (120, 32))])
    assert off.inferred == () and off.text != "036000291452"
    reader.erasure_prior = 0.005
    (on,) = reader.read([Image.new("L", (120, 32))])
    assert (on.text, on.inferred, on.checksum_ok) == ("036000291452", (11,), True)


@pytest.mark.parametrize("prior", [-0.01, 1.0, 2.5, float("nan")])
def test_an_erasure_prior_that_is_no_probability_is_a_clear_error(prior):
    """However it arrives (training config, --erasure-prior, ONNX metadata), the decoder refuses it."""
    with pytest.raises(ValueError, match=r"erasure_prior must be in \[0, 1\)"):
        Codec().decode_constrained(frames_for("036000291452"), erasure_prior=prior)


def _lead0_frames(upca: str, p_zero: float) -> np.ndarray:
    """Frames spelling `upca` after a frame that is '0' with probability `p_zero`, else blank, and a blank: the best
    path is the 13-digit EAN-13 `'0' + upca` (same bars), the runner-up the 12-digit UPC-A."""
    codec = Codec()
    lp = frames_for(upca, t=30)
    first = np.full((2, codec.num_classes), 1e-6)
    first[0, codec.encode("0")[0]], first[0, 0], first[1, 0] = p_zero, 1 - p_zero, 1.0  # then a blank
    return np.concatenate([np.log(first / first.sum(1, keepdims=True)), lp])


def test_lead0_prior_prefers_the_upca_layout_of_the_same_bars():
    codec = Codec()
    upca = "036000291452"
    lp = _lead0_frames(upca, 0.6)
    assert codec.decode_constrained(lp).text == "0" + upca  # no preference: the likelier path
    assert codec.decode_constrained(lp, ean13_lead0_prior=0.1).text == upca  # 0.6 * 0.1 < 0.4
    # Strong evidence for the 13th digit still wins, and other EAN-13s pay nothing.
    assert codec.decode_constrained(_lead0_frames(upca, 0.99), ean13_lead0_prior=0.1).text == "0" + upca
    ean = "5901234123457"
    assert codec.decode_constrained(frames_for(ean), ean13_lead0_prior=0.01).text == ean


def test_lead0_prior_reaches_the_decoder_from_reader_and_config():
    from PIL import Image

    from crnn.inference import Reader
    from crnn.preprocess import InputSpec

    class Fixed(Reader):
        spec, codec, decoder = InputSpec(32, 128, 1, 0.5, 0.5), Codec(), "constrained"

        def logits(self, batch: np.ndarray) -> np.ndarray:
            return np.stack([_lead0_frames("036000291452", 0.6)] * len(batch))

    reader = Fixed()
    image = Image.new("L", (120, 32))
    assert reader.read([image])[0].text == "0036000291452"
    reader.ean13_lead0_prior = 0.1
    assert reader.read([image])[0].text == "036000291452"


@pytest.mark.parametrize("prior", [0.0, -0.5, 1.5, float("nan")])
def test_a_lead0_prior_that_is_no_probability_is_a_clear_error(prior):
    with pytest.raises(ValueError, match=r"ean13_lead0_prior must be in \(0, 1\]"):
        Codec().decode_constrained(frames_for("036000291452"), ean13_lead0_prior=prior)


def test_ctc_log_likelihood_matches_torch():
    import torch

    from crnn.codec import ctc_log_likelihood

    rng = np.random.default_rng(3)
    for t, text in [(32, "5901234123457"), (32, "00112233"), (4, "11"), (3, "11"), (1, "7")]:
        lp = log_softmax(rng.normal(0, 3, (t, 11))).astype(np.float32)
        labels = Codec().encode(text)
        ref = -torch.nn.functional.ctc_loss(
            torch.from_numpy(lp)[:, None],
            torch.tensor([labels]),
            torch.tensor([t]),
            torch.tensor([len(labels)]),
            reduction="sum",
        ).item()
        got = ctc_log_likelihood(lp, labels)
        assert got == pytest.approx(ref, rel=1e-5) if np.isfinite(ref) else got == -np.inf


@pytest.mark.parametrize("lead0_prior", [1.0, 0.1])
@pytest.mark.parametrize("erasure_prior", [0.0, 0.01])
def test_bounded_search_equals_searching_every_length(lead0_prior, erasure_prior):
    """The constrained decoder skips lengths whose bound cannot win and takes the bound's own path when it
    passes the check digit; on noisy frames it must give exactly what searching every length gives."""
    from crnn.codec import _viterbi_constrained

    codec = Codec()
    rng = np.random.default_rng(0)
    # Frames of real codes with noise (ambiguous digits, dropped characters) and pure noise.
    lps = [
        log_softmax(frames_for(c, t=32, seed=i) + rng.normal(0, s, (32, 11)))
        for i, (c, s) in enumerate(
            [
                ("5901234123457", 2.0),
                ("036000291452", 2.5),
                ("96385074", 2.0),
                ("04965802", 3.0),
                ("9780140013993", 4.0),
            ]
        )
    ]
    lps += [log_softmax(rng.normal(0, 2, (32, 11))) for _ in range(6)]
    # 13 digits or the 12 of the same bars, nearly alike, and one digit misread so the greedy path fails the
    # check digit: the lengths compete closely in the search.
    for p in (0.3, 0.45, 0.55, 0.7):
        for wrong in ("1", "7"):
            lp = _lead0_frames("036000291452", p)[:32].copy()
            two = [t for t in range(32) if lp[t].argmax() == codec.encode("2")[0]][-2:]
            lp[two, codec.encode(wrong)[0]] = lp[two, codec.encode("2")[0]] + 0.3
            lps.append(log_softmax(lp))
    logp = np.stack(lps).astype(np.float32)
    got = codec.decode_constrained_batch(logp, erasure_prior=erasure_prior, ean13_lead0_prior=lead0_prior)
    groups: dict[int, list] = {}
    for c in symbology.constraints(symbology.FORMATS, erasure_prior, lead0_prior):
        groups.setdefault(len(c.weights), []).append(c)
    digit_class = [codec.encode(str(d))[0] for d in range(10)]
    for n, d in enumerate(got):
        if any(symbology.is_valid(codec.decode_greedy(logp[n]).text, f) for f in symbology.FORMATS):
            continue  # settled by the greedy path
        found = [f for g in groups.values() for f in _viterbi_constrained(logp[n : n + 1], g, digit_class) if f]
        score, labels, constraint = max(found, key=lambda f: f[0])
        text = "".join(str(digit_class.index(k)) for k in labels)
        assert d.text == (constraint.fill(text) if constraint.erased is not None else text)


def test_length_bound_bounds_the_search_and_its_valid_path_is_the_best():
    """What makes the bounded search exact: per length, the bound is at least the search's best score, and a
    bound path that passes the check digit scores exactly that best."""
    from crnn.codec import _length_bound, _viterbi_constrained

    codec = Codec()
    rng = np.random.default_rng(1)
    logp = np.stack(
        [
            log_softmax(frames_for(c, t=32, seed=i) + rng.normal(0, 2.0, (32, 11)))
            for i, c in enumerate(["5901234123457", "036000291452", "96385074", "04965802"] * 4)
        ]
    ).astype(np.float32)
    digit_class = [codec.encode(str(d))[0] for d in range(10)]
    groups: dict[int, list] = {}
    for c in symbology.constraints(symbology.FORMATS, 0.01, 0.1):
        groups.setdefault(len(c.weights), []).append(c)
    shortcuts = 0
    for group in groups.values():
        bound, paths = _length_bound(logp, group, digit_class)
        for n, f in enumerate(_viterbi_constrained(logp, group, digit_class)):
            assert f is not None and bound[n] >= f[0] - 1e-6
            if paths[n] is not None:
                shortcuts += 1
                assert paths[n][0] == pytest.approx(f[0], abs=1e-6)
    assert shortcuts > 0
