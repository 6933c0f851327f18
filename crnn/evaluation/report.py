"""One self-contained HTML page of crop evaluations: per format, character confusions, risk-coverage, failures.

Nothing outside the page is fetched and nothing runs in it: images are PNG data URIs, the curve is inline SVG.
File names and labels come from users' TSVs, so every string the data gives is escaped.
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image

from crnn.core import metrics
from crnn.core.confidence import is_sure
from crnn.core.images import ImageError, load_image
from crnn.core.symbology import FORMATS, format_of
from crnn.evaluation.crops import Evaluation
from crnn.evaluation.visualize import char_confusion, confusion_image

# Misread crops shown per evaluated set; the rest are counted.
FAILURES_SHOWN = 60

OTHER = "other"  # labels valid as no format
ALL = "all"

_THUMB = (320, 96)  # a failure's crop, at most, on the page

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.all td { font-weight: bold; }
code, td.code { font-family: ui-monospace, monospace; }
.wrong { color: #b00; }
.sure { color: #b00; font-weight: bold; }
.note { color: #555; }
"""


def format_rows(rows: Sequence[dict], floor: float) -> list[dict]:
    """Per format of the label (`format_of`, the TSV's `format` as its hint; "other" when valid as none), in the
    order EAN-13, UPC-A, EAN-8, UPC-E, other, then "all": `n`, exact match, `sure_wrong` (misreads a user is shown
    as sure under `floor`, `is_sure`) and CER. Formats with no crop are left out."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[format_of(r["target"], r.get("format")) or OTHER].append(r)
    out = []
    for name, group in [*((f, groups[f]) for f in (*FORMATS, OTHER) if groups.get(f)), (ALL, list(rows))]:
        preds, targets = [r["text"] for r in group], [r["target"] for r in group]
        out.append(
            {
                "format": name,
                "n": len(group),
                metrics.EXACT_MATCH: metrics.exact_match(preds, targets),
                "sure_wrong": sum(
                    r["text"] != r["target"] and is_sure(r["confidence"], r["checksum_ok"], floor) for r in group
                ),
                metrics.CER: metrics.cer(preds, targets),
            }
        )
    return out


def risk_coverage(confidences: Sequence[float], correct: Sequence[bool]) -> list[tuple[float, float, float]]:
    """`(coverage, risk, confidence)` points: reads answered from the most confident down, one point per distinct
    confidence (a floor cannot part tied reads), with the share of reads answered at or above it and the error rate
    among those. Coverage rises to 1, where the risk is the overall error rate; empty for no reads."""
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences for {len(correct)} results")
    order = sorted(range(len(confidences)), key=lambda i: -confidences[i])
    n, wrong, points = len(order), 0, []
    for k, i in enumerate(order, 1):
        wrong += not correct[i]
        if k == n or confidences[order[k]] != confidences[i]:
            points.append((k / n, wrong / k, float(confidences[i])))
    return points


def operating_point(confidences: Sequence[float], correct: Sequence[bool], floor: float) -> tuple[float, float] | None:
    """`(coverage, risk)` of answering the reads whose confidence reaches `floor`; None when none does."""
    kept = [ok for c, ok in zip(confidences, correct, strict=True) if c >= floor]
    if not kept:
        return None
    return len(kept) / len(correct), (len(kept) - sum(kept)) / len(kept)


def report_html(
    sets: Mapping[str, Evaluation],
    charset: str,
    floor: float,
    title: str = "Evaluation",
    failures_shown: int = FAILURES_SHOWN,
) -> str:
    """The page: a section per evaluated set (its name, e.g. a TSV's or a split's, as the heading). `charset`: the
    model's, for the confusion matrix; `floor`: the reader's confidence floor (`ReadingPolicy.min_confidence`)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="note">A read is <em>sure</em> when it passes the check digit and its confidence reaches the '
        f"reader's floor, {floor:g}; sure-but-wrong reads are the ones a user would take as they are.</p>",
    ]
    if len(sets) > 1:
        parts.append("<p>" + " · ".join(f'<a href="#{_anchor(n)}">{_e(n)}</a>' for n in sets) + "</p>")
    for name, ev in sets.items():
        parts.append(_section(name, ev, charset, floor, failures_shown))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    path: str | Path,
    sets: Mapping[str, Evaluation],
    charset: str,
    floor: float,
    title: str = "Evaluation",
    failures_shown: int = FAILURES_SHOWN,
) -> Path:
    """`report_html` written to `path` (its folder made if missing); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_html(sets, charset, floor, title, failures_shown), encoding="utf-8")
    return out


def _section(name: str, ev: Evaluation, charset: str, floor: float, failures_shown: int) -> str:
    rows, s = ev.rows, ev.summary
    parts = [f'<section id="{_anchor(name)}"><h2>{_e(name)}</h2>']
    facts = [f"{len(rows)} crops read"]
    if s.get("unreadable"):
        facts.append(f"{s['unreadable']} unreadable (left out)")
    if s.get("no_number", {}).get("n"):
        facts.append(f"{s['no_number']['n']} showing no number (left out; {s['no_number']['sure']} read as sure)")
    if s.get("decoder"):
        facts.append(f"decoder {_e(str(s['decoder']))}")
    parts.append(f"<p>{'; '.join(facts)}.</p>")
    if ev.unreadable:
        items = "".join(f"<li><code>{_e(u)}</code></li>" for u in ev.unreadable[:50])
        more = f"<li>and {len(ev.unreadable) - 50} more</li>" if len(ev.unreadable) > 50 else ""
        parts.append(f"<details><summary>Unreadable images</summary><ul>{items}{more}</ul></details>")

    parts.append("<h3>Per format</h3>")
    parts.append(_format_table(format_rows(rows, floor)))

    parts.append("<h3>Character confusions</h3>")
    labels, matrix = char_confusion([r["text"] for r in rows], [r["target"] for r in rows], charset)
    image = confusion_image(labels, matrix, "rows: label, columns: read")
    parts.append(f'<img alt="character confusion matrix of {_e(name)}" src="{_png(image)}">')

    parts.append("<h3>Risk and coverage</h3>")
    parts.append(_risk_coverage_block(rows, floor))

    failures = ev.failures
    shown = failures[:failures_shown]
    heading = (
        f"Failures ({len(failures)})"
        if len(shown) == len(failures)
        else (f"Failures (the first {len(shown)} of {len(failures)})")
    )
    parts.append(f"<h3>{heading}</h3>")
    parts.append(_failure_table(shown, floor) if shown else "<p>None: every crop was read right.</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _format_table(rows: list[dict]) -> str:
    head = "<tr><th>format</th><th>n</th><th>exact match</th><th>sure but wrong</th><th>CER</th></tr>"
    body = "".join(
        f'<tr class="{"all" if r["format"] == ALL else "format"}"><td>{_e(r["format"])}</td>'
        f'<td class="num">{r["n"]}</td><td class="num">{_pct(r[metrics.EXACT_MATCH])}</td>'
        f'<td class="num">{r["sure_wrong"]}</td><td class="num">{_pct(r[metrics.CER], 2)}</td></tr>'
        for r in rows
    )
    return f'<table class="per-format">{head}{body}</table>'


def _failure_table(rows: list[dict], floor: float) -> str:
    head = "<tr><th>crop</th><th>file</th><th>truth</th><th>read</th><th>confidence</th><th>sure</th></tr>"
    body = []
    for r in rows:
        sure = is_sure(r["confidence"], r["checksum_ok"], floor)
        body.append(
            f'<tr class="failure"><td>{_crop(r["file"])}</td><td class="code">{_e(r["file"])}</td>'
            f'<td class="code">{_e(r["target"])}</td><td class="code wrong">{_e(r["text"]) or "(nothing)"}</td>'
            f'<td class="num">{r["confidence"]:.3f}</td>'
            f'<td class="{"sure" if sure else "unsure"}">{"sure" if sure else "unsure"}</td></tr>'
        )
    return f'<table class="failures">{head}{"".join(body)}</table>'


def _crop(path: str) -> str:
    """The crop as an embedded PNG, scaled down to `_THUMB`; a note when the file no longer loads."""
    try:
        image = load_image(path)
    except ImageError as e:
        return f'<span class="note">not shown: {_e(str(e))}</span>'
    image.thumbnail(_THUMB)
    return f'<img alt="crop" src="{_png(image)}">'


def _risk_coverage_block(rows: Sequence[dict], floor: float) -> str:
    confidences = [r["confidence"] for r in rows]
    correct = [r["text"] == r["target"] for r in rows]
    points = risk_coverage(confidences, correct)
    if not points:
        return "<p>No reads.</p>"
    at_floor = operating_point(confidences, correct, floor)
    sure = metrics.selective(correct, confidences, floor, [r["checksum_ok"] for r in rows])
    caption = [
        "Reads answered from the most confident down: the share of crops answered (coverage) against the share "
        f"of those read wrong (risk). All answered: {_pct(points[-1][1], 2)} wrong."
    ]
    if at_floor is None:
        caption.append(f"No read reaches the floor {floor:g}.")
    else:
        caption.append(
            f"At the floor {floor:g} (the marked point): {_pct(at_floor[0])} answered, {_pct(at_floor[1], 2)} of "
            f"them wrong. With the check digit too, {_pct(sure['coverage'])} are shown as sure and "
            f"{sure['wrong_kept']} of them are wrong."
        )
    return _risk_coverage_svg(points, at_floor, floor) + f'<p class="note">{" ".join(caption)}</p>'


def _risk_coverage_svg(
    points: list[tuple[float, float, float]], at_floor: tuple[float, float] | None, floor: float
) -> str:
    """The curve as inline SVG, coverage 0..1 across, risk 0..a round ceiling up."""
    w, h, left, right, top, bottom = 560, 320, 64, 20, 16, 48
    top_risk = max(p[1] for p in points)
    y_max = next((c for c in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5) if top_risk <= c), 1.0)
    y_digits = 2 if y_max <= 0.05 else 1  # ticks at quarters: 0.25% .. 12.5%

    def xy(coverage: float, risk: float) -> tuple[float, float]:
        return left + coverage * (w - left - right), h - bottom - risk / y_max * (h - top - bottom)

    out = [
        f'<svg class="risk-coverage" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" font-size="12" font-family="sans-serif">',
        f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" fill="none" '
        'stroke="#999"/>',
    ]
    for k in range(5):
        x, _ = xy(k / 4, 0)
        _, y = xy(0, y_max * k / 4)
        out.append(f'<line x1="{x:.1f}" y1="{h - bottom}" x2="{x:.1f}" y2="{h - bottom + 4}" stroke="#999"/>')
        out.append(f'<text x="{x:.1f}" y="{h - bottom + 16}" text-anchor="middle">{_pct(k / 4, 0)}</text>')
        out.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="#999"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_pct(y_max * k / 4, y_digits)}</text>')
    out.append(
        f'<text x="{left + (w - left - right) / 2:.1f}" y="{h - 10}" text-anchor="middle">'
        "coverage (share of crops answered)</text>"
    )
    out.append(
        f'<text transform="translate(14 {top + (h - top - bottom) / 2:.1f}) rotate(-90)" text-anchor="middle">'
        "risk (wrong among answered)</text>"
    )
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(c, r) for c, r, _ in points))
    out.append(f'<polyline fill="none" stroke="#1f5fa8" stroke-width="2" points="{line}"/>')
    if at_floor is not None:
        x, y = xy(*at_floor)
        out.append(
            f'<circle class="floor" cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#c22"><title>floor {floor:g}: coverage '
            f"{_pct(at_floor[0])}, risk {_pct(at_floor[1], 2)}</title></circle>"
        )
        out.append(f'<text x="{x - 8:.1f}" y="{y - 9:.1f}" text-anchor="end" fill="#c22">floor {floor:g}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _png(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def _anchor(name: str) -> str:
    return "set-" + "".join(c if c.isalnum() else "-" for c in name)


def _e(text: str) -> str:
    return html.escape(text, quote=True)
