"""Floating-point precision of the patient model, scoped to each call (never a process-wide side effect).

The right-hand side, the lean Tsit5 and the hazards are written for float64: in float32 a few solves in ten
thousand fail (7 of 12,000 at 69df59b, a plain ``from sepsim.models import ...`` in a fresh interpreter). So
:func:`simulate_outcomes` and :func:`simulate_cohort` run inside ``jax.enable_x64(True)`` whatever the caller's
global setting, unless the caller asks for ``precision="float32"`` (the CLI's ``runtime.precision``, for GPUs where a
test shows the clinical outputs unchanged). The context manager is thread-local and restores the caller's setting.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import jax

from .._errors import ConfigError

__all__ = ["PRECISIONS", "precision_scope", "float64_by_default"]

PRECISIONS = ("float64", "float32")
F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def precision_scope(precision: str = "float64", key: str = "precision") -> Iterator[None]:
    """Run the body in ``precision`` (``"float64"`` or ``"float32"``); ConfigError naming ``key`` otherwise."""
    if precision not in PRECISIONS:
        raise ConfigError(key, f"must be one of {list(PRECISIONS)}, got {precision!r}")
    with jax.enable_x64(precision == "float64"):
        yield


def float64_by_default(fn: F) -> F:
    """Wrap ``fn`` so that it always runs in float64 (see the module docstring)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with precision_scope("float64"):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
