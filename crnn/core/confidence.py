"""When a read is sure: the confidence floor and the check digit, one rule for readers, metrics and reports."""

from __future__ import annotations

# Reads below this confidence are shown as unsure (crops) or set apart (photos). Chosen on synthetic val
# crops, never the real ones: the highest of the floors tried (benchmarks/confidence.py) whose dropped reads
# there are still more often wrong than right. docs/decisions.md, "Confidence floor": what it does on real crops and
# photos.
MIN_CONFIDENCE = 0.05


# Reads below this confidence are read again under the test-time views (`crnn.core.preprocess.VIEWS`) and the
# views' answers fused (`Reader.read`). Chosen on synthetic val crops, never the real ones (benchmarks/views.py):
# of the thresholds tried, the lowest beyond which no model of ten read more short of reading every crop in views
# (twice the cost); 3-5% of synthetic crops and 11-25% of the real ones are read again (docs/decisions.md, "Views").
VIEWS_BELOW = 0.5


def is_sure(confidence: float, checksum_ok: bool, floor: float = MIN_CONFIDENCE) -> bool:
    """A read a user may take as it is: it passes the check digit and its confidence reaches the floor."""
    return checksum_ok and confidence >= floor
