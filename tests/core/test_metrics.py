import math

import pytest

from crnn.core import metrics


def test_exact_match_and_cer():
    assert metrics.exact_match(["123", "456"], ["123", "457"]) == 0.5
    # one substitution in 3 chars + one deletion in 4 chars = 2 edits over 7 characters
    assert metrics.cer(["124", "456"], ["123", "4567"]) == pytest.approx(2 / 7)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 predictions for 1 targets"):
        metrics.exact_match(["1", "2"], ["1"])


def test_summary_splits_failures_by_check_digit():
    targets = ["5901234123457", "036000291452", "96385074"]
    preds = ["5901234123457", "036000291453", "96385081"]  # second: bad check digit; third: valid EAN-8
    s = metrics.summary(preds, targets)
    assert s["n"] == 3 and s["exact_match"] == pytest.approx(1 / 3)
    assert s["failures"] == {"n": 2, "checksum_caught": 1, "wrong_but_valid": 1}
    assert s["per_format"]["EAN-13"]["exact_match"] == 1.0
    assert s["per_format"]["UPC-A"]["exact_match"] == 0.0


def test_metric_keys_are_shared():
    assert metrics.MONITOR == "val/exact_match"
    assert metrics.key("val_real", metrics.CER) == "val_real/cer"


def test_confidence_floor_counts_what_it_keeps_and_flags():
    correct = [True, True, False, False, True]
    conf = [0.9, 0.04, 0.01, 0.3, 0.05]
    s = metrics.selective(correct, conf, 0.05)
    assert s == {"floor": 0.05, "coverage": 0.6, "precision": 2 / 3, "wrong_kept": 1, "right_dropped": 1}
    assert math.isnan(metrics.selective(correct, conf, 0.95)["precision"])
    # A read failing the check digit is never sure, whatever its confidence.
    assert metrics.selective(correct, conf, 0.05, [False, True, True, True, True])["wrong_kept"] == 1
    assert metrics.selective(correct, conf, 0.05, [True, True, True, False, True])["wrong_kept"] == 0
    with pytest.raises(ValueError):
        metrics.selective(correct, conf[:2], 0.05)


def test_per_number_groups_images_of_one_number():
    # Two images of an EAN-13 (one read, one wrong but valid), one UPC-A misread with a bad check digit.
    targets = ["5901234123457", "5901234123457", "036000291452"]
    preds = ["5901234123457", "4006381333931", "036000291453"]
    rows = metrics.per_number(preds, targets)
    assert [r["number"] for r in rows] == ["036000291452", "5901234123457"]  # least read first
    upca, ean = rows
    assert upca == {
        "number": "036000291452",
        "format": "UPC-A",
        "n": 1,
        "exact_match": 0.0,
        "cer": pytest.approx(1 / 12),
        "checksum_caught": 1,
        "wrong_but_valid": 0,
    }
    assert ean["n"] == 2 and ean["exact_match"] == 0.5
    assert ean["checksum_caught"] == 0 and ean["wrong_but_valid"] == 1
    with pytest.raises(ValueError, match="2 predictions for 1 targets"):
        metrics.per_number(["1", "2"], ["1"])
