"""numba where it is installed (the `[fast]` extra): `compiled(f)` is `f` compiled (cached beside its module), else
`f` itself, run as Python; `numba` is the module or None, for code that picks another path without it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

try:
    import numba
except ImportError:  # the light install
    numba = None  # type: ignore[assignment]

F = TypeVar("F", bound=Callable)


def compiled(f: F) -> F:
    """`f` compiled by numba (nopython, cached) where numba is installed, else `f` unchanged."""
    return numba.njit(cache=True)(f) if numba is not None else f  # type: ignore[return-value]  # a Dispatcher calls as f
