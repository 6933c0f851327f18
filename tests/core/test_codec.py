import random

import numpy as np
import pytest

from crnn.core import symbology
from crnn.core.codec import Codec, ctc_log_likelihoods, log_softmax, min_time_steps
from crnn.core.search_numpy import search_one_length
from crnn.reading.policy import ReadingPolicy
from tests.helpers import frames_for, lead0_frames


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
        Codec().check("")  # a label must have digits...
    assert Codec().encode("") == []  # ...but a crop showing none of them learns the empty target


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


@pytest.mark.parametrize(("code", "fmt", "pos"), [("434704791429", "UPC-A", 11), ("9780804816632", "EAN-13", 0)])
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
    assert c.fill("43470479142") == "434704791429" and c.log_prior == pytest.approx(np.log(0.5))
    assert symbology.constraints(("UPC-A",)) == [c for c in symbology.constraints(("UPC-A",), 0.5) if c.erased is None]


def test_reader_takes_the_missing_digit_hypothesis_only_when_asked():
    """`Reader.erasure_prior` (CLI --erasure-prior) reaches the decoder; off by default."""
    from PIL import Image

    from crnn.core.preprocess import InputSpec
    from crnn.reading.crops import Reader

    class Fixed(Reader):
        spec, codec, decoder = InputSpec(32, 128, 1, 0.5, 0.5), Codec(), "constrained"

        def logits(self, batch: np.ndarray) -> np.ndarray:
            return np.stack([frames_for("43470479142")] * len(batch))

    reader = Fixed()
    (off,) = reader.read([Image.new("L", (120, 32))])
    assert off.inferred == () and off.text != "434704791429"
    reader.policy = ReadingPolicy(erasure_prior=0.05)
    (on,) = reader.read([Image.new("L", (120, 32))])
    assert (on.text, on.inferred, on.checksum_ok) == ("434704791429", (11,), True)
    # Per command (`--erasable`), the hypothesis may be kept to other formats: then no UPC-A digit is inferred.
    reader.policy = reader.policy.updated({"erasable": ["EAN-13"]})
    (ean_only,) = reader.read([Image.new("L", (120, 32))])
    assert reader.erasable == ("EAN-13",) and ean_only.inferred == ()
    with pytest.raises(ValueError, match="erasable formats"):
        reader.policy.updated({"erasable": ["EAN-8"]})


def test_erasable_limits_the_hypothesis_to_the_formats_a_model_learned():
    """A model trained on UPC-As without their check digit (`p_card`) but never on EAN-13s with the leading digit
    cut reads with `erasable=("UPC-A",)`: 12 digits that fail as a UPC-A are then not completed into an EAN-13."""
    assert not [c for c in symbology.constraints(("EAN-13",), 0.5, erasable=("UPC-A",)) if c.erased is not None]
    codec = Codec()
    upca = frames_for("43470479142")  # 11 digits: a loyalty card's UPC-A less its check digit
    assert codec.decode_constrained(upca, erasure_prior=0.01, erasable=("UPC-A",)).inferred == (11,)
    ean = frames_for("780804816633")  # 12 digits, no valid UPC-A: only a cut EAN-13 would complete them
    both = codec.decode_constrained(ean, erasure_prior=0.01)
    assert both.inferred == (0,) and both.text[1:] == "780804816633"
    only = codec.decode_constrained(ean, erasure_prior=0.01, erasable=("UPC-A",))
    assert only.inferred == ()
    with pytest.raises(ValueError, match="erasable formats"):
        codec.decode_constrained(upca, erasure_prior=0.01, erasable=("UPC-E",))


def test_only_restricted_circulation_upcas_are_completed():
    """The UPC-A check digit is inferred only for numbers a company assigns itself (number system 2 or 4: in-store
    labels, loyalty cards), the ones printed without it; a product code read one digit short, e.g. its small leading
    `0` dropped, is not completed into a valid-looking wrong number."""
    codec = Codec()
    for shown in ("43470479142", "21146380003"):
        d = codec.decode_constrained(frames_for(shown), erasure_prior=0.05, erasable=("UPC-A",))
        assert d.inferred == (11,) and d.text[:11] == shown and symbology.is_valid(d.text, "UPC-A")
    for shown in ("36000291452", "90444000335", "61869053712"):  # product codes less their leading digit
        d = codec.decode_constrained(frames_for(shown), erasure_prior=0.05, erasable=("UPC-A",))
        assert d.inferred == () and d.text[:11] != shown
    rng = random.Random(0)
    assert {symbology.restricted_upca(symbology.random_code("UPC-A", rng), rng)[0] for _ in range(50)} == {"2", "4"}
    assert all(symbology.is_valid(symbology.restricted_upca("036000291452", rng), "UPC-A") for _ in range(10))


@pytest.mark.parametrize("prior", [-0.01, 1.0, 2.5, float("nan")])
def test_an_erasure_prior_that_is_no_probability_is_a_clear_error(prior):
    """However it arrives (training config, --erasure-prior, ONNX metadata), the decoder refuses it."""
    with pytest.raises(ValueError, match=r"erasure_prior must be in \[0, 1\)"):
        Codec().decode_constrained(frames_for("036000291452"), erasure_prior=prior)


def test_lead0_prior_prefers_the_upca_layout_of_the_same_bars():
    codec = Codec()
    upca = "036000291452"
    lp = lead0_frames(upca, 0.6)
    assert codec.decode_constrained(lp).text == "0" + upca  # no preference: the likelier path
    assert codec.decode_constrained(lp, ean13_lead0_prior=0.1).text == upca  # 0.6 * 0.1 < 0.4
    # Strong evidence for the 13th digit still wins, and other EAN-13s pay nothing.
    assert codec.decode_constrained(lead0_frames(upca, 0.99), ean13_lead0_prior=0.1).text == "0" + upca
    ean = "5901234123457"
    assert codec.decode_constrained(frames_for(ean), ean13_lead0_prior=0.01).text == ean


def test_lead0_prior_reaches_the_decoder_from_reader_and_config():
    from PIL import Image

    from crnn.core.preprocess import InputSpec
    from crnn.reading.crops import Reader

    class Fixed(Reader):
        spec, codec, decoder = InputSpec(32, 128, 1, 0.5, 0.5), Codec(), "constrained"

        def logits(self, batch: np.ndarray) -> np.ndarray:
            return np.stack([lead0_frames("036000291452", 0.6)] * len(batch))

    reader = Fixed()
    image = Image.new("L", (120, 32))
    assert reader.read([image])[0].text == "0036000291452"
    reader.policy = ReadingPolicy(ean13_lead0_prior=0.1)
    assert reader.read([image])[0].text == "036000291452"


@pytest.mark.parametrize("prior", [0.0, -0.5, 1.5, float("nan")])
def test_a_lead0_prior_that_is_no_probability_is_a_clear_error(prior):
    with pytest.raises(ValueError, match=r"ean13_lead0_prior must be in \(0, 1\]"):
        Codec().decode_constrained(frames_for("036000291452"), ean13_lead0_prior=prior)


def test_ctc_log_likelihood_matches_torch():
    import torch

    from crnn.core.codec import ctc_log_likelihood

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


def _noisy_frames() -> np.ndarray:
    """Frames of real codes with noise (ambiguous digits, dropped characters), pure noise, and 13 digits or the
    12 of the same bars nearly alike with one digit misread, so the lengths compete closely."""
    codec = Codec()
    rng = np.random.default_rng(0)
    codes = [("5901234123457", 2.0), ("036000291452", 2.5), ("96385074", 2.0), ("04965802", 3.0)]
    lps = [log_softmax(frames_for(c, t=32, seed=i) + rng.normal(0, s, (32, 11))) for i, (c, s) in enumerate(codes)]
    lps += [log_softmax(frames_for("9780140013993", t=32, seed=9) + rng.normal(0, 4.0, (32, 11)))]
    lps += [log_softmax(rng.normal(0, 2, (32, 11))) for _ in range(6)]
    # Many codes under moderate noise: the search's order of lengths matters in some of them.
    five = ["5901234123457", "036000291452", "96385074", "04965802", "9780140013993"]
    lps += [log_softmax(frames_for(five[i % 5], t=32, seed=i) + rng.normal(0, 2.0, (32, 11))) for i in range(40)]
    for p in (0.3, 0.45, 0.55, 0.7):
        for wrong in ("1", "7"):
            lp = lead0_frames("036000291452", p)[:32].copy()
            two = [t for t in range(32) if lp[t].argmax() == codec.encode("2")[0]][-2:]
            lp[two, codec.encode(wrong)[0]] = lp[two, codec.encode("2")[0]] + 0.3
            lps.append(log_softmax(lp))
    return np.stack(lps).astype(np.float32)


@pytest.mark.parametrize("lead0_prior", [1.0, 0.1])
@pytest.mark.parametrize("erasure_prior", [0.0, 0.01])
def test_compiled_search_equals_the_reference(lead0_prior, erasure_prior):
    """The compiled search (bounds first, constraints skipped or taken from their bound path) must read exactly
    what the numpy reference reads searching every constraint."""
    codec = Codec()
    logp = _noisy_frames()
    got = codec.decode_constrained_batch(logp, erasure_prior=erasure_prior, ean13_lead0_prior=lead0_prior)
    groups: dict[int, list] = {}
    for c in symbology.constraints(symbology.FORMATS, erasure_prior, lead0_prior):
        groups.setdefault(len(c.weights), []).append(c)
    digit_class = [codec.encode(str(d))[0] for d in range(10)]
    searched = 0
    for n, d in enumerate(got):
        greedy = codec.decode_greedy(logp[n]).text
        if any(symbology.is_valid(greedy, f) for f in symbology.FORMATS) and not (
            lead0_prior < 1 and len(greedy) == 13 and greedy[0] == "0"
        ):
            assert d.text == greedy  # settled by the greedy path
            continue
        searched += 1
        found = [f for g in groups.values() for f in search_one_length(logp[n : n + 1], g, digit_class) if f]
        score, labels, constraint = max(found, key=lambda f: f[0])
        text = "".join(str(digit_class.index(k)) for k in labels)
        assert d.text == (constraint.fill(text) if constraint.erased is not None else text)
    assert searched >= 15


def test_the_bound_bounds_the_search_and_its_valid_path_is_the_best():
    """What lets the search skip work exactly: per constraint, the bound is at least the best score, and a
    bound path that passes the check digit scores exactly that best."""
    from crnn.core.codec import _viterbi

    codec = Codec()
    logp = _noisy_frames().astype(np.float64)
    digit_class = [codec.encode(str(d))[0] for d in range(10)]
    taken = 0
    for c in symbology.constraints(symbology.FORMATS, 0.01, 0.1):
        L = len(c.weights)
        allowed = np.array([[str(d) in c.allowed[k] for d in range(10)] for k in range(L)])
        for n, f in enumerate(search_one_length(logp, [c], digit_class)):
            path = np.zeros(L, dtype=np.int64)
            weights = np.array(c.weights, dtype=np.int64)
            bound = _viterbi(logp[n][:, digit_class], logp[n][:, 0], L, weights, allowed, 1, path) + c.log_prior
            assert f is not None and bound >= f[0] - 1e-6
            if sum(w * int(x) for w, x in zip(c.weights, path)) % 10 == 0:
                taken += 1
                assert bound == pytest.approx(f[0], abs=1e-6)
                assert [digit_class[x] for x in path] == f[1] or bound == pytest.approx(f[0])
    assert taken > 0


@pytest.mark.parametrize("lead0_prior", [1.0, 0.1])
def test_the_numpy_search_of_the_light_install_reads_what_the_compiled_one_reads(monkeypatch, lead0_prior):
    """Without numba (`pip install .`), the constrained decoder searches in numpy: the same reads, priors and all."""
    from crnn.core import codec as codec_module

    logp = _noisy_frames()
    codec = Codec()
    compiled = codec.decode_constrained_batch(logp, erasure_prior=0.01, ean13_lead0_prior=lead0_prior)
    monkeypatch.setattr(codec_module, "numba", None)
    searched = codec.decode_constrained_batch(logp, erasure_prior=0.01, ean13_lead0_prior=lead0_prior)
    assert [(d.text, d.inferred) for d in searched] == [(d.text, d.inferred) for d in compiled]
    assert [d.confidence for d in searched] == pytest.approx([d.confidence for d in compiled])


def test_the_likelihoods_and_alignments_of_the_light_install_equal_the_compiled_ones(monkeypatch):
    """CTC's forward sums (fusion) and forced alignments (confidences), compiled and in numpy: the same figures,
    on noisy frames, repeated digits and frames too few for the label."""
    from crnn.core import codec as codec_module

    codec = Codec()
    logp = _noisy_frames()
    labels = [codec.encode(t) for t in ("5901234123457", "0011223344556", "96385074", "7")] + [codec.encode("1" * 20)]
    if codec_module.numba is None:
        pytest.skip("numba is not installed")
    compiled = [(ctc_log_likelihoods(logp[:9], lab), codec_module._force_align(logp[3], lab)) for lab in labels]
    monkeypatch.setattr(codec_module, "numba", None)
    in_numpy = [(ctc_log_likelihoods(logp[:9], lab), codec_module._force_align(logp[3], lab)) for lab in labels]
    for (ll_c, frames_c), (ll_n, frames_n) in zip(compiled, in_numpy, strict=True):
        np.testing.assert_allclose(ll_c, ll_n, rtol=1e-12)
        assert frames_c == frames_n
    assert np.isneginf(compiled[-1][0]).all()  # 20 ones (39 states with blanks between) in 32 frames: impossible
