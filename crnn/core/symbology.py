"""EAN/UPC symbologies: formats, check digits, UPC-E expansion and check-digit constraints.

Pure Python, no numpy: used by the generator, the decoder and the reports.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Format = Literal["EAN-13", "UPC-A", "EAN-8", "UPC-E"]


FORMATS: tuple[Format, ...] = ("EAN-13", "UPC-A", "EAN-8", "UPC-E")


LENGTHS: dict[Format, int] = {"EAN-13": 13, "UPC-A": 12, "EAN-8": 8, "UPC-E": 8}

# Modules from the first bar to the last, guards included (GS1 General Specifications, 5.2.2), quiet zones not.
BAR_MODULES: dict[Format, int] = {"EAN-13": 95, "UPC-A": 95, "EAN-8": 67, "UPC-E": 51}


def gs1_check_digit(payload: str) -> int:
    """Check digit of a GS1 code (EAN-13, UPC-A, EAN-8) without its check digit.

    Weights run 3, 1, 3, ... from the rightmost payload digit.
    """
    if not payload.isdigit():
        raise ValueError(f"payload {payload!r} must be digits")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return (10 - total % 10) % 10


def upce_to_upca(code: str) -> str:
    """Expand an 8-digit UPC-E code (number system, 6 digits, check) to its 12-digit UPC-A."""
    if len(code) != 8 or not code.isdigit():
        raise ValueError(f"UPC-E code {code!r} must be 8 digits")
    ns, d, check = code[0], code[1:7], code[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return ns + body + check


def upca_to_upce(code: str) -> str | None:
    """The 8-digit UPC-E that expands to this 12-digit UPC-A (`upce_to_upca`), or None where there is none."""
    if len(code) != 12 or not code.isdigit() or code[0] not in "01":
        return None
    ns, b, check = code[0], code[1:11], code[11]
    for d in (b[0:2] + b[7:10] + b[2], b[0:3] + b[8:10] + "3", b[0:4] + b[9] + "4", b[0:5] + b[9]):
        if upce_to_upca(ns + d + check) == code:
            return ns + d + check
    return None


def is_valid(code: str, fmt: Format) -> bool:
    """True when `code` has the length, digits and check digit `fmt` requires."""
    if len(code) != LENGTHS[fmt] or not code.isdigit():
        return False
    if fmt == "UPC-E":
        if code[0] not in "01":
            return False
        code = upce_to_upca(code)
    return gs1_check_digit(code[:-1]) == int(code[-1])


def formats_of(code: str) -> list[Format]:
    """Formats whose length and check digit `code` satisfies (8 digits may be EAN-8 and UPC-E)."""
    return [f for f in FORMATS if is_valid(code, f)]


def checksum_ok(code: str) -> bool:
    """True when `code` is a valid EAN-13, UPC-A, EAN-8 or UPC-E code."""
    return bool(formats_of(code))


def gtin13(code: str, fmt: Format | None = None) -> str | None:
    """The 13-digit GTIN a valid printed code stands for (GS1 pads with zeros on the left): an EAN-13 itself, a
    UPC-A with a leading 0, a UPC-E's UPC-A expansion with a leading 0, an EAN-8 with five. 8 digits valid as both
    are taken as `fmt`, else as an EAN-8. None when `code` is not a valid code (of `fmt`, when given)."""
    valid = [f for f in formats_of(code) if fmt is None or f == fmt]
    if not valid:
        return None
    if valid[0] == "UPC-E" or (fmt == "UPC-E"):
        return "0" + upce_to_upca(code)
    return code.zfill(13)


_DECODER_NAMES: dict[str, Format] = {"EAN13": "EAN-13", "EAN8": "EAN-8", "UPCA": "UPC-A", "UPCE": "UPC-E"}


def format_of(code: str, hint: str | None = None) -> Format | None:
    """The format of a valid printed code: `hint` (a bar decoder's name for it, e.g. "UPCE" or "UPC-E") when the
    code is valid as that, else the likeliest by length and check digit; None for a code valid as none."""
    fmt = _DECODER_NAMES.get((hint or "").replace("-", "").upper())
    if fmt is not None and is_valid(code, fmt):
        return fmt
    return guess_format(code) if formats_of(code) else None


def guess_format(code: str) -> Format | None:
    """Most likely format of a printed code by length and check digit (EAN-8 before UPC-E)."""
    valid = formats_of(code)
    if valid:
        return valid[0]
    by_length = [f for f in FORMATS if LENGTHS[f] == len(code)]
    return by_length[0] if by_length else None


def random_code(fmt: Format, rng: random.Random) -> str:
    """A random valid code of `fmt` (books and retail prefixes mixed in for EAN-13)."""
    if fmt == "EAN-13":
        prefix = rng.choice(["978", "979", "", "", "", "4", "5", "0", "3"])
        payload = prefix + "".join(rng.choice("0123456789") for _ in range(12 - len(prefix)))
        return payload + str(gs1_check_digit(payload))
    if fmt == "UPC-A":
        payload = "".join(rng.choice("0123456789") for _ in range(11))
        return payload + str(gs1_check_digit(payload))
    if fmt == "EAN-8":
        payload = "".join(rng.choice("0123456789") for _ in range(7))
        return payload + str(gs1_check_digit(payload))
    ns = rng.choice("01")
    body = "".join(rng.choice("0123456789") for _ in range(6))
    check = upce_to_upca(ns + body + "0")[:-1]
    # Some UPC-As have two UPC-E forms (a manufacturer number ending in 000 under the 3 rule, 00 under the 4 rule,
    # 0 under the 5-9 rule): GS1 prints the first rule that applies, as `upca_to_upce` gives it.
    code = ns + body + str(gs1_check_digit(check))
    return upca_to_upce(upce_to_upca(code)) or code


@dataclass(frozen=True)
class Constraint:
    """A linear check-digit rule over fixed-length digit strings.

    A string s of length `len(weights)` satisfies it when every s[i] is in `allowed[i]` and
    sum(weights[i] * s[i]) % 10 == 0. EAN/UPC-A/EAN-8 need one each; UPC-E needs four, because the
    position a digit takes in the expanded UPC-A depends on the sixth digit.
    """

    fmt: Format
    weights: tuple[int, ...]
    allowed: tuple[str, ...]
    # An erasure hypothesis: the digit at this position of the code is not in the image (unprinted, or cut
    # off by the frame), so the string read is one digit short and any string goes (weights all 0); the
    # check digit supplies the missing one (`fill`). `log_prior` is added to such a path's log probability.
    erased: int | None = None
    log_prior: float = 0.0

    def fill(self, digits: str) -> str:
        """The full code for a string read under this constraint (the erased digit inferred)."""
        if self.erased is None:
            return digits
        for d in "0123456789":
            code = digits[: self.erased] + d + digits[self.erased :]
            if is_valid(code, self.fmt):
                return code
        raise ValueError(f"no digit completes {digits!r} as {self.fmt} at position {self.erased}")


def _gs1_constraint(fmt: Format) -> Constraint:
    n = LENGTHS[fmt]
    # The check digit has weight 1, then 3, 1, 3, ... leftwards.
    weights = tuple(1 if (n - 1 - i) % 2 == 0 else 3 for i in range(n))
    return Constraint(fmt, weights, ("0123456789",) * n)


def _upce_constraints() -> list[Constraint]:
    # UPC-A positions 0..10 weigh 3,1,3,...; position 11 (check) weighs 1.
    upca_w = [3 if i % 2 == 0 else 1 for i in range(11)] + [1]
    # Where each UPC-E digit d1..d6 lands in the UPC-A body (None: dropped, zeros weigh nothing).
    layouts: list[tuple[str, list[int | None]]] = [
        ("012", [1, 2, 8, 9, 10, 3]),
        ("3", [1, 2, 3, 9, 10, None]),
        ("4", [1, 2, 3, 4, 10, None]),
        ("56789", [1, 2, 3, 4, 5, 10]),
    ]
    out = []
    for last, where in layouts:
        w = [upca_w[0]]  # number system digit
        w += [0 if pos is None else upca_w[pos] for pos in where]
        w.append(upca_w[11])
        allowed = ("01",) + ("0123456789",) * 5 + (last,) + ("0123456789",)
        out.append(Constraint("UPC-E", tuple(w), allowed))
    return out


# Digits a crop may lack that the check digit can supply: UPC-A's check digit (loyalty and in-store cards
# often leave it unprinted) and EAN-13's leading digit (printed left of the bars, the first to leave the frame).
# Both weigh 1 in the check sum, so exactly one digit completes the rest. The generator makes the first kind
# (`p_card`) with the missing digit left out of the label the recogniser
# learns.
ERASABLE: dict[Format, int] = {"UPC-A": 11, "EAN-13": 0}


# The UPC-A number systems of restricted-circulation numbers (GS1 prefixes 020-029 and 040-049), which a company
# assigns for its own use: in-store labels and loyalty cards, the UPC-As printed without their check digit. The
# UPC-A erasure hypothesis covers only these, so a product code read one digit short (its small leading digit
# dropped) is not completed into a valid-looking wrong number.
RESTRICTED_UPCA = "24"


def restricted_upca(code: str, rng: random.Random) -> str:
    """`code` (a UPC-A) with a restricted-circulation number system (`RESTRICTED_UPCA`, 4 four times in five) and
    the check digit to match."""
    payload = ("4" if rng.random() < 0.8 else "2") + code[1:11]
    return payload + str(gs1_check_digit(payload))


def erased_form(code: str, erasable: Sequence[str] = tuple(ERASABLE)) -> str | None:
    """What a crop of `code` shows when it lacks the digit the erasure hypothesis supplies (`constraints`): a
    restricted-circulation UPC-A without its check digit, an EAN-13 without its leading digit, for the formats in
    `erasable`; None when `code` has no such form."""
    for fmt, pos in ERASABLE.items():
        if fmt not in erasable or not is_valid(code, fmt):
            continue
        if fmt == "UPC-A" and code[0] not in RESTRICTED_UPCA:
            continue
        return code[:pos] + code[pos + 1 :]
    return None


def check_erasure_prior(prior: float) -> float:
    """`prior` when it is a probability the decoder can weigh, in [0, 1); ValueError otherwise (a training
    config, `--erasure-prior` or an ONNX file's metadata may carry any number)."""
    if not 0.0 <= prior < 1.0:
        raise ValueError(f"erasure_prior must be in [0, 1), got {prior}")
    return prior


def layout_twin(code: str) -> str | None:
    """The other printed form of the same bars: a UPC-A's 12 digits as the EAN-13 with a leading 0 and back
    (GS1: identical bars, two layouts of the digits under them); None for any other code."""
    if len(code) == 12 and code.isdigit():
        return "0" + code
    return code[1:] if is_ean13_lead0(code) and code.isdigit() else None


def is_ean13_lead0(code: str) -> bool:
    """A 13-digit string starting with 0: the EAN-13 layout of a UPC-A's bars, which `ean13_lead0_prior`
    weighs (`constraints`)."""
    return len(code) == 13 and code.startswith("0")


def check_lead0_prior(prior: float) -> float:
    """`prior` when it is a probability the decoder can weigh, in (0, 1]; ValueError otherwise."""
    if not 0.0 < prior <= 1.0:
        raise ValueError(f"ean13_lead0_prior must be in (0, 1], got {prior}")
    return prior


def check_erasable(formats: Sequence[str]) -> tuple[Format, ...]:
    """`formats` as a tuple when each is a key of `ERASABLE`; ValueError otherwise (a config or metadata)."""
    bad = [f for f in formats if f not in ERASABLE]
    if bad:
        raise ValueError(f"erasable formats must be among {sorted(ERASABLE)}, got {bad}")
    return tuple(formats)  # type: ignore[arg-type]  # checked above


def constraints(
    formats: tuple[Format, ...] = FORMATS,
    erasure_prior: float = 0.0,
    ean13_lead0_prior: float = 1.0,
    erasable: tuple[Format, ...] = tuple(ERASABLE),
) -> list[Constraint]:
    """The check-digit constraints of `formats`, for constrained decoding, with the erasure hypotheses of
    `ERASABLE` for the formats in `erasable` at prior probability `erasure_prior` when it is above 0.

    `ean13_lead0_prior` below 1 weighs a 13-digit read that starts with 0 by that prior: its bars are those
    of the 12-digit UPC-A, the layout such a code is almost always printed in (GS1 prefixes 000-019 are
    UPC-A's), so a model that reads the bars can put out either; the layout prior prefers the UPC-A unless
    the EAN-13 path is that much more likely.
    """
    check_erasure_prior(erasure_prior)
    check_lead0_prior(ean13_lead0_prior)
    out: list[Constraint] = []
    for f in formats:
        if f == "UPC-E":
            out.extend(_upce_constraints())
        elif f == "EAN-13" and ean13_lead0_prior < 1.0:
            c = _gs1_constraint(f)
            out.append(Constraint(f, c.weights, ("123456789",) + c.allowed[1:]))
            out.append(Constraint(f, c.weights, ("0",) + c.allowed[1:], log_prior=math.log(ean13_lead0_prior)))
        else:
            out.append(_gs1_constraint(f))
    if erasure_prior > 0:
        for f in formats:
            if f in ERASABLE and f in erasable:
                n = LENGTHS[f] - 1
                allowed = ((RESTRICTED_UPCA,) if f == "UPC-A" else ("0123456789",)) + ("0123456789",) * (n - 1)
                out.append(Constraint(f, (0,) * n, allowed, ERASABLE[f], math.log(erasure_prior)))
    return out
